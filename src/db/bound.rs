//! Bounds on the SQL one reader checkout runs: a deadline (`--query-timeout`) and, for a
//! request, its client still waiting for the answer. Both are enforced by SQLite's progress
//! handler, installed when a reader is checked out and removed before it goes back to the
//! pool, so a statement past either bound stops within a few thousand VM steps and its
//! connection is free again. Knows nothing of HTTP: whoever awaits the work on the async
//! side holds a `CancelOnDrop`, and the blocking side runs the work `within` its `Cancel`.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode};

use crate::error::Error;

/// SQLite VM steps between two looks at the flag and the clock: tens of microseconds of
/// work, so the looks cost about a tenth of a percent of a scan (every 1000 steps they cost
/// 1.1%, `progress_handler_cost`) and an interrupt still lands within a millisecond.
const CHECK_EVERY: std::ffi::c_int = 10_000;

/// Set once the work it belongs to is no longer wanted (its client went away).
#[derive(Clone, Default, Debug)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A fresh flag and the guard that sets it when dropped.
    pub fn on_drop() -> (Self, CancelOnDrop) {
        let cancel = Self::default();
        (cancel.clone(), CancelOnDrop(cancel))
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Cancels its work when dropped: held by the async side for as long as it awaits the
/// result, so a handler future dropped mid-await (the client went away) stops the SQL.
#[derive(Debug)]
pub struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Cancel>> = const { RefCell::new(None) };
}

/// Restores the thread's previous `Cancel`, even when the work panics.
struct Restore(Option<Cancel>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Runs `f` on this thread with `cancel` as its request's flag: every reader checked out
/// during `f` stops its SQL once the flag is set.
pub fn within<T>(cancel: Cancel, f: impl FnOnce() -> T) -> T {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(cancel));
    let _restore = Restore(previous);
    f()
}

/// The flag of the request this thread works for, if any.
pub(super) fn current() -> Option<Cancel> {
    CURRENT.with(|c| c.borrow().clone())
}

/// The bounds of one checkout, installed on its connection until dropped.
pub(super) struct Armed<'a> {
    conn: &'a Connection,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    cancel: Option<Cancel>,
}

impl<'a> Armed<'a> {
    /// Installs the progress handler on `conn` for `timeout` from now and for `cancel`;
    /// with neither there is nothing to check and no handler.
    pub(super) fn new(
        conn: &'a Connection,
        timeout: Option<Duration>,
        cancel: Option<Cancel>,
    ) -> rusqlite::Result<Self> {
        let deadline = timeout.map(|t| Instant::now() + t);
        if deadline.is_some() || cancel.is_some() {
            let (d, c) = (deadline, cancel.clone());
            conn.progress_handler(
                CHECK_EVERY,
                Some(move || {
                    c.as_ref().is_some_and(Cancel::is_cancelled)
                        || d.is_some_and(|d| Instant::now() >= d)
                }),
            )?;
        }
        Ok(Self {
            conn,
            timeout,
            deadline,
            cancel,
        })
    }

    /// What an error of the checkout's work means: a statement this checkout's bounds
    /// interrupted is a query timeout (or a cancelled request), not a server fault.
    pub(super) fn explain(&self, e: Error) -> Error {
        let interrupted = matches!(&e, Error::Sqlite(s)
            if s.sqlite_error_code() == Some(ErrorCode::OperationInterrupted));
        if !interrupted {
            return e;
        }
        if self.cancel.as_ref().is_some_and(Cancel::is_cancelled) {
            return Error::Cancelled;
        }
        match (self.timeout, self.deadline) {
            (Some(t), Some(d)) if Instant::now() >= d => Error::QueryTimeout(t),
            _ => e,
        }
    }
}

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        if self.deadline.is_some() || self.cancel.is_some() {
            // Only fails on a connection owned by another thread, which a pooled one never is.
            let _ = self.conn.progress_handler(0, None::<fn() -> bool>);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query that runs for minutes unless stopped: a 10^10-row recursive count.
    const ENDLESS: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
                           WHERE i < 10000000000) SELECT count(*) FROM n";

    fn run(conn: &Connection, armed: &Armed) -> Error {
        let out: rusqlite::Result<i64> = conn.query_row(ENDLESS, [], |r| r.get(0));
        match out {
            Ok(n) => panic!("the query ran to its end: {n}"),
            Err(e) => armed.explain(Error::Sqlite(e)),
        }
    }

    #[test]
    fn a_query_past_its_deadline_stops_with_a_timeout() {
        let conn = Connection::open_in_memory().unwrap();
        let started = Instant::now();
        let armed = Armed::new(&conn, Some(Duration::from_millis(50)), None).unwrap();

        let e = run(&conn, &armed);

        assert!(matches!(e, Error::QueryTimeout(_)), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));
        drop(armed);
        // Disarmed: the connection runs statements to their end again.
        let one: i64 = conn.query_row("SELECT 1", [], |r| r.get(0)).unwrap();
        assert_eq!(one, 1);
    }

    #[test]
    fn a_cancelled_request_stops_its_query() {
        let conn = Connection::open_in_memory().unwrap();
        let (cancel, guard) = Cancel::on_drop();
        let armed = Armed::new(&conn, None, Some(cancel)).unwrap();
        let dropper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            drop(guard);
        });

        let e = run(&conn, &armed);

        assert!(matches!(e, Error::Cancelled), "{e}");
        dropper.join().unwrap();
    }

    /// What the handler costs on the benchmark's read queries (bench/run.py's `posts`, 10k
    /// rows): each round times the same work bare and under a fresh checkout's bounds.
    /// `cargo test --release --lib progress_handler_cost -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, not a check"]
    fn progress_handler_cost() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE posts (id TEXT PRIMARY KEY, title TEXT, views INTEGER, published INTEGER);
             CREATE INDEX idx_posts_views ON posts (views);",
        )
        .unwrap();
        for i in 0..10_000 {
            conn.execute(
                "INSERT INTO posts VALUES (?1, ?2, ?3, ?4)",
                (format!("post{i:06}"), format!("post {i}"), i % 1000, i % 2),
            )
            .unwrap();
        }
        let view = |c: &Connection| -> usize {
            let mut stmt = c
                .prepare_cached("SELECT * FROM posts WHERE id = ?1")
                .unwrap();
            stmt.query_row(["post005000"], |r| r.get::<_, String>(1))
                .unwrap()
                .len()
        };
        let list = |c: &Connection| -> usize {
            let filter = "published = 1 AND views > 100";
            let mut count = c
                .prepare_cached(&format!("SELECT count(*) FROM posts WHERE {filter}"))
                .unwrap();
            let total: i64 = count.query_row([], |r| r.get(0)).unwrap();
            let mut page = c
                .prepare_cached(&format!(
                    "SELECT * FROM posts WHERE {filter} ORDER BY views DESC LIMIT 20"
                ))
                .unwrap();
            let rows = page.query_map([], |r| r.get::<_, String>(1)).unwrap();
            rows.count() + total as usize
        };
        measure(&conn, "view", 200_000, view);
        measure(&conn, "list", 2_000, list);
    }

    fn measure(conn: &Connection, name: &str, n: u32, work: impl Fn(&Connection) -> usize) {
        let (mut bare, mut armed) = (Duration::MAX, Duration::MAX);
        for _ in 0..7 {
            let started = Instant::now();
            for _ in 0..n {
                std::hint::black_box(work(conn));
            }
            bare = bare.min(started.elapsed() / n);
            let started = Instant::now();
            for _ in 0..n {
                let bounds =
                    Armed::new(conn, Some(Duration::from_secs(30)), Some(Cancel::default()))
                        .unwrap();
                std::hint::black_box(work(conn));
                drop(bounds);
            }
            armed = armed.min(started.elapsed() / n);
        }
        let extra = armed.as_nanos() as f64 - bare.as_nanos() as f64;
        eprintln!(
            "{name}: bare {bare:?}, with the handler {armed:?} per query: +{extra:.0} ns ({:+.2}%)",
            extra / bare.as_nanos() as f64 * 100.0
        );
    }

    #[test]
    fn within_sets_the_flag_for_the_work_only() {
        let (cancel, _guard) = Cancel::on_drop();
        assert!(current().is_none());
        let seen = within(cancel, || current().is_some());
        assert!(seen);
        assert!(current().is_none());
    }
}
