//! Record writes together with their files, in the one order that never loses or orphans
//! a file: new uploads move into the record's folder inside the write transaction (a
//! failure there, or a rolled-back commit, removes them again), and files the change
//! replaced or removed, or a deleted record's folder, go only after the commit.
//! Every caller that saves or deletes records (the API, the admin UI) goes through here.

use rusqlite::Connection;
use serde_json::{Map, Value};

use super::{Ctx, Record};
use crate::db::Store;
use crate::error::Result;
use crate::files::{Staging, Storage};
use crate::schema::Collection;

/// Where a write goes: the database, the file storage, the collection, the caller.
pub struct Target<'a> {
    pub store: &'a Store,
    pub storage: &'a Storage,
    pub collection: &'a Collection,
    pub ctx: &'a Ctx,
}

/// Runs first inside the write transaction; an error refuses the write (an `If-Match`
/// that no longer holds, say).
pub type Precondition<'p> = &'p dyn Fn(&Connection) -> Result<()>;

/// No precondition.
pub fn always(_: &Connection) -> Result<()> {
    Ok(())
}

impl Target<'_> {
    /// Creates a record (`id` None) or updates record `id` with `body` and the uploads in
    /// `staging`; `answer` builds the response from the saved record inside the
    /// transaction (expand and the like).
    pub fn save<T>(
        &self,
        id: Option<&str>,
        body: &Map<String, Value>,
        mut staging: Staging,
        precondition: Precondition,
        answer: impl FnOnce(&Connection, Record) -> Result<T>,
    ) -> Result<T> {
        let (c, ctx) = (self.collection, self.ctx);
        let (out, record_id, removed) = self.store.write(|tx| {
            precondition(tx)?;
            let (record, changes) = match id {
                Some(id) => super::update_with_files(tx, c, ctx, id, body, staging.files())?,
                None => super::create_with_files(tx, c, ctx, body, staging.files())?,
            };
            let record_id = record
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            staging.place(&c.id, &record_id, &changes.added)?;
            Ok((answer(tx, record)?, record_id, changes.removed))
        })?;
        staging.commit();
        self.storage.remove_files(&c.id, &record_id, &removed);
        Ok(out)
    }

    /// Deletes a record (and whatever cascades), then the files of every record deleted.
    pub fn delete(&self, id: &str, precondition: Precondition) -> Result<()> {
        let deleted = self.store.write(|tx| {
            precondition(tx)?;
            super::delete(tx, self.collection, self.ctx, id)
        })?;
        for (collection_id, record_id) in &deleted {
            self.storage.remove_record(collection_id, record_id);
        }
        Ok(())
    }
}
