//! The record writes of one open transaction (`Tx`): saves, deletes and their cascades,
//! each through the model hooks, with what they leave for after the commit noted in
//! `After`. The service around the transaction is the parent, `records::write`.

use rusqlite::Connection;
use serde_json::{Map, Value};

use std::collections::HashSet;
use std::sync::Arc;

use super::super::changes::{self, Event};
use super::super::draft;
use super::super::protected::Secrets;
use super::super::{Ctx, Record};
use super::{Tx, ahead_id};
use crate::error::{Error, Result};
use crate::files::Staging;
use crate::schema::{Collection, Snapshot};

impl Tx<'_> {
    /// The transaction's connection, for reads that shape an answer or check a condition.
    pub fn conn(&self) -> &Connection {
        self.conn
    }

    /// Whether the save whose model hooks are starting validates: `onRecordValidate`
    /// hooks are skipped for `$app.saveNoValidate`.
    pub fn validating(&self) -> bool {
        self.validating
    }

    /// Creates a record (see `Writes::create`); `secrets` prepared for this body.
    pub fn create(
        &mut self,
        c: &Collection,
        ctx: &Ctx,
        body: &Map<String, Value>,
        secrets: &Secrets,
        staging: Option<Staging>,
    ) -> Result<Record> {
        let set = match &staging {
            Some(staging) => ahead_id(body, &Map::new(), staging).into_owned(),
            None => Map::new(),
        };
        self.save(c, ctx, None, body, &set, secrets, staging)
    }

    /// Updates record `id` (see `Writes::update`); `secrets` prepared for this body.
    pub fn update(
        &mut self,
        c: &Collection,
        ctx: &Ctx,
        id: &str,
        body: &Map<String, Value>,
        secrets: &Secrets,
        staging: Option<Staging>,
    ) -> Result<Record> {
        self.save(c, ctx, Some(id), body, &Map::new(), secrets, staging)
    }

    /// The record hooks see for `event` (see `draft::draft`), remembered for the after
    /// hooks should the transaction fail.
    fn drafted(
        &mut self,
        schema: &Snapshot,
        event: Event,
        c: &Collection,
        id: Option<&str>,
        body: &Map<String, Value>,
    ) -> Result<Record> {
        let given = draft::draft(self.conn, c, id, body)?;
        if let Some(collection) = schema.find(&c.id) {
            self.after.tried.push((event, collection, given.clone()));
        }
        Ok(given)
    }

    /// Creates (`id` None) or updates a record; `preset` holds values a request hook set.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn save(
        &mut self,
        c: &Collection,
        ctx: &Ctx,
        id: Option<&str>,
        body: &Map<String, Value>,
        preset: &Map<String, Value>,
        secrets: &Secrets,
        staging: Option<Staging>,
    ) -> Result<Record> {
        let event = if id.is_some() {
            Event::Update
        } else {
            Event::Create
        };
        let hooks = self.hooks;
        if !hooks.wants(event, c) {
            return self.write(c, ctx, id, body, preset, secrets, staging);
        }
        let mut asked = body.clone();
        asked.extend(preset.clone());
        let given = self.drafted(&ctx.schema, event, c, id, &asked)?;
        let mut staging = staging;
        let mut written = None;
        self.validating = ctx.validate;
        hooks.around(self, event, c, given.clone(), &mut |tx, returned| {
            let mut set = preset.clone();
            set.extend(draft::changed(c, &given, &returned, id.is_none()));
            let record = tx.write(c, ctx, id, body, &set, secrets, staging.take())?;
            written = Some(record.clone());
            Ok(record)
        })?;
        // A hook that did not go on leaves the record unwritten, as in PocketBase.
        Ok(written.unwrap_or(given))
    }

    /// The write itself: `set` holds the values hooks changed.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        c: &Collection,
        ctx: &Ctx,
        id: Option<&str>,
        body: &Map<String, Value>,
        set: &Map<String, Value>,
        secrets: &Secrets,
        staging: Option<Staging>,
    ) -> Result<Record> {
        let uploads = staging.as_ref().map_or(&[][..], Staging::files);
        let saved = match id {
            Some(id) => super::super::rows::update_with_files(
                self.conn, c, ctx, id, body, set, uploads, secrets,
            ),
            None => super::super::rows::create_with_files(
                self.conn, c, ctx, body, set, uploads, secrets,
            ),
        };
        // Whatever it noted is this transaction's, even if it failed (it then rolls back).
        self.after.changes.extend(ctx.changes.take());
        let (record, files) = saved?;
        let record_id = record
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let Some(mut staging) = staging {
            // A file the storage does not take fails the save, as PocketBase words it.
            staging
                .place(&c.id, &record_id, &files.added)
                .map_err(|e| {
                    log::error!("cannot store the files of {}/{record_id}: {e}", c.name);
                    Error::bad_request(match id {
                        Some(_) => "Failed to update record.",
                        None => "Failed to create record.",
                    })
                })?;
            self.after.staged.push(staging);
        }
        if !files.removed.is_empty() {
            self.after
                .dropped
                .push((c.id.clone(), record_id, files.removed));
        }
        Ok(record)
    }

    /// Deletes record `id` of `c` under its delete rule, and whatever cascades from it.
    pub fn delete(&mut self, c: &Collection, ctx: &Ctx, id: &str) -> Result<()> {
        super::super::rows::deletable(self.conn, c, ctx, id)?;
        self.delete_hooked(c, ctx, id, &mut HashSet::new())
    }

    /// A delete inside its model hooks (the first of a request, or one a cascade sets off,
    /// as PocketBase deletes them: each through its own hooks).
    fn delete_hooked(
        &mut self,
        c: &Collection,
        ctx: &Ctx,
        id: &str,
        visited: &mut HashSet<(String, String)>,
    ) -> Result<()> {
        if !visited.insert((c.id.clone(), id.to_owned())) {
            return Ok(());
        }
        let hooks = self.hooks;
        if !hooks.wants(Event::Delete, c) {
            return self.remove(c, ctx, id, visited);
        }
        let given = self.drafted(&ctx.schema, Event::Delete, c, Some(id), &Map::new())?;
        hooks.around(self, Event::Delete, c, given, &mut |tx, record| {
            tx.remove(c, ctx, id, visited)?;
            Ok(record)
        })
    }

    /// The delete itself, then the records pointing at it, as PocketBase settles them:
    /// deleted where the relation says `cascadeDelete` and keeps no other id, refused where
    /// a required relation would be left empty, otherwise the id taken out (an update,
    /// with its hooks: they may refuse it, what they set is not written).
    fn remove(
        &mut self,
        c: &Collection,
        ctx: &Ctx,
        id: &str,
        visited: &mut HashSet<(String, String)>,
    ) -> Result<()> {
        let references = super::super::rows::references(self.conn, &ctx.schema, c, id)?;
        let removed = super::super::rows::delete_row(self.conn, &ctx.schema, &ctx.changes, c, id);
        self.after.changes.extend(ctx.changes.take());
        if !removed? {
            return Err(Error::not_found());
        }
        self.after.deleted.push((c.id.clone(), id.to_owned()));
        for r in references {
            if r.cascade && r.left.is_empty() {
                self.delete_hooked(&r.collection, ctx, &r.record, visited)?;
            } else if r.required && r.left.is_empty() {
                return Err(Error::bad_request(
                    "Failed to delete record. Make sure that the record is not part of a required relation reference.",
                ));
            } else if !visited.contains(&(r.collection.id.clone(), r.record.clone())) {
                self.unlink(ctx, &r)?;
            }
        }
        Ok(())
    }

    fn unlink(&mut self, ctx: &Ctx, r: &super::super::rows::Reference) -> Result<()> {
        let unlinked = |tx: &mut Tx| {
            let unlinked = super::super::rows::unlink(tx.conn, &ctx.schema, &ctx.changes, r);
            tx.after.changes.extend(ctx.changes.take());
            unlinked
        };
        let hooks = self.hooks;
        if !hooks.wants(Event::Update, &r.collection) {
            return unlinked(self);
        }
        let body = Map::from_iter([(r.field.clone(), r.kept())]);
        let given = self.drafted(
            &ctx.schema,
            Event::Update,
            &r.collection,
            Some(&r.record),
            &body,
        )?;
        hooks.around(
            self,
            Event::Update,
            &r.collection,
            given,
            &mut |tx, record| {
                unlinked(tx)?;
                Ok(record)
            },
        )
    }

    /// Reports record `id` of `c` as updated by an account flow (verification, password
    /// reset, email change) after it changed it by other means, its update hooks around the
    /// report: they see the record as changed and may refuse the change (it then rolls
    /// back) or set more on it, written as a superuser's update would be.
    pub fn noted_update(&mut self, schema: &Arc<Snapshot>, c: &Collection, id: &str) -> Result<()> {
        let hooks = self.hooks;
        if !hooks.wants(Event::Update, c) {
            return self.noted(schema, c, Event::Update, id);
        }
        let given = self.drafted(schema, Event::Update, c, Some(id), &Map::new())?;
        let stored = given.clone();
        hooks.around(self, Event::Update, c, given, &mut |tx, record| {
            let set = draft::changed(c, &stored, &record, false);
            if set.is_empty() {
                tx.noted(schema, c, Event::Update, id)?;
                return Ok(record);
            }
            let ctx = Ctx {
                caller: super::super::Caller::Superuser,
                request: Default::default(),
                schema: schema.clone(),
                changes: Default::default(),
                validate: true,
            };
            tx.write(
                c,
                &ctx,
                Some(id),
                &Map::new(),
                &set,
                &Secrets::default(),
                None,
            )
        })
    }

    /// Reports record `id` of `c` as changed by `event` when an account flow changed it by
    /// other means: its webhooks queued now, its realtime event after the commit.
    pub fn noted(
        &mut self,
        schema: &Snapshot,
        c: &Collection,
        event: Event,
        id: &str,
    ) -> Result<()> {
        let noted = changes::Changes::default();
        changes::note(self.conn, schema, &noted, c, event, id)?;
        self.after.changes.extend(noted.take());
        Ok(())
    }
}
