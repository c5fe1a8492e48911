//! CSRF tokens for the admin UI's forms (signed double-submit, bound to the session): the
//! browser holds a random nonce in an HttpOnly cookie and every form carries
//! HMAC-SHA256(server secret, nonce, session), where `session` is the session cookie the
//! page was rendered for ("" before sign-in). A cross-site page can neither read the cookies
//! nor forge the MAC, and a nonce/token pair taken from one browser (or from the sign-in
//! page) is no good with another session's cookie: the MAC covers the session too.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, nonce: &str, session: &str) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(b"hearth-csrf:");
    // Length-prefixed: both cookies are the browser's to choose, so no separator is safe.
    m.update(&(nonce.len() as u64).to_be_bytes());
    m.update(nonce.as_bytes());
    m.update(session.as_bytes());
    m
}

pub fn new_nonce() -> String {
    crate::ids::secret(32)
}

pub fn token(secret: &str, nonce: &str, session: &str) -> String {
    URL_SAFE_NO_PAD.encode(mac(secret, nonce, session).finalize().into_bytes())
}

/// Constant-time check of a submitted form token against the cookies it came with.
pub fn verify(secret: &str, nonce: &str, session: &str, submitted: &str) -> bool {
    if nonce.is_empty() {
        return false;
    }
    match URL_SAFE_NO_PAD.decode(submitted) {
        Ok(bytes) => mac(secret, nonce, session).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_verifies_only_with_its_nonce_session_and_secret() {
        let t = token("s3cret", "nonce-a", "session-1");
        assert!(verify("s3cret", "nonce-a", "session-1", &t));
        assert!(!verify("s3cret", "nonce-b", "session-1", &t));
        assert!(!verify("s3cret", "nonce-a", "session-2", &t));
        assert!(!verify("s3cret", "nonce-a", "", &t));
        assert!(!verify("other", "nonce-a", "session-1", &t));
        assert!(!verify("s3cret", "", "session-1", &t));
        assert!(!verify("s3cret", "nonce-a", "session-1", "not base64 !"));
        // Where the nonce ends and the session begins is part of the MAC.
        let split = token("s3cret", "nonce-as", "ession-1");
        assert!(!verify("s3cret", "nonce-a", "session-1", &split));
        let pre = token("s3cret", "nonce-a", "");
        assert!(verify("s3cret", "nonce-a", "", &pre));
        assert!(!verify("s3cret", "nonce-a", "session-1", &pre));
    }
}
