//! Group commit on the single writer. Each write runs in a savepoint of a shared
//! transaction; whoever finds no other write waiting for the connection commits the lot,
//! and every member of that group returns only once the commit is done. Under load one
//! commit (its WAL frames, a full-text index flush) carries many writes; alone, a write
//! commits at once as before.
//!
//! What holds per write: it sees every write before it, an error rolls back its own
//! savepoint only, and it is acknowledged (returns Ok) only after its group committed. A
//! group whose commit fails, or whose transaction SQLite aborted (a full disk), fails for
//! every member.
//!
//! A group is left open only for a writer that is queued for the connection. That writer
//! may give up (its wait for the connection timed out) just after the holder counted it:
//! members waiting longer than `RESCUE_AFTER` therefore take the connection themselves
//! and commit whatever group is open, so no group waits for a write that never comes.

use std::ops::DerefMut;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, ffi};

use super::generation;
use super::queue::{self, Job};
use crate::error::{Error, Result};

/// Writes per group at most: a bound on how long the first member waits for the rest.
pub(super) const MAX_GROUP: usize = 64;

/// How long a member waits for its group to end before it ends it itself. Far above a
/// commit's usual wait (the next writer's savepoint), so under load it never fires; it
/// only bounds the wait when the writer the group was left open for never came.
const RESCUE_AFTER: Duration = Duration::from_millis(250);

/// Why a group did not commit, handed to each member as its own error.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    code: ffi::Error,
    message: String,
}

impl Failure {
    pub(super) fn of(e: &Error) -> Self {
        match e {
            Error::Sqlite(rusqlite::Error::SqliteFailure(code, message)) => Self {
                code: *code,
                message: message.clone().unwrap_or_else(|| code.to_string()),
            },
            other => Self {
                code: ffi::Error::new(ffi::SQLITE_ABORT),
                message: other.to_string(),
            },
        }
    }

    fn error(&self) -> Error {
        Error::Sqlite(rusqlite::Error::SqliteFailure(
            self.code,
            Some(self.message.clone()),
        ))
    }
}

type Outcome = std::result::Result<(), Failure>;

/// One shared transaction; its outcome is set once, when it ends, and wakes only the
/// members of this group.
#[derive(Default)]
struct Group {
    outcome: Mutex<Option<Outcome>>,
    ended: Condvar,
}

impl Group {
    fn end(&self, outcome: Outcome) {
        let mut slot = self.outcome.lock().unwrap_or_else(PoisonError::into_inner);
        slot.get_or_insert(outcome);
        self.ended.notify_all();
    }

    /// The outcome, once the group has ended.
    fn outcome(&self) -> Option<Outcome> {
        self.outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits for the outcome; `rescue` runs each time `RESCUE_AFTER` passes without one.
    fn wait(&self, rescue: impl Fn()) -> Outcome {
        loop {
            let slot = self.outcome.lock().unwrap_or_else(PoisonError::into_inner);
            let (slot, _) = self
                .ended
                .wait_timeout_while(slot, RESCUE_AFTER, |o| o.is_none())
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(outcome) = slot.as_ref() {
                return outcome.clone();
            }
            drop(slot);
            rescue();
        }
    }
}

#[derive(Default)]
struct Open {
    group: Option<Arc<Group>>,
    /// Writes in the open group that succeeded (and wait for its commit).
    members: usize,
}

/// The group-commit state of one writer connection. The connection itself is the lock:
/// only its holder touches `open` in a way that matters; members waiting for their
/// group's outcome only read it.
#[derive(Default)]
pub struct Commits {
    /// Threads that asked for the writer connection and do not have it yet.
    queued: AtomicUsize,
    open: Mutex<Open>,
}

/// Counts a thread in `queued` while it waits for the writer.
pub struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Commits {
    /// Call before asking for the connection; drop the guard once it is held.
    pub fn queue(&self) -> Queued<'_> {
        self.queued.fetch_add(1, Ordering::AcqRel);
        Queued(&self.queued)
    }

    fn state(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` as one write on the writer connection `conn` (taken after `queue`),
    /// joining the open group or starting one. Gives the connection back before waiting
    /// for the group to end; returns once it has. `take` gets the connection again (queued
    /// like any writer) when the group stays open too long (see `RESCUE_AFTER`).
    pub fn write<C, T>(
        &self,
        mut conn: C,
        f: impl FnOnce(&Connection) -> Result<T>,
        take: impl Fn() -> Result<C>,
    ) -> Result<T>
    where
        C: DerefMut<Target = Connection>,
    {
        let group = {
            let mut open = self.state();
            match &open.group {
                Some(g) => g.clone(),
                None => {
                    conn.execute_batch("BEGIN IMMEDIATE")?;
                    let g = Arc::new(Group::default());
                    open.group = Some(g.clone());
                    open.members = 0;
                    g
                }
            }
        };

        let ran = catch_unwind(AssertUnwindSafe(|| {
            let sp = conn.savepoint()?;
            let out = f(&sp)?;
            sp.commit()?;
            Ok(out)
        }));
        // A failed statement can make SQLite abort the whole transaction (a full disk, an
        // I/O error): the group's earlier writes are gone with it.
        let aborted = conn.is_autocommit();
        let succeeded = matches!(ran, Ok(Ok(_)));
        {
            let mut open = self.state();
            if aborted {
                let failure = match &ran {
                    Ok(Err(e)) => Failure::of(e),
                    _ => Failure::of(&Error::internal("the write transaction was aborted")),
                };
                self.end(&mut open, Err(failure));
            } else {
                if succeeded {
                    open.members += 1;
                }
                let alone = self.queued.load(Ordering::Acquire) == 0;
                if alone || open.members >= MAX_GROUP {
                    self.finish(&conn, &mut open);
                }
            }
        }
        drop(conn);
        let out = match ran {
            Ok(out) => out?,
            Err(panic) => resume_unwind(panic),
        };

        // Someone else commits this group: the next writer in, or the last one; or, when
        // that writer gave up, this member itself (whatever group is open by then was left
        // open for a queued writer too, this member among them).
        let rescue = || match take() {
            Ok(conn) => self.settle(&conn),
            Err(e) => log::warn!("cannot take the writer to end a write group: {e}"),
        };
        match group.wait(rescue) {
            Ok(()) => Ok(out),
            Err(failure) => Err(failure.error()),
        }
    }

    /// Runs queued writes (see `queue`) on the writer connection `conn`, each in its own
    /// savepoint of the open group (or of a new one), then commits that group and hands
    /// every write its result. Unlike `write`, the group is never left open for a writer
    /// queued for the connection: nobody here waits for a group to end, so nobody could end
    /// one that writer abandoned.
    pub(super) fn write_jobs<C>(&self, mut conn: C, jobs: Vec<Box<dyn Job>>)
    where
        C: DerefMut<Target = Connection>,
    {
        let mut done: Vec<(Arc<Group>, Box<dyn Job>)> = Vec::with_capacity(jobs.len());
        for mut job in jobs {
            let group = {
                let mut open = self.state();
                match &open.group {
                    Some(g) => g.clone(),
                    None => {
                        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
                            job.finish(Err(e.into()));
                            continue;
                        }
                        let g = Arc::new(Group::default());
                        open.group = Some(g.clone());
                        open.members = 0;
                        g
                    }
                }
            };
            let ran = queue::run_in_savepoint(&mut conn, job.as_mut());
            // As in `write`: a failed statement may have aborted the whole transaction.
            let aborted = conn.is_autocommit();
            let mut open = self.state();
            let failure = match ran {
                Some(Ok(None)) => {
                    open.members += 1;
                    done.push((group, job));
                    None
                }
                // Its own error; should it have aborted the transaction (a full disk), the
                // group's other members fail with it too.
                Some(Ok(Some(failure))) => {
                    job.finish(Ok(()));
                    Some(failure)
                }
                Some(Err(e)) => {
                    let failure = Failure::of(&e);
                    job.finish(Err(e));
                    Some(failure)
                }
                // Dropped unanswered: its caller hears that the write failed.
                None => None,
            };
            if aborted {
                let failure = failure.unwrap_or_else(|| {
                    Failure::of(&Error::internal("the write transaction was aborted"))
                });
                self.end(&mut open, Err(failure));
            }
        }
        self.settle(&conn);
        drop(conn);
        for (group, job) in done {
            let outcome = group.outcome().unwrap_or_else(|| {
                Err(Failure::of(&Error::internal("the write group never ended")))
            });
            job.finish(outcome.map_err(|f| f.error()));
        }
    }

    /// Ends the open group, if any, before `conn` is used outside a transaction.
    pub fn settle(&self, conn: &Connection) {
        let mut open = self.state();
        self.finish(conn, &mut open);
    }

    /// Commits the open group (rolls it back if it has no member) and wakes its members.
    fn finish(&self, conn: &Connection, open: &mut Open) {
        if open.group.is_none() {
            return;
        }
        let sql = if open.members == 0 {
            "ROLLBACK"
        } else {
            "COMMIT"
        };
        let outcome = match conn.execute_batch(sql) {
            Ok(()) => Ok(()),
            Err(e) => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                Err(Failure::of(&Error::Sqlite(e)))
            }
        };
        if outcome.is_ok() && open.members > 0 {
            generation::advance(conn);
        }
        self.end(open, outcome);
    }

    fn end(&self, open: &mut Open, outcome: Outcome) {
        if let Some(group) = open.group.take() {
            group.end(outcome);
        }
        open.members = 0;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Barrier;

    use crate::db::{PoolOptions, Store};
    use crate::error::Error;

    /// A store with one table, `t (n INTEGER PRIMARY KEY)`.
    pub(in crate::db) fn store(dir: &tempfile::TempDir) -> Store {
        let store = Store::open(&dir.path().join("t.db"), &PoolOptions::default()).unwrap();
        store
            .with_writer(|c| Ok(c.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)")?))
            .unwrap();
        store
    }

    fn count(store: &Store) -> i64 {
        store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .unwrap()
    }

    #[test]
    fn concurrent_writes_all_commit_and_a_failed_one_takes_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let threads = 32;
        let start = Barrier::new(threads);
        std::thread::scope(|s| {
            for i in 0..threads {
                let (store, start) = (&store, &start);
                s.spawn(move || {
                    start.wait();
                    for j in 0..50 {
                        let n = (i * 1000 + j) as i64;
                        let out = store.write(|c| {
                            c.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                            if j % 10 == 9 {
                                return Err(Error::bad_request("refused"));
                            }
                            Ok(n)
                        });
                        match out {
                            Ok(got) => assert_eq!(got, n),
                            Err(e) => assert!(matches!(e, Error::BadRequest { .. }), "{e}"),
                        }
                    }
                });
            }
        });
        // One write in ten refused itself; all the others are there.
        assert_eq!(count(&store), (threads * 45) as i64);
        let refused: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM t WHERE n % 10 = 9", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(refused, 0);
    }

    /// A writer that queued for the connection and gave up (its wait timed out) made the
    /// holder leave the group open for it: the group must still commit, without waiting for
    /// some unrelated write to come along.
    #[test]
    fn a_group_left_open_for_a_writer_that_gave_up_still_commits() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let pools = store.pools().unwrap();
        let gave_up = pools.commits.queue();
        let (done, result) = std::sync::mpsc::channel();
        let writer = store.clone();
        std::thread::spawn(move || {
            let out = writer.write(|c| Ok(c.execute("INSERT INTO t (n) VALUES (1)", [])?));
            let _ = done.send(out.map(|_| ()));
        });
        // The write ran and waits in the open group for the writer that queued after it...
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while pools.commits.state().members == 0 {
            assert!(std::time::Instant::now() < deadline, "the write never ran");
            std::thread::yield_now();
        }
        // ... which times out instead of taking the connection.
        drop(gave_up);
        let out = result.recv_timeout(std::time::Duration::from_secs(10));
        assert!(
            matches!(out, Ok(Ok(()))),
            "the write never returned: {out:?}"
        );
        assert_eq!(count(&store), 1);
    }

    #[test]
    fn a_panicking_write_rolls_back_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.write(|c| -> crate::error::Result<()> {
                c.execute("INSERT INTO t (n) VALUES (1)", [])?;
                panic!("boom");
            })
        }));
        assert!(panicked.is_err());
        store
            .write(|c| Ok(c.execute("INSERT INTO t (n) VALUES (2)", [])?))
            .unwrap();
        assert_eq!(count(&store), 1);
        // Maintenance outside a transaction still works after group writes.
        store.checkpoint().unwrap();
    }
}
