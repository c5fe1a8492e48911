//! CSRF tokens for the admin UI's forms (signed double-submit): the browser holds a random
//! nonce in an HttpOnly cookie and every form carries HMAC-SHA256(server secret, nonce).
//! A cross-site page can neither read the cookie nor forge the MAC.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, nonce: &str) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(b"hearth-csrf:");
    m.update(nonce.as_bytes());
    m
}

pub fn new_nonce() -> String {
    crate::ids::secret(32)
}

pub fn token(secret: &str, nonce: &str) -> String {
    URL_SAFE_NO_PAD.encode(mac(secret, nonce).finalize().into_bytes())
}

/// Constant-time check of a submitted form token against the cookie's nonce.
pub fn verify(secret: &str, nonce: &str, submitted: &str) -> bool {
    if nonce.is_empty() {
        return false;
    }
    match URL_SAFE_NO_PAD.decode(submitted) {
        Ok(bytes) => mac(secret, nonce).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_verifies_only_with_its_nonce_and_secret() {
        let t = token("s3cret", "nonce-a");
        assert!(verify("s3cret", "nonce-a", &t));
        assert!(!verify("s3cret", "nonce-b", &t));
        assert!(!verify("other", "nonce-a", &t));
        assert!(!verify("s3cret", "", &t));
        assert!(!verify("s3cret", "nonce-a", "not base64 !"));
    }
}
