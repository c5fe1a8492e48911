//! JS migrations (PocketBase's `pb_migrations`): each `*.js` file of `--migrations-dir`
//! calls `migrate(up, down)`. Pending ones are applied in name order at start and by
//! `hearth migrate up`, all in one write transaction as PocketBase applies them (one that
//! fails leaves none applied), each recorded in `_migrations` under its file name beside
//! the system migrations; `hearth migrate down N` reverts the newest N. `up(app)` gets
//! `$app` working in that transaction: collections saved and deleted, records written,
//! `db().newQuery(...)` run, all seen by the migrations after it.

use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use serde_json::json;

use super::Server;
use super::bridge::ExecutorHost;
use super::lent;
use super::records::InTx;
use super::records::failure_error;
use super::registry::Registry;
use super::runtime::{Js, call_in};
use crate::error::{Error, Result};

/// How long one run of migrations may take at most (a runaway loop in one stops there).
const BUDGET: Duration = Duration::from_secs(600);

/// A migration file and whether (when, unix microseconds) it is applied.
pub struct Status {
    pub name: String,
    pub applied: Option<i64>,
}

/// The migrations' files, in name order; none when the folder does not exist.
fn files(dir: &Path) -> Result<Vec<super::loader::Source>> {
    Ok(super::loader::sources(dir)?
        .into_iter()
        .filter(|f| !f.name.ends_with(".pb.js"))
        .collect())
}

/// The JS migrations recorded as applied, with when.
fn applied(state: &dyn Server) -> Result<Vec<(String, i64)>> {
    state.data().read(|conn| {
        let mut stmt = conn.prepare(
            "SELECT file, applied FROM _migrations WHERE file LIKE '%.js' ORDER BY file",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    })
}

pub fn status(state: &dyn Server) -> Result<Vec<Status>> {
    let done = applied(state)?;
    let mut out: Vec<Status> = files(&state.hooks().options.migrations)?
        .into_iter()
        .map(|f| Status {
            applied: done.iter().find(|(n, _)| *n == f.name).map(|(_, at)| *at),
            name: f.name,
        })
        .collect();
    // Applied, but their files are gone.
    let gone: Vec<Status> = done
        .iter()
        .filter(|(n, _)| !out.iter().any(|s| s.name == *n))
        .map(|(name, at)| Status {
            name: name.clone(),
            applied: Some(*at),
        })
        .collect();
    out.extend(gone);
    Ok(out)
}

/// Applies the pending migrations; answers their names.
pub fn up<S: Server + 'static>(state: &Arc<S>) -> Result<Vec<String>> {
    let done = applied(&**state)?;
    let pending: Vec<String> = files(&state.hooks().options.migrations)?
        .into_iter()
        .map(|f| f.name)
        .filter(|n| !done.iter().any(|(d, _)| d == n))
        .collect();
    run(state, &pending, "up")?;
    Ok(pending)
}

/// Reverts the newest `n` applied migrations; answers their names, newest first.
pub fn down<S: Server + 'static>(state: &Arc<S>, n: usize) -> Result<Vec<String>> {
    let mut done = applied(&**state)?;
    done.sort_by(|a, b| (b.1, &b.0).cmp(&(a.1, &a.0)));
    let newest: Vec<String> = done.into_iter().take(n).map(|(name, _)| name).collect();
    run(state, &newest, "down")?;
    Ok(newest)
}

/// Runs `direction` of each named migration, in order, in one transaction, and records it.
fn run<S: Server + 'static>(state: &Arc<S>, names: &[String], direction: &str) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let dir = &state.hooks().options.migrations;
    let sources = files(dir)?;
    let app: super::bridge::AppHandle = Arc::new(OnceLock::new());
    let server: Weak<S> = Arc::downgrade(state);
    let _ = app.set(server);
    let host = ExecutorHost {
        dir: state.hooks().options.dir.clone(),
        app,
        registry: Arc::new(Registry::default()),
    };
    let js = Js::new(
        state.hooks().options.limits.memory.max(256 << 20),
        Rc::new(host),
        dir,
    )?;
    for name in names {
        let source = sources.iter().find(|f| f.name == *name).ok_or_else(|| {
            Error::internal(format!(
                "cannot revert {name}: it is not in {}",
                dir.display()
            ))
        })?;
        js.run_file(&source.name, &source.text, BUDGET)
            .map_err(|e| Error::internal(format!("{}: {}", source.name, e.describe())))?;
    }
    let ran = js.enter(BUDGET, |ctx| {
        state
            .records_with(&crate::records::write::NoHooks)
            .run(|tx| {
                for name in names {
                    {
                        let mut frame = InTx { tx: &mut *tx };
                        lent::lend(&mut frame, |_| {
                            let input = json!({ "file": name, "direction": direction }).to_string();
                            call_in(ctx, "__migrate", &[&input], true)
                                .map_err(|f| failure_error(f, "Failed to apply migration."))
                        })
                        .map_err(|e| {
                            Error::internal(format!("migration {name} failed: {}", described(&e)))
                        })?;
                    }
                    if direction == "down" {
                        tx.conn()
                            .execute("DELETE FROM _migrations WHERE file = ?1", [name])?;
                    } else {
                        tx.conn().execute(
                            "INSERT INTO _migrations (file, applied) VALUES (?1, ?2)",
                            (name, crate::datetime::unix_micros()),
                        )?;
                    }
                }
                Ok(())
            })
    });
    let outcome = ran.map_err(|f| Error::internal(format!("migrations: {}", f.describe())))?;
    // Whatever the migrations changed in the schema is in service from now on.
    state.data().read(|c| state.schema().reload(c))?;
    outcome
}

/// An error as the log should tell it: its message and field errors.
fn described(e: &Error) -> String {
    let body = e.body();
    match body["data"].as_object() {
        Some(data) if !data.is_empty() => format!("{} {}", body["message"], body["data"]),
        _ => e.to_string(),
    }
}
