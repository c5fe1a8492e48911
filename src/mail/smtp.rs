//! Delivery of outbox mails over SMTP (lettre), with retries: a failed attempt is tried
//! again after 2^attempts seconds, up to `MAX_ATTEMPTS`, then marked `failed`.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use serde_json::{Map, Value};

use crate::db::Store;
use crate::error::{Error, Result};
use crate::settings;

pub const MAX_ATTEMPTS: i64 = 5;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Security {
    /// Plain text: only for a relay on the same machine or network.
    None,
    /// STARTTLS upgrade (usually port 587), required.
    Starttls,
    /// STARTTLS when the server offers it, plain otherwise (PocketBase's `tls: false`).
    Opportunistic,
    /// TLS from the start (usually port 465).
    Tls,
}

#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    pub security: Security,
    /// `Name <address>` the mails come from.
    pub from: String,
}

impl SmtpConfig {
    /// Everything that makes a connection differ, to notice a change (never logged).
    pub fn identity(&self) -> String {
        format!(
            "{}|{}|{}|{}|{:?}|{}",
            self.host, self.port, self.username, self.password, self.security, self.from
        )
    }
}

/// Never prints the password, so a logged config leaks nothing.
impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("security", &self.security)
            .field("from", &self.from)
            .finish()
    }
}

pub struct Sender {
    transport: SmtpTransport,
    from: Mailbox,
}

impl Sender {
    pub fn new(cfg: &SmtpConfig) -> Result<Self> {
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned())
                .map_err(|e| Error::internal(format!("SMTP TLS: {e}")))
        };
        let mut builder = SmtpTransport::builder_dangerous(&cfg.host).port(cfg.port);
        builder = match cfg.security {
            Security::None => builder.tls(Tls::None),
            Security::Starttls => builder.tls(Tls::Required(tls(&cfg.host)?)),
            Security::Opportunistic => builder.tls(Tls::Opportunistic(tls(&cfg.host)?)),
            Security::Tls => builder.tls(Tls::Wrapper(tls(&cfg.host)?)),
        };
        if !cfg.username.is_empty() {
            builder =
                builder.credentials(Credentials::new(cfg.username.clone(), cfg.password.clone()));
        }
        let transport = builder.timeout(Some(Duration::from_secs(15))).build();
        let from = cfg
            .from
            .parse()
            .map_err(|e| Error::internal(format!("invalid mail sender {:?}: {e}", cfg.from)))?;
        Ok(Self { transport, from })
    }

    /// Sends one message now; the error as the SMTP client words it.
    pub fn send(&self, to: &str, subject: &str, html: &str) -> std::result::Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("invalid recipient: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_HTML)
            .body(html.to_owned())
            .map_err(|e| e.to_string())?;
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

struct Due {
    id: String,
    recipient: String,
    subject: String,
    html: String,
    attempts: i64,
}

/// Sends (or, with no SMTP configured, keeps) every pending mail whose retry time has
/// come. Returns how many were settled.
pub fn deliver_pending(store: &Store, sender: Option<&Sender>) -> Result<usize> {
    let now = crate::datetime::unix_seconds();
    let due: Vec<Due> = store.read_reserved(|c| {
        let mut stmt = c.prepare_cached(
            "SELECT id, recipient, subject, html, attempts, CAST(strftime('%s', updated) AS INTEGER)
             FROM _mails WHERE status = 'pending' ORDER BY created LIMIT 20",
        )?;
        let rows = stmt.query_map([], |r| {
            let due = Due {
                id: r.get(0)?,
                recipient: r.get(1)?,
                subject: r.get(2)?,
                html: r.get(3)?,
                attempts: r.get(4)?,
            };
            let updated: i64 = r.get(5)?;
            Ok((due, updated))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (due, updated) = row?;
            if due.attempts == 0 || updated + (1i64 << due.attempts.min(10)) <= now {
                out.push(due);
            }
        }
        Ok(out)
    })?;
    for mail in &due {
        let (status, attempts, error) = match sender {
            None => {
                log::info!(
                    "mail {} to {} kept in the outbox: SMTP is not configured",
                    mail.id,
                    mail.recipient
                );
                ("kept", mail.attempts, String::new())
            }
            Some(s) => match s.send(&mail.recipient, &mail.subject, &mail.html) {
                Ok(()) => ("sent", mail.attempts + 1, String::new()),
                Err(e) => {
                    let attempts = mail.attempts + 1;
                    let status = if attempts >= MAX_ATTEMPTS {
                        "failed"
                    } else {
                        "pending"
                    };
                    log::warn!(
                        "mail {} to {}: attempt {attempts} failed: {e}",
                        mail.id,
                        mail.recipient
                    );
                    (status, attempts, e)
                }
            },
        };
        store.write(|tx| {
            tx.prepare_cached("UPDATE _mails SET status = ?1, attempts = ?2, error = ?3, updated = ?4 WHERE id = ?5")?
                .execute((status, attempts, error, crate::datetime::now(), &mail.id))?;
            Ok(())
        })?;
    }
    Ok(due.len())
}

/// The SMTP server the settings enable, if any. `tls: true` is TLS from the start,
/// otherwise STARTTLS is used when the server offers it.
pub fn from_settings(settings: &Map<String, Value>) -> Option<SmtpConfig> {
    if !settings::get(settings, &["smtp", "enabled"])
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return None;
    }
    let tls = settings::get(settings, &["smtp", "tls"])
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let name = settings::text(settings, &["meta", "senderName"]);
    let address = settings::text(settings, &["meta", "senderAddress"]);
    Some(SmtpConfig {
        host: settings::text(settings, &["smtp", "host"]).to_owned(),
        port: settings::get(settings, &["smtp", "port"])
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(587),
        username: settings::text(settings, &["smtp", "username"]).to_owned(),
        password: settings::text(settings, &["smtp", "password"]).to_owned(),
        security: if tls {
            Security::Tls
        } else {
            Security::Opportunistic
        },
        from: format!("{name} <{address}>"),
    })
}
