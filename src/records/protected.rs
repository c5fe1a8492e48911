//! The fields of an auth record that not everyone who may update it may change: `email`
//! and `verified` change directly only for managers (superusers, or callers the
//! collection's `manageRule` admits); everyone else changes an email through
//! request/confirm-email-change and is verified by the verification flow. A password
//! changes with its confirmation, and with the old one unless a manager changes it.
//! Rejected changes answer as PocketBase's: a field error, never a silent drop.

use rusqlite::Connection;
use rusqlite::types::Value as Sql;
use serde_json::{Map, Value};

use super::input;
use crate::auth::password;
use crate::error::{FieldError, FieldErrors, Result};
use crate::schema::Collection;

fn mismatch() -> FieldError {
    FieldError::new("validation_values_mismatch", "Values don't match.")
}

fn stored_password(conn: &Connection, c: &Collection, id: &str) -> Result<String> {
    let sql = format!("SELECT password FROM \"{}\" WHERE id = ?1", c.name);
    Ok(conn.prepare_cached(&sql)?.query_row([id], |r| r.get(0))?)
}

/// The value `columns` give `name`, if they set it.
fn column<'a>(columns: &'a input::Columns, name: &str) -> Option<&'a Sql> {
    columns.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Checks and completes an auth record's write: the password (hashed) and a fresh
/// tokenKey whenever password or email changes. `current` is the stored record (update)
/// or None (create); `manager` says whether the caller may set email and verified.
pub fn columns(
    conn: &Connection,
    c: &Collection,
    manager: bool,
    body: &Map<String, Value>,
    current: Option<&Map<String, Value>>,
    columns: &mut input::Columns,
    errors: &mut FieldErrors,
) -> Result<()> {
    let existing_id = current.and_then(|r| r.get("id")).and_then(Value::as_str);
    let stored = |k: &str| current.and_then(|r| r.get(k));
    // A multipart `12345678` arrives as a number; a password is its text all the same.
    let text = |k: &str| match body.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    };
    let new_password = text("password");
    let changing = !new_password.is_empty() || existing_id.is_none();
    if changing {
        if let Some(e) = crate::validate::password(&new_password) {
            errors.insert("password".into(), e.into());
        } else if text("passwordConfirm") != new_password {
            errors.insert("passwordConfirm".into(), mismatch().into());
        }
        if let (Some(id), false) = (existing_id, manager) {
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
    let stored_email = stored("email").and_then(Value::as_str).unwrap_or("");
    let email_changed = existing_id.is_some()
        && column(columns, "email").is_some_and(|v| *v != Sql::Text(stored_email.to_owned()));
    if email_changed && !manager {
        errors.insert("email".into(), mismatch().into());
    }
    let stored_verified = stored("verified").and_then(Value::as_bool) == Some(true);
    let verified_changed =
        column(columns, "verified").is_some_and(|v| *v != Sql::Integer(i64::from(stored_verified)));
    if verified_changed && !manager {
        errors.insert("verified".into(), mismatch().into());
    }
    if !errors.is_empty() {
        return Ok(());
    }
    if changing {
        columns.push(("password".into(), Sql::Text(password::hash(&new_password)?)));
    }
    if changing || email_changed {
        columns.push(("tokenKey".into(), Sql::Text(crate::ids::token_key())));
    }
    Ok(())
}
