//! The record service: list, view, create, update and delete records of a collection, with
//! its API rules applied. No HTTP types; callers pass who is asking as a `Caller`.

pub mod input;
pub mod output;
pub mod sort;

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value};

use crate::auth::password;
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::schema::Collection;
use input::Action;
use output::Viewer;

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Guest,
    Superuser,
    Record { collection_id: String, id: String },
}

impl Caller {
    pub fn is_superuser(&self) -> bool {
        *self == Self::Superuser
    }

    fn viewer(&self) -> Viewer<'_> {
        match self {
            Self::Record { id, .. } => Viewer {
                superuser: false,
                record_id: Some(id),
            },
            _ => Viewer {
                superuser: self.is_superuser(),
                record_id: None,
            },
        }
    }
}

/// What a rule says about this caller, before any row is looked at.
enum Access {
    /// Superuser, or the rule is "" (anyone).
    Granted,
    /// The rule is null: superusers only. Answered with 403.
    SuperusersOnly,
    /// The rule is an expression this caller does not satisfy.
    Denied,
}

fn access(rule: &Option<String>, caller: &Caller) -> Access {
    if caller.is_superuser() {
        return Access::Granted;
    }
    match rule.as_deref() {
        None => Access::SuperusersOnly,
        Some(r) if r.trim().is_empty() => Access::Granted,
        // Rule expressions are enforced by the filter engine; until it exists a rule with an
        // expression admits superusers only, never more than it should.
        Some(_) => Access::Denied,
    }
}

fn superusers_only() -> Error {
    Error::Forbidden("Only superusers can perform this action.".into())
}

/// The paging and ordering of a list request.
pub struct ListOptions {
    pub page: u64,
    pub per_page: u64,
    pub skip_total: bool,
    pub sort: String,
}

pub fn list(
    conn: &Connection,
    c: &Collection,
    caller: &Caller,
    opts: &ListOptions,
) -> Result<(Vec<Value>, Option<u64>)> {
    let order = sort::order_by(c, &opts.sort)?;
    match access(&c.rules.list, caller) {
        Access::SuperusersOnly => return Err(superusers_only()),
        // A failed list rule filters silently, as in PocketBase: an empty page.
        Access::Denied => return Ok((Vec::new(), (!opts.skip_total).then_some(0))),
        Access::Granted => {}
    }
    let table = &c.name;
    let total = if opts.skip_total {
        None
    } else {
        let n: i64 = conn
            .prepare_cached(&format!("SELECT count(*) FROM \"{table}\""))?
            .query_row([], |r| r.get(0))?;
        Some(n as u64)
    };
    let sql = format!("SELECT * FROM \"{table}\"{order} LIMIT ?1 OFFSET ?2");
    let offset = (opts.page - 1).saturating_mul(opts.per_page);
    let mut stmt = conn.prepare_cached(&sql)?;
    let viewer = caller.viewer();
    let rows = stmt.query_map(
        [opts.per_page as i64, offset.min(i64::MAX as u64) as i64],
        |row| output::record(c, row, viewer),
    )?;
    let items = rows
        .map(|r| r.map(Value::Object))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((items, total))
}

fn fetch(
    conn: &Connection,
    c: &Collection,
    id: &str,
    viewer: Viewer,
) -> Result<Option<Map<String, Value>>> {
    let sql = format!("SELECT * FROM \"{}\" WHERE id = ?1", c.name);
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], |row| output::record(c, row, viewer))
        .optional()?)
}

pub fn view(
    conn: &Connection,
    c: &Collection,
    caller: &Caller,
    id: &str,
) -> Result<Map<String, Value>> {
    match access(&c.rules.view, caller) {
        Access::SuperusersOnly => Err(superusers_only()),
        Access::Denied => Err(Error::not_found()),
        Access::Granted => fetch(conn, c, id, caller.viewer())?.ok_or_else(Error::not_found),
    }
}

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

fn stored_password(conn: &Connection, c: &Collection, id: &str) -> Result<String> {
    let sql = format!("SELECT password FROM \"{}\" WHERE id = ?1", c.name);
    Ok(conn.prepare_cached(&sql)?.query_row([id], |r| r.get(0))?)
}

/// Auth collections: password (with confirmation, and the old one when a user changes
/// their own), and a fresh tokenKey whenever password or email changes.
fn auth_columns(
    conn: &Connection,
    c: &Collection,
    caller: &Caller,
    body: &Map<String, Value>,
    existing_id: Option<&str>,
    columns: &mut input::Columns,
    errors: &mut FieldErrors,
) -> Result<()> {
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let new_password = text("password");
    let changing = !new_password.is_empty() || existing_id.is_none();
    if changing {
        if let Some(e) = crate::validate::password(&new_password) {
            errors.insert("password".into(), e.into());
        } else if text("passwordConfirm") != new_password {
            errors.insert(
                "passwordConfirm".into(),
                FieldError::new("validation_values_mismatch", "Values don't match.").into(),
            );
        }
        if let (Some(id), false) = (existing_id, caller.is_superuser()) {
            let old = text("oldPassword");
            if old.is_empty() || !password::verify(&old, &stored_password(conn, c, id)?) {
                errors.insert(
                    "oldPassword".into(),
                    FieldError::new(
                        "validation_invalid_old_password",
                        "Missing or invalid old password.",
                    )
                    .into(),
                );
            }
        }
    }
    let email_changed = columns.iter().any(|(k, _)| k == "email") && existing_id.is_some();
    if !errors.is_empty() {
        return Ok(());
    }
    if changing {
        columns.push(("password".into(), Sql::Text(password::hash(&new_password)?)));
    }
    if changing || email_changed {
        columns.push(("tokenKey".into(), Sql::Text(crate::ids::token_key())));
    }
    if !caller.is_superuser() {
        // Only superusers (and, later, managers) may mark an account verified.
        columns.retain(|(k, _)| k != "verified");
    }
    Ok(())
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

pub fn create(
    conn: &Connection,
    c: &Collection,
    caller: &Caller,
    body: &Map<String, Value>,
) -> Result<Map<String, Value>> {
    if c.is_view() {
        return Err(Error::bad_request("View collections are read-only."));
    }
    match access(&c.rules.create, caller) {
        Access::SuperusersOnly => return Err(superusers_only()),
        Access::Denied => return Err(Error::bad_request("Failed to create record.")),
        Access::Granted => {}
    }
    let (mut columns, mut errors) = input::prepare(conn, c, Action::Create, body, &Map::new())?;
    if c.is_auth() {
        auth_columns(conn, c, caller, body, None, &mut columns, &mut errors)?;
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
    fetch(conn, c, &id, caller.viewer())?.ok_or_else(|| Error::internal("created record vanished"))
}

pub fn update(
    conn: &Connection,
    c: &Collection,
    caller: &Caller,
    id: &str,
    body: &Map<String, Value>,
) -> Result<Map<String, Value>> {
    if c.is_view() {
        return Err(Error::bad_request("View collections are read-only."));
    }
    match access(&c.rules.update, caller) {
        Access::SuperusersOnly => return Err(superusers_only()),
        Access::Denied => return Err(Error::not_found()),
        Access::Granted => {}
    }
    let full = Viewer {
        superuser: true,
        record_id: None,
    };
    let current = fetch(conn, c, id, full)?.ok_or_else(Error::not_found)?;
    let (mut columns, mut errors) = input::prepare(conn, c, Action::Update, body, &current)?;
    if c.is_auth() {
        auth_columns(conn, c, caller, body, Some(id), &mut columns, &mut errors)?;
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
    fetch(conn, c, id, caller.viewer())?.ok_or_else(Error::not_found)
}

pub fn delete(conn: &Connection, c: &Collection, caller: &Caller, id: &str) -> Result<()> {
    if c.is_view() {
        return Err(Error::bad_request("View collections are read-only."));
    }
    match access(&c.rules.delete, caller) {
        Access::SuperusersOnly => return Err(superusers_only()),
        Access::Denied => return Err(Error::not_found()),
        Access::Granted => {}
    }
    let sql = format!("DELETE FROM \"{}\" WHERE id = ?1", c.name);
    let n = conn.prepare_cached(&sql)?.execute([id])?;
    if n == 0 {
        return Err(Error::not_found());
    }
    Ok(())
}
