//! argon2id password hashes in PHC string form. Hashing is deliberately slow: callers on
//! the async side run it on a blocking thread.

use std::sync::{Arc, LazyLock, Mutex, mpsc};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::{Error, Result};

/// argon2id works in ~19 MiB per hash, and the allocator keeps that memory in the arena of
/// whichever thread hashed. Hashing on any request thread would leave ~19 MiB behind in
/// each of them (gigabytes after a burst of sign-ins); hashing only on a few dedicated
/// threads, one per core, bounds it. Callers wait for their result (they are on blocking
/// threads already), and no more hashes run at once than there are cores anyway.
struct Hashers {
    jobs: Mutex<mpsc::Sender<Box<dyn FnOnce() + Send>>>,
}

static HASHERS: LazyLock<Hashers> = LazyLock::new(|| {
    let (tx, rx) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
    let rx = Arc::new(Mutex::new(rx));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    for i in 0..threads {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                loop {
                    let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match job {
                        // A panicking job only drops its own reply channel.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => break,
                    }
                }
            });
        if let Err(e) = spawned {
            log::error!("cannot start password hashing thread: {e}");
        }
    }
    Hashers {
        jobs: Mutex::new(tx),
    }
});

/// Runs `f` on a hashing thread and waits for its result; None if it could not run.
fn on_hasher<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (reply, result) = mpsc::sync_channel(1);
    let job: Box<dyn FnOnce() + Send> = Box::new(move || {
        let _ = reply.send(f());
    });
    HASHERS
        .jobs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(job)
        .ok()?;
    result.recv().ok()
}

pub fn hash(password: &str) -> Result<String> {
    let password = password.to_owned();
    on_hasher(move || hash_now(&password))
        .unwrap_or_else(|| Err(Error::internal("password hashing is unavailable")))
}

fn hash_now(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("password hashing failed: {e}")))
}

/// True when `password` matches `stored`. A malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    let (password, stored) = (password.to_owned(), stored.to_owned());
    on_hasher(move || {
        PasswordHash::new(&stored).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .unwrap_or(false)
}

/// A real hash of a throw-away password: checking against it when an account does not
/// exist makes "unknown email" cost as much time as "wrong password".
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_now(&crate::ids::secret(24)).unwrap_or_default());

pub fn burn_time(password: &str) {
    let _ = verify(password, &DUMMY_HASH);
}
