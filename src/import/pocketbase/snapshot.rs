//! Consistent copies of PocketBase's two databases, taken through SQLite's online backup
//! API from read-only connections (so PocketBase may keep running, and none of its files is
//! opened for writing), then checked to be PocketBase 0.23+ data.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Error, Result};

fn refused(pb_dir: &Path, why: impl std::fmt::Display) -> Error {
    Error::internal(format!(
        "{} is not a PocketBase data dir hearth can import: {why}",
        pb_dir.display()
    ))
}

/// Copies `src` (read-only) into a new file `dest`, in one step: one read transaction
/// over the whole copy, so it is the state of one commit even while PocketBase writes.
pub fn copy(src: &Path, dest: &Path) -> rusqlite::Result<()> {
    use rusqlite::backup::{Backup, StepResult};
    let from = crate::db::foreign::open_read_only(src)?;
    from.busy_timeout(Duration::from_secs(10))?;
    let mut to = Connection::open(dest)?;
    let backup = Backup::new(&from, &mut to)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        // -1: every page in one step, under one read transaction.
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            _ if std::time::Instant::now() > deadline => {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                    Some("the database stayed locked for a minute".into()),
                ));
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Snapshots `pb_dir/data.db` (and `auxiliary.db` when there is one) into `scratch`;
/// returns the copy of data.db, opened, and the path of auxiliary.db's copy, if any.
pub fn take(pb_dir: &Path, scratch: &Path) -> Result<(Connection, Option<std::path::PathBuf>)> {
    let data = pb_dir.join("data.db");
    if !pb_dir.is_dir() {
        return Err(refused(pb_dir, "no such folder"));
    }
    if !data.is_file() {
        return Err(refused(pb_dir, "it has no data.db"));
    }
    let data_copy = scratch.join("data.db");
    copy(&data, &data_copy).map_err(|e| refused(pb_dir, format!("data.db: {e}")))?;
    let conn = Connection::open(&data_copy)?;
    check_sound(&conn).map_err(|e| refused(pb_dir, format!("data.db: {e}")))?;
    check_pocketbase(&conn).map_err(|e| refused(pb_dir, e))?;
    let aux = pb_dir.join("auxiliary.db");
    let aux_copy = if aux.is_file() {
        let dest = scratch.join("auxiliary.db");
        copy(&aux, &dest).map_err(|e| refused(pb_dir, format!("auxiliary.db: {e}")))?;
        check_sound(&Connection::open(&dest)?)
            .map_err(|e| refused(pb_dir, format!("auxiliary.db: {e}")))?;
        Some(dest)
    } else {
        None
    };
    Ok((conn, aux_copy))
}

fn check_sound(conn: &Connection) -> std::result::Result<(), String> {
    let verdict: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if verdict == "ok" {
        Ok(())
    } else {
        Err(format!("it fails SQLite's quick_check ({verdict})"))
    }
}

fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// PocketBase 0.23+: `_collections` with `fields`, `_params`, and PocketBase's own Go
/// migrations recorded in `_migrations`; told apart from a hearth data dir and from
/// PocketBase before 0.23 (`_admins`, `schema`).
fn check_pocketbase(conn: &Connection) -> std::result::Result<(), String> {
    let sql = |e: rusqlite::Error| e.to_string();
    if has_table(conn, "_params").map_err(sql)? {
        let hearth: i64 = conn
            .query_row(
                "SELECT count(*) FROM _params WHERE id = 'hearthSecret'",
                [],
                |r| r.get(0),
            )
            .map_err(sql)?;
        if hearth > 0 {
            return Err("it is a hearth data dir already".into());
        }
    }
    if has_table(conn, "_admins").map_err(sql)? {
        return Err(
            "it was written by PocketBase before 0.23 (it has _admins); \
             start it once with PocketBase 0.23 or newer to upgrade it, then import"
                .into(),
        );
    }
    for table in ["_collections", "_params", "_migrations"] {
        if !has_table(conn, table).map_err(sql)? {
            return Err(format!("data.db has no {table} table"));
        }
    }
    let go: i64 = conn
        .query_row(
            "SELECT count(*) FROM _migrations WHERE file LIKE '%.go'",
            [],
            |r| r.get(0),
        )
        .map_err(sql)?;
    if go == 0 {
        return Err("data.db records none of PocketBase's migrations".into());
    }
    let has_fields: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('_collections') WHERE name = 'fields'",
            [],
            |r| r.get(0),
        )
        .map_err(sql)?;
    if has_fields == 0 {
        return Err("its _collections table has no fields column (PocketBase before 0.23)".into());
    }
    Ok(())
}
