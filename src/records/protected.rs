//! The fields of an auth record that not everyone who may update it may change: `email`
//! and `verified` change directly only for managers (superusers, or callers the
//! collection's `manageRule` admits); everyone else changes an email through
//! request/confirm-email-change and is verified by the verification flow. A password
//! changes with its confirmation, and with the old one unless a manager changes it.
//! Rejected changes answer as PocketBase's: a field error, never a silent drop.
//!
//! The password's argon2 work (hashing the new one, checking the old one) is done before the
//! write transaction, holding no connection (`Secrets`), so that no write in the server
//! waits behind a hash.

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value};

use super::{Ctx, input};
use crate::db::Store;
use crate::error::{FieldError, FieldErrors, Result};
use crate::password;
use crate::schema::Collection;

/// A body field as text: a multipart `12345678` arrives as a number, and a password is its
/// text all the same.
fn text(body: &Map<String, Value>, key: &str) -> String {
    match body.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// The slow half of a write's password change, done before its transaction.
#[derive(Debug, Default)]
pub struct Secrets {
    /// The new password and its hash, when the body sets a valid one.
    new: Option<(String, String)>,
    /// The stored hash the body's `oldPassword` was checked against, and the verdict.
    old: Option<(String, bool)>,
}

impl Secrets {
    /// True when `prepare` has nothing to do for `body` on `c` (no password set).
    pub fn none_needed(c: &Collection, body: &Map<String, Value>) -> bool {
        !c.is_auth() || text(body, "password").is_empty()
    }

    /// For `ctx`'s write of `body` to record `id` of `c` (None: a new record): hashes the
    /// new password and checks the old one against the stored hash (read on a reader, given
    /// back before the check). Nothing to do unless `c` is an auth collection and the body
    /// sets a password, nor for a write its rules refuse before any password is looked at
    /// (so that no refused caller makes the server hash, as before the write moved here).
    pub fn prepare(
        store: &Store,
        c: &Collection,
        ctx: &Ctx,
        id: Option<&str>,
        body: &Map<String, Value>,
    ) -> Result<Self> {
        let mut out = Self::default();
        if Self::none_needed(c, body) {
            return Ok(out);
        }
        let new = text(body, "password");
        let allowed = match id {
            None => c.rules.create.is_some() || ctx.caller.is_superuser(),
            Some(id) => {
                store.read(|conn| Ok(super::rows::updatable(conn, c, ctx, id, body).is_ok()))?
            }
        };
        if !allowed {
            return Ok(out);
        }
        // Only a password the write can accept is worth hashing.
        if crate::validate::password(&new).is_none() && text(body, "passwordConfirm") == new {
            let hash = password::hash(&new)?;
            out.new = Some((new, hash));
        }
        let old = text(body, "oldPassword");
        if let (Some(id), false) = (id, old.is_empty()) {
            let sql = format!("SELECT password FROM \"{}\" WHERE id = ?1", c.name);
            let stored: Option<String> = store.read(|conn| {
                Ok(conn
                    .prepare_cached(&sql)?
                    .query_row([id], |r| r.get(0))
                    .optional()?)
            })?;
            if let Some(stored) = stored {
                let ok = password::verify(&old, &stored);
                out.old = Some((stored, ok));
            }
        }
        Ok(out)
    }

    /// True when the old password was checked, against exactly `stored`, and matched.
    fn old_matches(&self, stored: &str) -> bool {
        matches!(&self.old, Some((checked, true)) if checked == stored)
    }

    /// The hash of `new`, as prepared. A write that was not expected to get this far (its
    /// rules changed their verdict meanwhile) is still hashed correctly, here.
    fn hash_of(&self, new: &str) -> Result<String> {
        match &self.new {
            Some((plain, hash)) if plain == new => Ok(hash.clone()),
            _ => password::hash_late(new),
        }
    }
}

/// One write of an auth record, as `columns` checks it.
pub struct Change<'a> {
    /// Whether the caller may set email and verified.
    pub manager: bool,
    pub body: &'a Map<String, Value>,
    /// The stored record (update), or None (create).
    pub current: Option<&'a Map<String, Value>>,
    pub secrets: &'a Secrets,
}

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
/// tokenKey whenever password or email changes.
pub fn columns(
    conn: &Connection,
    c: &Collection,
    change: &Change,
    columns: &mut input::Columns,
    errors: &mut FieldErrors,
) -> Result<()> {
    let Change {
        manager,
        body,
        current,
        secrets,
    } = *change;
    let existing_id = current.and_then(|r| r.get("id")).and_then(Value::as_str);
    let stored = |k: &str| current.and_then(|r| r.get(k));
    let text = |k: &str| text(body, k);
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
            if old.is_empty() || !secrets.old_matches(&stored_password(conn, c, id)?) {
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
        columns.push((
            "password".into(),
            Sql::Text(secrets.hash_of(&new_password)?),
        ));
    }
    if changing || email_changed {
        columns.push(("tokenKey".into(), Sql::Text(crate::ids::token_key())));
    }
    Ok(())
}
