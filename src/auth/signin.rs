//! Password sign-in to any auth collection, for the API's `auth-with-password` and the admin
//! UI's sign-in form alike: identity lookup, the password check, then the collection's
//! `authRule`. The password check (argon2, deliberately slow) runs with no database
//! connection held; only the lookup and the rule take a reader, each briefly.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::records::find_by;
use crate::db::Store;
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::filter::RequestInfo;
use crate::password;
use crate::records::{Caller, Ctx, satisfies};
use crate::schema::{Collection, Snapshot};

fn failed() -> Error {
    Error::bad_request("Failed to authenticate.")
}

/// Signs a record of `c` in: its identity (any of the collection's identity fields) and
/// password must match, and the collection's `authRule`, judged with the record signed in,
/// must admit it. Unknown identity and wrong password fail alike, in about the same time.
/// Returns the record with every field.
pub fn sign_in(
    store: &Store,
    schema: Arc<Snapshot>,
    c: &Arc<Collection>,
    identity: &str,
    password_text: &str,
) -> Result<Map<String, Value>> {
    let found = store.read(|conn| lookup(conn, c, identity, password_text))?;
    admit(store, schema, c, found, password_text)
}

/// The second half of `sign_in`, for a record found by `lookup` (or by a hook): its
/// password must match and the collection's `authRule` admit it.
pub fn admit(
    store: &Store,
    schema: Arc<Snapshot>,
    c: &Arc<Collection>,
    found: Option<Map<String, Value>>,
    password_text: &str,
) -> Result<Map<String, Value>> {
    let Some(record) = found else {
        password::burn_time(password_text);
        return Err(failed());
    };
    let hash = record
        .get("password")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !password::verify(password_text, hash) {
        return Err(failed());
    }
    if !auth_rule_admits(store, schema, c, &record)? {
        return Err(failed());
    }
    if password::needs_rehash(hash) {
        rehash(store, c, &record, hash, password_text)?;
    }
    Ok(record)
}

/// Replaces a PocketBase bcrypt hash that just matched by an argon2id hash of the same
/// password, unless the password changed meanwhile. The token key stays: sessions issued
/// before (by PocketBase too) stay valid, and the record's `updated` is not touched.
fn rehash(
    store: &Store,
    c: &Collection,
    record: &Map<String, Value>,
    old: &str,
    password_text: &str,
) -> Result<()> {
    let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
    let new = password::hash(password_text)?;
    let sql = format!(
        "UPDATE \"{}\" SET password = ?1 WHERE id = ?2 AND password = ?3",
        c.name
    );
    store.write(|conn| Ok(conn.execute(&sql, (&new, id, old))?))?;
    Ok(())
}

/// Whether `c`'s `authRule`, judged with `record` signed in, admits it (absent, it admits
/// everyone; null admits no one).
pub fn auth_rule_admits(
    store: &Store,
    schema: Arc<Snapshot>,
    c: &Arc<Collection>,
    record: &Map<String, Value>,
) -> Result<bool> {
    let id = record
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let auth_rule = c
        .options
        .get("authRule")
        .map(|r| r.as_str().map(str::to_owned))
        .unwrap_or(Some(String::new()));
    let ctx = Ctx {
        caller: Caller::Record {
            collection_id: c.id.clone(),
            id: id.clone(),
        },
        request: RequestInfo {
            auth: Some((c.clone(), record.clone())),
            method: "POST".into(),
            ..Default::default()
        },
        schema,
        changes: Default::default(),
        validate: true,
    };
    store.read(|conn| satisfies(conn, c, &auth_rule, &ctx, &id))
}

/// Checks the input and the collection's options, then finds the record by the first
/// identity field that holds `identity`.
pub fn lookup(
    conn: &rusqlite::Connection,
    c: &Collection,
    identity: &str,
    password_text: &str,
) -> Result<Option<Map<String, Value>>> {
    let mut errors = FieldErrors::new();
    if identity.is_empty() {
        errors.insert("identity".into(), FieldError::required().into());
    }
    if password_text.is_empty() {
        errors.insert("password".into(), FieldError::required().into());
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let options = c.options.get("passwordAuth");
    if !options
        .and_then(|o| o.get("enabled"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return Err(Error::bad_request(
            "The collection is not configured to allow password authentication.",
        ));
    }
    let fields: Vec<String> = options
        .and_then(|o| o.get("identityFields"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_else(|| vec!["email".into()]);
    for field in fields.iter().filter(|f| c.field(f).is_some()) {
        if let Some(record) = find_by(conn, c, field, identity)? {
            return Ok(Some(record));
        }
    }
    Ok(None)
}
