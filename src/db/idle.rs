//! Page caches handed back once their connections go quiet. Each connection caches up to
//! `cache_size` of the pages it read or wrote (SPEC "Storage": about 32 MB), and a burst of
//! reads across a large table fills every reader's cache. While requests keep coming the
//! caches stay; once a pool has been left alone for a while its connections give their
//! pages back (`PRAGMA shrink_memory`), and the next read takes them from the operating
//! system's file cache again, a few microseconds a page. The same trade as the allocator's
//! purge delay (`main.rs`): memory held only while it is being used.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// How long a pool must have gone unused before its caches are handed back.
pub const AFTER: Duration = Duration::from_secs(1);

/// When a pool's connections were last used, and whether their caches were handed back
/// since.
pub(super) struct Quiet {
    since: Instant,
    /// Milliseconds after `since` of the last use.
    used_ms: AtomicU64,
    /// `used_ms` as it was when the caches were last handed back.
    shrunk_ms: AtomicU64,
}

impl Quiet {
    pub(super) fn new() -> Self {
        Self {
            since: Instant::now(),
            used_ms: AtomicU64::new(0),
            // Never: a pool used at its first millisecond is still handed back once.
            shrunk_ms: AtomicU64::new(u64::MAX),
        }
    }

    /// Notes a use now.
    pub(super) fn touch(&self) {
        self.used_ms
            .store(self.since.elapsed().as_millis() as u64, Ordering::Release);
    }

    /// How long since the last use.
    pub(super) fn idle_for(&self) -> Duration {
        let used = Duration::from_millis(self.used_ms.load(Ordering::Acquire));
        self.since.elapsed().saturating_sub(used)
    }

    /// True once per quiet spell: unused for `after`, and not handed back since that use.
    pub(super) fn due(&self, after: Duration) -> bool {
        let used = self.used_ms.load(Ordering::Acquire);
        self.idle_for() >= after && self.shrunk_ms.swap(used, Ordering::AcqRel) != used
    }
}

/// Hands `conn`'s page cache back (its own only: see `.cargo/config.toml`).
pub(super) fn shrink(conn: &Connection) {
    if let Err(e) = conn.execute_batch("PRAGMA shrink_memory") {
        log::debug!("could not shrink a connection's cache: {e}");
    }
}

/// Read system calls made by this thread so far (`/proc/thread-self/io`): whether SQLite
/// found its pages in its cache or read them from the file.
#[cfg(test)]
pub(super) fn thread_reads() -> u64 {
    let io = std::fs::read_to_string("/proc/thread-self/io").unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("syscr: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no syscr in /proc/thread-self/io: {io}"))
}

/// A table `t` of 2,000 1 KB blobs (~500 pages) for the cache tests, summing to 2,000,000.
#[cfg(test)]
pub(super) const TABLE_OF_500_PAGES: &str = "CREATE TABLE t (x BLOB);
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
     INSERT INTO t SELECT randomblob(1000) FROM n;";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{PoolOptions, Store};

    /// One reader, so every read below takes the same connection and its cache.
    #[test]
    fn a_quiet_readers_cache_is_handed_back() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let options = PoolOptions {
            readers: 1,
            ..PoolOptions::default()
        };
        let store =
            Store::open(&dir.path().join("data.db"), &options).unwrap_or_else(|e| panic!("{e}"));
        store
            .write(|c| {
                c.execute_batch(TABLE_OF_500_PAGES)?;
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let sum = || {
            store
                .read(|c| Ok(c.query_row("SELECT sum(length(x)) FROM t", [], |r| r.get(0))?))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let reads_of = |read: &dyn Fn() -> i64| {
            let before = thread_reads();
            assert_eq!(read(), 2_000_000);
            thread_reads() - before
        };
        // The table is ~500 pages; a read transaction itself makes a few reads.
        sum();
        assert!(reads_of(&sum) < 20, "a warm cache reads (almost) nothing");
        store.shrink_idle(Duration::from_secs(3600));
        assert!(reads_of(&sum) < 20, "not quiet for long enough: kept");
        store.shrink_idle(Duration::ZERO);
        assert!(
            reads_of(&sum) > 400,
            "a quiet reader's pages were handed back"
        );
    }

    #[test]
    fn due_once_per_quiet_spell() {
        let quiet = Quiet::new();
        quiet.touch();
        assert!(
            !quiet.due(Duration::from_secs(3600)),
            "not quiet long enough"
        );
        assert!(quiet.due(Duration::ZERO), "quiet, never handed back");
        assert!(
            !quiet.due(Duration::ZERO),
            "already handed back since that use"
        );
        std::thread::sleep(Duration::from_millis(2));
        quiet.touch();
        assert!(quiet.due(Duration::ZERO), "used again since");
    }
}
