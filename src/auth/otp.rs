//! One-time passwords by mail (`request-otp`, `auth-with-otp`), when a collection enables
//! them: a numeric code, stored only as a hash in `_otps`, valid for `otp.duration` seconds
//! and used at most once. The code is hashed and checked holding no database connection:
//! each flow reads, does its argon2 work, then writes.

use rand::RngExt;
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value};

use super::records::{find_by_email, find_by_id};
use crate::db::Store;
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::mail::{self, AppMeta};
use crate::password;
use crate::schema::Collection;

fn option(c: &Collection, key: &str) -> Option<Value> {
    c.options.get("otp").and_then(|o| o.get(key)).cloned()
}

/// 403 unless the collection has OTP sign-in switched on.
pub fn ensure_enabled(c: &Collection) -> Result<()> {
    if option(c, "enabled")
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
    {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "The collection is not configured to allow OTP authentication.".into(),
        ))
    }
}

/// How many seconds a code of `c` stays valid.
pub fn duration(c: &Collection) -> i64 {
    option(c, "duration")
        .and_then(|v| v.as_i64())
        .unwrap_or(180)
}

fn code(length: usize) -> String {
    let mut rng = rand::rng();
    (0..length)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// A new code of the collection's `otp.length` digits.
pub fn new_code(c: &Collection) -> String {
    let length = option(c, "length")
        .and_then(|v| v.as_u64())
        .unwrap_or(8)
        .clamp(4, 20) as usize;
    code(length)
}

/// The email a code is asked for: 400 when there is none.
pub fn check_email(email: &str) -> Result<()> {
    if email.trim().is_empty() {
        let mut errors = FieldErrors::new();
        errors.insert("email".into(), FieldError::required().into());
        return Err(Error::validation(errors));
    }
    Ok(())
}

/// Mails a code to the account with this email and returns the id to sign in with. An
/// unknown email gets an id too (that leads nowhere), so the answer reveals nothing.
pub fn request(store: &Store, c: &Collection, email: &str) -> Result<String> {
    ensure_enabled(c)?;
    check_email(email)?;
    match store.read(|conn| find_by_email(conn, c, email))? {
        Some(record) => issue(store, c, &record, &new_code(c)),
        None => Ok(crate::ids::record_id()),
    }
}

/// Stores `secret` (hashed) as a new code of `record` and mails it; returns its id.
pub fn issue(
    store: &Store,
    c: &Collection,
    record: &Map<String, Value>,
    secret: &str,
) -> Result<String> {
    let sent_to = record
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let record_id = record.get("id").and_then(Value::as_str).unwrap_or_default();
    let hash = password::hash(secret)?;
    store.write(|conn| {
        let otp_id = insert(conn, c, record_id, &hash, &sent_to)?;
        let meta = AppMeta::load(conn)?;
        let template = c.options.get("otp").and_then(|o| o.get("emailTemplate"));
        let mail = mail::from_template(
            template,
            &meta,
            &[("OTP", secret), ("OTP_ID", &otp_id)],
            &sent_to,
            "otp",
        );
        mail::queue(conn, &mail)?;
        Ok(otp_id)
    })
}

/// A new code for `record_id`, mailed to no one (`hearth superuser otp`): its id and the
/// code, to be handed over by whoever asked.
pub fn issue_unsent(store: &Store, c: &Collection, record_id: &str) -> Result<(String, String)> {
    ensure_enabled(c)?;
    let secret = new_code(c);
    let hash = password::hash(&secret)?;
    let otp_id = store.write(|conn| insert(conn, c, record_id, &hash, ""))?;
    Ok((otp_id, secret))
}

fn insert(
    conn: &rusqlite::Connection,
    c: &Collection,
    record_id: &str,
    hash: &str,
    sent_to: &str,
) -> Result<String> {
    let otp_id = crate::ids::record_id();
    let now = crate::datetime::now();
    conn.prepare_cached(
        "INSERT INTO _otps (id, collectionRef, recordRef, password, sentTo, created, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute((&otp_id, &c.id, record_id, hash, sent_to, &now))?;
    Ok(otp_id)
}

/// A code that matched its hash, for `consume`.
pub struct Checked {
    otp_id: String,
    hash: String,
    record_id: String,
    sent_to: String,
}

impl Checked {
    /// The record the code signs in.
    pub fn record_id(&self) -> &str {
        &self.record_id
    }

    /// The code's row as the hooks' `e.otp` shows it (its hash left out).
    pub fn describe(&self, c: &Collection) -> Value {
        serde_json::json!({
            "id": self.otp_id,
            "collectionRef": c.id,
            "recordRef": self.record_id,
            "sentTo": self.sent_to,
        })
    }
}

fn invalid() -> Error {
    Error::bad_request("Invalid or expired OTP.")
}

/// Checks the code against its hash, holding no connection meanwhile. A wrong code, an
/// unknown or expired id all fail the same way.
pub fn check(store: &Store, c: &Collection, otp_id: &str, code: &str) -> Result<Checked> {
    ensure_enabled(c)?;
    let mut errors = FieldErrors::new();
    if otp_id.trim().is_empty() {
        errors.insert("otpId".into(), FieldError::required().into());
    }
    if code.trim().is_empty() {
        errors.insert("password".into(), FieldError::required().into());
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let duration = duration(c);
    let row = store.read(|conn| find(conn, c, otp_id))?;
    let Some((record_id, hash, sent_to, created)) = row else {
        password::burn_time(code);
        return Err(invalid());
    };
    if created + duration < crate::datetime::unix_seconds() || !password::verify(code, &hash) {
        return Err(invalid());
    }
    Ok(Checked {
        otp_id: otp_id.to_owned(),
        hash,
        record_id,
        sent_to,
    })
}

/// Consumes a checked code, in the write transaction; returns the record signed in, and
/// whether this verified its address (the code reached the mailbox), a change of the
/// record for the caller to report.
pub fn consume(
    conn: &Connection,
    c: &Collection,
    checked: &Checked,
) -> Result<(Map<String, Value>, bool)> {
    // Used once: a code another request consumed meanwhile is spent.
    let consumed = conn
        .prepare_cached("DELETE FROM _otps WHERE id = ?1 AND password = ?2")?
        .execute([&checked.otp_id, &checked.hash])?;
    if consumed == 0 {
        return Err(invalid());
    }
    let record = find_by_id(conn, c, &checked.record_id)?.ok_or_else(invalid)?;
    let proven = record.get("email").and_then(Value::as_str) == Some(checked.sent_to.as_str());
    let unverified = record.get("verified").and_then(Value::as_bool) != Some(true);
    if proven && unverified {
        let sql = format!("UPDATE \"{}\" SET verified = TRUE WHERE id = ?1", c.name);
        conn.prepare_cached(&sql)?.execute([&checked.record_id])?;
    }
    Ok((record, proven && unverified))
}

/// An OTP of `c`: (record id, code hash, address it was sent to, created as Unix seconds).
fn find(
    conn: &Connection,
    c: &Collection,
    otp_id: &str,
) -> Result<Option<(String, String, String, i64)>> {
    Ok(conn
        .prepare_cached(
            "SELECT recordRef, password, sentTo, CAST(strftime('%s', created) AS INTEGER)
             FROM _otps WHERE id = ?1 AND collectionRef = ?2",
        )?
        .query_row((otp_id, &c.id), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?)
}
