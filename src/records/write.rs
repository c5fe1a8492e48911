//! The one way records change. Every create, update and delete (from the API, a batch, the
//! admin UI, the account flows, and the cascades they set off) goes through `Writes`, which
//! owns their order:
//!
//! 1. before the transaction, holding no connection: the slow password work (`Secrets`);
//! 2. inside one write transaction of the group commit: rules, validation, new uploads moved
//!    into the record's folder, the change itself, and its webhook deliveries (the outbox,
//!    written by `changes::note` in that same transaction);
//! 3. after the commit: files the change replaced or removed (a deleted record's folder)
//!    deleted, and the changes published to realtime subscribers.
//!
//! A write that fails or is rolled back leaves nothing behind: its uploads are removed again
//! (`Staging` on drop), no file is deleted and nothing is published. No caller removes a
//! record's files or publishes a change itself.
//!
//! The JS hooks take part through `RecordHooks`: the model hooks (`onRecordCreate`, ...)
//! wrap each write inside the transaction and may change the record or refuse it; the
//! after hooks (`onRecordAfterCreateSuccess`, `...Error`) run once the transaction ended.

use rusqlite::Connection;
use serde_json::{Map, Value};

use std::sync::Arc;

use super::changes::{Change, Event};
use super::protected::Secrets;
use super::{Ctx, Deleted, Record};
use crate::db::Store;
use crate::error::{Error, Result};
use crate::files::{Staging, Storage};
use crate::schema::Collection;

mod tx;

/// Where committed changes go (the realtime broker), so that this layer needs no import of
/// realtime: it only hands changes over, after their commit.
pub trait Publish: Sync {
    fn publish(&self, changes: Vec<Change>);
}

/// What the JS hooks do around record writes (implemented by `hooks`, so that this layer
/// needs no import of them).
pub trait RecordHooks {
    /// Whether hooks of `event` (model or after hooks) are registered for `c`; when none
    /// are, the write goes on without its record being built for them.
    fn wants(&self, event: Event, c: &Collection) -> bool;
    /// Runs the model hooks of `event` on `record` (as stored, hidden fields included, or
    /// the draft of a new one); the innermost hook's `next` makes the write and answers
    /// the record as written. A hook that never calls it leaves the record unwritten.
    fn around(
        &self,
        tx: &mut Tx,
        event: Event,
        c: &Collection,
        record: Record,
        next: Next,
    ) -> Result<()>;
    /// The after hooks, once the transaction has ended: for its changes if it committed
    /// (`error` None), else for the records it tried to write.
    fn after(&self, done: &[(Event, Arc<Collection>, Record)], error: Option<&Error>);
}

/// The write a model hook wraps: given the record as the hooks left it.
pub type Next<'n> = &'n mut dyn FnMut(&mut Tx, Record) -> Result<Record>;

/// No hooks: writes made where no JS runtime is at hand, or none is loaded.
pub struct NoHooks;

impl RecordHooks for NoHooks {
    fn wants(&self, _: Event, _: &Collection) -> bool {
        false
    }

    fn around(
        &self,
        tx: &mut Tx,
        _: Event,
        _: &Collection,
        record: Record,
        next: Next,
    ) -> Result<()> {
        next(tx, record).map(drop)
    }

    fn after(&self, _: &[(Event, Arc<Collection>, Record)], _: Option<&Error>) {}
}

/// The record write service: the database, the file storage, the realtime broker and the
/// JS hooks.
pub struct Writes<'a> {
    pub store: &'a Store,
    pub storage: &'a Storage,
    pub realtime: &'a dyn Publish,
    pub hooks: &'a dyn RecordHooks,
}

/// Runs first inside the write transaction; an error refuses the write (an `If-Match`
/// that no longer holds, say).
pub type Precondition<'p> = &'p dyn Fn(&Connection) -> Result<()>;

/// `Precondition` for `Writes::save_queued`, which runs it on the writer thread.
pub type QueuedPrecondition = Box<dyn FnOnce(&Connection, &Collection, &Ctx) -> Result<()> + Send>;

/// No precondition.
pub fn always(_: &Connection) -> Result<()> {
    Ok(())
}

/// What a transaction's record writes leave to do once it has committed.
#[derive(Default)]
struct After {
    /// Uploads moved into place, kept once the transaction commits.
    staged: Vec<Staging>,
    /// (collection id, record id, file names) an update dropped.
    dropped: Vec<(String, String, Vec<String>)>,
    /// Records deleted (cascades too): their folders go.
    deleted: Deleted,
    changes: Vec<Change>,
    /// The records hooks were shown, for the after hooks should the transaction fail.
    tried: Vec<(Event, Arc<Collection>, Record)>,
}

/// The record writes of one open write transaction.
pub struct Tx<'t> {
    conn: &'t Connection,
    after: &'t mut After,
    hooks: &'t dyn RecordHooks,
    /// Whether the save whose hooks run validates (not `$app.saveNoValidate`).
    validating: bool,
}

impl Writes<'_> {
    /// Runs `f` in one write transaction (group commit); once it has committed, deletes
    /// the files its writes dropped and publishes its changes.
    pub fn run<T>(&self, f: impl FnOnce(&mut Tx) -> Result<T>) -> Result<T> {
        let mut after = After::default();
        let out = self.store.write(|conn| {
            let mut tx = Tx {
                conn,
                after: &mut after,
                hooks: self.hooks,
                validating: true,
            };
            f(&mut tx)
        });
        match out {
            Ok(out) => {
                self.committed(after);
                Ok(out)
            }
            Err(e) => {
                if !after.tried.is_empty() {
                    self.hooks.after(&after.tried, Some(&e));
                }
                Err(e)
            }
        }
    }

    /// `run` for an async caller, when no record hooks are loaded for what `f` writes and
    /// nothing it does waits on more than the connection (no upload to place, no password
    /// to hash): `f` runs on the writer thread (`Store::write_queued`), and nothing holds a
    /// thread while the write waits for its commit.
    pub async fn run_queued<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (out, after) = self
            .store
            .write_queued(move |conn| {
                let mut after = After::default();
                let mut tx = Tx {
                    conn,
                    after: &mut after,
                    hooks: &NoHooks,
                    validating: true,
                };
                let out = f(&mut tx)?;
                Ok((out, after))
            })
            .await?;
        self.committed(after);
        Ok(out)
    }

    /// Once a transaction has committed: deletes the files its writes dropped and publishes
    /// its changes.
    fn committed(&self, after: After) {
        for staging in after.staged {
            staging.commit();
        }
        for (collection_id, record_id, names) in &after.dropped {
            self.storage.remove_files(collection_id, record_id, names);
        }
        for (collection_id, record_id) in &after.deleted {
            self.storage.remove_record(collection_id, record_id);
        }
        let done: Vec<(Event, Arc<Collection>, Record)> = after
            .changes
            .iter()
            .filter(|change| self.hooks.wants(change.event, &change.collection))
            .map(|change| {
                (
                    change.event,
                    change.collection.clone(),
                    change.record.clone(),
                )
            })
            .collect();
        self.realtime.publish(after.changes);
        if !done.is_empty() {
            self.hooks.after(&done, None);
        }
    }

    /// A create (`on` None) or an update of record `id` once its precondition holds, on the
    /// writer thread (see `run_queued`): for a body `queueable` admits, when no record
    /// hooks are loaded for `c`. `answer` builds the response inside the transaction.
    pub async fn save_queued<T: Send + 'static>(
        &self,
        c: Arc<Collection>,
        ctx: Ctx,
        on: Option<(String, QueuedPrecondition)>,
        body: Map<String, Value>,
        staging: Staging,
        answer: impl FnOnce(&Connection, &Collection, &Ctx, Record) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        debug_assert!(Self::queueable(&c, &body, &staging));
        self.run_queued(move |tx| {
            let id = match on {
                Some((id, precondition)) => {
                    precondition(tx.conn, &c, &ctx)?;
                    Some(id)
                }
                None => None,
            };
            let record = tx.save(
                &c,
                &ctx,
                id.as_deref(),
                &body,
                &Map::new(),
                &Secrets::default(),
                Some(staging),
            )?;
            answer(tx.conn, &c, &ctx, record)
        })
        .await
    }

    /// Whether a write of `body` to `c` may go through `run_queued`: nothing to place, no
    /// password to hash. Record hooks are the caller's to rule out.
    pub fn queueable(c: &Collection, body: &Map<String, Value>, staging: &Staging) -> bool {
        staging.is_empty() && staging.ahead_id().is_none() && Secrets::none_needed(c, body)
    }

    /// Creates a record of `c` from `body` and the uploads in `staging`; `answer` builds
    /// the response from the saved record inside the transaction (expand and the like).
    pub fn create<T>(
        &self,
        c: &Collection,
        ctx: &Ctx,
        body: &Map<String, Value>,
        staging: Staging,
        answer: impl FnOnce(&Connection, Record) -> Result<T>,
    ) -> Result<T> {
        self.create_set(c, ctx, body, &Map::new(), staging, answer)
    }

    /// `create` with the values a request hook `set` on the record, written as given.
    pub fn create_set<T>(
        &self,
        c: &Collection,
        ctx: &Ctx,
        body: &Map<String, Value>,
        set: &Map<String, Value>,
        staging: Staging,
        answer: impl FnOnce(&Connection, Record) -> Result<T>,
    ) -> Result<T> {
        let secrets = Secrets::prepare(self.store, c, ctx, None, body)?;
        let set = ahead_id(body, set, &staging);
        self.run(|tx| {
            let record = tx.save(c, ctx, None, body, &set, &secrets, Some(staging))?;
            answer(tx.conn, record)
        })
    }

    /// Updates record `id` of `c`, once `precondition` holds; see `create`.
    #[allow(clippy::too_many_arguments)]
    pub fn update<T>(
        &self,
        c: &Collection,
        ctx: &Ctx,
        id: &str,
        body: &Map<String, Value>,
        staging: Staging,
        precondition: Precondition,
        answer: impl FnOnce(&Connection, Record) -> Result<T>,
    ) -> Result<T> {
        let on = (id, precondition);
        self.update_set(c, ctx, on, body, &Map::new(), staging, answer)
    }

    /// `update` with the values a request hook `set` on the record, written as given.
    #[allow(clippy::too_many_arguments)]
    pub fn update_set<T>(
        &self,
        c: &Collection,
        ctx: &Ctx,
        (id, precondition): (&str, Precondition),
        body: &Map<String, Value>,
        set: &Map<String, Value>,
        staging: Staging,
        answer: impl FnOnce(&Connection, Record) -> Result<T>,
    ) -> Result<T> {
        let secrets = Secrets::prepare(self.store, c, ctx, Some(id), body)?;
        self.run(|tx| {
            precondition(tx.conn)?;
            let record = tx.save(c, ctx, Some(id), body, set, &secrets, Some(staging))?;
            answer(tx.conn, record)
        })
    }

    /// Deletes record `id` of `c` (and whatever cascades), once `precondition` holds.
    pub fn delete(
        &self,
        c: &Collection,
        ctx: &Ctx,
        id: &str,
        precondition: Precondition,
    ) -> Result<()> {
        self.run(|tx| {
            precondition(tx.conn)?;
            tx.delete(c, ctx, id)
        })
    }
}

/// `set` for a create whose files were sent ahead (`Staging::send_ahead`) to the id chosen
/// for the record: the record gets that id, as if generated here. A hook may still change
/// it; the files then follow at the write.
fn ahead_id<'a>(
    body: &Map<String, Value>,
    set: &'a Map<String, Value>,
    staging: &Staging,
) -> std::borrow::Cow<'a, Map<String, Value>> {
    match staging.ahead_id() {
        Some(id) if named_id(body).is_none() && !set.contains_key("id") => {
            let mut chosen = set.clone();
            chosen.insert("id".into(), Value::String(id.to_owned()));
            std::borrow::Cow::Owned(chosen)
        }
        _ => std::borrow::Cow::Borrowed(set),
    }
}

/// The id a create's body names, if any (an empty one asks for a generated id).
pub fn named_id(body: &Map<String, Value>) -> Option<&str> {
    body.get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::collections::Collections;
    use crate::db::{Db, PoolOptions};
    use crate::records::Caller;
    use crate::schema::Registry;

    /// Remembers what was published, and when: the record must be committed by then.
    struct Seen {
        store: Store,
        published: Mutex<Vec<(String, bool)>>,
    }

    impl Publish for Seen {
        fn publish(&self, changes: Vec<Change>) {
            for change in changes {
                let sql = format!(
                    "SELECT count(*) FROM \"{}\" WHERE id = ?1",
                    change.collection.name
                );
                let committed = self
                    .store
                    .read(|c| Ok(c.query_row(&sql, [&change.id], |r| r.get::<_, i64>(0))?))
                    .unwrap_or(0);
                let mut published = self.published.lock().unwrap_or_else(|p| p.into_inner());
                published.push((change.id, committed == 1));
            }
        }
    }

    impl Seen {
        fn on(db: &Db) -> Self {
            Self {
                store: db.data.clone(),
                published: Mutex::default(),
            }
        }

        /// The write service over `db` and `storage`, publishing to this.
        fn writes<'a>(&'a self, db: &'a Db, storage: &'a Storage) -> Writes<'a> {
            Writes {
                store: &db.data,
                storage,
                realtime: self,
                hooks: &NoHooks,
            }
        }
    }

    fn setup() -> Result<(tempfile::TempDir, Db, Registry, Storage)> {
        let dir = tempfile::tempdir()?;
        let db = Db::open(dir.path(), &PoolOptions::default())?;
        let registry = db.data.read(Registry::load)?;
        let storage = Storage::open(&dir.path().join("storage"))?;
        Collections {
            store: &db.data,
            registry: &registry,
            storage: &storage,
        }
        .create(json!({"name": "notes", "createRule": "", "fields": [
            {"name": "title", "type": "text", "required": true}
        ]}))?;
        Ok((dir, db, registry, storage))
    }

    fn body(title: &str) -> Map<String, Value> {
        Map::from_iter([("title".to_owned(), json!(title))])
    }

    #[test]
    fn changes_are_published_after_their_commit_and_never_for_a_refused_write() -> Result<()> {
        let (_dir, db, registry, storage) = setup()?;
        let seen = Seen::on(&db);
        let writes = seen.writes(&db, &storage);
        let c = registry
            .snapshot()
            .find("notes")
            .ok_or_else(|| crate::error::Error::internal("no notes"))?;
        let ctx = || Ctx {
            caller: Caller::Guest,
            request: Default::default(),
            schema: registry.snapshot(),
            changes: Default::default(),
            validate: true,
        };

        let refused = writes.create(&c, &ctx(), &body(""), Staging::new(&storage), |_, r| Ok(r));
        assert!(refused.is_err(), "the title is required");
        let created = writes.create(&c, &ctx(), &body("one"), Staging::new(&storage), |_, r| {
            Ok(r)
        })?;
        // A batch whose second write fails: the first is rolled back, nothing published.
        let half = writes.run(|tx| {
            tx.create(&c, &ctx(), &body("two"), &Secrets::default(), None)?;
            tx.create(&c, &ctx(), &body(""), &Secrets::default(), None)
        });
        assert!(half.is_err());

        let published = seen
            .published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let id = created
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert_eq!(published, vec![(id.to_owned(), true)]);
        let count: i64 = db
            .data
            .read(|c| Ok(c.query_row("SELECT count(*) FROM notes", [], |r| r.get(0))?))?;
        assert_eq!(count, 1);
        Ok(())
    }

    #[test]
    fn a_delete_and_its_cascade_remove_their_files_after_the_commit_only() -> Result<()> {
        let (_dir, db, registry, storage) = setup()?;
        let notes = registry
            .snapshot()
            .find("notes")
            .ok_or_else(|| crate::error::Error::internal("no notes"))?;
        Collections {
            store: &db.data,
            registry: &registry,
            storage: &storage,
        }
        .create(
            json!({"name": "comments", "createRule": "", "deleteRule": "", "fields": [
                {"name": "note", "type": "relation", "collectionId": notes.id,
                 "cascadeDelete": true, "maxSelect": 1},
            ]}),
        )?;
        let snapshot = registry.snapshot();
        let comments = snapshot
            .find("comments")
            .ok_or_else(|| crate::error::Error::internal("no comments"))?;
        let seen = Seen::on(&db);
        let writes = seen.writes(&db, &storage);
        let ctx = |caller| Ctx {
            caller,
            request: Default::default(),
            schema: registry.snapshot(),
            changes: Default::default(),
            validate: true,
        };
        let id_of = |r: Map<String, Value>| r["id"].as_str().unwrap_or_default().to_owned();
        let note = id_of(writes.create(
            &notes,
            &ctx(Caller::Guest),
            &body("n"),
            Staging::new(&storage),
            |_, r| Ok(r),
        )?);
        let on_note = Map::from_iter([("note".to_owned(), json!(note))]);
        let comment = id_of(writes.create(
            &comments,
            &ctx(Caller::Guest),
            &on_note,
            Staging::new(&storage),
            |_, r| Ok(r),
        )?);
        // Files as uploads leave them, for the note and for its comment.
        let mut dirs = Vec::new();
        for (c, id) in [(&notes, &note), (&comments, &comment)] {
            let dir = storage
                .record_dir(&c.id, id)
                .ok_or_else(|| crate::error::Error::internal("no dir"))?;
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("a.txt"), b"a")?;
            dirs.push(dir);
        }

        // A guest may not delete notes (no rule): refused, nothing removed.
        let refused = writes.delete(&notes, &ctx(Caller::Guest), &note, &|_| Ok(()));
        assert!(refused.is_err());
        // A delete whose transaction fails later keeps every file.
        let failed = writes.delete(&notes, &ctx(Caller::Superuser), &note, &|_| {
            Err(crate::error::Error::bad_request("changed meanwhile"))
        });
        assert!(failed.is_err());
        assert!(dirs.iter().all(|d| d.join("a.txt").exists()));

        writes.delete(&notes, &ctx(Caller::Superuser), &note, &|_| Ok(()))?;
        assert!(
            dirs.iter().all(|d| !d.exists()),
            "both records' files are gone"
        );
        let left: i64 = db.data.read(|c| {
            Ok(c.query_row(
                "SELECT (SELECT count(*) FROM notes) + (SELECT count(*) FROM comments)",
                [],
                |r| r.get(0),
            )?)
        })?;
        assert_eq!(left, 0);
        Ok(())
    }
}
