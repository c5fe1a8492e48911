//! PocketBase's settings (`_params` row `settings`) carried into hearth's, which keep
//! PocketBase's shape: app name and URL, sender, SMTP, S3, backups, logs, rate limits,
//! trusted proxy, batch. Settings PocketBase stored encrypted (`--encryptionEnv NAME`:
//! AES-256-GCM, base64 of nonce and sealed JSON, tools/security/encrypt.go) are opened
//! with the key from the environment variable the import is given.

use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value};

use super::summary::Summary;
use crate::db::Store;
use crate::error::{Error, Result};

pub use crate::crypt::decrypt;

/// The settings document with the row's `created` and `updated`.
struct Stored {
    settings: Map<String, Value>,
    created: String,
    updated: String,
    /// PocketBase stored it encrypted.
    encrypted: bool,
}

/// The stored settings document, decrypted when needed; None when PocketBase stored none.
fn read(pb: &Connection, key: Option<&str>) -> Result<Option<Stored>> {
    let row: Option<(rusqlite::types::Value, String, String)> = pb
        .query_row(
            "SELECT value, created, updated FROM _params WHERE id = 'settings'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((value, created, updated)) = row else {
        return Ok(None);
    };
    let raw = match value {
        rusqlite::types::Value::Text(t) => t.into_bytes(),
        rusqlite::types::Value::Blob(b) => b,
        rusqlite::types::Value::Null => return Ok(None),
        _ => return Err(Error::internal("PocketBase's settings are not text")),
    };
    if let Ok(Value::Object(settings)) = serde_json::from_slice::<Value>(&raw) {
        return Ok(Some(Stored {
            settings,
            created,
            updated,
            encrypted: false,
        }));
    }
    let Some(key) = key else {
        return Err(Error::internal(
            "PocketBase's settings are encrypted (it ran with --encryptionEnv): run the import \
             with --encryption-env NAME, NAME being the environment variable that holds the key",
        ));
    };
    let text = String::from_utf8_lossy(&raw);
    let opened = decrypt(&text, key)?;
    match serde_json::from_slice::<Value>(&opened) {
        Ok(Value::Object(settings)) => Ok(Some(Stored {
            settings,
            created,
            updated,
            encrypted: true,
        })),
        _ => Err(Error::internal(
            "PocketBase's decrypted settings are not a JSON object",
        )),
    }
}

/// Writes PocketBase's settings as hearth's, and notes those hearth stores but does not act on.
pub fn carry(
    pb: &Connection,
    key: Option<&str>,
    store: &Store,
    summary: &mut Summary,
) -> Result<()> {
    let Some(Stored {
        settings,
        created,
        updated,
        encrypted,
    }) = read(pb, key)?
    else {
        return Ok(());
    };
    note_unused(&settings, encrypted, summary);
    let text = serde_json::to_string(&settings).map_err(Error::internal)?;
    store.write(|tx| {
        tx.execute(
            "INSERT INTO _params (id, value, created, updated) VALUES ('settings', ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET value = excluded.value,
                 created = excluded.created, updated = excluded.updated",
            (&text, &created, &updated),
        )?;
        // Loaded as a server loads them: a document hearth cannot read fails the import.
        crate::settings::load(tx)?;
        Ok(())
    })?;
    summary.settings = true;
    Ok(())
}

fn on(settings: &Map<String, Value>, path: &[&str]) -> bool {
    crate::settings::get(settings, path)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn note_unused(settings: &Map<String, Value>, encrypted: bool, summary: &mut Summary) {
    if encrypted {
        summary.note(
            "settings: PocketBase stored them encrypted; hearth stores them as plain JSON in \
             data.db (its SMTP password and S3 secrets included), so guard data.db and its backups",
        );
    }
    if on(settings, &["s3", "enabled"]) {
        summary.note(
            "settings.s3: PocketBase kept uploaded files in an S3 bucket; hearth serves files \
             from storage/ only, so copy the bucket's files into storage/ (same paths)",
        );
    }
    if on(settings, &["backups", "s3", "enabled"]) {
        summary.note(
            "settings.backups.s3: stored, but hearth writes backups to backups/ only (not to S3 yet)",
        );
    }
    if on(settings, &["rateLimits", "enabled"]) {
        summary.note(
            "settings.rateLimits: stored, but hearth limits sign-ins by its own \
             --auth-ip-limit/--auth-identity-limit flags, not by these rules",
        );
    }
    let listed = |path: &[&str]| {
        crate::settings::get(settings, path)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    };
    if listed(&["trustedProxy", "headers"]) {
        summary.note(
            "settings.trustedProxy: stored, but hearth does not read client addresses from proxy headers by it",
        );
    }
    if listed(&["superuserIPs"]) {
        summary.note(
            "settings.superuserIPs: stored, but hearth does not restrict superusers by address: \
             put that restriction in front of it",
        );
    }
}
