//! The settings page: application name and URL, the mail sender, SMTP, and the rate limits in
//! force. Saved through the same code as `PATCH /api/settings`, so both validate alike.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::{Map, Value, json};

use super::form::{Form, FormBody};
use super::{Admin, Chrome, flash};
use crate::error::{Error, ErrorTree, FieldErrors, Result};
use crate::http::blocking;
use crate::settings;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings", web::get().to(show))
        .route("/settings", web::post().to(save));
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    app_name: String,
    app_url: String,
    sender_name: String,
    sender_address: String,
    smtp_enabled: bool,
    smtp_host: String,
    smtp_port: String,
    smtp_username: String,
    /// True when a password is stored (it is never shown).
    smtp_password_set: bool,
    smtp_tls: bool,
    ip_limit: u32,
    identity_limit: u32,
    /// Errors by dotted path: `meta.appName`, `smtp.host`.
    errors: BTreeMap<String, String>,
    error: Option<String>,
}

fn text(map: &Map<String, Value>, group: &str, key: &str) -> String {
    match map.get(group).and_then(|g| g.get(key)) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn flag(map: &Map<String, Value>, group: &str, key: &str) -> bool {
    map.get(group)
        .and_then(|g| g.get(key))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn page(
    chrome: Chrome,
    state: &AppState,
    stored: &Map<String, Value>,
    form: Option<&Form>,
    errors: BTreeMap<String, String>,
    error: Option<String>,
) -> SettingsPage {
    let pick = |name: &str, group: &str, key: &str| match form {
        Some(f) => f.get(name).to_owned(),
        None => text(stored, group, key),
    };
    let tick = |name: &str, group: &str, key: &str| match form {
        Some(f) => f.checked(name),
        None => flag(stored, group, key),
    };
    SettingsPage {
        chrome,
        app_name: pick("appName", "meta", "appName"),
        app_url: pick("appURL", "meta", "appURL"),
        sender_name: pick("senderName", "meta", "senderName"),
        sender_address: pick("senderAddress", "meta", "senderAddress"),
        smtp_enabled: tick("smtpEnabled", "smtp", "enabled"),
        smtp_host: pick("smtpHost", "smtp", "host"),
        smtp_port: pick("smtpPort", "smtp", "port"),
        smtp_username: pick("smtpUsername", "smtp", "username"),
        smtp_password_set: !text(stored, "smtp", "password").is_empty(),
        smtp_tls: tick("smtpTls", "smtp", "tls"),
        ip_limit: state.config.auth_limits.per_ip_per_minute,
        identity_limit: state.config.auth_limits.per_identity_per_15_minutes,
        errors,
        error,
    }
}

async fn stored(state: &web::Data<AppState>) -> Result<Map<String, Value>> {
    let shared = state.clone();
    blocking(move || shared.db.data.read(settings::load)).await
}

async fn show(req: HttpRequest, state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse> {
    let stored = stored(&state).await?;
    let (chrome, nonce) = Chrome::page(&req, &state, &admin, "Settings", "settings");
    let view = page(chrome, &state, &stored, None, BTreeMap::new(), None);
    super::html(&req, StatusCode::OK, &nonce, &view)
}

/// Errors under `meta`/`smtp` by their dotted path.
fn by_path(data: &FieldErrors) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (group, tree) in data {
        match tree {
            ErrorTree::Branch(children) => {
                for (key, child) in children {
                    if let ErrorTree::Leaf(e) = child {
                        out.insert(format!("{group}.{key}"), e.message.clone());
                    }
                }
            }
            ErrorTree::Leaf(e) => {
                out.insert(group.clone(), e.message.clone());
            }
        }
    }
    out
}

async fn save(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    body: FormBody,
) -> Result<HttpResponse> {
    let form = Form::from(body);
    if !super::csrf_ok(&req, &state, form.csrf()) {
        return super::csrf_failed(&req, &state, &admin);
    }
    let port = form.get("smtpPort").trim();
    let port = if port.is_empty() {
        Ok(0)
    } else {
        port.parse::<u16>()
    };
    let mut errors = BTreeMap::new();
    if port.is_err() {
        errors.insert(
            "smtp.port".to_owned(),
            "Must be a port number (1–65535).".to_owned(),
        );
    }
    let patch = json!({
        "meta": {
            "appName": form.get("appName").trim(),
            "appURL": form.get("appURL").trim(),
            "senderName": form.get("senderName").trim(),
            "senderAddress": form.get("senderAddress").trim(),
        },
        "smtp": {
            "enabled": form.checked("smtpEnabled"),
            "host": form.get("smtpHost").trim(),
            "port": port.unwrap_or(0),
            "username": form.get("smtpUsername").trim(),
            // Blank keeps the stored password.
            "password": form.get("smtpPassword"),
            "tls": form.checked("smtpTls"),
        },
    });
    let result = if errors.is_empty() {
        let shared = state.clone();
        blocking(move || settings::update(&shared.db.data, patch))
            .await
            .inspect(|saved| {
                if let Some(saved) = saved.as_object() {
                    state.logs.configure(saved);
                }
            })
    } else {
        Err(Error::invalid(
            "An error occurred while saving the new settings.",
            FieldErrors::new(),
        ))
    };
    match result {
        Ok(_) => Ok(flash::redirect(&req, "/_/settings", "Settings saved.")),
        Err(Error::BadRequest { message, data }) => {
            errors.extend(by_path(&data));
            let stored = stored(&state).await?;
            let (chrome, nonce) = Chrome::page(&req, &state, &admin, "Settings", "settings");
            let view = page(chrome, &state, &stored, Some(&form), errors, Some(message));
            super::html(&req, StatusCode::BAD_REQUEST, &nonce, &view)
        }
        Err(e) => Err(e),
    }
}
