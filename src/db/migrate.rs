//! Versioned system schema. Each `migrations/NNNN_name.sql` file (and, for auxiliary.db,
//! `migrations/auxiliary/`) is embedded in the binary; its text above the line
//! `-- migrate:down` is the upgrade, below it the downgrade. Each runs in its own
//! transaction and is recorded in `_migrations`, like PocketBase's table of the same name.

use rust_embed::RustEmbed;

use super::Store;
use crate::error::{Error, Result};

#[derive(RustEmbed)]
#[folder = "migrations/"]
#[include = "*.sql"]
#[exclude = "auxiliary/*"]
struct DataFiles;

#[derive(RustEmbed)]
#[folder = "migrations/auxiliary/"]
#[include = "*.sql"]
struct AuxiliaryFiles;

const DOWN_MARKER: &str = "-- migrate:down";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    Data,
    Auxiliary,
}

pub struct Migration {
    pub name: String,
    up: String,
    down: String,
}

/// A migration and when it was applied (unix microseconds), if it was.
pub struct Status {
    pub name: String,
    pub applied: Option<i64>,
}

fn load(set: Set) -> Result<Vec<Migration>> {
    let files: Vec<(String, Vec<u8>)> = match set {
        Set::Data => DataFiles::iter()
            .filter_map(|n| DataFiles::get(&n).map(|f| (n.to_string(), f.data.into_owned())))
            .collect(),
        Set::Auxiliary => AuxiliaryFiles::iter()
            .filter_map(|n| AuxiliaryFiles::get(&n).map(|f| (n.to_string(), f.data.into_owned())))
            .collect(),
    };
    let mut out = Vec::with_capacity(files.len());
    for (file, bytes) in files {
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::internal(format!("migration {file} is not UTF-8")))?;
        let (up, down) = text.split_once(DOWN_MARKER).unwrap_or((&text, ""));
        let name = file.trim_end_matches(".sql").to_owned();
        out.push(Migration {
            name,
            up: up.to_owned(),
            down: down.to_owned(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The names of every migration of `set` this binary knows, in order.
pub fn known(set: Set) -> Result<Vec<String>> {
    Ok(load(set)?.into_iter().map(|m| m.name).collect())
}

/// The system tables (names starting with `_`) and their columns that the migrations
/// `applied` make, found by running them on an empty in-memory database: what a file
/// those migrations were applied to must hold.
pub fn expected_tables(set: Set, applied: &[String]) -> Result<Vec<(String, Vec<String>)>> {
    let conn = rusqlite::Connection::open_in_memory()?;
    for m in load(set)?.iter().filter(|m| applied.contains(&m.name)) {
        conn.execute_batch(&m.up)
            .map_err(|e| Error::internal(format!("migration {} failed: {e}", m.name)))?;
    }
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE '\\_%' ESCAPE '\\'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(tables.len());
    for table in tables {
        let columns = conn
            .prepare("SELECT name FROM pragma_table_info(?1)")?
            .query_map([&table], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        out.push((table, columns));
    }
    Ok(out)
}

fn ensure_table(store: &Store) -> Result<()> {
    store.write(|tx| {
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS _migrations (
                file    VARCHAR(255) PRIMARY KEY NOT NULL,
                applied INTEGER NOT NULL
            )",
        )?;
        Ok(())
    })
}

fn applied(store: &Store) -> Result<Vec<(String, i64)>> {
    ensure_table(store)?;
    store.write(|tx| {
        // The app's own JS migrations (`*.js`, hooks::migrations) are recorded here too.
        let mut stmt = tx.prepare(
            "SELECT file, applied FROM _migrations WHERE file NOT LIKE '%.js' ORDER BY file",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    })
}

pub fn status(store: &Store, set: Set) -> Result<Vec<Status>> {
    let done = applied(store)?;
    let known = load(set)?;
    let mut out: Vec<Status> = known
        .iter()
        .map(|m| Status {
            name: m.name.clone(),
            applied: done.iter().find(|(f, _)| *f == m.name).map(|(_, t)| *t),
        })
        .collect();
    // Applied by a newer hearth: listed so `status` shows why start-up refuses.
    for (file, at) in done
        .iter()
        .filter(|(f, _)| !known.iter().any(|m| &m.name == f))
    {
        out.push(Status {
            name: file.clone(),
            applied: Some(*at),
        });
    }
    Ok(out)
}

/// Applies every pending migration in order; returns the names applied.
pub fn up(store: &Store, set: Set) -> Result<Vec<String>> {
    let done = applied(store)?;
    let known = load(set)?;
    if let Some((file, _)) = done
        .iter()
        .find(|(f, _)| !known.iter().any(|m| &m.name == f))
    {
        return Err(Error::internal(format!(
            "{} has migration {file}, which this hearth does not know: it was written by a newer version",
            store.path().display()
        )));
    }
    let mut ran = Vec::new();
    for m in known
        .iter()
        .filter(|m| !done.iter().any(|(f, _)| *f == m.name))
    {
        store.write(|tx| {
            tx.execute_batch(&m.up)
                .map_err(|e| Error::internal(format!("migration {} failed: {e}", m.name)))?;
            tx.execute(
                "INSERT INTO _migrations (file, applied) VALUES (?1, ?2)",
                (&m.name, crate::datetime::unix_micros()),
            )?;
            Ok(())
        })?;
        ran.push(m.name.clone());
    }
    Ok(ran)
}

/// Reverts the `n` most recently applied migrations, newest first; returns their names.
pub fn down(store: &Store, set: Set, n: usize) -> Result<Vec<String>> {
    let done = applied(store)?;
    let known = load(set)?;
    let mut reverted = Vec::new();
    for (file, _) in done.iter().rev().take(n) {
        let m = known.iter().find(|m| &m.name == file).ok_or_else(|| {
            Error::internal(format!(
                "cannot revert {file}: this hearth does not know it"
            ))
        })?;
        if m.down.trim().is_empty() {
            return Err(Error::internal(format!(
                "migration {file} has no down part"
            )));
        }
        store.write(|tx| {
            tx.execute_batch(&m.down)
                .map_err(|e| Error::internal(format!("reverting {} failed: {e}", m.name)))?;
            tx.execute("DELETE FROM _migrations WHERE file = ?1", [&m.name])?;
            Ok(())
        })?;
        reverted.push(m.name.clone());
    }
    Ok(reverted)
}
