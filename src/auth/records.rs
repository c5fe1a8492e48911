//! Sign-in and tokens for the records of any auth collection (`users` and those an admin
//! creates): identity lookup, password check, token issue and verification. The signing
//! key is the record's `tokenKey` plus the collection's secret for the token kind.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value};

use super::token;
use crate::error::{Error, Result};
use crate::records::output;
use crate::schema::{Collection, Snapshot};

/// An authenticated record with all its fields (hidden ones too) and its collection.
#[derive(Debug, Clone)]
pub struct AuthRecord {
    pub collection: Arc<Collection>,
    pub record: Map<String, Value>,
}

impl AuthRecord {
    pub fn id(&self) -> &str {
        self.record
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// The `{kind}Token` options of `c`: secret and lifetime in seconds.
fn token_options(c: &Collection, kind: &str) -> Result<(String, i64)> {
    let key = match kind {
        token::KIND_AUTH | token::KIND_ADMIN_SESSION => "authToken",
        token::KIND_VERIFICATION => "verificationToken",
        token::KIND_PASSWORD_RESET => "passwordResetToken",
        token::KIND_EMAIL_CHANGE => "emailChangeToken",
        token::KIND_FILE => "fileToken",
        other => return Err(Error::internal(format!("unknown token kind {other}"))),
    };
    let opt = c.options.get(key);
    let secret = opt
        .and_then(|o| o.get("secret"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let duration = opt
        .and_then(|o| o.get("duration"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if secret.is_empty() || duration <= 0 {
        return Err(Error::internal(format!("{} has no {key} secret", c.name)));
    }
    Ok((secret.to_owned(), duration))
}

pub fn issue_token(c: &Collection, record: &Map<String, Value>, kind: &str) -> Result<String> {
    let (secret, duration) = token_options(c, kind)?;
    sign(
        record,
        token::Claims::new(kind, &c.id, record_id(record), duration),
        &secret,
    )
}

/// A superuser's impersonation token: an auth token that cannot be refreshed, for
/// `duration` seconds (the collection's auth token lifetime when 0).
pub fn impersonation_token(
    c: &Collection,
    record: &Map<String, Value>,
    duration: i64,
) -> Result<String> {
    let (secret, default) = token_options(c, token::KIND_AUTH)?;
    let lifetime = if duration > 0 { duration } else { default };
    let mut claims = token::Claims::new(token::KIND_AUTH, &c.id, record_id(record), lifetime);
    claims.refreshable = Some(false);
    sign(record, claims, &secret)
}

/// The token `auth-refresh` answers with for the caller who `presented` one: a fresh auth
/// token, unless the presented one does not allow renewal (an impersonation token), which
/// comes back unchanged, as PocketBase does: its lifetime stays what the superuser chose.
pub fn refreshed_token(
    c: &Collection,
    record: &Map<String, Value>,
    presented: &str,
) -> Result<String> {
    match token::peek(presented) {
        Some(claims) if claims.refreshable != Some(true) => Ok(presented.to_owned()),
        _ => issue_token(c, record, token::KIND_AUTH),
    }
}

/// A single-purpose token (verification, password reset, email change) bound to the
/// record's current email, and for an email change to the new one.
pub fn purpose_token(
    c: &Collection,
    record: &Map<String, Value>,
    kind: &str,
    new_email: Option<&str>,
) -> Result<String> {
    let (secret, duration) = token_options(c, kind)?;
    let mut claims = token::Claims::new(kind, &c.id, record_id(record), duration);
    claims.email = record
        .get("email")
        .and_then(Value::as_str)
        .map(str::to_owned);
    claims.new_email = new_email.map(str::to_owned);
    sign(record, claims, &secret)
}

/// Resolves a single-purpose token: its record, if the token is genuine, unexpired, of
/// `kind`, for this collection, and still about the record's current email.
pub fn from_purpose_token(
    conn: &Connection,
    c: &Collection,
    raw: &str,
    kind: &str,
) -> Result<Option<(Map<String, Value>, token::Claims)>> {
    let Some(claims) = token::peek(raw) else {
        return Ok(None);
    };
    if claims.kind != kind || claims.collection_id != c.id {
        return Ok(None);
    }
    let Some(record) = find_by_id(conn, c, &claims.id)? else {
        return Ok(None);
    };
    let (secret, _) = token_options(c, kind)?;
    let key = record
        .get("tokenKey")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(verified) = token::verify(raw, key, &secret) else {
        return Ok(None);
    };
    let current = record.get("email").and_then(Value::as_str);
    if verified.email.as_deref() != current {
        return Ok(None);
    }
    Ok(Some((record, verified)))
}

fn record_id(record: &Map<String, Value>) -> &str {
    record.get("id").and_then(Value::as_str).unwrap_or_default()
}

/// Signs with the record's tokenKey followed by the collection's secret for the kind.
fn sign(record: &Map<String, Value>, claims: token::Claims, secret: &str) -> Result<String> {
    let key = record
        .get("tokenKey")
        .and_then(Value::as_str)
        .unwrap_or_default();
    token::sign(&claims, key, secret)
}

pub(super) fn find_by(
    conn: &Connection,
    c: &Collection,
    field: &str,
    value: &str,
) -> Result<Option<Map<String, Value>>> {
    // Identity fields are validated collection fields; emails match case-insensitively.
    let collate = if field == "email" {
        " COLLATE NOCASE"
    } else {
        ""
    };
    let sql = format!(
        "SELECT * FROM \"{}\" WHERE \"{field}\" = ?1{collate} LIMIT 1",
        c.name
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([value], |row| output::full_record(c, row))
        .optional()?)
}

pub fn find_by_email(
    conn: &Connection,
    c: &Collection,
    email: &str,
) -> Result<Option<Map<String, Value>>> {
    find_by(conn, c, "email", email)
}

pub fn find_by_id(
    conn: &Connection,
    c: &Collection,
    id: &str,
) -> Result<Option<Map<String, Value>>> {
    find_by(conn, c, "id", id)
}

/// Resolves a token of `kind` to its record, or None when it is forged, expired, of another
/// kind, or its record is gone or has rotated its tokenKey.
pub fn from_token(
    conn: &Connection,
    schema: &Snapshot,
    raw: &str,
    kind: &str,
) -> Result<Option<AuthRecord>> {
    let Some(claims) = token::peek(raw) else {
        return Ok(None);
    };
    if claims.kind != kind {
        return Ok(None);
    }
    let Some(collection) = schema
        .find(&claims.collection_id)
        .filter(|c| c.is_auth() && c.id == claims.collection_id)
    else {
        return Ok(None);
    };
    let Some(record) = find_by_id(conn, &collection, &claims.id)? else {
        return Ok(None);
    };
    let (secret, _) = token_options(&collection, kind)?;
    let key = record
        .get("tokenKey")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(token::verify(raw, key, &secret).map(|_| AuthRecord { collection, record }))
}
