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

/// A SQLite UNIQUE violation on one of `c`'s columns, as PocketBase's field error.
fn unique_violation(c: &Collection, e: &rusqlite::Error) -> Option<Error> {
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
    (!errors.is_empty()).then(|| Error::validation(errors))
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
        .map_err(|e| unique_violation(c, &e).unwrap_or(Error::Sqlite(e)))?;
    Ok(())
}

/// The body a write stores: what its sender may write, with the values hooks `set` laid
/// over it (a hook is trusted: hidden fields included).
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
            .map_err(|e| unique_violation(c, &e).unwrap_or(Error::Sqlite(e)))?;
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

/// Deletes a record under the delete rule, and whatever cascades. Only `write` calls it.
pub(super) fn delete(conn: &Connection, c: &Collection, ctx: &Ctx, id: &str) -> Result<Deleted> {
    if c.is_view() {
        return Err(Error::bad_request("View collections are read-only."));
    }
    let mut params = Vec::new();
    match access(c, &c.rules.delete, ctx, &mut params) {
        Access::SuperusersOnly => return Err(superusers_only()),
        Access::Where(cond) if !row_matches(conn, c, id, &cond, params)? => {
            return Err(Error::not_found());
        }
        _ => {}
    }
    let mut visited = std::collections::HashSet::new();
    if !delete_with_references(conn, &ctx.schema, &ctx.changes, c, id, &mut visited)? {
        return Err(Error::not_found());
    }
    Ok(visited.into_iter().collect())
}

/// Deletes a record and settles every relation pointing at it: referencing records are
/// deleted too where the field says `cascadeDelete`, otherwise the reference is removed
/// (refused if that would empty a required field). Returns false if the record was absent.
fn delete_with_references(
    conn: &Connection,
    schema: &Snapshot,
    changes: &changes::Changes,
    c: &Collection,
    id: &str,
    visited: &mut std::collections::HashSet<(String, String)>,
) -> Result<bool> {
    if !visited.insert((c.id.clone(), id.to_owned())) {
        return Ok(true);
    }
    for other in schema.all().iter().filter(|o| !o.is_view()) {
        for field in &other.fields {
            let crate::schema::FieldKind::Relation(rel) = &field.kind else {
                continue;
            };
            if rel.collection_id != c.id {
                continue;
            }
            let (table, col) = (&other.name, &field.name);
            let matches = if field.is_multiple() {
                format!("EXISTS (SELECT 1 FROM json_each(\"{col}\") WHERE value = ?1)")
            } else {
                format!("\"{col}\" = ?1")
            };
            let sql = format!("SELECT id FROM \"{table}\" WHERE {matches}");
            let referencing: Vec<String> = conn
                .prepare_cached(&sql)?
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if referencing.is_empty() {
                continue;
            }
            if rel.cascade_delete {
                for rid in referencing {
                    delete_with_references(conn, schema, changes, other, &rid, visited)?;
                }
            } else if field.required() {
                return Err(Error::bad_request(
                    "Failed to delete record. Make sure that the record is not part of a required relation reference.",
                ));
            } else {
                let value = if field.is_multiple() {
                    format!(
                        "(SELECT json_group_array(value) FROM json_each(\"{col}\") WHERE value != ?1)"
                    )
                } else {
                    "''".to_owned()
                };
                let sql = format!("UPDATE \"{table}\" SET \"{col}\" = {value} WHERE {matches}");
                conn.prepare_cached(&sql)?.execute([id])?;
            }
        }
    }
    // Captured before it goes: subscribers and webhooks get the record as it was.
    changes::note(conn, schema, changes, c, Event::Delete, id)?;
    let sql = format!("DELETE FROM \"{}\" WHERE id = ?1", c.name);
    Ok(conn.prepare_cached(&sql)?.execute([id])? > 0)
}
