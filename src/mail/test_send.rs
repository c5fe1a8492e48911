//! The settings' test mail (`POST /api/settings/test/email`), as PocketBase's
//! `forms.TestEmailSend`: one of an auth collection's templates (`verification`,
//! `password-reset`, `email-change`, `otp`, `login-alert`) filled for a made-up record with
//! the given address. With SMTP configured it is sent while the request waits, so an SMTP
//! fault answers 400 with the server's words (and the mail is kept as `failed`); without,
//! it goes to the outbox like any other mail, where PocketBase would try `sendmail`.

use rusqlite::Connection;
use serde_json::{Map, Value, json};

use super::Mail;
use super::smtp::{Sender, SmtpConfig};
use crate::auth::{account, token};
use crate::db::Store;
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::schema::{Collection, Snapshot};

/// The request's body.
#[derive(Debug, Default, serde::Deserialize)]
pub struct TestEmail {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub template: String,
    /// An auth collection's name or id; `_superusers` when empty.
    #[serde(default)]
    pub collection: String,
}

const TEMPLATES: [&str; 5] = [
    "verification",
    "password-reset",
    "email-change",
    "otp",
    "login-alert",
];

/// PocketBase's message for a test mail that was not sent.
const FAILED: &str = "Failed to send the test email.";

fn length_out_of_range(min: usize, max: usize) -> FieldError {
    FieldError::new(
        "validation_length_out_of_range",
        &format!("The length must be between {min} and {max}."),
    )
    .with_params(json!({"min": min, "max": max}))
}

/// The form checked as PocketBase checks it; the auth collection the mail is for.
pub fn validate(schema: &Snapshot, form: &TestEmail) -> Result<std::sync::Arc<Collection>> {
    let mut errors = FieldErrors::new();
    let name = if form.collection.is_empty() {
        crate::auth::superusers::COLLECTION_NAME
    } else {
        &form.collection
    };
    let found = schema.find(name).filter(|c| c.is_auth());
    if form.collection.chars().count() > 255 {
        errors.insert("collection".into(), length_out_of_range(1, 255).into());
    } else if found.is_none() {
        errors.insert(
            "collection".into(),
            FieldError::new(
                "validation_invalid_auth_collection",
                "Must be a valid auth collection id or name.",
            )
            .into(),
        );
    }
    let email_error = if form.email.chars().count() > 255 {
        Some(length_out_of_range(1, 255))
    } else {
        crate::validate::email(&form.email)
    };
    if let Some(e) = email_error {
        errors.insert("email".into(), e.into());
    }
    if form.template.is_empty() {
        errors.insert("template".into(), FieldError::required().into());
    } else if !TEMPLATES.contains(&form.template.as_str()) {
        errors.insert(
            "template".into(),
            FieldError::new("validation_in_invalid", "Must be a valid value.").into(),
        );
    }
    match found {
        Some(c) if errors.is_empty() => Ok(c),
        _ => Err(Error::invalid(FAILED, errors)),
    }
}

/// A record of `c` that exists only for the test: each shown field holds
/// `__pb_test_<name>__`, with a fresh token key and the given address.
fn stand_in(c: &Collection, email: &str) -> Map<String, Value> {
    let mut record: Map<String, Value> = c
        .fields
        .iter()
        .filter(|f| !f.hidden)
        .map(|f| {
            (
                f.name.clone(),
                Value::String(format!("__pb_test_{}__", f.name)),
            )
        })
        .collect();
    record.insert("tokenKey".into(), Value::String(crate::ids::token_key()));
    record.insert("email".into(), Value::String(email.to_owned()));
    record
}

/// The test mail for `form` (validated) to `c`'s made-up record.
pub fn compose(conn: &Connection, c: &Collection, form: &TestEmail) -> Result<Mail> {
    let record = stand_in(c, &form.email);
    match form.template.as_str() {
        "verification" => account::link_mail(conn, c, &record, token::KIND_VERIFICATION, None),
        "password-reset" => account::link_mail(conn, c, &record, token::KIND_PASSWORD_RESET, None),
        "email-change" => account::link_mail(
            conn,
            c,
            &record,
            token::KIND_EMAIL_CHANGE,
            Some(&form.email),
        ),
        "otp" => account::notice_mail(
            conn,
            c,
            &record,
            "otp",
            &[("OTP", "123456"), ("OTP_ID", "_PB_TEST_OTP_ID_")],
        ),
        "login-alert" => {
            let info = format!("{} - TEST_IP TEST_USER_AGENT", crate::datetime::now());
            account::notice_mail(conn, c, &record, "authAlert", &[("ALERT_INFO", &info)])
        }
        other => Err(Error::bad_request(format!(
            "{FAILED} Raw error: \nunknown template {other}."
        ))),
    }
}

/// Sends `mail` over `smtp` now and keeps it in the outbox as `sent` or `failed`; without
/// SMTP, queues it (the mailer keeps it, as every mail). Blocks on the SMTP server: run it
/// off the request workers (`http::outbound`).
pub fn deliver(store: &Store, smtp: Option<&SmtpConfig>, mail: &Mail) -> Result<()> {
    let Some(cfg) = smtp else {
        store.write(|tx| super::queue(tx, mail))?;
        return Ok(());
    };
    let sent = Sender::new(cfg)
        .map_err(|e| e.to_string())
        .and_then(|sender| sender.send(&mail.to, &mail.subject, &mail.html));
    let (status, error) = match &sent {
        Ok(()) => ("sent", ""),
        Err(e) => ("failed", e.as_str()),
    };
    store.write(|tx| super::record(tx, mail, status, 1, error))?;
    sent.map_err(|e| {
        log::warn!("test mail to {} failed: {e}", mail.to);
        let e = e.trim_end_matches('.');
        Error::bad_request(format!("{FAILED} Raw error: \n{e}."))
    })
}
