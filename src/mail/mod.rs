//! Outgoing mail. Every message is written to the `_mails` outbox in the caller's
//! transaction, so it exists exactly when the change that caused it does. Without SMTP
//! settings a mail stays in the outbox as `kept` (and is logged, never its body: it holds
//! tokens); the admin UI lists the outbox.

pub mod smtp;
pub mod test_send;

use rusqlite::Connection;
use serde_json::Value;

use crate::error::Result;

/// The app identity mails are written in: the settings' `meta`.
#[derive(Debug, Clone)]
pub struct AppMeta {
    pub app_name: String,
    pub app_url: String,
}

impl AppMeta {
    pub fn load(conn: &Connection) -> Result<Self> {
        let settings = crate::settings::load(conn)?;
        let meta = settings.get("meta").cloned().unwrap_or(Value::Null);
        let text = |k: &str, default: &str| {
            meta.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or(default)
                .to_owned()
        };
        Ok(Self {
            app_name: text("appName", "Acme"),
            app_url: text("appURL", "http://localhost:8090"),
        })
    }
}

/// One message, before it is queued.
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub html: String,
    /// What it is for: `verification`, `passwordReset`, `emailChange`, `otp`.
    pub kind: String,
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Fills one of a collection's mail templates (`{subject, body}`, PocketBase's format):
/// `{APP_NAME}`, `{APP_URL}` and the given extra placeholders (`{TOKEN}`, `{OTP}`, ...).
pub fn from_template(
    template: Option<&Value>,
    meta: &AppMeta,
    extra: &[(&str, &str)],
    to: &str,
    kind: &str,
) -> Mail {
    let part = |k: &str| {
        template
            .and_then(|t| t.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let fill = |text: String, escape: bool| {
        let esc = |s: &str| if escape { escape_html(s) } else { s.to_owned() };
        let mut out = text
            .replace("{APP_NAME}", &esc(&meta.app_name))
            .replace("{APP_URL}", &esc(&meta.app_url));
        for (key, value) in extra {
            out = out.replace(&format!("{{{key}}}"), &esc(value));
        }
        out
    };
    Mail {
        to: to.to_owned(),
        subject: fill(part("subject"), false),
        html: fill(part("body"), true),
        kind: kind.to_owned(),
    }
}

/// Writes `mail` to the outbox as `pending`; the mailer thread delivers it (or, with no
/// SMTP configured, marks it `kept`).
pub fn queue(conn: &Connection, mail: &Mail) -> Result<String> {
    record(conn, mail, "pending", 0, "")
}

/// Writes `mail` to the outbox as already settled (`sent` or `failed` by the caller, with
/// the attempts made and the last error), for mail sent while its request waits.
pub fn record(
    conn: &Connection,
    mail: &Mail,
    status: &str,
    attempts: i64,
    error: &str,
) -> Result<String> {
    let id = crate::ids::record_id();
    let now = crate::datetime::now();
    conn.prepare_cached(
        "INSERT INTO _mails (id, recipient, subject, html, kind, status, attempts, error, created, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )?
    .execute((
        &id,
        &mail.to,
        &mail.subject,
        &mail.html,
        &mail.kind,
        status,
        attempts,
        error,
        &now,
    ))?;
    Ok(id)
}

/// A row of the outbox, newest first, for the admin UI and tests.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outboxed {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub html: String,
    pub kind: String,
    pub status: String,
    pub created: String,
}

pub fn outbox(conn: &Connection, limit: u32) -> Result<Vec<Outboxed>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, recipient, subject, html, kind, status, created FROM _mails ORDER BY created DESC, rowid DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok(Outboxed {
            id: r.get(0)?,
            recipient: r.get(1)?,
            subject: r.get(2)?,
            html: r.get(3)?,
            kind: r.get(4)?,
            status: r.get(5)?,
            created: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
