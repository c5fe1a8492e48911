//! Multi-factor sign-in (an auth collection's `mfa`): a first factor that succeeds for a
//! record the MFA rule picks answers an `mfaId` instead of a token, remembered in `_mfas`
//! for `mfa.duration` seconds; a sign-in with another method (`password`, `otp`, `oauth2`)
//! that brings that `mfaId` completes it. As PocketBase's `checkMFA`.

use std::sync::Arc;

use rusqlite::OptionalExtension;
use serde_json::Value;

use crate::db::Store;
use crate::error::{Error, Result};
use crate::records::{Ctx, satisfies};
use crate::schema::Collection;

/// What a sign-in that succeeded must do next.
#[derive(Debug, PartialEq)]
pub enum Next {
    /// Answer with the token.
    SignIn,
    /// Answer 401 with this `mfaId`: a second factor is needed.
    SecondFactor(String),
}

fn option(c: &Collection, key: &str) -> Value {
    c.options
        .get("mfa")
        .and_then(|m| m.get(key))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Whether `c`'s MFA can ask anything of a sign-in by `method`: on, and a first factor (a
/// refresh, method "", never is). Needs no database, so callers skip `check` otherwise.
pub fn applies(c: &Collection, method: &str) -> bool {
    option(c, "enabled").as_bool() == Some(true) && !method.is_empty()
}

/// For record `id` of `c` signed in with `method` (empty: a refresh, never asked for a
/// second factor), bringing `mfa_id` (empty: none). `ctx` is the request's, which the MFA
/// rule is judged with.
pub fn check(
    store: &Store,
    c: &Arc<Collection>,
    id: &str,
    method: &str,
    mfa_id: &str,
    ctx: &Ctx,
) -> Result<Next> {
    if !applies(c, method) {
        return Ok(Next::SignIn);
    }
    let rule = option(c, "rule").as_str().unwrap_or_default().to_owned();
    if !rule.is_empty() {
        // A rule that cannot be judged asks for MFA, and fails as PocketBase fails.
        let picked = store
            .read(|conn| satisfies(conn, c, &Some(rule), ctx, id))
            .map_err(|_| Error::bad_request("Failed to authenticate."))?;
        if !picked {
            return Ok(Next::SignIn);
        }
    }
    if mfa_id.is_empty() {
        let mfa = crate::ids::record_id();
        let now = crate::datetime::now();
        let duration = option(c, "duration").as_i64().unwrap_or(0);
        store.write(|conn| {
            // The collection's expired sessions go as new ones come: none outlives its use.
            super::delete_expired(conn, "_mfas", &c.id, duration)?;
            conn.prepare_cached(
                "INSERT INTO _mfas (id, collectionRef, recordRef, method, created, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?
            .execute((&mfa, &c.id, id, method, &now))?;
            Ok(())
        })?;
        return Ok(Next::SecondFactor(mfa));
    }
    let duration = option(c, "duration").as_i64().unwrap_or(0);
    let found: Option<(String, String, String, i64)> = store.read(|conn| {
        Ok(conn
            .prepare_cached(
                "SELECT collectionRef, recordRef, method,
                        CAST(strftime('%s', 'now') AS INTEGER) - CAST(strftime('%s', created) AS INTEGER)
                 FROM _mfas WHERE id = ?1",
            )?
            .query_row([mfa_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?)
    })?;
    let forget = || {
        store.write(|conn| {
            conn.prepare_cached("DELETE FROM _mfas WHERE id = ?1")?
                .execute([mfa_id])?;
            Ok(())
        })
    };
    let Some((collection, record, first, age)) = found else {
        return Err(Error::bad_request("Invalid or expired MFA session."));
    };
    if age > duration {
        forget()?;
        return Err(Error::bad_request("Invalid or expired MFA session."));
    }
    if record != id || collection != c.id {
        return Err(Error::bad_request("Invalid MFA session."));
    }
    if first == method {
        return Err(Error::bad_request(
            "A different authentication method is required.",
        ));
    }
    forget()?;
    Ok(Next::SignIn)
}
