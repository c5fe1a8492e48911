//! argon2id password hashes in PHC string form. Hashing is deliberately slow: callers on
//! the async side run it on a blocking thread.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::{Error, Result};

pub fn hash(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("password hashing failed: {e}")))
}

/// True when `password` matches `stored`. A malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A real hash of a throw-away password: checking against it when an account does not
/// exist makes "unknown email" cost as much time as "wrong password".
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash(&crate::ids::secret(24)).unwrap_or_default());

pub fn burn_time(password: &str) {
    let _ = verify(password, &DUMMY_HASH);
}
