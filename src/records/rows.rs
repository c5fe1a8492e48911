//! The rows a record write changes: insert, update and delete under the create, update
//! and delete rules, with the request's uploads, and the cascades a delete sets off. Only
//! `write::Writes` calls these: it owns the transaction and what follows its commit.

use rusqlite::types::Value as Sql;

use rusqlite::Connection;
use serde_json::{Map, Value};

use super::access::{
    Access, RowRef, access, access_with, manages, row_matches, superusers_only, write_request,
};
use super::changes::{self, Event};
use super::input::{self, Action};
use super::output::Viewer;
use super::read::{fetch, fetch_for};
use super::{Ctx, FileChanges, Record, Secrets, files, protected};
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::files::Staged;
use crate::schema::{Collection, Snapshot};

/// A SQLite UNIQUE violation on one of `c`'s columns, as PocketBase's field error under the
/// message of the failed `action`.
fn unique_violation(c: &Collection, action: Action, e: &rusqlite::Error) -> Option<Error> {
    let msg = e.to_string();
    let cols = msg.strip_prefix("UNIQUE constraint failed: ")?;
    let mut errors = FieldErrors::new();
    for col in cols.split(", ") {
        let field = col.rsplit('.').next().unwrap_or(col);
        if c.field(field).is_some() {
            errors.insert(
                field.to_owned(),
                FieldError::new("validation_not_unique", "Value must be unique.").into(),
            );
        }
    }
    let message = match action {
        Action::Create => "Failed to create record.",
        Action::Update => "Failed to update record.",
    };
    (!errors.is_empty()).then(|| Error::invalid(message, errors))
}

fn insert(conn: &Connection, c: &Collection, columns: &input::Columns) -> Result<()> {
    let names: Vec<String> = columns.iter().map(|(k, _)| format!("\"{k}\"")).collect();
    let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO \"{}\" ({}) VALUES ({})",
        c.name,
        names.join(", "),
        marks.join(", ")
    );
    conn.prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(columns.iter().map(|(_, v)| v)))
        .map_err(|e| unique_violation(c, Action::Create, &e).unwrap_or(Error::Sqlite(e)))?;
    Ok(())
}

/// The body a write stores: what its sender may write, with the values hooks `set` laid
/// over it (a hook is trusted: hidden fields included; a password it sets, with
/// `setPassword`, is its own confirmation).
fn with_set<'a>(
    body: std::borrow::Cow<'a, Map<String, Value>>,
    set: &Map<String, Value>,
) -> std::borrow::Cow<'a, Map<String, Value>> {
    if set.is_empty() {
        return body;
    }
    let mut body = body.into_owned();
    for (key, value) in set {
        body.insert(key.clone(), value.clone());
    }
    if let Some(password) = set.get("password") {
        body.insert("passwordConfirm".into(), password.clone());
    }
    std::borrow::Cow::Owned(body)
}

/// Creates a record with this request's uploads (named in `body` by their stored names);
/// also says which of them the new record holds, for `write` to move into place before
/// committing. The create rule is checked against the new row inside the transaction: if
/// it fails, the error rolls the insert back. Only `write` calls it.
pub(super) fn create_with_files(
    conn: &Connection,
    c: &Collection,
    ctx: &Ctx,
    body: &Map<String, Value>,
    set: &Map<String, Value>,
    uploads: &[Staged],
    secrets: &Secrets,
) -> Result<(Map<String, Value>, FileChanges)> {
    if c.is_view() {
        return Err(Error::bad_request("View collections are read-only."));
    }
    let asked = input::writable(c, ctx.caller.is_superuser(), body);
    let request = write_request(c, &c.rules.create, ctx, &asked, &Map::new());
    let body = &*with_set(asked, set);
    let mut rule_params = Vec::new();
    let rule = match access_with(c, &c.rules.create, ctx, &request, &mut rule_params) {
        Access::SuperusersOnly => return Err(superusers_only()),
        Access::Where(cond) => Some(cond),
        Access::Granted => None,
    };
    let (mut columns, mut errors) =
        input::prepare(conn, c, Action::Create, body, &Map::new(), uploads)?;
    if !ctx.validate {
        input::loosen(c, body, &Map::new(), &mut columns, &mut errors);
    }
    if c.is_auth() {
        // As PocketBase judges a new record's manager: on its values, not yet verified.
        let unverified: Vec<(String, Sql)> = columns
            .iter()
            .map(|(k, v)| match k.as_str() {
                "verified" => (k.clone(), Sql::Integer(0)),
                _ => (k.clone(), v.clone()),
            })
            .collect();
        let manager = manages(conn, c, ctx, RowRef::Values(&unverified))?;
        let change = protected::Change {
            manager,
            body,
            current: None,
            secrets,
        };
        protected::columns(conn, c, &change, &mut columns, &mut errors)?;
    }
    if !errors.is_empty() {
        return Err(Error::invalid("Failed to create record.", errors));
    }
    insert(conn, c, &columns)?;
    let id = columns
        .iter()
        .find(|(k, _)| k == "id")
        .and_then(|(_, v)| match v {
            Sql::Text(s) => Some(s.clone()),
            _ => None,
        });
    let id = id.ok_or_else(|| Error::internal("created record has no id"))?;
    if let Some(cond) = rule
        && !row_matches(conn, c, &id, &cond, rule_params)?
    {
        return Err(Error::bad_request("Failed to create record."));
    }
    changes::note(conn, &ctx.schema, &ctx.changes, c, Event::Create, &id)?;
    let file_changes = files::changes(c, &columns, &Map::new(), uploads);
    let record =
        fetch_for(conn, c, &id, ctx)?.ok_or_else(|| Error::internal("created record vanished"))?;
    Ok((record, file_changes))
}

/// Updates a record with this request's uploads; also says which uploads the record now
/// holds and which stored files it dropped (to delete after the commit). Only `write`
/// calls it.
#[allow(clippy::too_many_arguments)]
pub(super) fn update_with_files(
    conn: &Connection,
    c: &Collection,
    ctx: &Ctx,
    id: &str,
    body: &Map<String, Value>,
    set: &Map<String, Value>,
    uploads: &[Staged],
    secrets: &Secrets,
) -> Result<(Map<String, Value>, FileChanges)> {
    let current = updatable(conn, c, ctx, id, body)?;
    let body = &*with_set(input::writable(c, ctx.caller.is_superuser(), body), set);
    let (mut columns, mut errors) =
        input::prepare(conn, c, Action::Update, body, &current, uploads)?;
    if !ctx.validate {
        input::loosen(c, body, &current, &mut columns, &mut errors);
    }
    if c.is_auth() {
        let manager = manages(conn, c, ctx, RowRef::Stored(id))?;
        let change = protected::Change {
            manager,
            body,
            current: Some(&current),
            secrets,
        };
        protected::columns(conn, c, &change, &mut columns, &mut errors)?;
    }
    if !errors.is_empty() {
        return Err(Error::invalid("Failed to update record.", errors));
    }
    if !columns.is_empty() {
        let sets: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (k, _))| format!("\"{k}\" = ?{}", i + 1))
            .collect();
        let sql = format!(
            "UPDATE \"{}\" SET {} WHERE id = ?{}",
            c.name,
            sets.join(", "),
            columns.len() + 1
        );
        let mut params: Vec<&Sql> = columns.iter().map(|(_, v)| v).collect();
        let id_param = Sql::Text(id.to_owned());
        params.push(&id_param);
        conn.prepare_cached(&sql)?
            .execute(rusqlite::params_from_iter(params))
            .map_err(|e| unique_violation(c, Action::Update, &e).unwrap_or(Error::Sqlite(e)))?;
    }
    changes::note(conn, &ctx.schema, &ctx.changes, c, Event::Update, id)?;
    let file_changes = files::changes(c, &columns, &current, uploads);
    let record = fetch_for(conn, c, id, ctx)?.ok_or_else(Error::not_found)?;
    Ok((record, file_changes))
}

/// The stored record `id`, when `ctx`'s caller may update it with `body` (the update rule);
/// the error the update answers otherwise.
pub(super) fn updatable(
    conn: &Connection,
    c: &Collection,
    ctx: &Ctx,
    id: &str,
    body: &Map<String, Value>,
) -> Result<Record> {
    if c.is_view() {
        return Err(Error::bad_request("View collections are read-only."));
    }
    if c.rules.update.is_none() && !ctx.caller.is_superuser() {
        return Err(superusers_only());
    }
    let full = Viewer {
        superuser: true,
        record_id: None,
    };
    let current = fetch(conn, c, id, full)?.ok_or_else(Error::not_found)?;
    let body = &*input::writable(c, ctx.caller.is_superuser(), body);
    let request = write_request(c, &c.rules.update, ctx, body, &current);
    let mut params = Vec::new();
    match access_with(c, &c.rules.update, ctx, &request, &mut params) {
        Access::SuperusersOnly => return Err(superusers_only()),
        Access::Where(cond) if !row_matches(conn, c, id, &cond, params)? => {
            return Err(Error::not_found());
        }
        _ => {}
    }
    Ok(current)
}

/// The records a delete removed, cascades included, as (collection id, record id): their
/// stored files are to go once the delete has committed.
pub type Deleted = Vec<(String, String)>;

/// Whether the caller may delete record `id` of `c` (its delete rule); 404 when the rule
/// hides it. The delete itself, and its cascades, follow in `write`.
pub(super) fn deletable(conn: &Connection, c: &Collection, ctx: &Ctx, id: &str) -> Result<()> {
    if c.is_view() {
        return Err(Error::bad_request("View collections are read-only."));
    }
    let mut params = Vec::new();
    match access(c, &c.rules.delete, ctx, &mut params) {
        Access::SuperusersOnly => Err(superusers_only()),
        Access::Where(cond) if !row_matches(conn, c, id, &cond, params)? => Err(Error::not_found()),
        _ => Ok(()),
    }
}

/// Deletes the row of record `id` (noted first: subscribers and webhooks get the record
/// as it was); false if there was none.
pub(super) fn delete_row(
    conn: &Connection,
    schema: &Snapshot,
    changes: &changes::Changes,
    c: &Collection,
    id: &str,
) -> Result<bool> {
    changes::note(conn, schema, changes, c, Event::Delete, id)?;
    let sql = format!("DELETE FROM \"{}\" WHERE id = ?1", c.name);
    Ok(conn.prepare_cached(&sql)?.execute([id])? > 0)
}

/// A record whose relation field points at a record being deleted.
pub(super) struct Reference {
    pub collection: std::sync::Arc<Collection>,
    pub field: String,
    pub record: String,
    /// The field says `cascadeDelete`.
    pub cascade: bool,
    pub required: bool,
    /// The ids the field keeps once the deleted one is taken out.
    pub left: Vec<String>,
    /// The field holds a list of ids.
    multiple: bool,
}

impl Reference {
    /// The field's value once the deleted id is taken out.
    pub fn kept(&self) -> Value {
        if self.multiple {
            Value::from(self.left.clone())
        } else {
            Value::from("")
        }
    }
}

/// The records that point at record `id` of `c`, by collection name as PocketBase visits
/// them (views left out).
pub(super) fn references(
    conn: &Connection,
    schema: &Snapshot,
    c: &Collection,
    id: &str,
) -> Result<Vec<Reference>> {
    let mut others: Vec<_> = schema
        .all()
        .iter()
        .filter(|o| !o.is_view())
        .cloned()
        .collect();
    others.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::new();
    for other in others {
        for field in &other.fields {
            let crate::schema::FieldKind::Relation(rel) = &field.kind else {
                continue;
            };
            if rel.collection_id != c.id {
                continue;
            }
            let col = &field.name;
            let sql = if field.is_multiple() {
                format!(
                    "SELECT id, \"{col}\" FROM \"{}\" WHERE EXISTS (SELECT 1 FROM json_each(\"{col}\") WHERE value = ?1)",
                    other.name
                )
            } else {
                format!(
                    "SELECT id, \"{col}\" FROM \"{}\" WHERE \"{col}\" = ?1",
                    other.name
                )
            };
            let rows: Vec<(String, String)> = conn
                .prepare_cached(&sql)?
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (record, value) in rows {
                if other.id == c.id && record == id {
                    continue;
                }
                let left = if field.is_multiple() {
                    serde_json::from_str::<Vec<String>>(&value)
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|v| v != id)
                        .collect()
                } else {
                    Vec::new()
                };
                out.push(Reference {
                    collection: other.clone(),
                    field: field.name.clone(),
                    record,
                    cascade: rel.cascade_delete,
                    required: field.required(),
                    left,
                    multiple: field.is_multiple(),
                });
            }
        }
    }
    Ok(out)
}

/// Takes the deleted record's id out of `r`'s field (its update dates stamped), noting
/// the update.
pub(super) fn unlink(
    conn: &Connection,
    schema: &Snapshot,
    changes: &changes::Changes,
    r: &Reference,
) -> Result<()> {
    let value = match r.kept() {
        Value::String(text) => text,
        list => list.to_string(),
    };
    let mut sets = vec![format!("\"{}\" = ?1", r.field)];
    for field in &r.collection.fields {
        if let crate::schema::FieldKind::Autodate(o) = &field.kind
            && o.on_update
        {
            sets.push(format!("\"{}\" = ?2", field.name));
        }
    }
    let sql = format!(
        "UPDATE \"{}\" SET {} WHERE id = ?3",
        r.collection.name,
        sets.join(", ")
    );
    // ?2 (now) may go unused where there is no update date; SQLite numbers up to ?3.
    conn.prepare_cached(&sql)?
        .execute((value, crate::datetime::now(), &r.record))?;
    changes::note(
        conn,
        schema,
        changes,
        &r.collection,
        Event::Update,
        &r.record,
    )
}
