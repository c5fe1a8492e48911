//! The settings page: application name and URL, the mail sender, SMTP, where files are
//! stored (an S3 bucket), the rate-limit rules (with the sign-in flag limits they stand in
//! front of) and the trusted proxy. Saved through
//! the same code as `PATCH /api/settings`, so both validate alike.

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
    s3_enabled: bool,
    s3_bucket: String,
    s3_region: String,
    s3_endpoint: String,
    s3_access_key: String,
    /// True when a secret is stored (it is never shown).
    s3_secret_set: bool,
    s3_path_style: bool,
    /// Where uploads go now: the bucket's name, or None for `storage/`.
    files_bucket: Option<String>,
    ip_limit: u32,
    identity_limit: u32,
    limits_enabled: bool,
    /// Excluded addresses and subnets, comma-separated.
    limits_excluded: String,
    /// The rules, then one blank row to add another.
    rules: Vec<RuleRow>,
    /// Trusted proxy headers, comma-separated.
    proxy_headers: String,
    proxy_leftmost: bool,
    /// This request's client address as hearth sees it, and the connection's peer.
    client_ip: String,
    peer_ip: String,
    /// Errors by dotted path: `meta.appName`, `smtp.host`.
    errors: BTreeMap<String, String>,
    error: Option<String>,
}

/// One rule's row of inputs.
struct RuleRow {
    label: String,
    audience: String,
    duration: String,
    max_requests: String,
    /// Its errors, one line.
    error: String,
}

fn stored_rules(stored: &Map<String, Value>) -> Vec<RuleRow> {
    crate::ratelimit::RateLimits::from_settings(stored)
        .rules
        .into_iter()
        .map(|r| RuleRow {
            label: r.label,
            audience: r.audience,
            duration: r.duration.to_string(),
            max_requests: r.max_requests.to_string(),
            error: String::new(),
        })
        .collect()
}

/// The rule rows as posted, blank ones left out.
fn posted_rules(form: &Form) -> Vec<RuleRow> {
    let (labels, audiences) = (form.values("ruleLabel"), form.values("ruleAudience"));
    let (durations, maxes) = (form.values("ruleDuration"), form.values("ruleMax"));
    let cell = |cells: &[&str], i: usize| cells.get(i).map_or("", |c| c.trim()).to_owned();
    (0..labels.len())
        .map(|i| RuleRow {
            label: cell(&labels, i),
            audience: cell(&audiences, i),
            duration: cell(&durations, i),
            max_requests: cell(&maxes, i),
            error: String::new(),
        })
        .filter(|r| !(r.label.is_empty() && r.duration.is_empty() && r.max_requests.is_empty()))
        .collect()
}

/// A row's count as the JSON the settings take: blank is 0 (refused as blank), anything but
/// a whole number an error under `path`.
fn count(text: &str, path: String, errors: &mut BTreeMap<String, String>) -> i64 {
    if text.is_empty() {
        return 0;
    }
    text.parse().unwrap_or_else(|_| {
        errors.insert(path, "Must be a whole number.".to_owned());
        0
    })
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
    req: &HttpRequest,
    state: &AppState,
    stored: &Map<String, Value>,
    form: Option<&Form>,
    errors: BTreeMap<String, String>,
    error: Option<String>,
) -> SettingsPage {
    let mut rules = match form {
        Some(f) => posted_rules(f),
        None => stored_rules(stored),
    };
    for (i, rule) in rules.iter_mut().enumerate() {
        let prefix = format!("rateLimits.rules.{i}.");
        rule.error = errors
            .iter()
            .filter(|(path, _)| path.starts_with(&prefix))
            .map(|(path, message)| format!("{}: {message}", &path[prefix.len()..]))
            .collect::<Vec<_>>()
            .join(" ");
    }
    rules.push(RuleRow {
        label: String::new(),
        audience: String::new(),
        duration: String::new(),
        max_requests: String::new(),
        error: String::new(),
    });
    let limits = crate::ratelimit::RateLimits::from_settings(stored);
    let proxy = crate::client_ip::TrustedProxy::from_settings(stored);
    let shown =
        |ip: Option<std::net::IpAddr>| ip.map(crate::client_ip::expanded).unwrap_or_default();
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
        s3_enabled: tick("s3Enabled", "s3", "enabled"),
        s3_bucket: pick("s3Bucket", "s3", "bucket"),
        s3_region: pick("s3Region", "s3", "region"),
        s3_endpoint: pick("s3Endpoint", "s3", "endpoint"),
        s3_access_key: pick("s3AccessKey", "s3", "accessKey"),
        s3_secret_set: !text(stored, "s3", "secret").is_empty(),
        s3_path_style: tick("s3PathStyle", "s3", "forcePathStyle"),
        files_bucket: state.files.bucket().map(|b| b.config().bucket.clone()),
        ip_limit: state.config.auth_limits.per_ip_per_minute,
        identity_limit: state.config.auth_limits.per_identity_per_15_minutes,
        limits_enabled: form.map_or(limits.enabled, |f| f.checked("limitsEnabled")),
        limits_excluded: form.map_or_else(
            || limits.excluded_ips.join(", "),
            |f| f.get("limitsExcluded").to_owned(),
        ),
        rules,
        proxy_headers: form.map_or_else(
            || proxy.headers.join(", "),
            |f| f.get("proxyHeaders").to_owned(),
        ),
        proxy_leftmost: form.map_or(proxy.use_leftmost_ip, |f| f.checked("proxyLeftmost")),
        client_ip: shown(crate::http::client_ip(req)),
        peer_ip: shown(crate::http::peer_ip(req)),
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
    let view = page(chrome, &req, &state, &stored, None, BTreeMap::new(), None);
    super::html(&req, StatusCode::OK, &nonce, &view)
}

/// Every error by its dotted path (`meta.appName`, `rateLimits.rules.0.label`).
fn by_path(data: &FieldErrors) -> BTreeMap<String, String> {
    fn walk(prefix: &str, tree: &ErrorTree, out: &mut BTreeMap<String, String>) {
        match tree {
            ErrorTree::Leaf(e) => {
                out.insert(prefix.to_owned(), e.message.clone());
            }
            ErrorTree::Branch(children) => {
                for (key, child) in children {
                    walk(&format!("{prefix}.{key}"), child, out);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    for (group, tree) in data {
        walk(group, tree, &mut out);
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
    let rules: Vec<Value> = posted_rules(&form)
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let path = |key: &str| format!("rateLimits.rules.{i}.{key}");
            json!({
                "label": r.label,
                "audience": r.audience,
                "duration": count(&r.duration, path("duration"), &mut errors),
                "maxRequests": count(&r.max_requests, path("maxRequests"), &mut errors),
            })
        })
        .collect();
    let patch = json!({
        "rateLimits": {
            "enabled": form.checked("limitsEnabled"),
            "excludedIPs": super::form::list(form.get("limitsExcluded")),
            "rules": rules,
        },
        "trustedProxy": {
            "headers": super::form::list(form.get("proxyHeaders")),
            "useLeftmostIP": form.checked("proxyLeftmost"),
        },
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
        "s3": {
            "enabled": form.checked("s3Enabled"),
            "bucket": form.get("s3Bucket").trim(),
            "region": form.get("s3Region").trim(),
            "endpoint": form.get("s3Endpoint").trim(),
            "accessKey": form.get("s3AccessKey").trim(),
            // Blank keeps the stored secret.
            "secret": form.get("s3Secret"),
            "forcePathStyle": form.checked("s3PathStyle"),
        },
    });
    let result = if errors.is_empty() {
        let shared = state.clone();
        blocking(move || settings::update(&shared.db.data, patch))
            .await
            .inspect(|saved| state.follow_settings(saved, true))
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
            let view = page(
                chrome,
                &req,
                &state,
                &stored,
                Some(&form),
                errors,
                Some(message),
            );
            super::html(&req, StatusCode::BAD_REQUEST, &nonce, &view)
        }
        Err(e) => Err(e),
    }
}
