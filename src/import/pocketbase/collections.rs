//! PocketBase's collection definitions carried into hearth through hearth's own collection
//! service (so every rule, index and view query is checked as if an admin had imported
//! it): ids, names, types, fields with their ids, rules, indexes, view queries and auth
//! options with their token secrets, then the definitions' own `created`/`updated`.

use rusqlite::Connection;
use serde_json::{Map, Value, json};

use crate::collections::Collections;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::files::Storage;
use crate::schema::Registry;

/// One row of PocketBase's `_collections`, as stored.
pub struct PbCollection {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub system: bool,
    created: String,
    updated: String,
    body: Map<String, Value>,
}

impl PbCollection {
    pub fn is_view(&self) -> bool {
        self.kind == "view"
    }
}

fn parse_json(text: &str, what: &str, name: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| {
        Error::internal(format!(
            "collection {name}: its {what} are not valid JSON ({e})"
        ))
    })
}

/// Every collection of PocketBase's data.db, in the order it made them.
pub fn read(pb: &Connection) -> Result<Vec<PbCollection>> {
    let mut stmt = pb.prepare(
        "SELECT id, system, type, name, fields, indexes, listRule, viewRule, createRule,
                updateRule, deleteRule, options, created, updated
         FROM _collections ORDER BY rowid",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            (
                r.get::<_, String>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ),
            (r.get::<_, String>(4)?, r.get::<_, String>(5)?),
            [
                r.get::<_, Option<String>>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, Option<String>>(9)?,
                r.get::<_, Option<String>>(10)?,
            ],
            (
                r.get::<_, String>(11)?,
                r.get::<_, String>(12)?,
                r.get::<_, String>(13)?,
            ),
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let ((id, system, kind, name), (fields, indexes), rules, (options, created, updated)) =
            row?;
        let mut body = Map::new();
        body.insert("id".into(), json!(id));
        body.insert("name".into(), json!(name));
        body.insert("type".into(), json!(kind));
        body.insert("system".into(), json!(system));
        body.insert("fields".into(), parse_json(&fields, "fields", &name)?);
        body.insert("indexes".into(), parse_json(&indexes, "indexes", &name)?);
        for (key, rule) in [
            "listRule",
            "viewRule",
            "createRule",
            "updateRule",
            "deleteRule",
        ]
        .into_iter()
        .zip(rules)
        {
            body.insert(key.into(), json!(rule));
        }
        // PocketBase keeps auth options and the view query in `options`; its API (and
        // hearth's import) has them at the top level.
        if let Value::Object(options) = parse_json(&options, "options", &name)? {
            body.extend(options);
        }
        out.push(PbCollection {
            id,
            name,
            kind,
            system,
            created,
            updated,
            body,
        });
    }
    Ok(out)
}

/// Replaces hearth's default collections with PocketBase's: its `users` goes (PocketBase's
/// own `users`, if it still has one, comes back with its fields and secrets), the system
/// ones are updated to PocketBase's definitions, every other one is created.
pub fn carry(db: &Db, pb: &[PbCollection]) -> Result<()> {
    let registry = db.data.read(Registry::load)?;
    let storage = Storage::at(&db.dir().join("storage"));
    let service = Collections {
        store: &db.data,
        registry: &registry,
        storage: &storage,
    };
    if registry.snapshot().find("_pb_users_auth_").is_some() {
        service.delete("_pb_users_auth_")?;
    }
    let mut items = Vec::with_capacity(pb.len());
    for c in pb.iter() {
        items.push(Value::Object(c.body.clone()));
    }
    // A definition hearth refuses fails the whole import, with the import's own reasons.
    service.import(items, false)?;
    restore_stamps(db, pb)
}

/// The import stamped every definition with this moment and kept hearth's own view field
/// ids; PocketBase's `created`, `updated`, `system` and view field ids are put back.
fn restore_stamps(db: &Db, pb: &[PbCollection]) -> Result<()> {
    db.data.write(|tx| {
        for c in pb {
            tx.execute(
                "UPDATE _collections SET created = ?2, updated = ?3, system = ?4 WHERE id = ?1",
                (&c.id, &c.created, &c.updated, c.system),
            )?;
            if c.is_view() {
                keep_view_field_ids(tx, c)?;
            }
        }
        Ok(())
    })
}

/// A view's fields are derived again from its query by hearth, with new ids; PocketBase's
/// ids are kept for the fields of the same name.
fn keep_view_field_ids(tx: &Connection, c: &PbCollection) -> Result<()> {
    let text: String = tx.query_row(
        "SELECT fields FROM _collections WHERE id = ?1",
        [&c.id],
        |r| r.get(0),
    )?;
    let Ok(Value::Array(mut ours)) = serde_json::from_str::<Value>(&text) else {
        return Ok(());
    };
    let theirs = c
        .body
        .get("fields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for field in ours.iter_mut().filter_map(Value::as_object_mut) {
        let name = field.get("name").cloned();
        let id = theirs
            .iter()
            .find(|t| t.get("name") == name.as_ref())
            .and_then(|t| t.get("id"))
            .cloned();
        if let Some(id) = id {
            field.insert("id".into(), id);
        }
    }
    let fields = serde_json::to_string(&ours).map_err(Error::internal)?;
    tx.execute(
        "UPDATE _collections SET fields = ?2 WHERE id = ?1",
        (&c.id, fields),
    )?;
    Ok(())
}
