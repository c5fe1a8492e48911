//! Application settings (`/api/settings`), stored as one JSON document in `_params` under
//! `settings`, shaped and defaulted like PocketBase's. Secrets (SMTP password, S3 keys)
//! are stored but never returned.

use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value};

use crate::db::Store;
use crate::error::{Error, FieldError, FieldErrors, Result};

static DEFAULTS: LazyLock<Map<String, Value>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("settings_defaults.json")).unwrap_or_default()
});

/// Paths of the secrets that GET never shows and a PATCH leaves unchanged when blank.
const SECRETS: [&[&str]; 3] = [
    &["smtp", "password"],
    &["s3", "secret"],
    &["backups", "s3", "secret"],
];

/// The server's own secret (`_params.hearthSecret`, made by the first migration), which
/// signs CSRF tokens: a data.db without one cannot be served.
pub fn server_secret(conn: &Connection) -> Result<String> {
    let secret: Option<String> = conn
        .query_row(
            "SELECT json_extract(value, '$') FROM _params WHERE id = 'hearthSecret'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    secret
        .filter(|s| s.len() >= 32)
        .ok_or_else(|| Error::internal("data.db has no server secret (_params.hearthSecret)"))
}

/// The stored settings over the defaults, secrets included.
pub fn load(conn: &Connection) -> Result<Map<String, Value>> {
    let stored: Option<String> = conn
        .prepare_cached("SELECT value FROM _params WHERE id = 'settings'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    let mut settings = DEFAULTS.clone();
    if let Some(text) = stored {
        crate::json::merge(&mut settings, open(conn, &text)?);
    }
    Ok(settings)
}

/// The stored document: JSON, or sealed with the database's key (`crypt`). Sealed settings
/// without their key are an error, never a reset to the defaults.
fn open(conn: &Connection, text: &str) -> Result<Map<String, Value>> {
    if let Ok(Value::Object(saved)) = serde_json::from_str(text) {
        return Ok(saved);
    }
    if text.trim_start().starts_with('{') {
        // Unreadable JSON was ignored before encryption existed; keep that.
        return Ok(Map::new());
    }
    let key = crate::crypt::key_for(conn.path()).ok_or_else(|| {
        Error::internal(
            "the settings are encrypted: start with --encryption-env NAME, NAME being the \
             environment variable that holds their key",
        )
    })?;
    match serde_json::from_slice(&crate::crypt::decrypt(text, &key)?) {
        Ok(Value::Object(saved)) => Ok(saved),
        _ => Err(Error::internal(
            "the decrypted settings are not a JSON object",
        )),
    }
}

/// The document as stored: sealed when the database has a key.
fn sealed(conn: &Connection, settings: &Map<String, Value>) -> Result<String> {
    let text = serde_json::to_string(settings).map_err(Error::internal)?;
    match crate::crypt::key_for(conn.path()) {
        Some(key) => crate::crypt::encrypt(text.as_bytes(), &key),
        None => Ok(text),
    }
}

/// Stores the settings again, sealed when the database has a key (a start with
/// `--encryption-env` seals settings written in the clear before).
pub fn reseal(store: &Store) -> Result<()> {
    store.write(|tx| {
        let stored: Option<String> = tx
            .prepare_cached("SELECT value FROM _params WHERE id = 'settings'")?
            .query_row([], |r| r.get(0))
            .optional()?;
        let Some(text) = stored else {
            return Ok(());
        };
        let plain = serde_json::from_str::<Value>(&text).is_ok_and(|v| v.is_object());
        if !plain || crate::crypt::key_for(tx.path()).is_none() {
            return Ok(());
        }
        let value = sealed(tx, &open(tx, &text)?)?;
        tx.prepare_cached("UPDATE _params SET value = ?1 WHERE id = 'settings'")?
            .execute([value])?;
        Ok(())
    })
}

fn take(map: &mut Map<String, Value>, path: &[&str]) -> Option<Value> {
    let (last, parents) = path.split_last()?;
    let mut node = map;
    for p in parents {
        node = node.get_mut(*p)?.as_object_mut()?;
    }
    node.remove(*last)
}

/// The value at `path` in the settings document, if any.
pub fn get<'a>(map: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter().try_fold(map.get(*first)?, |v, p| v.get(*p))
}

/// What `GET /api/settings` shows: everything but the secrets.
pub fn public(mut settings: Map<String, Value>) -> Value {
    for path in SECRETS {
        take(&mut settings, path);
    }
    Value::Object(settings)
}

/// The string at `path` in the settings document ("" when missing or not a string).
pub fn text<'a>(settings: &'a Map<String, Value>, path: &[&str]) -> &'a str {
    get(settings, path)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn validate(settings: &Map<String, Value>) -> FieldErrors {
    let mut meta = FieldErrors::new();
    for key in ["appName", "appURL", "senderName", "senderAddress"] {
        if text(settings, &["meta", key]).trim().is_empty() {
            meta.insert(key.into(), FieldError::required().into());
        }
    }
    let sender = text(settings, &["meta", "senderAddress"]);
    if !sender.is_empty()
        && let Some(e) = crate::validate::email(sender)
    {
        meta.insert("senderAddress".into(), e.into());
    }
    let url = text(settings, &["meta", "appURL"]);
    if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
        meta.insert(
            "appURL".into(),
            FieldError::new("validation_is_url", "Must be a valid URL.").into(),
        );
    }
    let mut smtp = FieldErrors::new();
    if get(settings, &["smtp", "enabled"])
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        if text(settings, &["smtp", "host"]).trim().is_empty() {
            smtp.insert("host".into(), FieldError::required().into());
        }
        let port = get(settings, &["smtp", "port"])
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if port == 0 || port > 65535 {
            smtp.insert("port".into(), FieldError::required().into());
        }
    }
    let mut backups = FieldErrors::new();
    let cron = text(settings, &["backups", "cron"]);
    if !cron.is_empty() {
        if let Err(e) = crate::crons::parse(cron) {
            backups.insert(
                "cron".into(),
                FieldError::new("validation_invalid_cron", &e.to_string()).into(),
            );
        }
        let keep = get(settings, &["backups", "cronMaxKeep"]).and_then(Value::as_i64);
        if keep.is_none_or(|k| k < 1) {
            backups.insert(
                "cronMaxKeep".into(),
                FieldError::new(
                    "validation_min_greater_equal_than_required",
                    "Must be no less than 1.",
                )
                .into(),
            );
        }
    }
    let mut errors = FieldErrors::new();
    let limits =
        crate::ratelimit::rules::validate(&crate::ratelimit::RateLimits::from_settings(settings));
    if !limits.is_empty() {
        errors.insert("rateLimits".into(), limits.into());
    }
    if !backups.is_empty() {
        errors.insert("backups".into(), backups.into());
    }
    if !meta.is_empty() {
        errors.insert("meta".into(), meta.into());
    }
    if !smtp.is_empty() {
        errors.insert("smtp".into(), smtp.into());
    }
    errors
}

/// Merges `patch` into the stored settings, validates and saves them; answers the whole settings,
/// secrets included (for the services that follow them: answer callers with `public`).
pub fn update(store: &Store, patch: Value) -> Result<Map<String, Value>> {
    let Value::Object(mut patch) = patch else {
        return Err(Error::invalid_body());
    };
    crate::ratelimit::rules::bind(&mut patch).map_err(|_| Error::invalid_body())?;
    store.write(|tx| {
        let mut settings = load(tx)?;
        // A blank secret in a PATCH means "keep the stored one" (GET never shows it).
        for path in SECRETS {
            if get(&patch, path)
                .and_then(Value::as_str)
                .is_some_and(str::is_empty)
            {
                take(&mut patch, path);
            }
        }
        crate::json::merge(&mut settings, patch);
        let errors = validate(&settings);
        if !errors.is_empty() {
            return Err(Error::invalid(
                "An error occurred while saving the new settings.",
                errors,
            ));
        }
        save(tx, &settings)?;
        Ok(settings)
    })
}

fn save(tx: &Connection, settings: &Map<String, Value>) -> Result<()> {
    let text = sealed(tx, settings)?;
    tx.prepare_cached(
        "INSERT INTO _params (id, value, created, updated) VALUES ('settings', ?1, ?2, ?2)
         ON CONFLICT (id) DO UPDATE SET value = excluded.value, updated = excluded.updated",
    )?
    .execute((text, crate::datetime::now()))?;
    Ok(())
}

/// After collection `old` was renamed `new` (in the same transaction `tx`): rate-limit
/// rules labelled `old:action` become `new:action`, as PocketBase renames them. True when
/// a rule changed.
pub fn rename_rate_limit_labels(tx: &Connection, old: &str, new: &str) -> Result<bool> {
    let mut settings = load(tx)?;
    let prefix = format!("{old}:");
    let Some(rules) = settings
        .get_mut("rateLimits")
        .and_then(|r| r.get_mut("rules"))
        .and_then(Value::as_array_mut)
    else {
        return Ok(false);
    };
    let mut changed = false;
    for rule in rules.iter_mut() {
        let renamed = rule
            .get("label")
            .and_then(Value::as_str)
            .and_then(|label| label.strip_prefix(&prefix))
            .map(|action| format!("{new}:{action}"));
        if let (Some(label), Some(fields)) = (renamed, rule.as_object_mut()) {
            fields.insert("label".into(), Value::String(label));
            changed = true;
        }
    }
    if changed {
        save(tx, &settings)?;
    }
    Ok(changed)
}
