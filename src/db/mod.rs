//! The storage layer: two SQLite files (`data.db`, `auxiliary.db`), each behind exactly one
//! read-write connection and a pool of `query_only` readers. It owns connections, pragmas,
//! transactions and the system-schema migrations; it knows nothing of HTTP or of records.
//!
//! Readers come in two pools: the request readers (`--readers`), and a few held back for the
//! server's own jobs (webhook delivery, the backup schedule, schema and settings checks,
//! realtime fan-out), so requests holding every request reader cannot stop them. Every
//! reader checkout is bounded by `--query-timeout` and, for a request, by its client
//! staying (see `bound`).
//!
//! Everything here blocks. Async callers move it onto a blocking thread first.

pub mod bound;
pub mod generation;
pub mod group;
pub mod migrate;
pub mod pragmas;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use r2d2::{Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use crate::error::{Error, Result};
use pragmas::Access;

/// How the pools are sized and how long a request may wait for a connection.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub readers: u32,
    pub wait: Duration,
    /// `synchronous=FULL`: commits also survive power loss, at the cost of an fsync each.
    pub sync_full: bool,
    /// How long the SQL of one reader checkout may run before it is stopped; None: no limit.
    pub query_timeout: Option<Duration>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            readers: 8,
            wait: Duration::from_secs(10),
            sync_full: false,
            query_timeout: Some(Duration::from_secs(30)),
        }
    }
}

thread_local! {
    /// Connections this thread is running work on now.
    static HELD: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Counts a connection as in use by this thread while it lives.
struct Held;

impl Held {
    fn new() -> Self {
        HELD.set(HELD.get() + 1);
        Self
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        HELD.set(HELD.get().saturating_sub(1));
    }
}

/// True while this thread runs work on a database connection (a read, a write,
/// maintenance): slow work that needs no database, such as password hashing, must not run
/// then, or every request waiting for that connection waits for it too.
pub fn holding_connection() -> bool {
    HELD.get() > 0
}

/// Readers held back for the server's own jobs, beside the request readers. The jobs are
/// few and each reads briefly; two keep one slow job from holding up the rest.
pub const RESERVED_READERS: u32 = 2;

/// How long every request reader must have stayed taken, none coming back, before the
/// store counts as busy: under a heavy but healthy load readers come back all the time.
const BUSY_AFTER: Duration = Duration::from_secs(1);

/// One pool of `query_only` readers and how it is used: how many are taken now and when
/// one last came back (for `Store::busy`).
struct Readers {
    pool: Pool<SqliteConnectionManager>,
    size: usize,
    taken: AtomicUsize,
    /// Milliseconds after `since` at which a reader last came back.
    returned_ms: AtomicU64,
    since: Instant,
    timeout: Option<Duration>,
}

/// Counts one reader as taken while it lives.
struct Taken<'a>(&'a Readers);

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let r = self.0;
        r.returned_ms
            .store(r.since.elapsed().as_millis() as u64, Ordering::Release);
        r.taken.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Readers {
    fn new(pool: Pool<SqliteConnectionManager>, size: u32, timeout: Option<Duration>) -> Self {
        Self {
            pool,
            size: size as usize,
            taken: AtomicUsize::new(0),
            returned_ms: AtomicU64::new(0),
            since: Instant::now(),
            timeout,
        }
    }

    /// Runs `f` on a reader of this pool, within the checkout's bounds: the timeout and,
    /// when given, the request's `cancel`.
    fn run<T>(
        &self,
        cancel: Option<bound::Cancel>,
        f: impl FnOnce(&Connection) -> Result<T>,
    ) -> Result<T> {
        let asked = Instant::now();
        let conn = self
            .pool
            .get()
            .inspect_err(|_| crate::metrics::count_pool_timeout())?;
        crate::metrics::observe_reader_wait(asked.elapsed());
        self.taken.fetch_add(1, Ordering::AcqRel);
        let _taken = Taken(self);
        // Its client left while it waited for the connection: nothing to do.
        if cancel.as_ref().is_some_and(bound::Cancel::is_cancelled) {
            return Err(Error::Cancelled);
        }
        let armed = bound::Armed::new(&conn, self.timeout, cancel)?;
        let _held = Held::new();
        f(&conn).map_err(|e| armed.explain(e))
    }

    /// Every reader taken, and none came back for `BUSY_AFTER`.
    fn busy(&self) -> bool {
        let returned = Duration::from_millis(self.returned_ms.load(Ordering::Acquire));
        self.taken.load(Ordering::Acquire) >= self.size
            && self.since.elapsed().saturating_sub(returned) >= BUSY_AFTER
    }
}

/// See `Store::watch`.
pub struct ChangeWatch {
    conn: Connection,
    last: i64,
}

impl ChangeWatch {
    /// True when something was committed since the last call.
    pub fn changed(&mut self) -> Result<bool> {
        let now: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?;
        let changed = now != self.last;
        self.last = now;
        Ok(changed)
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// One SQLite file: a single writer and a pool of readers. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    writer: Pool<SqliteConnectionManager>,
    commits: Arc<group::Commits>,
    readers: Arc<Readers>,
    reserved: Arc<Readers>,
}

impl Store {
    pub fn open(path: &Path, opts: &PoolOptions) -> Result<Self> {
        let sync_full = opts.sync_full;
        let manager = |access| {
            SqliteConnectionManager::file(path)
                .with_init(move |c| pragmas::apply(c, access, sync_full))
        };
        // The writer is opened (and WAL switched on) before any reader exists.
        let writer = Pool::builder()
            .max_size(1)
            .connection_timeout(opts.wait)
            .build(manager(Access::ReadWrite))
            .map_err(|e| open_error(path, e))?;
        let size = opts.readers.max(1);
        let readers = Pool::builder()
            .max_size(size)
            .min_idle(Some(1))
            .connection_timeout(opts.wait)
            .build(manager(Access::ReadOnly))
            .map_err(|e| open_error(path, e))?;
        // Opened when a job first needs one, so a CLI command never pays for them.
        let reserved = Pool::builder()
            .max_size(RESERVED_READERS)
            .min_idle(Some(0))
            .connection_timeout(opts.wait)
            .build(manager(Access::ReadOnly))
            .map_err(|e| open_error(path, e))?;
        Ok(Self {
            path: path.to_owned(),
            writer,
            commits: Arc::default(),
            readers: Arc::new(Readers::new(readers, size, opts.query_timeout)),
            reserved: Arc::new(Readers::new(reserved, RESERVED_READERS, opts.query_timeout)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A connection of its own that notices commits made by any other connection, other
    /// processes (the CLI) included, through `PRAGMA data_version`.
    pub fn watch(&self) -> Result<ChangeWatch> {
        let conn = Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut watch = ChangeWatch { conn, last: 0 };
        watch.changed()?;
        Ok(watch)
    }

    /// Runs `f` inside a write transaction on the single writer: its changes are kept when
    /// it returns Ok (rolled back to where it started when it returns Err), and `write`
    /// returns only once they are committed. Concurrent writes share one commit (see
    /// `group`).
    pub fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let asked = std::time::Instant::now();
        let conn = self.take_writer()?;
        crate::metrics::observe_writer_wait(asked.elapsed());
        let f = |tx: &Connection| {
            let _held = Held::new();
            f(tx)
        };
        self.commits.write(conn, f, || self.take_writer())
    }

    /// The writer connection, taken as group commit expects: counted as queued meanwhile.
    fn take_writer(&self) -> Result<PooledConnection<SqliteConnectionManager>> {
        let queued = self.commits.queue();
        let conn = self
            .writer
            .get()
            .inspect_err(|_| crate::metrics::count_pool_timeout())?;
        drop(queued);
        Ok(conn)
    }

    /// Runs `f` on a request reader. Readers are `query_only`: a write attempt is an error,
    /// not a race. Its SQL stops with `Error::QueryTimeout` past `--query-timeout`, and with
    /// `Error::Cancelled` once the request it runs for (`bound::within`) is cancelled.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.readers.run(bound::current(), f)
    }

    /// Runs `f` on one of the readers held back for the server's own jobs, which requests
    /// never take; bounded by `--query-timeout` like any read.
    pub fn read_reserved<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.reserved.run(None, f)
    }

    /// True while every request reader is taken and none has come back for a second:
    /// reads queue (and, past `--db-wait`, fail with 503) until one does.
    pub fn busy(&self) -> bool {
        self.readers.busy()
    }

    /// Runs `f` on the writer outside any transaction: for statements SQLite refuses inside
    /// one (VACUUM, checkpoints) and for maintenance such as integrity checks.
    pub fn with_writer<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.take_writer()?;
        self.commits.settle(&conn);
        let held = Held::new();
        let out = f(&mut conn);
        drop(held);
        // Whatever ran may have written (a migration, VACUUM): remembered counts are stale.
        generation::advance(&conn);
        out
    }

    /// Folds the WAL back into the main file, so a stopped server leaves one tidy file.
    pub fn checkpoint(&self) -> Result<()> {
        self.with_writer(|c| {
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
    }

    pub fn size_bytes(&self) -> u64 {
        let wal = self.path.with_extension("db-wal");
        [&self.path, &wal]
            .iter()
            .filter_map(|p| fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

fn open_error(path: &Path, e: r2d2::Error) -> Error {
    Error::internal(format!("cannot open {}: {e}", path.display()))
}

/// The whole data directory: `data.db`, `auxiliary.db` and the folders beside them.
#[derive(Clone)]
pub struct Db {
    pub data: Store,
    pub aux: Store,
    dir: PathBuf,
}

impl Db {
    /// Opens (creating on first use) the data dir and applies pending migrations to both files.
    pub fn open(dir: &Path, opts: &PoolOptions) -> Result<Self> {
        fs::create_dir_all(dir)
            .map_err(|e| Error::internal(format!("cannot create {}: {e}", dir.display())))?;
        for sub in ["storage", "backups"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        let data = Store::open(&dir.join("data.db"), opts)?;
        let aux = Store::open(&dir.join("auxiliary.db"), opts)?;
        let db = Self {
            data,
            aux,
            dir: dir.to_owned(),
        };
        migrate::up(&db.data, migrate::Set::Data)?;
        migrate::up(&db.aux, migrate::Set::Auxiliary)?;
        Ok(db)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Either file's request readers are all taken and stay so (see `Store::busy`).
    pub fn busy(&self) -> bool {
        self.data.busy() || self.aux.busy()
    }

    pub fn checkpoint(&self) -> Result<()> {
        self.data.checkpoint()?;
        self.aux.checkpoint()
    }
}

impl Store {
    /// `PRAGMA integrity_check` and `foreign_key_check`; returns every finding (empty = healthy).
    pub fn check(&self) -> Result<Vec<String>> {
        self.with_writer(|c| {
            let mut findings = Vec::new();
            let mut stmt = c.prepare("PRAGMA integrity_check")?;
            for row in stmt.query_map([], |r| r.get::<_, String>(0))? {
                let row = row?;
                if row != "ok" {
                    findings.push(format!("integrity: {row}"));
                }
            }
            let mut stmt = c.prepare("PRAGMA foreign_key_check")?;
            let rows = stmt.query_map([], |r| {
                Ok(format!(
                    "foreign key: table {} row {} references missing {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?
                        .map_or("?".into(), |v| v.to_string()),
                    r.get::<_, String>(2)?
                ))
            })?;
            for row in rows {
                findings.push(row?);
            }
            Ok(findings)
        })
    }
}

/// Holds the data dir's server lock for as long as it lives.
pub struct DirLock {
    _file: fs::File,
}

/// Takes the exclusive server lock on `dir`, so two servers never share one data dir (the
/// CLI does not take it: its short writes are safe beside a running server).
pub fn lock_dir(dir: &Path) -> Result<DirLock> {
    fs::create_dir_all(dir)
        .map_err(|e| Error::internal(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(".serve.lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::internal(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(DirLock { _file: file }),
        Err(fs::TryLockError::WouldBlock) => Err(Error::internal(format!(
            "{} is in use by another hearth server",
            dir.display()
        ))),
        Err(fs::TryLockError::Error(e)) => Err(Error::internal(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}
