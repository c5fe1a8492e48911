//! Random identifiers: record ids and token keys in PocketBase's alphabets, request ids.
//! All drawn from the thread-local CSPRNG.

use rand::RngExt;

const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// A record id: 15 characters of `[a-z0-9]`.
pub fn record_id() -> String {
    random_from(LOWER_ALNUM, 15)
}

/// A record's `tokenKey`: 50 characters of `[a-zA-Z0-9]`; rotating it revokes its tokens.
pub fn token_key() -> String {
    random_from(ALNUM, 50)
}

/// A request id for logs and the `X-Request-Id` header.
pub fn request_id() -> String {
    random_from(LOWER_ALNUM, 12)
}

/// An opaque random secret (CSRF nonces and the like).
pub fn secret(len: usize) -> String {
    random_from(ALNUM, len)
}
