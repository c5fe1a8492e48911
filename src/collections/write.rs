//! Collection changes: create, update, delete, import and truncate, each one transaction
//! (definition rows and DDL together), then what follows its commit: the registry reloaded,
//! and the stored files of every collection deleted or truncated removed from `storage/`.
//! Every caller that changes collections (the API, the admin UI, the CLI) goes through
//! here; none removes a collection's files itself.

use std::sync::Arc;

use serde_json::Value;

use super::{create_in, current, delete_in, import_failure, import_order, update_in};
use crate::db::Store;
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::files::Storage;
use crate::schema::{Collection, FieldKind, Registry};

/// Where collection changes go: the database, the registry kept in step with it, and the
/// file storage of the collections' records.
pub struct Collections<'a> {
    pub store: &'a Store,
    pub registry: &'a Registry,
    pub storage: &'a Storage,
}

impl Collections<'_> {
    /// Reloads the registry, then removes the files of the collections a committed change
    /// deleted or emptied.
    fn committed(&self, emptied: &[String]) -> Result<()> {
        for collection_id in emptied {
            self.storage.remove_collection(collection_id);
        }
        self.store.read(|c| self.registry.reload(c))
    }

    /// Creates a collection from its JSON definition; returns it as stored.
    pub fn create(&self, body: Value) -> Result<Collection> {
        let created = self
            .store
            .write(|tx| create_in(tx, current(tx)?.all(), body))?;
        self.committed(&[])?;
        Ok(created)
    }

    /// Saves a whole definition (`$app.save(collection)`): the stored collection with its
    /// id (else its name) is updated to it, or it is created.
    pub fn save(&self, body: Value) -> Result<Collection> {
        let saved = self.store.write(|tx| within::save(tx, body))?;
        self.committed(&[])?;
        Ok(saved)
    }

    /// Applies a PATCH: the body is merged onto the stored definition, then the table is
    /// altered to match (columns renamed by field id, so data follows a rename).
    pub fn update(&self, id_or_name: &str, body: Value) -> Result<Collection> {
        let updated = self.store.write(|tx| {
            let all = current(tx)?;
            let old = all.find(id_or_name).ok_or_else(Error::not_found)?;
            update_in(tx, all.all(), &old, body)
        })?;
        self.committed(&[])?;
        Ok(updated)
    }

    /// Deletes a collection, its table and its records' files; refused for system
    /// collections and for collections that another collection's relation field points at.
    pub fn delete(&self, id_or_name: &str) -> Result<()> {
        let deleted = self.store.write(|tx| {
            let all = current(tx)?;
            let c = all.find(id_or_name).ok_or_else(Error::not_found)?;
            delete_in(tx, all.all(), &c)?;
            Ok(c.id.clone())
        })?;
        self.committed(&[deleted])
    }

    /// Imports many definitions in one transaction, as PocketBase's
    /// `PUT /api/collections/import`: each is matched to a stored collection by id (else
    /// name) and merged onto it, or created; with `delete_missing`, non-system collections
    /// absent from the import are deleted, their files with them. A collection comes after
    /// those its relations point at, views last; any failure rolls the whole import back.
    pub fn import(&self, items: Vec<Value>, delete_missing: bool) -> Result<()> {
        if items.is_empty() {
            let mut errors = FieldErrors::new();
            errors.insert("collections".into(), FieldError::required().into());
            return Err(Error::validation(errors));
        }
        let deleted = self.store.write(|tx| {
            let mut imported_ids = Vec::new();
            for item in import_order(items) {
                let snapshot = current(tx)?;
                let all = snapshot.all();
                let (id, name) = id_and_name(&item);
                // An import matches by name whatever the id says.
                let existing = stored(all, &id, &name, true);
                let saved = match existing {
                    Some(old) => update_in(tx, all, &old, item),
                    None => create_in(tx, all, item),
                }
                .map_err(|e| import_failure(&name, &id, e))?;
                imported_ids.push(saved.id);
            }
            let mut deleted = Vec::new();
            if delete_missing {
                // Dependents first: a collection is deleted once nothing left points at it.
                loop {
                    let snapshot = current(tx)?;
                    let all = snapshot.all();
                    let missing: Vec<Arc<Collection>> = all
                        .iter()
                        .filter(|c| !c.system && !imported_ids.contains(&c.id))
                        .cloned()
                        .collect();
                    let Some(next) = missing.iter().find(|m| !referenced(all, m)) else {
                        if let Some(stuck) = missing.first() {
                            return Err(import_failure(
                                &stuck.name,
                                &stuck.id,
                                Error::bad_request("still referenced"),
                            ));
                        }
                        break;
                    };
                    delete_in(tx, all, next)?;
                    deleted.push(next.id.clone());
                }
            }
            Ok(deleted)
        })?;
        self.committed(&deleted)
    }

    /// Deletes every record of a collection, and their files, keeping its definition.
    pub fn truncate(&self, id_or_name: &str) -> Result<()> {
        let c = self
            .registry
            .snapshot()
            .find(id_or_name)
            .ok_or_else(Error::not_found)?;
        if c.is_view() {
            return Err(Error::bad_request(
                "View collections cannot be truncated since they don't store their own records.",
            ));
        }
        self.store.write(|tx| {
            tx.execute_batch(&format!("DELETE FROM \"{}\"", c.name))?;
            Ok(())
        })?;
        // The definitions did not change: the registry stays as it is.
        self.storage.remove_collection(&c.id);
        Ok(())
    }
}

/// True when another collection's relation field points at `c`.
fn referenced(all: &[Arc<Collection>], c: &Collection) -> bool {
    all.iter().any(|o| {
        o.id != c.id
            && o.fields
                .iter()
                .any(|f| matches!(&f.kind, FieldKind::Relation(r) if r.collection_id == c.id))
    })
}

/// The `id` and `name` a collection definition gives ("" where it gives none).
fn id_and_name(body: &Value) -> (String, String) {
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (text("id"), text("name"))
}

/// The stored collection with `id`, else, when `by_name`, the one named `name` (case
/// aside, as SQLite compares table names).
fn stored(all: &[Arc<Collection>], id: &str, name: &str, by_name: bool) -> Option<Arc<Collection>> {
    all.iter()
        .find(|c| !id.is_empty() && c.id == id)
        .or_else(|| {
            all.iter()
                .find(|c| by_name && c.name.eq_ignore_ascii_case(name))
        })
        .cloned()
}

/// Collection changes inside a write transaction someone else opened (a JS migration's):
/// the caller reloads the registry once it commits.
pub mod within {
    use rusqlite::Connection;
    use serde_json::Value;

    use super::super::{create_in, current, delete_in, update_in};
    use crate::error::{Error, Result};
    use crate::schema::{Collection, Snapshot};

    /// Every collection as this transaction sees it.
    pub fn snapshot(tx: &Connection) -> Result<Snapshot> {
        current(tx)
    }

    /// Saves a whole definition: the stored collection with its id (else its name) is
    /// updated to it, or it is created.
    pub fn save(tx: &Connection, body: Value) -> Result<Collection> {
        let snapshot = current(tx)?;
        let all = snapshot.all();
        let (id, name) = super::id_and_name(&body);
        // A definition with an id of its own is that collection, or a new one.
        match super::stored(all, &id, &name, id.is_empty()) {
            Some(old) => update_in(tx, all, &old, body),
            None => create_in(tx, all, body),
        }
    }

    /// Deletes the collection with this id or name; answers its id.
    pub fn delete(tx: &Connection, id_or_name: &str) -> Result<String> {
        let snapshot = current(tx)?;
        let c = snapshot.find(id_or_name).ok_or_else(Error::not_found)?;
        delete_in(tx, snapshot.all(), &c)?;
        Ok(c.id.clone())
    }
}
