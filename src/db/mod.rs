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
//! Everything here blocks, and async callers move it onto a blocking thread first, with
//! two exceptions: `try_read` (a short read when a reader is free at once) and
//! `write_queued` (the write runs on the file's writer thread, `queue`, and is awaited).

pub mod bound;
pub mod foreign;
pub mod generation;
pub mod group;
pub mod idle;
pub mod math;
pub mod migrate;
pub mod pragmas;
mod queue;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};

use r2d2::{Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};
use scheduled_thread_pool::ScheduledThreadPool;

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
    /// When a reader last came back.
    quiet: idle::Quiet,
    timeout: Option<Duration>,
}

/// Counts one reader as taken while it lives.
struct Taken<'a>(&'a Readers);

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let r = self.0;
        r.quiet.touch();
        r.taken.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Readers {
    fn new(pool: Pool<SqliteConnectionManager>, size: u32, timeout: Option<Duration>) -> Self {
        Self {
            pool,
            size: size as usize,
            taken: AtomicUsize::new(0),
            quiet: idle::Quiet::new(),
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

    /// As `run` without a request to cancel it, when a reader is free at once; None
    /// without waiting when none is.
    fn try_run<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Option<Result<T>> {
        let conn = self.pool.try_get()?;
        crate::metrics::observe_reader_wait(Duration::ZERO);
        self.taken.fetch_add(1, Ordering::AcqRel);
        let _taken = Taken(self);
        let armed = match bound::Armed::new(&conn, self.timeout, None) {
            Ok(armed) => armed,
            Err(e) => return Some(Err(e.into())),
        };
        let _held = Held::new();
        Some(f(&conn).map_err(|e| armed.explain(e)))
    }

    /// Every reader taken, and none came back for `BUSY_AFTER`.
    fn busy(&self) -> bool {
        self.taken.load(Ordering::Acquire) >= self.size && self.quiet.idle_for() >= BUSY_AFTER
    }

    /// Hands back the page caches of this pool's readers once none has been taken for
    /// `after` (see `idle`).
    fn shrink_if_quiet(&self, after: Duration) {
        if self.taken.load(Ordering::Acquire) > 0 || !self.quiet.due(after) {
            return;
        }
        let idle: Vec<_> = std::iter::from_fn(|| self.pool.try_get())
            .take(self.size)
            .collect();
        for conn in &idle {
            idle::shrink(conn);
        }
    }
}

/// See `Store::watch`.
pub struct ChangeWatch {
    conn: Connection,
    last: i64,
    store: Store,
    /// The store's epoch when `conn` was opened.
    epoch: u64,
}

impl ChangeWatch {
    /// True when something was committed since the last call (or a restore put another
    /// file in place: then the watch follows it).
    pub fn changed(&mut self) -> Result<bool> {
        let epoch = self.store.epoch.load(Ordering::Acquire);
        if epoch != self.epoch {
            self.conn = watch_connection(&self.store.path)?;
            self.epoch = epoch;
            self.last = self
                .conn
                .query_row("PRAGMA data_version", [], |r| r.get(0))?;
            return Ok(true);
        }
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

/// One SQLite file: a single writer and a pool of readers. Cheap to clone: clones share
/// the pools, and follow them when a restore closes and reopens them (`Db::offline`).
#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    opts: PoolOptions,
    /// The open pools; None only between `Db::offline` closing them and opening them again.
    live: Arc<RwLock<Option<Arc<Pools>>>>,
    /// Counts reopenings, so a `ChangeWatch` knows its own connection went stale.
    epoch: Arc<AtomicU64>,
    /// The writer thread of `write_queued`.
    queue: Arc<queue::Queue>,
}

/// The connections of one file. Every operation holds an `Arc` of it while it runs, so
/// `Db::offline` knows when none is in flight.
struct Pools {
    writer: Pool<SqliteConnectionManager>,
    /// When the writer was last taken.
    writer_quiet: idle::Quiet,
    commits: group::Commits,
    readers: Readers,
    reserved: Readers,
}

/// The thread every pool opens its connections on (r2d2 would start three per pool, 18 in
/// all for data.db and auxiliary.db); opening is rare and quick.
static OPENER: LazyLock<Arc<ScheduledThreadPool>> = LazyLock::new(|| {
    Arc::new(
        ScheduledThreadPool::builder()
            .num_threads(1)
            .thread_name_pattern("sqlite-open")
            .build(),
    )
});

impl Pools {
    fn open(path: &Path, opts: &PoolOptions) -> Result<Self> {
        // Created here, once: the pools never create the file (no SQLITE_OPEN_CREATE), so a
        // connection opened while a restore has moved the file away fails instead of
        // leaving an empty database behind.
        Connection::open(path).map_err(|e| open_failed(path, e))?;
        let sync_full = opts.sync_full;
        let manager = |access| {
            SqliteConnectionManager::file(path)
                .with_flags(
                    OpenFlags::SQLITE_OPEN_READ_WRITE
                        | OpenFlags::SQLITE_OPEN_URI
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .with_init(move |c| {
                    pragmas::apply(c, access, sync_full)?;
                    math::register(c)
                })
        };
        // No reaper: connections live as long as their pools, so none is opened behind
        // the back of a restore that has closed them. No `SELECT 1` before each checkout
        // either: a local file's connection does not go stale (a restore closes the pools),
        // and that statement, compiled anew every time, cost every read a prepare.
        let builder = || {
            Pool::builder()
                .max_lifetime(None)
                .idle_timeout(None)
                .test_on_check_out(false)
                .thread_pool(OPENER.clone())
        };
        // The writer is opened (and WAL switched on) before any reader exists.
        let writer = builder()
            .max_size(1)
            .connection_timeout(opts.wait)
            .build(manager(Access::ReadWrite))
            .map_err(|e| open_error(path, e))?;
        let size = opts.readers.max(1);
        let readers = builder()
            .max_size(size)
            .min_idle(Some(1))
            .connection_timeout(opts.wait)
            .build(manager(Access::ReadOnly))
            .map_err(|e| open_error(path, e))?;
        // Opened when a job first needs one, so a CLI command never pays for them.
        let reserved = builder()
            .max_size(RESERVED_READERS)
            .min_idle(Some(0))
            .connection_timeout(opts.wait)
            .build(manager(Access::ReadOnly))
            .map_err(|e| open_error(path, e))?;
        Ok(Self {
            writer,
            writer_quiet: idle::Quiet::new(),
            commits: group::Commits::default(),
            readers: Readers::new(readers, size, opts.query_timeout),
            reserved: Readers::new(reserved, RESERVED_READERS, opts.query_timeout),
        })
    }

    /// The writer connection, taken as group commit expects: counted as queued meanwhile.
    fn take_writer(&self) -> Result<PooledConnection<SqliteConnectionManager>> {
        let queued = self.commits.queue();
        let conn = self
            .writer
            .get()
            .inspect_err(|_| crate::metrics::count_pool_timeout())?;
        drop(queued);
        self.writer_quiet.touch();
        Ok(conn)
    }

    /// See `Store::shrink_idle`.
    fn shrink_idle(&self, after: Duration) {
        self.readers.shrink_if_quiet(after);
        self.reserved.shrink_if_quiet(after);
        if let Some(conn) = self.writer.try_get()
            && self.writer_quiet.due(after)
        {
            idle::shrink(&conn);
        }
    }
}

impl Store {
    pub fn open(path: &Path, opts: &PoolOptions) -> Result<Self> {
        let pools = Pools::open(path, opts)?;
        Ok(Self {
            path: path.to_owned(),
            opts: opts.clone(),
            live: Arc::new(RwLock::new(Some(Arc::new(pools)))),
            epoch: Arc::default(),
            queue: Arc::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open pools, held by the caller for one operation.
    fn pools(&self) -> Result<Arc<Pools>> {
        let live = self
            .live
            .read()
            .map_err(|_| Error::internal("the database pools are poisoned"))?;
        live.clone().ok_or_else(|| closed(&self.path))
    }

    /// A connection of its own that notices commits made by any other connection, other
    /// processes (the CLI) included, through `PRAGMA data_version`.
    pub fn watch(&self) -> Result<ChangeWatch> {
        let mut watch = ChangeWatch {
            conn: watch_connection(&self.path)?,
            last: 0,
            store: self.clone(),
            epoch: self.epoch.load(Ordering::Acquire),
        };
        watch.changed()?;
        Ok(watch)
    }

    /// Runs `f` inside a write transaction on the single writer: its changes are kept when
    /// it returns Ok (rolled back to where it started when it returns Err), and `write`
    /// returns only once they are committed. Concurrent writes share one commit (see
    /// `group`).
    pub fn write<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pools = self.pools()?;
        let asked = std::time::Instant::now();
        let conn = pools.take_writer()?;
        crate::metrics::observe_writer_wait(asked.elapsed());
        let f = |tx: &Connection| {
            let _held = Held::new();
            f(tx)
        };
        pools.commits.write(conn, f, || pools.take_writer())
    }

    /// `write` for an async caller: `f` runs on the file's writer thread, in a group with
    /// whatever other writes are waiting, and the caller awaits its result holding no
    /// thread (see `queue`). `f` must not block on anything but this connection.
    pub async fn write_queued<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.queue.write(&self.live, &self.path, f).await
    }

    /// Runs `f` on a request reader. Readers are `query_only`: a write attempt is an error,
    /// not a race. Its SQL stops with `Error::QueryTimeout` past `--query-timeout`, and with
    /// `Error::Cancelled` once the request it runs for (`bound::within`) is cancelled.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.pools()?.readers.run(bound::current(), f)
    }

    /// Runs `f` on a request reader if one is free at once; None, without waiting, when
    /// none is (or while a restore holds the pools closed). For the short, bounded reads
    /// that may run on an async worker (see `api::records::view`).
    pub fn try_read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Option<Result<T>> {
        let pools = self.live.try_read().ok()?.as_ref()?.clone();
        pools.readers.try_run(f)
    }

    /// Runs `f` on one of the readers held back for the server's own jobs, which requests
    /// never take; bounded by `--query-timeout` like any read.
    pub fn read_reserved<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.pools()?.reserved.run(None, f)
    }

    /// True while every request reader is taken and none has come back for a second:
    /// reads queue (and, past `--db-wait`, fail with 503) until one does.
    pub fn busy(&self) -> bool {
        // Never waits: while a restore holds the pools closed, the store is not "busy".
        match self.live.try_read() {
            Ok(live) => live.as_ref().is_some_and(|p| p.readers.busy()),
            Err(_) => false,
        }
    }

    /// Runs `f` on the writer outside any transaction: for statements SQLite refuses inside
    /// one (VACUUM, checkpoints) and for maintenance such as integrity checks.
    pub fn with_writer<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        with_writer(self.pools()?.as_ref(), f)
    }

    /// Hands back the page caches of connections left unused for `after`, once per quiet
    /// spell (see `idle`); never waits for a connection in use.
    pub fn shrink_idle(&self, after: Duration) {
        if let Ok(live) = self.live.try_read()
            && let Some(pools) = live.as_ref()
        {
            pools.shrink_idle(after);
        }
    }

    /// Folds the WAL back into the main file, so a stopped server leaves one tidy file.
    pub fn checkpoint(&self) -> Result<()> {
        checkpoint(self.pools()?.as_ref())
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

fn with_writer<T>(pools: &Pools, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
    let mut conn = pools.take_writer()?;
    pools.commits.settle(&conn);
    let held = Held::new();
    let out = f(&mut conn);
    drop(held);
    // Whatever ran may have written (a migration, VACUUM): remembered counts are stale.
    generation::advance(&conn);
    out
}

/// How long a checkpoint waits for readers to leave the WAL before giving up on truncating
/// it this time. A TRUNCATE checkpoint holds the write lock while it waits, so every write
/// waits with it; another process may hold a read transaction for good (Litestream keeps one
/// open between its own checkpoints), and waiting the whole `busy_timeout` for it failed
/// every write in flight with a 503 and made each graceful stop 10 s longer per file.
const CHECKPOINT_WAIT: Duration = Duration::from_millis(200);

fn checkpoint(pools: &Pools) -> Result<()> {
    with_writer(pools, |c| {
        c.busy_timeout(CHECKPOINT_WAIT)?;
        // (busy, frames in the WAL, frames folded back): busy = 1 when a reader kept the
        // WAL from being truncated; the frames it did not need are folded back anyway.
        let done = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        });
        c.busy_timeout(Duration::from_millis(u64::from(pragmas::BUSY_TIMEOUT_MS)))?;
        let (busy, frames, folded) = done?;
        if busy != 0 {
            log::debug!(
                "checkpoint: a reader (Litestream?) holds the WAL; {folded} of {frames} frames folded back, not truncated"
            );
        }
        Ok(())
    })
}

fn watch_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// The answer while a file's pools are closed (a restore that could not reopen them).
fn closed(path: &Path) -> Error {
    Error::internal(format!(
        "{} is closed: it could not be opened again after a restore",
        path.display()
    ))
}

fn open_failed(path: &Path, e: rusqlite::Error) -> Error {
    Error::internal(format!("cannot open {}: {e}", path.display()))
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
        // Checked before anything here is created or opened for writing.
        if foreign::is_pocketbase(dir) {
            return Err(foreign::pocketbase_refusal(dir));
        }
        fs::create_dir_all(dir)
            .map_err(|e| Error::internal(format!("cannot create {}: {e}", dir.display())))?;
        // A restore killed half-way is undone before any file is opened.
        crate::backups::swap::recover(dir)?;
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

    /// Closes every connection of both files, runs `f` while none is open (a restore moves
    /// the files), then opens them again, on whatever files `f` left in place.
    ///
    /// New operations wait meanwhile; those in flight are waited for, up to `--db-wait`
    /// (at least ten seconds), and if they are not over by then nothing is closed and the
    /// answer is a 503. `f` must not use the stores: they are closed while it runs.
    pub fn offline<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let stores = [&self.data, &self.aux];
        let poisoned = |_| Error::internal("the database pools are poisoned");
        let mut slots = Vec::with_capacity(2);
        for store in stores {
            slots.push(store.live.write().map_err(poisoned)?);
        }
        let deadline = Instant::now() + self.data.opts.wait.max(Duration::from_secs(10));
        while slots
            .iter()
            .any(|s| s.as_ref().is_some_and(|p| Arc::strong_count(p) > 1))
        {
            if Instant::now() > deadline {
                return Err(Error::Overloaded);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        for slot in &mut slots {
            if let Some(pools) = slot.take() {
                // The file left behind holds everything: no WAL to carry along.
                if let Err(e) = checkpoint(&pools) {
                    log::warn!("checkpoint before closing: {e}");
                }
            }
        }
        let out = f();
        let mut reopened = Ok(());
        for (slot, store) in slots.iter_mut().zip(stores) {
            match Pools::open(&store.path, &store.opts) {
                Ok(pools) => **slot = Some(Arc::new(pools)),
                Err(e) => reopened = Err(e),
            }
            store.epoch.fetch_add(1, Ordering::AcqRel);
        }
        let out = out?;
        reopened.map(|()| out)
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
