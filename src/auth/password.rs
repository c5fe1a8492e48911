//! argon2id password hashes in PHC string form. Hashing is deliberately slow: callers on
//! the async side run it on a blocking thread.

use std::sync::{Condvar, LazyLock, Mutex};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::{Error, Result};

/// argon2id takes ~19 MiB per hash. Hashing more at once than there are cores buys no
/// speed, only memory: sign-in bursts would otherwise cost gigabytes.
struct Gate {
    free: Mutex<usize>,
    freed: Condvar,
}

static GATE: LazyLock<Gate> = LazyLock::new(|| Gate {
    free: Mutex::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
    freed: Condvar::new(),
});

/// Gives its hashing slot back when dropped, even if the hashing panicked.
struct Permit;

impl Drop for Permit {
    fn drop(&mut self) {
        *GATE.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        GATE.freed.notify_one();
    }
}

/// Runs `f` once a hashing slot is free (callers are on blocking threads: waiting is fine).
fn gated<T>(f: impl FnOnce() -> T) -> T {
    let mut free = GATE.free.lock().unwrap_or_else(|p| p.into_inner());
    while *free == 0 {
        free = GATE.freed.wait(free).unwrap_or_else(|p| p.into_inner());
    }
    *free -= 1;
    drop(free);
    let _permit = Permit;
    f()
}

pub fn hash(password: &str) -> Result<String> {
    gated(|| hash_now(password))
}

fn hash_now(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("password hashing failed: {e}")))
}

/// True when `password` matches `stored`. A malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => gated(|| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        }),
        Err(_) => false,
    }
}

/// A real hash of a throw-away password: checking against it when an account does not
/// exist makes "unknown email" cost as much time as "wrong password".
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_now(&crate::ids::secret(24)).unwrap_or_default());

pub fn burn_time(password: &str) {
    let _ = verify(password, &DUMMY_HASH);
}
