//! Changing collections: validation (names, fields, indexes, rules compiled against the
//! schema they would make), create, update, delete, import and truncate, each one
//! `BEGIN IMMEDIATE` transaction in which definition rows and DDL commit together or not at
//! all, and the filtered, sorted listing of `GET /api/collections`. No HTTP types here.

mod sign_in_options;
pub mod validate;
mod view_columns;
pub mod view_fields;
pub mod write;

use std::sync::Arc;

use rusqlite::Connection;
use serde_json::Value;

use view_fields::view_fields;
pub use write::Collections;

use crate::db::Store;
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::schema::{Collection, CollectionType, Field, FieldKind, Registry, Snapshot};
use crate::schema::{collection, ddl, field, fts, input};

/// Every collection as the transaction sees it (not the registry, which may lag).
fn current(tx: &Connection) -> Result<Snapshot> {
    Ok(Snapshot::new(Collection::load_all(tx)?))
}

/// True when SQLite already has an object named `name` (table, index, view, trigger; case
/// does not matter to it) that is no collection's table: hearth's own tables (`_mails`,
/// `_webhooks`, ...), any index, a search table. A collection of that name could not be
/// created, so its name is refused as PocketBase refuses its internal tables'.
fn name_in_use(tx: &Connection, name: &str, all: &[Arc<Collection>]) -> Result<bool> {
    let mut stmt =
        tx.prepare_cached("SELECT name FROM sqlite_master WHERE name = ?1 COLLATE NOCASE")?;
    let found = stmt
        .query_map([name], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(found
        .iter()
        .any(|f| !all.iter().any(|c| c.name.eq_ignore_ascii_case(f))))
}

/// DDL built from user-supplied index or view text can still be refused by SQLite; that is
/// the client's error, reported on the field that carried the text.
fn run_user_ddl(tx: &Connection, sql: &str, field: &str) -> Result<()> {
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

fn create_storage(tx: &Connection, c: &Collection) -> Result<()> {
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
    fts::create(tx, c)
}

fn create_in(tx: &Connection, all: &[Arc<Collection>], body: Value) -> Result<Collection> {
    let (mut c, errors) = input::build(body, None)?;
    if c.is_view() {
        c.fields = view_fields(tx, all, &c)?;
    }
    let in_use = name_in_use(tx, &c.name, all)?;
    validate::check(&c, None, all, in_use, errors)?;
    create_storage(tx, &c)?;
    c.insert(tx)?;
    Ok(c)
}

fn update_in(
    tx: &Connection,
    all: &[Arc<Collection>],
    old: &Collection,
    body: Value,
) -> Result<Collection> {
    let (mut c, errors) = input::build(body, Some(old))?;
    if c.is_view() {
        c.fields = view_fields(tx, all, &c)?;
    }
    let in_use = name_in_use(tx, &c.name, all)?;
    validate::check(&c, Some(old), all, in_use, errors)?;
    // The search index goes first (its triggers name columns that may be dropped) and is
    // rebuilt from the altered table.
    fts::drop(tx, &old.name)?;
    if c.is_view() {
        tx.execute_batch(&ddl::drop_table(old))?;
        create_storage(tx, &c)?;
    } else {
        for sql in ddl::alter_table(old, &c) {
            run_user_ddl(tx, &sql, "indexes")?;
        }
        fts::create(tx, &c)?;
    }
    c.update(tx)?;
    if old.name != c.name {
        crate::settings::rename_rate_limit_labels(tx, &old.name, &c.name)?;
    }
    Ok(c)
}

fn delete_in(tx: &Connection, all: &[Arc<Collection>], c: &Collection) -> Result<()> {
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
    fts::drop(tx, &c.name)?;
    tx.execute_batch(&ddl::drop_table(c))?;
    // A view reading the dropped table would break: refuse, and the transaction rolls back.
    for view in all.iter().filter(|v| v.is_view() && v.id != c.id) {
        if tx
            .prepare(&format!("SELECT * FROM \"{}\" LIMIT 0", view.name))
            .is_err()
        {
            return Err(Error::bad_request("Failed to delete collection."));
        }
    }
    Collection::delete(tx, &c.id)?;
    Ok(())
}

/// Referenced collections before those that reference them (within the import), views last.
fn import_order(items: Vec<Value>) -> Vec<Value> {
    let key = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let is_view = |v: &Value| key(v, "type") == "view";
    let targets = |v: &Value| -> Vec<String> {
        v.get("fields")
            .and_then(Value::as_array)
            .map(|fs| {
                fs.iter()
                    .filter_map(|f| {
                        f.get("collectionId")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut pending: Vec<Value> = items;
    let mut ordered: Vec<Value> = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending.iter().position(|v| {
            let own = key(v, "id");
            (!is_view(v) || pending.iter().all(is_view))
                && targets(v).iter().all(|t| {
                    *t == own
                        || !pending
                            .iter()
                            .any(|p| key(p, "id") == *t && key(p, "id") != own)
                })
        });
        // A cycle: keep the given order for what is left.
        let next = ready.unwrap_or(0);
        ordered.push(pending.remove(next));
    }
    ordered
}

fn import_failure(name: &str, id: &str, e: Error) -> Error {
    let detail = match &e {
        Error::BadRequest { data, message } if !data.is_empty() => {
            serde_json::to_string_pretty(data).unwrap_or_else(|_| message.clone())
        }
        other => other.to_string(),
    };
    let mut errors = FieldErrors::new();
    errors.insert(
        "collections".into(),
        FieldError::new(
            "validation_collections_import_failure",
            &format!("Data validations failed for collection {name:?} ({id}):\n{detail}"),
        )
        .into(),
    );
    Error::invalid("Failed to import collections.", errors)
}

/// The columns of `_collections` that a collections list may filter and sort on, described
/// as a collection so the filter language can check and compile them.
fn listing_schema() -> Collection {
    let text = |name: &str| Field::new(name, FieldKind::Text(field::TextField::default()));
    let mut id = text("id");
    if let FieldKind::Text(t) = &mut id.kind {
        t.primary_key = true;
    }
    let mut system = Field::new("system", FieldKind::Bool(field::BoolField::default()));
    system.system = true;
    Collection {
        id: "_collections".into(),
        name: "_collections".into(),
        kind: CollectionType::Base,
        system: true,
        fields: vec![
            id,
            text("name"),
            text("type"),
            system,
            text("created"),
            text("updated"),
        ],
        indexes: Vec::new(),
        rules: collection::Rules::default(),
        options: serde_json::Map::new(),
        created: String::new(),
        updated: String::new(),
    }
}

/// A page of collections, filtered and sorted as `GET /api/collections` asks.
pub fn list(
    store: &Store,
    registry: &Registry,
    filter: &str,
    sort: &str,
    page: (u64, u64, bool),
) -> Result<(Vec<Arc<Collection>>, Option<u64>)> {
    let (page, per_page, skip_total) = page;
    let listing = listing_schema();
    let bad = |e: String| Error::bad_request(format!("Invalid filter or sort parameter: {e}."));
    let order = crate::filter::sort::order_by(&listing, sort).map_err(|e| bad(e.to_string()))?;
    let mut params = Vec::new();
    let condition = if filter.trim().is_empty() {
        String::new()
    } else {
        let schema = Snapshot::new(Vec::new());
        let request = crate::filter::RequestInfo::default();
        let scope = crate::filter::Scope {
            collection: &listing,
            schema: &schema,
            request: &request,
            trust: crate::filter::Trust::Full,
        };
        let expr = crate::filter::parse(filter).map_err(|e| bad(e.to_string()))?;
        let sql =
            crate::filter::compile(&expr, &scope, &mut params).map_err(|e| bad(e.to_string()))?;
        format!(" WHERE {sql}")
    };
    let (ids, total) = store.read(|conn| {
        let total = if skip_total {
            None
        } else {
            let sql = format!("SELECT count(*) FROM _collections t{condition}");
            let n: i64 = conn
                .prepare(&sql)?
                .query_row(rusqlite::params_from_iter(&params), |r| r.get(0))?;
            Some(n as u64)
        };
        let mut all = params.clone();
        all.push(rusqlite::types::Value::Integer(per_page as i64));
        all.push(rusqlite::types::Value::Integer(
            ((page - 1).saturating_mul(per_page)).min(i64::MAX as u64) as i64,
        ));
        let n = all.len();
        let order = if order.is_empty() {
            " ORDER BY t.rowid".to_owned()
        } else {
            order.clone()
        };
        let sql = format!(
            "SELECT t.id FROM _collections t{condition}{order} LIMIT ?{} OFFSET ?{n}",
            n - 1
        );
        let mut stmt = conn.prepare(&sql)?;
        let ids = stmt
            .query_map(rusqlite::params_from_iter(&all), |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((ids, total))
    })?;
    let snapshot = registry.snapshot();
    Ok((
        ids.iter().filter_map(|id| snapshot.find(id)).collect(),
        total,
    ))
}
