//! One-time passwords by mail (`request-otp`, `auth-with-otp`), when a collection enables
//! them: a numeric code, stored only as a hash in `_otps`, valid for `otp.duration` seconds
//! and used at most once.

use rand::RngExt;
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value};

use super::password;
use super::records::{find_by_email, find_by_id};
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::mail::{self, AppMeta};
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

fn code(length: usize) -> String {
    let mut rng = rand::rng();
    (0..length)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// Mails a code to the account with this email and returns the id to sign in with. An
/// unknown email gets an id too (that leads nowhere), so the answer reveals nothing.
pub fn request(conn: &Connection, c: &Collection, email: &str) -> Result<String> {
    ensure_enabled(c)?;
    if email.trim().is_empty() {
        let mut errors = FieldErrors::new();
        errors.insert("email".into(), FieldError::required().into());
        return Err(Error::validation(errors));
    }
    let otp_id = crate::ids::record_id();
    let Some(record) = find_by_email(conn, c, email)? else {
        return Ok(otp_id);
    };
    let length = option(c, "length")
        .and_then(|v| v.as_u64())
        .unwrap_or(8)
        .clamp(4, 20) as usize;
    let secret = code(length);
    let sent_to = record
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let now = crate::datetime::now();
    conn.prepare_cached(
        "INSERT INTO _otps (id, collectionRef, recordRef, password, sentTo, created, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute((
        &otp_id,
        &c.id,
        record.get("id").and_then(Value::as_str).unwrap_or_default(),
        password::hash(&secret)?,
        &sent_to,
        &now,
    ))?;
    let meta = AppMeta::load(conn)?;
    let template = c.options.get("otp").and_then(|o| o.get("emailTemplate"));
    let mail = mail::from_template(
        template,
        &meta,
        &[("OTP", &secret), ("OTP_ID", &otp_id)],
        &sent_to,
        "otp",
    );
    mail::queue(conn, &mail)?;
    Ok(otp_id)
}

/// Checks the code and consumes it; returns the record signed in. A wrong code, an
/// unknown or expired id all fail the same way.
pub fn authenticate(
    conn: &Connection,
    c: &Collection,
    otp_id: &str,
    code: &str,
) -> Result<Map<String, Value>> {
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
    let invalid = || Error::bad_request("Invalid or expired OTP.");
    let duration = option(c, "duration")
        .and_then(|v| v.as_i64())
        .unwrap_or(180);
    let row: Option<(String, String, String, i64)> = conn
        .prepare_cached(
            "SELECT recordRef, password, sentTo, CAST(strftime('%s', created) AS INTEGER)
             FROM _otps WHERE id = ?1 AND collectionRef = ?2",
        )?
        .query_row((otp_id, &c.id), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((record_id, hash, sent_to, created)) = row else {
        password::burn_time(code);
        return Err(invalid());
    };
    if created + duration < crate::datetime::unix_seconds() || !password::verify(code, &hash) {
        return Err(invalid());
    }
    conn.prepare_cached("DELETE FROM _otps WHERE id = ?1")?
        .execute([otp_id])?;
    let record = find_by_id(conn, c, &record_id)?.ok_or_else(invalid)?;
    // The code reached the mailbox: the address is proven.
    if record.get("email").and_then(Value::as_str) == Some(sent_to.as_str()) {
        let sql = format!("UPDATE \"{}\" SET verified = TRUE WHERE id = ?1", c.name);
        conn.prepare_cached(&sql)?.execute([&record_id])?;
    }
    Ok(record)
}
