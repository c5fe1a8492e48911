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

/// `len` characters drawn from `alphabet` (`[A-Za-z0-9]` when empty), as the JS hooks'
/// `$security.randomStringWithAlphabet`.
pub fn random_string(len: usize, alphabet: &str) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    if chars.is_empty() {
        return random_from(ALNUM, len);
    }
    let mut rng = rand::rng();
    (0..len)
        .map(|_| chars[rng.random_range(0..chars.len())])
        .collect()
}

/// A record id: 15 characters of `[a-z0-9]`.
pub fn record_id() -> String {
    random_from(LOWER_ALNUM, 15)
}

/// A request-log id: 15 characters of `[a-z0-9]` like a record id, but the first ten are
/// the time in microseconds in base 36 (digits in ASCII order, so ids sort by time). Each
/// request writes one; they land at the end of the id index instead of all over it.
pub fn log_id(micros: i64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut head = [b'0'; 10];
    let mut n = micros.max(0) as u64;
    for slot in head.iter_mut().rev() {
        *slot = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    let mut id: String = head.iter().map(|&b| b as char).collect();
    id.push_str(&random_from(LOWER_ALNUM, 5));
    id
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ids_look_like_record_ids_and_sort_by_time() {
        let earlier = log_id(1_764_000_000_000_000);
        let later = log_id(1_764_000_000_000_001);
        for id in [&earlier, &later] {
            assert_eq!(id.len(), 15);
            assert!(id.bytes().all(|b| LOWER_ALNUM.contains(&b)), "{id}");
        }
        assert!(earlier < later, "{earlier} !< {later}");
        assert!(log_id(36) < log_id(1_000_000));
    }
}
