//! A new OAuth2 user's avatar, downloaded into the file field the collection's
//! `mappedFields.avatarURL` names, as PocketBase does: within 10 seconds, following at most
//! five redirects, and only from public addresses (the provider is trusted, but a
//! compromised one must not make hearth fetch from its own network; every hop is checked
//! by `outbound`), unless hearth runs with `--oauth2-avatar-allow-private`. The bytes are
//! streamed into the upload staging, never held whole. A download that fails, or is larger
//! than the field takes, is logged and the record is created without it.

use std::io::Read;
use std::time::Duration;

use crate::files::store::Storage;
use crate::files::upload::Staging;
use crate::outbound;
use crate::schema::{Collection, FieldKind};

const TIMEOUT: Duration = Duration::from_secs(10);
pub const ALLOW_PRIVATE_FLAG: &str = "--oauth2-avatar-allow-private";

/// The file field of `c` that avatars go into, if `mappedFields.avatarURL` names one.
pub fn file_field(c: &Collection) -> Option<(String, u64)> {
    let name = c
        .options
        .get("oauth2")?
        .get("mappedFields")?
        .get("avatarURL")?
        .as_str()?;
    match &c.field(name)?.kind {
        FieldKind::File(f) => Some((name.to_owned(), f.max_size)),
        _ => None,
    }
}

/// Downloads `url` for `field` (at most `limit` bytes) into a staging of its own, as if it
/// had been uploaded under the field's name. Blocks: run it off the async workers.
pub fn download(
    storage: &Storage,
    url: &str,
    (field, limit): (&str, u64),
    allow_private: bool,
) -> Result<Staging, String> {
    let mut response =
        agent(allow_private)
            .get(url)
            .call()
            .map_err(|e| match outbound::refused(&e) {
                Some(refused) => refused.to_string(),
                None => e.to_string(),
            })?;
    let status = response.status().as_u16();
    if !(200..400).contains(&status) {
        return Err(format!("the avatar URL answered {status}"));
    }
    let mut staging = Staging::new(storage);
    let mut incoming = staging
        .begin(field, field, &file_name(url), limit)
        .map_err(|e| e.to_string())?;
    let mut body = response.body_mut().as_reader();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = body.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        incoming.write(&chunk[..n]).map_err(|e| e.to_string())?;
        if incoming.too_large() {
            return Err(format!("the avatar is larger than {limit} bytes"));
        }
    }
    staging.push(incoming.finish().map_err(|e| e.to_string())?);
    Ok(staging)
}

/// The avatar's name: the URL's last path segment (PocketBase's `path.Base`), without a
/// query or fragment.
fn file_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.split(['?', '#']).next().unwrap_or_default();
    match path.split_once('/').map(|(_, p)| p.trim_end_matches('/')) {
        Some(p) if !p.is_empty() => p.rsplit('/').next().unwrap_or(p).to_owned(),
        _ => "avatar".to_owned(),
    }
}

fn agent(allow_private: bool) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(5)
        .user_agent(format!("hearth/{}", crate::VERSION));
    outbound::guarded_agent(config, allow_private, ALLOW_PRIVATE_FLAG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_the_last_path_segment() {
        assert_eq!(file_name("https://a.example/u/42/me.png?s=96#x"), "me.png");
        assert_eq!(file_name("https://lh3.example/a/ACg8=s96-c"), "ACg8=s96-c");
        assert_eq!(file_name("https://a.example/"), "avatar");
        assert_eq!(file_name("https://a.example"), "avatar");
    }
}
