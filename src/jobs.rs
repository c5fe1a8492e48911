//! The server's own scheduled jobs, in the `crons` registry under PocketBase's ids where
//! PocketBase has the same job (so `GET /api/crons` lists what PocketBase lists, and
//! `POST /api/crons/{id}` runs it): the daily checkpoint and `PRAGMA optimize`, request-log
//! pruning, and the removal of expired MFA sessions and one-time codes. The scheduled
//! backup (`__pbAutoBackup__`) is registered by `backups::schedule` as the settings ask.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::crons::{Owner, Work};
use crate::error::{Error, Result};
use crate::state::AppState;

/// A job's body.
type Job = fn(&AppState) -> Result<()>;

/// Registers every job; each holds the app weakly and does nothing once it is gone.
pub fn register(state: &Arc<AppState>) -> Result<()> {
    let jobs: [(&str, &str, Job); 4] = [
        ("__pbDBOptimize__", "0 0 * * *", optimize),
        ("__pbLogsCleanup__", "0 */6 * * *", prune_logs),
        ("__pbMFACleanup__", "0 * * * *", |s| {
            expired(s, "_mfas", "mfa")
        }),
        ("__pbOTPCleanup__", "0 * * * *", |s| {
            expired(s, "_otps", "otp")
        }),
    ];
    for (id, expression, job) in jobs {
        let app: Weak<AppState> = Arc::downgrade(state);
        let work: Work = Arc::new(move || match app.upgrade() {
            Some(state) => job(&state),
            None => Ok(()),
        });
        state.crons.add(id, expression, Owner::Server, work)?;
    }
    Ok(())
}

/// Both databases' WAL folded back, then SQLite's own statistics upkeep.
fn optimize(state: &AppState) -> Result<()> {
    state.db.data.checkpoint()?;
    state.db.aux.checkpoint()?;
    state.db.data.with_writer(|c| {
        c.execute_batch("PRAGMA optimize")?;
        Ok(())
    })
}

/// Request logs older than `logs.maxDays`.
fn prune_logs(state: &AppState) -> Result<()> {
    let settings = state.db.data.read_reserved(crate::settings::load)?;
    state.logs.configure(&settings);
    let days = state.logs.policy.max_days();
    if days == 0 {
        return Ok(());
    }
    let cutoff = crate::logs::cutoff(Duration::from_secs(u64::from(days) * 86_400));
    let n = crate::logs::prune(&state.db.aux, &cutoff)?;
    if n > 0 {
        log::info!("deleted {n} request log entries older than {days} days");
    }
    Ok(())
}

/// Rows of `table` (`_mfas`, `_otps`) older than their auth collection's `option.duration`.
fn expired(state: &AppState, table: &str, option: &str) -> Result<()> {
    let schema = state.schema.snapshot();
    let lifetimes: Vec<(String, i64)> = schema
        .all()
        .iter()
        .filter(|c| c.is_auth())
        .map(|c| {
            let seconds = c
                .options
                .get(option)
                .and_then(|o| o.get("duration"))
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(180);
            (c.id.clone(), seconds)
        })
        .collect();
    let removed = state.db.data.write(|conn| {
        let mut n = 0;
        for (collection, seconds) in &lifetimes {
            n += crate::auth::delete_expired(conn, table, collection, *seconds)?;
        }
        Ok(n)
    })?;
    if removed > 0 {
        log::info!("deleted {removed} expired rows of {table}");
    }
    Ok::<(), Error>(())
}
