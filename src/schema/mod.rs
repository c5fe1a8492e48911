//! Collections and their fields: the model, validation, DDL, and the in-memory registry.
//! Every schema change is one `BEGIN IMMEDIATE` transaction: definition row and DDL commit
//! together or not at all. No HTTP types here.

pub mod collection;
pub mod ddl;
pub mod field;
pub mod input;
pub mod registry;
pub mod validate;

use std::sync::Arc;

use rusqlite::Transaction;
use serde_json::Value;

pub use collection::{Collection, CollectionType};
pub use field::{Field, FieldKind};
pub use registry::{Registry, Snapshot};

use crate::db::Store;
use crate::error::{Error, FieldError, FieldErrors, Result};

fn current(tx: &Transaction) -> Result<Vec<Arc<Collection>>> {
    Ok(Collection::load_all(tx)?
        .into_iter()
        .map(Arc::new)
        .collect())
}

fn find<'a>(all: &'a [Arc<Collection>], id_or_name: &str) -> Option<&'a Arc<Collection>> {
    all.iter()
        .find(|c| c.id == id_or_name)
        .or_else(|| all.iter().find(|c| c.name.eq_ignore_ascii_case(id_or_name)))
}

/// DDL built from user-supplied index or view text can still be refused by SQLite; that is
/// the client's error, reported on the field that carried the text.
fn run_user_ddl(tx: &Transaction, sql: &str, field: &str) -> Result<()> {
    tx.execute_batch(sql).map_err(|e| {
        let mut errors = FieldErrors::new();
        errors.insert(
            field.into(),
            FieldError::new(
                "validation_invalid_value",
                &format!("SQLite refused it: {e}"),
            )
            .into(),
        );
        Error::validation(errors)
    })
}

fn create_storage(tx: &Transaction, c: &Collection) -> Result<()> {
    if c.is_view() {
        let query = c
            .options
            .get("viewQuery")
            .and_then(Value::as_str)
            .unwrap_or_default();
        run_user_ddl(
            tx,
            &format!("CREATE VIEW \"{}\" AS {query}", c.name),
            "viewQuery",
        )?;
        return Ok(());
    }
    tx.execute_batch(&ddl::create_table(c))?;
    for sql in ddl::create_indexes(c) {
        run_user_ddl(tx, &sql, "indexes")?;
    }
    Ok(())
}

/// Creates a collection from its JSON definition; returns it as stored.
pub fn create(store: &Store, registry: &Registry, body: Value) -> Result<Collection> {
    let created = store.write(|tx| {
        let all = current(tx)?;
        let (mut c, errors) = input::build(body, None)?;
        if c.is_view() {
            c.fields = view_fields(tx, &c)?;
        }
        validate::check(&c, None, &all, errors)?;
        create_storage(tx, &c)?;
        c.insert(tx)?;
        Ok(c)
    })?;
    store.read(|c| registry.reload(c))?;
    Ok(created)
}

/// Applies a PATCH: the body is merged onto the stored definition, then the table is
/// altered to match (columns renamed by field id, so data follows a rename).
pub fn update(
    store: &Store,
    registry: &Registry,
    id_or_name: &str,
    body: Value,
) -> Result<Collection> {
    let updated = store.write(|tx| {
        let all = current(tx)?;
        let old = find(&all, id_or_name).ok_or_else(Error::not_found)?.clone();
        let (mut c, errors) = input::build(body, Some(&old))?;
        if c.is_view() {
            c.fields = view_fields(tx, &c)?;
        }
        validate::check(&c, Some(&old), &all, errors)?;
        if c.is_view() {
            tx.execute_batch(&ddl::drop_table(&old))?;
            create_storage(tx, &c)?;
        } else {
            for sql in ddl::alter_table(&old, &c) {
                run_user_ddl(tx, &sql, "indexes")?;
            }
        }
        c.update(tx)?;
        Ok(c)
    })?;
    store.read(|c| registry.reload(c))?;
    Ok(updated)
}

/// Deletes a collection and its table; refused for system collections and for collections
/// that another collection's relation field points at.
pub fn delete(store: &Store, registry: &Registry, id_or_name: &str) -> Result<()> {
    store.write(|tx| {
        let all = current(tx)?;
        let c = find(&all, id_or_name).ok_or_else(Error::not_found)?.clone();
        if c.system {
            return Err(Error::bad_request("Failed to delete collection."));
        }
        let referencing: Vec<&str> = all
            .iter()
            .filter(|o| o.id != c.id)
            .filter(|o| {
                o.fields
                    .iter()
                    .any(|f| matches!(&f.kind, FieldKind::Relation(r) if r.collection_id == c.id))
            })
            .map(|o| o.name.as_str())
            .collect();
        if !referencing.is_empty() {
            return Err(Error::bad_request(format!(
                "Failed to delete collection probably due to existing reference in {}.",
                referencing.join(", ")
            )));
        }
        tx.execute_batch(&ddl::drop_table(&c))?;
        Collection::delete(tx, &c.id)?;
        Ok(())
    })?;
    store.read(|c| registry.reload(c))
}

/// Deletes every record of a collection, keeping its definition.
pub fn truncate(store: &Store, registry: &Registry, id_or_name: &str) -> Result<()> {
    let c = registry
        .snapshot()
        .find(id_or_name)
        .ok_or_else(Error::not_found)?;
    if c.is_view() {
        return Err(Error::bad_request(
            "View collections cannot be truncated since they don't store their own records.",
        ));
    }
    store.write(|tx| {
        tx.execute_batch(&format!("DELETE FROM \"{}\"", c.name))?;
        Ok(())
    })
}

/// The fields of a view: one per result column of its query. Types are refined when a
/// column comes straight from a collection field; anything computed is `json`.
fn view_fields(tx: &Transaction, c: &Collection) -> Result<Vec<Field>> {
    let query = c
        .options
        .get("viewQuery")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if query.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = tx
        .prepare(&format!("SELECT * FROM ({query}) LIMIT 0"))
        .map_err(|e| {
            let mut errors = FieldErrors::new();
            errors.insert(
                "viewQuery".into(),
                FieldError::new(
                    "validation_invalid_view_query",
                    &format!("Invalid query: {e}"),
                )
                .into(),
            );
            Error::validation(errors)
        })?;
    let names: Vec<String> = stmt
        .column_names()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    if !names.iter().any(|n| n == "id") {
        let mut errors = FieldErrors::new();
        errors.insert(
            "viewQuery".into(),
            FieldError::new(
                "validation_missing_view_id",
                "The query must select an id column.",
            )
            .into(),
        );
        return Err(Error::validation(errors));
    }
    Ok(names
        .iter()
        .map(|n| {
            if n == "id" {
                let mut f = Field::new("id", FieldKind::Text(field::TextField::default()));
                if let FieldKind::Text(t) = &mut f.kind {
                    t.primary_key = true;
                    t.required = true;
                }
                f.system = true;
                f
            } else {
                Field::new(n, FieldKind::Json(field::JsonField::default()))
            }
        })
        .collect())
}
