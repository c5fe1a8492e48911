//! argon2id password hashes in PHC string form. Hashing is deliberately slow: callers on
//! the async side run it on a blocking thread. PocketBase's bcrypt hashes (`$2a$`, `$2b$`,
//! `$2y$`, carried over by `hearth import pocketbase`) verify too; sign-in replaces one with
//! an argon2id hash of the same password (`needs_rehash`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, mpsc};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::{Error, Result};

/// argon2id works in 7 MiB per hash (19 MiB for hashes made before, see `params`), and the
/// allocator may keep that memory in the arena of whichever thread hashed. Hashing on any
/// request thread would leave that behind in each of them (gigabytes after a burst of
/// sign-ins); hashing only on a few dedicated threads, one per core, bounds it. Callers wait
/// for their result (they are on blocking threads already), and no more hashes run at once
/// than there are cores anyway.
///
/// A hashing thread keeps its working memory while hashes are waiting (a burst of sign-ins
/// reuses it) and gives it back as soon as none is: an idle server carries no argon2 memory.
struct Hashers {
    queue: Mutex<VecDeque<Job>>,
    ready: Condvar,
}

type Job = Box<dyn FnOnce() + Send>;

/// None when not one hashing thread could start.
static HASHERS: LazyLock<Option<Arc<Hashers>>> = LazyLock::new(|| {
    let hashers = Arc::new(Hashers {
        queue: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
    });
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut started = 0;
    for i in 0..threads {
        let hashers = hashers.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                HASHING_THREAD.set(true);
                loop {
                    let job = hashers.next();
                    // A panicking job only drops its own reply channel.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    if hashers.idle() {
                        release_memory();
                    }
                }
            });
        match spawned {
            Ok(_) => started += 1,
            Err(e) => log::error!("cannot start password hashing thread: {e}"),
        }
    }
    (started > 0).then_some(hashers)
});

impl Hashers {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Job>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next job, waiting as long as it takes.
    fn next(&self) -> Job {
        let mut queue = self.lock();
        loop {
            if let Some(job) = queue.pop_front() {
                return job;
            }
            queue = self.ready.wait(queue).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn idle(&self) -> bool {
        self.lock().is_empty()
    }

    fn push(&self, job: Job) {
        self.lock().push_back(job);
        self.ready.notify_one();
    }
}

/// Runs `f` on a hashing thread and waits for its result (right here when this is one);
/// None if it could not run.
fn on_hasher<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    // argon2 while holding a connection makes every request that needs it wait too: hash
    // before reading or writing, or between the two (see `auth::signin`).
    debug_assert!(
        !crate::db::holding_connection(),
        "password hashing while holding a database connection"
    );
    if HASHING_THREAD.get() {
        return Some(f());
    }
    let (reply, result) = mpsc::sync_channel(1);
    submit(f, move |out| {
        let _ = reply.send(out);
    })?;
    result.recv().ok()
}

/// Queues `f` for the hashing threads, which hand its result to `reply`; None if they
/// are gone.
fn submit<T: 'static>(
    f: impl FnOnce() -> T + Send + 'static,
    reply: impl FnOnce(T) + Send + 'static,
) -> Option<()> {
    HASHERS.as_ref()?.push(Box::new(move || reply(f())));
    Some(())
}

/// Runs `f` on a hashing thread and awaits its result without holding a thread meanwhile:
/// for requests whose cost is a password check (a sign-in), so that a burst of them queues
/// here rather than filling the blocking pool that every database read needs. Hashes `f`
/// asks for run in place. None if it could not run (or panicked).
pub async fn on_hashers<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (reply, result) = tokio::sync::oneshot::channel();
    submit(f, move |out| {
        let _ = reply.send(out);
    })?;
    result.await.ok()
}

thread_local! {
    /// True on the hashing threads.
    static HASHING_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };

    /// A hashing thread's argon2 working memory, reused while hashes keep coming.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Gives a hashing thread's working memory back (a block this large is its own mapping,
/// which freeing returns to the system).
fn release_memory() {
    BLOCKS.with(|cell| {
        if !cell.borrow().is_empty() {
            *cell.borrow_mut() = Vec::new();
        }
    });
}

/// argon2 into `out`, in this thread's reusable working memory.
fn compute(argon: &Argon2, params: &Params, pwd: &[u8], salt: &[u8], out: &mut [u8]) -> Option<()> {
    BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        let needed = params.block_count();
        if blocks.len() < needed {
            blocks.resize(needed, Block::default());
        }
        argon
            .hash_password_into_with_memory(pwd, salt, out, &mut blocks[..needed])
            .ok()
    })
}

pub fn hash(password: &str) -> Result<String> {
    let password = password.to_owned();
    on_hasher(move || hash_now(&password))
        .unwrap_or_else(|| Err(Error::internal("password hashing is unavailable")))
}

/// `hash`, knowingly while holding a connection: only for the rare write whose password was
/// not hashed beforehand because its rules looked like refusing it, and no longer did
/// inside its transaction.
pub fn hash_late(password: &str) -> Result<String> {
    log::warn!("a password is hashed inside a write transaction");
    let password = password.to_owned();
    let (reply, result) = mpsc::sync_channel(1);
    if HASHING_THREAD.get() {
        return hash_now(&password);
    }
    submit(
        move || hash_now(&password),
        move |out| {
            let _ = reply.send(out);
        },
    )
    .and_then(|()| result.recv().ok())
    .unwrap_or_else(|| Err(Error::internal("password hashing is unavailable")))
}

/// The argon2id cost of new hashes: OWASP's 7 MiB, 5 passes, one lane, one of the five
/// configurations its Password Storage Cheat Sheet gives as equal in defence (19 MiB with
/// 2 passes is another: about the same CPU time, almost three times the memory per hash in
/// flight). A stored hash keeps the parameters it was made with.
const M_COST_KIB: u32 = 7 * 1024;
const T_COST: u32 = 5;

fn params() -> Params {
    Params::new(M_COST_KIB, T_COST, 1, None).unwrap_or_default()
}

fn hash_now(password: &str) -> Result<String> {
    let failed = |what: &str| Error::internal(format!("password hashing failed: {what}"));
    let params = params();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt: [u8; 16] = rand::random();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(&argon, &params, password.as_bytes(), &salt, &mut out)
        .ok_or_else(|| failed("argon2"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|_| failed("params"))?,
        salt: Some(Salt::new(&salt).map_err(|_| failed("salt"))?),
        hash: Some(Output::new(&out).map_err(|_| failed("output"))?),
    };
    Ok(phc.to_string())
}

/// True when `password` matches `stored` (argon2id, or PocketBase's bcrypt). A malformed
/// stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    let (password, stored) = (password.to_owned(), stored.to_owned());
    on_hasher(move || match is_bcrypt(&stored) {
        true => bcrypt_cost_ok(&stored) && bcrypt::verify(&password, &stored).unwrap_or(false),
        false => verify_now(&password, &stored).unwrap_or(false),
    })
    .unwrap_or(false)
}

/// True for a hash hearth does not write (PocketBase's bcrypt): once its password is known
/// to match, it should be replaced by `hash(password)`.
pub fn needs_rehash(stored: &str) -> bool {
    is_bcrypt(stored)
}

/// PocketBase writes cost 10. A stored hash with a far higher cost (an imported or restored
/// file someone crafted) never matches, so no sign-in attempt can hold a hashing thread
/// for hours.
fn bcrypt_cost_ok(stored: &str) -> bool {
    const MAX_COST: u32 = 14;
    stored
        .get(4..6)
        .and_then(|c| c.parse::<u32>().ok())
        .is_some_and(|cost| cost <= MAX_COST)
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
}

/// Recomputes the hash with the stored parameters and salt; constant-time comparison.
fn verify_now(password: &str, stored: &str) -> Option<bool> {
    let parsed = PasswordHash::new(stored).ok()?;
    let algorithm = Algorithm::new(parsed.algorithm.as_str()).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let expected = parsed.hash?;
    let params = Params::try_from(&parsed).ok()?;
    let argon = Argon2::new(algorithm, version, params.clone());
    let salt = parsed.salt?;
    let mut out = vec![0u8; expected.len()];
    compute(&argon, &params, password.as_bytes(), &salt, &mut out)?;
    Some(Output::new(&out).ok()? == expected)
}

/// A real hash of a throw-away password: checking against it when an account does not
/// exist makes "unknown email" cost as much time as "wrong password".
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_now(&crate::ids::secret(24)).unwrap_or_default());

pub fn burn_time(password: &str) {
    let _ = verify(password, &DUMMY_HASH);
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[test]
    fn pocketbase_bcrypt_hashes_verify_and_ask_to_be_replaced() {
        // Written by PocketBase 0.40.6 (`pocketbase superuser upsert a@example.com 1234567890`).
        let pocketbase = "$2a$10$mJGJTp/DyupVvsgPYJT/wetaGuFHxbPj16j6Nke0eRJqdLc1sLoCm";
        assert!(verify("1234567890", pocketbase));
        assert!(!verify("1234567891", pocketbase));
        assert!(needs_rehash(pocketbase));
        for prefix in ["$2b$", "$2y$"] {
            let other = pocketbase.replacen("$2a$", prefix, 1);
            assert!(verify("1234567890", &other), "{prefix}");
        }
        let ours = hash("1234567890").unwrap_or_default();
        assert!(!needs_rehash(&ours));
        assert!(!verify("1234567890", "$2a$10$broken"));
        // A crafted cost is refused before any work.
        assert!(!bcrypt_cost_ok(&pocketbase.replacen("$10$", "$31$", 1)));
        assert!(bcrypt_cost_ok(pocketbase));
    }

    #[test]
    fn hashes_verify_both_ways_with_the_standard_implementation() {
        let ours = hash("correct horse").unwrap_or_default();
        assert!(ours.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{ours}");
        assert!(verify("correct horse", &ours));
        assert!(!verify("wrong horse", &ours));
        let parsed = PasswordHash::new(&ours).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );

        // The library's defaults (19 MiB, 2 passes): what hearth wrote before.
        let theirs = Argon2::default()
            .hash_password(b"battery staple")
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(verify("battery staple", &theirs));
        assert!(!verify("battery", &theirs));
        assert!(!verify("x", "not a hash"));
        assert_ne!(
            hash("same").unwrap_or_default(),
            hash("same").unwrap_or_default(),
            "salted"
        );
    }
}
