//! Rows copied as PocketBase stored them, byte for byte, from the snapshots attached to
//! hearth's writer: every record of every collection (the system ones too: superusers with
//! their password hashes, `_externalAuths`, `_mfas`, `_otps`, `_authOrigins`), the app's
//! applied JS migrations, and the request logs.

use std::path::Path;

use rusqlite::Connection;

use super::collections::PbCollection;
use super::summary::{Carried, Summary};
use crate::db::Store;
use crate::error::Result;

/// Runs `f` on `store`'s writer with the file `path` attached as `pb`, in one transaction.
fn with_attached<T>(
    store: &Store,
    path: &Path,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    store.with_writer(|conn| {
        conn.execute(
            "ATTACH DATABASE ?1 AS pb",
            [path.to_string_lossy().as_ref()],
        )?;
        let out = (|| {
            let tx = conn.transaction()?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })();
        conn.execute("DETACH DATABASE pb", [])?;
        out
    })
}

fn columns(conn: &Connection, schema: &str, table: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1, ?2) ORDER BY cid")?;
    let names = stmt
        .query_map([table, schema], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(names)
}

fn quoted(names: &[&String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{}\"", n.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every record of every collection, each value as PocketBase stored it.
pub fn records(
    store: &Store,
    pb_data: &Path,
    collections: &[PbCollection],
    progress: &dyn Fn(&str),
    summary: &mut Summary,
) -> Result<()> {
    let carried = with_attached(store, pb_data, |tx| {
        let mut carried = Vec::new();
        let mut notes = Vec::new();
        for c in collections {
            if c.is_view() {
                carried.push(Carried {
                    name: c.name.clone(),
                    kind: c.kind.clone(),
                    records: 0,
                });
                continue;
            }
            progress(&format!("records of {}", c.name));
            let ours = columns(tx, "main", &c.name)?;
            let theirs = columns(tx, "pb", &c.name)?;
            let shared: Vec<&String> = theirs.iter().filter(|n| ours.contains(n)).collect();
            for lost in theirs.iter().filter(|n| !ours.contains(n)) {
                notes.push(format!(
                    "{}.{lost}: a column of PocketBase's table that no field defines; its values were not carried",
                    c.name
                ));
            }
            let list = quoted(&shared);
            let table = c.name.replace('"', "\"\"");
            let n = tx.execute(
                &format!(
                    "INSERT INTO main.\"{table}\" ({list}) SELECT {list} FROM pb.\"{table}\" ORDER BY rowid"
                ),
                [],
            )?;
            carried.push(Carried {
                name: c.name.clone(),
                kind: c.kind.clone(),
                records: n as u64,
            });
        }
        // Applied JS migrations (`pb_migrations`), so moving them into hearth's
        // --migrations-dir does not run them again; PocketBase's own (`*.go`) are not ours.
        let migrations = tx.execute(
            "INSERT OR IGNORE INTO main._migrations (file, applied)
             SELECT file, applied FROM pb._migrations WHERE file LIKE '%.js'",
            [],
        )?;
        Ok((carried, notes, migrations as u64))
    })?;
    let (carried, notes, migrations) = carried;
    summary.collections = carried;
    summary.notes.extend(notes);
    summary.app_migrations = migrations;
    Ok(())
}

/// The request logs, into hearth's auxiliary.db (the same `_logs` shape).
pub fn logs(aux: &Store, pb_aux: &Path, summary: &mut Summary) -> Result<()> {
    summary.logs = with_attached(aux, pb_aux, |tx| {
        let theirs = columns(tx, "pb", "_logs")?;
        if theirs.is_empty() {
            return Ok(0);
        }
        let ours = columns(tx, "main", "_logs")?;
        let shared: Vec<&String> = theirs.iter().filter(|n| ours.contains(n)).collect();
        let list = quoted(&shared);
        let n = tx.execute(
            &format!("INSERT INTO main._logs ({list}) SELECT {list} FROM pb._logs ORDER BY rowid"),
            [],
        )?;
        Ok(n as u64)
    })?;
    Ok(())
}
