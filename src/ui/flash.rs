//! One-shot messages shown on the page a POST redirects to ("Record saved."). Kept in a
//! short-lived cookie so they survive the redirect without server-side state.

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};

const COOKIE: &str = "hearth_flash";
/// Longer messages are cut; a flash is a sentence, not a report.
const MAX_LEN: usize = 300;

/// The redirect that ends a successful form POST, carrying `message` to the next page.
pub fn redirect(req: &HttpRequest, location: &str, message: &str) -> HttpResponse {
    let mut res = super::see_other(location);
    let text: String = message.chars().take(MAX_LEN).collect();
    let cookie = Cookie::build(COOKIE, encode(&text))
        .path("/_/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.connection_info().scheme() == "https")
        .max_age(Duration::seconds(60))
        .finish();
    // Adding a well-formed cookie cannot fail; if it ever did, the message is just lost.
    let _ = res.add_cookie(&cookie);
    res
}

/// The message waiting for this request, if any.
pub fn peek(req: &HttpRequest) -> Option<String> {
    req.cookie(COOKIE)
        .and_then(|c| decode(c.value()))
        .filter(|m| !m.is_empty())
}

/// Removes the message once a page has shown it.
pub fn clear(req: &HttpRequest, res: &mut HttpResponseBuilder) {
    if req.cookie(COOKIE).is_some() {
        let mut gone = Cookie::build(COOKIE, "").path("/_/").finish();
        gone.make_removal();
        res.cookie(gone);
    }
}

/// Cookie values may not hold spaces or commas, so the text travels percent-encoded.
fn encode(text: &str) -> String {
    serde_urlencoded::to_string([("m", text)])
        .map(|s| s.trim_start_matches("m=").to_owned())
        .unwrap_or_default()
}

fn decode(value: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("m={value}"))
        .ok()?
        .into_iter()
        .next()
        .map(|(_, v)| v.chars().take(MAX_LEN).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_the_cookie_round_trip() {
        let text = "Record \"a; b, c\" saved — 100%";
        assert_eq!(decode(&encode(text)).as_deref(), Some(text));
        assert!(!encode(text).contains([' ', ';', ',', '"']));
    }
}
