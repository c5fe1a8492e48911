//! Whether an unpacked archive is a hearth data dir this binary can start on, checked
//! whole before anything of the live data is touched. Knows files and SQLite, nothing of
//! HTTP. Every refusal is a 400 "The backup is not a valid hearth backup: ...".

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::archive::invalid;
use crate::db::{Db, PoolOptions, migrate};
use crate::error::Result;

/// What a hearth archive holds at its top level.
const TOP_LEVEL: [&str; 3] = ["data.db", "auxiliary.db", "storage"];

/// A data dir (databases and `storage/`) that passed every check; only `prepare` makes one.
pub struct Verified {
    dir: PathBuf,
}

impl Verified {
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The seam between an unpacked archive and the swap: takes the folder an archive was
/// unpacked into and returns a verified hearth data dir (in place, the system schema
/// migrated to this binary's). A PocketBase backup (`pb_data`'s layout) is recognised and
/// converted into hearth's layout here, before the checks, which then hold for it too.
pub fn prepare(unpacked: &Path) -> Result<Verified> {
    if crate::db::foreign::is_pocketbase(unpacked) {
        convert_pocketbase(unpacked)?;
    }
    check_layout(unpacked)?;
    check_database(&unpacked.join("data.db"), migrate::Set::Data)?;
    check_database(&unpacked.join("auxiliary.db"), migrate::Set::Auxiliary)?;
    start_on(unpacked)?;
    Ok(Verified {
        dir: unpacked.to_owned(),
    })
}

/// Replaces the content of `unpacked`, a PocketBase backup, by its conversion
/// (`import::pocketbase::convert`), made in a folder beside it.
fn convert_pocketbase(unpacked: &Path) -> Result<()> {
    let converted = unpacked.with_file_name("pocketbase-converted");
    fs::create_dir(&converted)?;
    let opts = crate::import::pocketbase::Options::default();
    let summary = crate::import::pocketbase::convert(unpacked, &converted, &opts, &|step| {
        log::info!("converting a PocketBase backup: {step}");
    })
    .map_err(|e| {
        invalid(format!(
            "it is a PocketBase backup that cannot be converted ({e})"
        ))
    })?;
    for note in &summary.notes {
        log::warn!("PocketBase backup: {note}");
    }
    for entry in fs::read_dir(unpacked)? {
        let path = entry?.path();
        if path.is_dir() {
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
    }
    for entry in fs::read_dir(&converted)? {
        let entry = entry?;
        fs::rename(entry.path(), unpacked.join(entry.file_name()))?;
    }
    fs::remove_dir(&converted)?;
    Ok(())
}

/// Only what hearth writes: the two databases (files) and `storage/` (a folder).
fn check_layout(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !TOP_LEVEL.contains(&name.as_str()) {
            return Err(invalid(format!(
                "it holds {name:?}, and a hearth backup holds only data.db, auxiliary.db and storage/"
            )));
        }
        let is_dir = entry.file_type()?.is_dir();
        if is_dir != (name == "storage") {
            return Err(invalid(format!(
                "{name} is a {}",
                if is_dir { "folder" } else { "file" }
            )));
        }
    }
    for name in ["data.db", "auxiliary.db"] {
        if !dir.join(name).is_file() {
            return Err(invalid(format!("{name} is missing")));
        }
    }
    Ok(())
}

/// One database, opened read-only: sound, the right one of the two, every migration known
/// to this binary, every system table those migrations make present, and (data.db) a
/// superuser to sign in with.
fn check_database(path: &Path, set: migrate::Set) -> Result<()> {
    let (name, other) = match set {
        migrate::Set::Data => ("data.db", "auxiliary.db"),
        migrate::Set::Auxiliary => ("auxiliary.db", "data.db"),
    };
    let damaged =
        |e: rusqlite::Error| invalid(format!("{name} is not a sound SQLite database ({e})"));
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(damaged)?;
    let findings: Vec<String> = {
        let mut stmt = conn.prepare("PRAGMA integrity_check").map_err(damaged)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(damaged)?;
        rows.collect::<rusqlite::Result<_>>().map_err(damaged)?
    };
    if findings != ["ok"] {
        let shown: Vec<_> = findings.into_iter().take(3).collect();
        return Err(invalid(format!(
            "{name} fails the integrity check: {}",
            shown.join("; ")
        )));
    }
    let tables = columns_by_table(&conn).map_err(damaged)?;
    // Each file is told apart by the table only the other one has.
    let looks_like_data = tables.contains_key("_collections");
    let looks_like_aux = tables.contains_key("_logs") && !looks_like_data;
    let swapped = match set {
        migrate::Set::Data => looks_like_aux,
        migrate::Set::Auxiliary => looks_like_data,
    };
    if swapped {
        return Err(invalid(format!(
            "{name} is hearth's {other}: the two databases are swapped"
        )));
    }
    let own = match set {
        migrate::Set::Data => "_collections",
        migrate::Set::Auxiliary => "_logs",
    };
    if !tables.contains_key(own) || !tables.contains_key("_migrations") {
        let missing = if tables.contains_key(own) {
            "_migrations"
        } else {
            own
        };
        return Err(invalid(format!(
            "{name} is not hearth's {name} (it has no {missing} table)"
        )));
    }
    let applied: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT file FROM _migrations WHERE file NOT LIKE '%.js' ORDER BY file")
            .map_err(damaged)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(damaged)?;
        rows.collect::<rusqlite::Result<_>>().map_err(damaged)?
    };
    let known = migrate::known(set)?;
    if let Some(unknown) = applied.iter().find(|m| !known.contains(m)) {
        return Err(invalid(format!(
            "{name} has migration {unknown}, which this hearth does not know (the backup was made by a newer version)"
        )));
    }
    if applied.is_empty() {
        return Err(invalid(format!("{name} records no migration")));
    }
    for (table, wanted) in migrate::expected_tables(set, &applied)? {
        let Some(have) = tables.get(&table) else {
            return Err(invalid(format!("{name} has no {table} table")));
        };
        if let Some(column) = wanted.iter().find(|c| !have.contains(c)) {
            return Err(invalid(format!(
                "{name}'s table {table} has no column {column}"
            )));
        }
    }
    if set == migrate::Set::Data {
        let superusers: i64 = conn
            .query_row("SELECT count(*) FROM _superusers", [], |r| r.get(0))
            .map_err(damaged)?;
        if superusers == 0 {
            return Err(invalid(
                "it has no superuser, so nobody could sign in to the restored data",
            ));
        }
    }
    Ok(())
}

/// Every table of `conn` and its columns.
fn columns_by_table(conn: &Connection) -> rusqlite::Result<BTreeMap<String, Vec<String>>> {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = BTreeMap::new();
    for table in names {
        let columns = conn
            .prepare("SELECT name FROM pragma_table_info(?1)")?
            .query_map([&table], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        out.insert(table, columns);
    }
    Ok(out)
}

/// Opens the unpacked copy as the server opens its data dir (migrations applied) and loads
/// what a server loads at start: a failure here is the archive's, found before the swap.
fn start_on(dir: &Path) -> Result<()> {
    let opts = PoolOptions {
        readers: 1,
        query_timeout: None,
        ..PoolOptions::default()
    };
    let db = Db::open(dir, &opts).map_err(|e| invalid(format!("it cannot be opened: {e}")))?;
    loads(&db).map_err(|e| invalid(format!("it cannot be started on: {e}")))?;
    drop(db);
    // Made by `Db::open`, and no part of the data the swap moves.
    let _ = fs::remove_dir(dir.join("backups"));
    Ok(())
}

/// What a server reads from its data at start, read as it reads it: the server secret,
/// every collection (parsed into the schema) and the settings.
pub fn loads(db: &Db) -> Result<()> {
    db.data.read(|c| {
        crate::settings::server_secret(c)?;
        crate::schema::Registry::load(c)?;
        crate::settings::load(c)?;
        Ok(())
    })
}
