//! Queued writes: the write path for async callers. A write is handed to one writer thread
//! per file, which takes every write waiting in its queue, runs each in its own savepoint of
//! one transaction (the group commit of `group`, shared with the blocking writers), commits
//! them together and hands each caller its result. The caller awaits that result on its
//! async worker: no thread is held per waiting write, and under load the writer thread goes
//! from one batch to the next without sleeping, where a blocking write cost a hop to a
//! blocking thread, a wait for the connection and a wait for its group, each a task switch.
//!
//! The guarantees are `Store::write`'s: a write sees every write before it, an error rolls
//! back its own savepoint only, and its caller hears Ok only once its group has committed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::group::{Failure, MAX_GROUP};
use super::{Held, Pools};
use crate::error::{Error, Result};

/// One write waiting for the writer thread.
pub(super) trait Job: Send {
    /// Runs the write inside its savepoint; why it failed, if it did.
    fn run(&mut self, conn: &Connection) -> Option<Failure>;
    /// Hands the caller its result: the write's own error, else `outcome`, its group's.
    fn finish(self: Box<Self>, outcome: Result<()>);
}

struct Pending<F, T> {
    write: Option<F>,
    out: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<F, T> Job for Pending<F, T>
where
    F: FnOnce(&Connection) -> Result<T> + Send,
    T: Send,
{
    fn run(&mut self, conn: &Connection) -> Option<Failure> {
        let Some(write) = self.write.take() else {
            return Some(Failure::of(&Error::internal("the write ran twice")));
        };
        let _held = Held::new();
        let out = write(conn);
        let failure = out.as_ref().err().map(Failure::of);
        self.out = Some(out);
        failure
    }

    fn finish(self: Box<Self>, outcome: Result<()>) {
        let result = match (self.out, outcome) {
            (Some(Err(e)), _) | (_, Err(e)) => Err(e),
            (Some(Ok(out)), Ok(())) => Ok(out),
            (None, Ok(())) => Err(Error::internal("the write did not run")),
        };
        let _ = self.reply.send(result);
    }
}

/// The sending side of a file's writer thread, started by the first queued write. The
/// thread ends once every `Store` clone (and with them this sender) is gone.
#[derive(Default)]
pub(super) struct Queue {
    sender: Mutex<Option<Sender<Box<dyn Job>>>>,
}

impl Queue {
    /// Queues `write`; its result once its group has committed.
    pub(super) async fn write<T: Send + 'static>(
        &self,
        live: &Arc<RwLock<Option<Arc<Pools>>>>,
        path: &Path,
        write: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, result) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Pending {
            write: Some(write),
            out: None,
            reply,
        });
        self.send(live, path, job)?;
        // The job is dropped unanswered only when its write panicked.
        result
            .await
            .unwrap_or_else(|_| Err(Error::internal("the write failed")))
    }

    fn send(
        &self,
        live: &Arc<RwLock<Option<Arc<Pools>>>>,
        path: &Path,
        job: Box<dyn Job>,
    ) -> Result<()> {
        let mut sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        // A thread that is gone (a panic outside any job) is started again.
        let job = match sender.as_ref() {
            Some(s) => match s.send(job) {
                Ok(()) => return Ok(()),
                Err(unsent) => unsent.0,
            },
            None => job,
        };
        let (tx, rx) = channel();
        let (live, path) = (Arc::downgrade(live), path.to_owned());
        std::thread::Builder::new()
            .name("writer".into())
            .spawn(move || serve(&live, &path, &rx))
            .map_err(|e| Error::internal(format!("cannot start the writer thread: {e}")))?;
        tx.send(job)
            .map_err(|_| Error::internal("the writer thread stopped"))?;
        *sender = Some(tx);
        Ok(())
    }
}

/// The writer thread: every write waiting, up to `MAX_GROUP`, in one group at a time.
fn serve(
    live: &std::sync::Weak<RwLock<Option<Arc<Pools>>>>,
    path: &Path,
    jobs: &Receiver<Box<dyn Job>>,
) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let pools = live
            .upgrade()
            .and_then(|live| live.read().ok().and_then(|pools| pools.clone()));
        let Some(pools) = pools else {
            for job in batch {
                job.finish(Err(super::closed(path)));
            }
            continue;
        };
        let asked = std::time::Instant::now();
        match pools.take_writer() {
            Ok(conn) => {
                crate::metrics::observe_writer_wait(asked.elapsed());
                pools.commits.write_jobs(conn, batch);
            }
            // Waited past `--db-wait` for the connection: as busy as a blocking write is then.
            Err(_) => {
                for job in batch {
                    job.finish(Err(Error::Overloaded));
                }
            }
        }
    }
}

/// Runs `job` in a savepoint of `conn`'s open transaction: Ok(None) when it succeeded and
/// its savepoint was released, Ok(Some(why)) when it failed (rolled back), Err when the
/// savepoint itself failed, None when it panicked.
pub(super) fn run_in_savepoint(
    conn: &mut Connection,
    job: &mut dyn Job,
) -> Option<Result<Option<Failure>>> {
    catch_unwind(AssertUnwindSafe(|| {
        let sp = conn.savepoint()?;
        let failure = job.run(&sp);
        if failure.is_none() {
            sp.commit()?;
        }
        Ok(failure)
    }))
    .ok()
}

#[cfg(test)]
mod tests {
    use crate::db::Store;
    use crate::db::group::tests::store;
    use crate::error::Error;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    fn visible(store: &Store, n: i64) -> bool {
        store
            .read(|c| {
                Ok(
                    c.query_row("SELECT count(*) FROM t WHERE n = ?1", [n], |r| {
                        r.get::<_, i64>(0)
                    })? == 1,
                )
            })
            .unwrap()
    }

    /// Queued writes from many tasks, with blocking writes beside them on the same writer:
    /// each is acknowledged only once committed (a reader sees it then), a refused one
    /// takes only itself, and every other one is there.
    #[test]
    fn queued_writes_commit_together_beside_blocking_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let runtime = runtime();
        std::thread::scope(|s| {
            for t in 0..4 {
                let store = &store;
                s.spawn(move || {
                    for j in 0..50 {
                        let n = 1_000_000 + t * 1000 + j;
                        store
                            .write(|c| Ok(c.execute("INSERT INTO t (n) VALUES (?1)", [n])?))
                            .unwrap();
                    }
                });
            }
            runtime.block_on(async {
                let writes = (0..400i64).map(|n| {
                    let store = store.clone();
                    async move {
                        let out = store
                            .write_queued(move |c| {
                                c.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                                if n % 10 == 9 {
                                    return Err(Error::bad_request("refused"));
                                }
                                Ok(n)
                            })
                            .await;
                        match out {
                            Ok(got) => {
                                assert_eq!(got, n);
                                assert!(visible(&store, n), "{n} acknowledged before its commit");
                            }
                            Err(e) => {
                                assert!(matches!(e, Error::BadRequest { .. }), "{e}");
                                assert!(!visible(&store, n));
                            }
                        }
                    }
                });
                futures_util::future::join_all(writes).await;
            });
        });
        let count: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(count, 360 + 200);
    }

    #[test]
    fn a_panicking_queued_write_fails_alone_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        let runtime = runtime();
        runtime.block_on(async {
            let panicked = store
                .write_queued(|c| -> crate::error::Result<()> {
                    c.execute("INSERT INTO t (n) VALUES (1)", [])?;
                    panic!("boom");
                })
                .await;
            assert!(matches!(panicked, Err(Error::Internal(_))), "{panicked:?}");
            store
                .write_queued(|c| Ok(c.execute("INSERT INTO t (n) VALUES (2)", [])?))
                .await
                .unwrap();
        });
        assert!(!visible(&store, 1));
        assert!(visible(&store, 2));
    }
}
