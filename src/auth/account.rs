//! Account flows that go through mail: email verification, password reset and email
//! change. Requests never reveal whether an address has an account (the same answer
//! either way); confirmations take the single-purpose token the mail carried. Password
//! work (argon2) is left to the caller, to do holding no connection: `new_password` before
//! `confirm_password_reset`, `check_password` between `email_change_hash` and
//! `confirm_email_change`.

use rusqlite::Connection;
use serde_json::{Map, Value};

use super::records::{self, find_by_email};
use super::token;
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::mail::{self, AppMeta, Mail};
use crate::password;
use crate::schema::Collection;

fn required(fields: &[(&str, &str)]) -> Result<()> {
    let mut errors = FieldErrors::new();
    for (name, value) in fields {
        if value.trim().is_empty() {
            errors.insert((*name).to_owned(), FieldError::required().into());
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::validation(errors))
    }
}

fn invalid_token() -> Error {
    token_refused(FieldError::new(
        "validation_invalid_token",
        "Invalid or expired token.",
    ))
}

fn token_refused(error: FieldError) -> Error {
    let mut errors = FieldErrors::new();
    errors.insert("token".into(), error.into());
    Error::validation(errors)
}

fn email_of(record: &Map<String, Value>) -> String {
    record
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn id_of(record: &Map<String, Value>) -> String {
    record
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The mail with the link of a flow for `record` (of `c`): `kind` is verification,
/// password reset, or an email change to `new_email` (addressed there).
pub fn link_mail(
    conn: &Connection,
    c: &Collection,
    record: &Map<String, Value>,
    kind: &str,
    new_email: Option<&str>,
) -> Result<Mail> {
    let (template, to) = match (kind, new_email) {
        (token::KIND_VERIFICATION, _) => ("verificationTemplate", email_of(record)),
        (token::KIND_PASSWORD_RESET, _) => ("resetPasswordTemplate", email_of(record)),
        (token::KIND_EMAIL_CHANGE, Some(to)) => ("confirmEmailChangeTemplate", to.to_owned()),
        _ => return Err(Error::bad_request(format!("No mail of kind {kind:?}."))),
    };
    let token = records::purpose_token(c, record, kind, new_email)?;
    let meta = AppMeta::load(conn)?;
    Ok(mail::from_template(
        c.options.get(template),
        &meta,
        &[("TOKEN", &token)],
        &to,
        kind,
    ))
}

/// Mails `record` (of `c`) the link of a flow, as the flow's request does (see
/// `link_mail`). For the hooks' `$mails`.
pub fn mail_link(
    conn: &Connection,
    c: &Collection,
    record: &Map<String, Value>,
    kind: &str,
    new_email: Option<&str>,
) -> Result<()> {
    let mail = link_mail(conn, c, record, kind, new_email)?;
    mail::queue(conn, &mail)?;
    Ok(())
}

/// One of `c`'s notices for `record` with `extra` placeholders filled: the one-time
/// password (`kind` "otp": `OTP`, `OTP_ID`) or the sign-in alert ("authAlert":
/// `ALERT_INFO`).
pub fn notice_mail(
    conn: &Connection,
    c: &Collection,
    record: &Map<String, Value>,
    kind: &str,
    extra: &[(&str, &str)],
) -> Result<Mail> {
    if !matches!(kind, "otp" | "authAlert") {
        return Err(Error::bad_request(format!("No mail of kind {kind:?}.")));
    }
    let template = c.options.get(kind).and_then(|o| o.get("emailTemplate"));
    let meta = AppMeta::load(conn)?;
    Ok(mail::from_template(
        template,
        &meta,
        extra,
        &email_of(record),
        kind,
    ))
}

/// Mails `record` (of `c`) one of its collection's notices (see `notice_mail`). For the
/// hooks' `$mails`.
pub fn mail_notice(
    conn: &Connection,
    c: &Collection,
    record: &Map<String, Value>,
    kind: &str,
    extra: &[(&str, &str)],
) -> Result<()> {
    let mail = notice_mail(conn, c, record, kind, extra)?;
    mail::queue(conn, &mail)?;
    Ok(())
}

/// Mails a verification link to an unverified account with this email, if there is one.
pub fn request_verification(conn: &Connection, c: &Collection, email: &str) -> Result<()> {
    required(&[("email", email)])?;
    let Some(record) = find_by_email(conn, c, email)? else {
        return Ok(());
    };
    if record
        .get("verified")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return Ok(());
    }
    mail_link(conn, c, &record, token::KIND_VERIFICATION, None)
}

/// Returns the id of the record it verified.
pub fn confirm_verification(conn: &Connection, c: &Collection, raw: &str) -> Result<String> {
    required(&[("token", raw)])?;
    let (record, _) = records::from_purpose_token(conn, c, raw, token::KIND_VERIFICATION)?
        .ok_or_else(invalid_token)?;
    let sql = format!(
        "UPDATE \"{}\" SET verified = TRUE, updated = ?1 WHERE id = ?2",
        c.name
    );
    conn.prepare_cached(&sql)?
        .execute((crate::datetime::now(), id_of(&record)))?;
    Ok(id_of(&record))
}

/// Mails a password-reset link to the account with this email, if there is one.
pub fn request_password_reset(conn: &Connection, c: &Collection, email: &str) -> Result<()> {
    required(&[("email", email)])?;
    let Some(record) = find_by_email(conn, c, email)? else {
        return Ok(());
    };
    mail_link(conn, c, &record, token::KIND_PASSWORD_RESET, None)
}

/// The account a verification request is for: None when no account has this email or it
/// is verified already (the request then answers 204 and does nothing).
pub fn verification_target(
    conn: &Connection,
    c: &Collection,
    email: &str,
) -> Result<Option<Map<String, Value>>> {
    required(&[("email", email)])?;
    let found = find_by_email(conn, c, email)?;
    Ok(found.filter(|r| !r.get("verified").and_then(Value::as_bool).unwrap_or(false)))
}

/// The account a password-reset request is for (None: no account has this email).
pub fn password_reset_target(
    conn: &Connection,
    c: &Collection,
    email: &str,
) -> Result<Option<Map<String, Value>>> {
    required(&[("email", email)])?;
    find_by_email(conn, c, email)
}

/// The account a confirmation token of `kind` is for; 400 for a missing or invalid one.
pub fn token_target(
    conn: &Connection,
    c: &Collection,
    raw: &str,
    kind: &str,
) -> Result<Map<String, Value>> {
    required(&[("token", raw)])?;
    // PocketBase looks at a verification token's payload before its signature.
    if kind == token::KIND_VERIFICATION && token::peek_text(raw, "email").is_empty() {
        return Err(token_refused(FieldError::new(
            "validation_invalid_token_claims",
            "Missing email token claim.",
        )));
    }
    let (record, _) = records::from_purpose_token(conn, c, raw, kind)?.ok_or_else(invalid_token)?;
    Ok(record)
}

/// Checks a password reset's input and hashes the new password (slow: call it holding no
/// connection); the hash is for `confirm_password_reset`.
pub fn new_password(raw: &str, new: &str, confirm: &str) -> Result<String> {
    check_new_password(raw, new, confirm)?;
    password::hash(new)
}

/// What `new_password` checks, without hashing.
pub fn check_new_password(raw: &str, new: &str, confirm: &str) -> Result<()> {
    required(&[
        ("token", raw),
        ("password", new),
        ("passwordConfirm", confirm),
    ])?;
    let mut errors = FieldErrors::new();
    if let Some(e) = crate::validate::password(new) {
        errors.insert("password".into(), e.into());
    } else if new != confirm {
        errors.insert(
            "passwordConfirm".into(),
            FieldError::new("validation_values_mismatch", "Values don't match.").into(),
        );
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    Ok(())
}

/// Sets the new password (`hash`, from `new_password`) and rotates the tokenKey, which ends
/// every session and makes the reset token itself single-use. Proving the mailbox also
/// verifies the address.
pub fn confirm_password_reset(
    conn: &Connection,
    c: &Collection,
    raw: &str,
    hash: &str,
) -> Result<String> {
    let (record, _) = records::from_purpose_token(conn, c, raw, token::KIND_PASSWORD_RESET)?
        .ok_or_else(invalid_token)?;
    let sql = format!(
        "UPDATE \"{}\" SET password = ?1, tokenKey = ?2, verified = TRUE, updated = ?3 WHERE id = ?4",
        c.name
    );
    conn.prepare_cached(&sql)?.execute((
        hash,
        crate::ids::token_key(),
        crate::datetime::now(),
        id_of(&record),
    ))?;
    Ok(id_of(&record))
}

/// Mails a confirmation link to the new address of the signed-in record.
pub fn request_email_change(
    conn: &Connection,
    c: &Collection,
    record: &Map<String, Value>,
    new_email: &str,
) -> Result<()> {
    check_new_email(conn, c, new_email)?;
    mail_link(conn, c, record, token::KIND_EMAIL_CHANGE, Some(new_email))
}

/// Checks the new address of an email change: well-formed and no account's yet.
pub fn check_new_email(conn: &Connection, c: &Collection, new_email: &str) -> Result<()> {
    required(&[("newEmail", new_email)])?;
    let mut errors = FieldErrors::new();
    if let Some(e) = crate::validate::email(new_email) {
        errors.insert("newEmail".into(), e.into());
    } else if find_by_email(conn, c, new_email)?.is_some() {
        errors.insert(
            "newEmail".into(),
            FieldError::new("validation_invalid_new_email", "Invalid new email address.").into(),
        );
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    Ok(())
}

fn password_hash(record: &Map<String, Value>) -> &str {
    record
        .get("password")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The stored password hash of the record an email-change token is for, for
/// `check_password`.
pub fn email_change_hash(
    conn: &Connection,
    c: &Collection,
    raw: &str,
    password_text: &str,
) -> Result<String> {
    // Field by field, as PocketBase validates its form: the token's payload, then its
    // signature; a password with no record to check it against is refused with it.
    let mut errors = FieldErrors::new();
    let found = if raw.is_empty() {
        errors.insert("token".into(), FieldError::required().into());
        None
    } else if token::peek_text(raw, "newEmail").is_empty() {
        let e = FieldError::new(
            "validation_invalid_token_payload",
            "Invalid token payload - newEmail must be set.",
        );
        errors.insert("token".into(), e.into());
        None
    } else {
        let found = records::from_purpose_token(conn, c, raw, token::KIND_EMAIL_CHANGE)?;
        if found.is_none() {
            let e = FieldError::new("validation_invalid_token", "Invalid or expired token.");
            errors.insert("token".into(), e.into());
        }
        found
    };
    if password_text.is_empty() {
        errors.insert("password".into(), FieldError::required().into());
    } else if found.is_none() {
        let e = FieldError::new(
            "validation_invalid_password",
            "Missing or invalid auth record password.",
        );
        errors.insert("password".into(), e.into());
    }
    match found {
        Some((record, _)) if errors.is_empty() => Ok(password_hash(&record).to_owned()),
        _ => Err(Error::validation(errors)),
    }
}

/// Checks the record's password against its stored `hash` (slow: call it holding no
/// connection).
pub fn check_password(password_text: &str, hash: &str) -> Result<()> {
    if !password::verify(password_text, hash) {
        let mut errors = FieldErrors::new();
        errors.insert(
            "password".into(),
            FieldError::new(
                "validation_invalid_password",
                "Missing or invalid auth record password.",
            )
            .into(),
        );
        return Err(Error::validation(errors));
    }
    Ok(())
}

/// Moves the record to its new address, once its password was checked against `checked`
/// (see `check_password`), which must still be its password; rotates the tokenKey.
/// The account an email-change token is for and the address it changes to.
pub fn email_change_target(
    conn: &Connection,
    c: &Collection,
    raw: &str,
) -> Result<(Map<String, Value>, String)> {
    let (record, claims) = records::from_purpose_token(conn, c, raw, token::KIND_EMAIL_CHANGE)?
        .ok_or_else(invalid_token)?;
    let new_email = claims
        .new_email
        .filter(|e| !e.is_empty())
        .ok_or_else(invalid_token)?;
    Ok((record, new_email))
}

pub fn confirm_email_change(
    conn: &Connection,
    c: &Collection,
    raw: &str,
    checked: &str,
) -> Result<String> {
    let (record, claims) = records::from_purpose_token(conn, c, raw, token::KIND_EMAIL_CHANGE)?
        .ok_or_else(invalid_token)?;
    if password_hash(&record) != checked {
        return Err(invalid_token());
    }
    let new_email = claims
        .new_email
        .filter(|e| !e.is_empty())
        .ok_or_else(invalid_token)?;
    if find_by_email(conn, c, &new_email)?.is_some() {
        return Err(invalid_token());
    }
    let sql = format!(
        "UPDATE \"{}\" SET email = ?1, verified = TRUE, tokenKey = ?2, updated = ?3 WHERE id = ?4",
        c.name
    );
    conn.prepare_cached(&sql)?.execute((
        new_email,
        crate::ids::token_key(),
        crate::datetime::now(),
        id_of(&record),
    ))?;
    Ok(id_of(&record))
}
