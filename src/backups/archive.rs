//! The archive itself: consistent copies of the live databases through SQLite's online
//! backup API, the zip written from them, and the checks a zip must pass before it may
//! replace the data dir. Knows files and SQLite, nothing of HTTP.

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Component, Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::error::{Error, Result};

/// Pages copied per backup step; between steps the copy pauses so other work gets the disk.
const PAGES_PER_STEP: i32 = 256;
const PAUSE: Duration = Duration::from_millis(2);

/// The databases every archive holds, by their names in the zip and in the data dir.
pub const DATABASES: [&str; 2] = ["data.db", "auxiliary.db"];
/// The tables a data.db must have to be taken for one of hearth's.
const DATA_TABLES: [&str; 4] = ["_params", "_collections", "_superusers", "_migrations"];
const AUX_TABLES: [&str; 2] = ["_logs", "_migrations"];
/// Where uploads wait for their record's transaction (see `crate::files`).
const UPLOADS_IN_PROGRESS: &str = "storage/.uploads";

/// Copies the live database at `src` into a new file `dest`, a few pages at a time.
///
/// The source connection keeps one read transaction open for the whole copy: in WAL mode
/// that pins a snapshot (everything committed before the copy began, nothing after) without
/// blocking writers, and it stops SQLite from restarting the copy each time a writer commits.
pub fn snapshot(src: &Path, dest: &Path, progress: &dyn Fn(u8)) -> Result<()> {
    let source = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    source.busy_timeout(Duration::from_secs(10))?;
    source.execute_batch("BEGIN")?;
    source.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
    let mut target = Connection::open(dest)?;
    {
        let backup = Backup::new(&source, &mut target)?;
        loop {
            match backup.step(PAGES_PER_STEP)? {
                StepResult::Done => break,
                StepResult::More => {
                    let p = backup.progress();
                    if p.pagecount > 0 {
                        let done = (p.pagecount - p.remaining) * 100 / p.pagecount;
                        progress(u8::try_from(done.clamp(0, 100)).unwrap_or(100));
                    }
                    sleep(PAUSE);
                }
                // Another process holds a lock for a moment; try again shortly.
                StepResult::Busy | StepResult::Locked => sleep(Duration::from_millis(50)),
                _ => sleep(PAUSE),
            }
        }
    }
    source.execute_batch("COMMIT")?;
    // A self-contained file: no WAL beside it in the archive or after a restore.
    target.query_row("PRAGMA journal_mode=DELETE", [], |_| Ok(()))?;
    progress(100);
    Ok(())
}

/// Replaces the whole content of the live database behind `live` (its writer connection)
/// with the database file `src`, in one write transaction.
pub fn copy_into(src: &Path, live: &mut Connection) -> Result<()> {
    let source = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let backup = Backup::new(&source, live)?;
    // All pages in one step: one write transaction on the live file.
    loop {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            _ => sleep(Duration::from_millis(50)),
        }
    }
}

/// Writes the zip of `dir` (the snapshot files) and of `storage` (if present) to `out`,
/// synced to disk before it returns.
pub fn write_zip(out: &Path, dbs: &Path, storage: &Path) -> Result<()> {
    let file = File::create(out)?;
    let mut zip = ZipWriter::new(BufWriter::new(file));
    for name in DATABASES {
        add_file(&mut zip, &dbs.join(name), name)?;
    }
    if storage.is_dir() {
        add_tree(&mut zip, storage, "storage")?;
    }
    let writer = zip.finish().map_err(zip_error)?;
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(())
}

fn add_file(zip: &mut ZipWriter<BufWriter<File>>, path: &Path, name: &str) -> Result<()> {
    let mut src = File::open(path)?;
    let size = src.metadata()?.len();
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        // Fastest deflate, as PocketBase: archives are written while the server works.
        .compression_level(Some(1))
        .large_file(size >= u64::from(u32::MAX));
    zip.start_file(name, options).map_err(zip_error)?;
    io::copy(&mut src, zip)?;
    Ok(())
}

fn add_tree(zip: &mut ZipWriter<BufWriter<File>>, dir: &Path, prefix: &str) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = format!("{prefix}/{}", entry.file_name().to_string_lossy());
        // Uploads still in progress belong to no record yet.
        if name == UPLOADS_IN_PROGRESS {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            add_tree(zip, &entry.path(), &name)?;
        } else if kind.is_file() {
            add_file(zip, &entry.path(), &name)?;
        }
    }
    Ok(())
}

fn zip_error(e: zip::result::ZipError) -> Error {
    match e {
        // Keeps a full disk recognisable (507), like any other write.
        zip::result::ZipError::Io(e) => Error::Io(e),
        other => Error::internal(format!("zip: {other}")),
    }
}

/// Why an archive cannot be restored: shown to the admin as it is.
fn invalid(why: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("The backup is not a valid hearth backup: {why}."))
}

/// Unpacks the zip at `zip_path` into the empty folder `into`: the two databases and the
/// `storage/` tree, nothing else; entries that would land outside `into` are refused.
pub fn extract(zip_path: &Path, into: &Path) -> Result<()> {
    let file = File::open(zip_path)?;
    let mut zip = ZipArchive::new(file).map_err(invalid)?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(invalid)?;
        let Some(name) = entry.enclosed_name() else {
            return Err(invalid(format!("unsafe path {:?}", entry.name())));
        };
        let wanted = DATABASES.iter().any(|db| name == Path::new(db))
            || name.starts_with("storage")
                && name.components().all(|c| matches!(c, Component::Normal(_)));
        if !wanted || entry.is_dir() {
            continue;
        }
        let dest: PathBuf = into.join(&name);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut out = File::create(&dest)?;
        io::copy(&mut entry, &mut out).map_err(invalid)?;
    }
    Ok(())
}

/// Checks the unpacked databases in `dir`: both present, `integrity_check` ok, and the
/// tables hearth needs exist.
pub fn verify(dir: &Path) -> Result<()> {
    for (name, tables) in [
        ("data.db", &DATA_TABLES[..]),
        ("auxiliary.db", &AUX_TABLES[..]),
    ] {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(invalid(format!("{name} is missing")));
        }
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| invalid(format!("{name}: {e}")))?;
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| invalid(format!("{name}: {e}")))?;
        if check != "ok" {
            return Err(invalid(format!(
                "{name} fails the integrity check: {check}"
            )));
        }
        for table in tables {
            let found: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .map_err(|e| invalid(format!("{name}: {e}")))?;
            if found == 0 {
                return Err(invalid(format!("{name} has no {table} table")));
            }
        }
    }
    Ok(())
}
