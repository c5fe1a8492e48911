//! The archive itself: consistent copies of the live databases through SQLite's online
//! backup API, the zip written from them, and the unpacking of a zip with the checks its
//! entries must pass. Knows files and SQLite, nothing of HTTP.

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
pub(super) fn invalid(why: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("The backup is not a valid hearth backup: {why}."))
}

/// The file type bits of a unix mode (`S_IFMT`) and the two types an archive may hold.
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;

/// Refuses an entry that is not a plain file or folder (a symbolic link, a device, a fifo,
/// a socket: zip carries them in the unix mode) or whose name is not a plain relative path
/// (absolute, `..`, `.`, backslashes, NUL). The zip crate would quietly make an absolute
/// name relative and resolve `..`; an archive hearth wrote has neither, so one that does
/// was made by hand and is refused whole.
fn check_entry(raw_name: &str, unix_mode: Option<u32>) -> Result<()> {
    let kind = match unix_mode.map(|m| m & S_IFMT) {
        // No unix mode (written on Windows, say) or none set: a file or a folder by its name.
        None | Some(0) | Some(S_IFREG) | Some(S_IFDIR) => None,
        Some(0o120_000) => Some("a symbolic link"),
        Some(0o020_000) => Some("a character device"),
        Some(0o060_000) => Some("a block device"),
        Some(0o010_000) => Some("a fifo"),
        Some(0o140_000) => Some("a socket"),
        Some(_) => Some("not a plain file"),
    };
    if let Some(kind) = kind {
        return Err(invalid(format!(
            "{raw_name:?} is {kind}, and an archive may hold only plain files and folders"
        )));
    }
    let path = raw_name.strip_suffix('/').unwrap_or(raw_name);
    let plain = !path.is_empty()
        && !path.contains(['\\', '\0'])
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != ".." && !is_drive(part));
    if !plain {
        return Err(invalid(format!(
            "{raw_name:?} is not a plain relative path"
        )));
    }
    Ok(())
}

/// `C:`: a Windows drive, which would make the path absolute there.
fn is_drive(part: &str) -> bool {
    let b = part.as_bytes();
    b.len() == 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// A file or folder of the archive that cannot be made where it belongs: the archive names
/// one path as both a file and a folder. Other errors (a full disk) stay what they are.
fn clash(e: io::Error, name: &Path) -> Error {
    match e.kind() {
        io::ErrorKind::NotADirectory
        | io::ErrorKind::IsADirectory
        | io::ErrorKind::AlreadyExists => invalid(format!(
            "{} is both a file and a folder in it",
            name.display()
        )),
        _ => Error::Io(e),
    }
}

/// Bytes free for this process on the filesystem of `dir`; None where unknown.
#[cfg(unix)]
fn free_space(dir: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(not(unix))]
fn free_space(_dir: &Path) -> Option<u64> {
    None
}

/// Unpacks the zip at `zip_path` into the empty folder `into`, every entry of it. Only
/// plain files and folders with plain relative names are accepted (see `check_entry`), so
/// nothing lands outside `into` and no link is made, and only an archive whose declared
/// sizes fit the free disk (a zip bomb does not); every file is read to its end, so a
/// damaged or truncated member fails its CRC check here. Which entries belong in an archive
/// is `verify::prepare`'s question.
pub fn extract(zip_path: &Path, into: &Path) -> Result<()> {
    let file = File::open(zip_path)?;
    let mut zip = ZipArchive::new(file).map_err(invalid)?;
    // Every entry is checked before anything is written: one bad entry refuses the archive.
    // The sizes it declares are what it can unpack to (the zip reader stops an entry there).
    let mut unpacked: u64 = 0;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(invalid)?;
        let raw_name = entry.name().map_err(invalid)?;
        check_entry(&raw_name, entry.unix_mode())?;
        unpacked = unpacked.saturating_add(entry.size());
    }
    if let Some(free) = free_space(into) {
        // A margin, so the databases in use keep room to write meanwhile.
        let room = free.saturating_sub(free / 10 + (64 << 20));
        if unpacked > room {
            return Err(invalid(format!(
                "it unpacks to {unpacked} bytes, more than the {room} bytes the disk can spare"
            )));
        }
    }
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(invalid)?;
        let Some(name) = entry.enclosed_name() else {
            return Err(invalid(format!(
                "unsafe path {:?}",
                entry.name().unwrap_or_default()
            )));
        };
        if !name.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(invalid(format!("unsafe path {:?}", name.display())));
        }
        let dest: PathBuf = into.join(&name);
        if entry.is_dir() {
            fs::create_dir_all(&dest).map_err(|e| clash(e, &name))?;
            continue;
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| clash(e, &name))?;
        }
        let mut out = File::create(&dest).map_err(|e| clash(e, &name))?;
        io::copy(&mut entry, &mut out).map_err(|e| match e.kind() {
            // A full disk stays recognisable (507); anything else is the archive's fault.
            io::ErrorKind::StorageFull => Error::Io(e),
            _ => invalid(format!("{} is damaged ({e})", name.display())),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_entry;

    #[test]
    fn only_plain_files_and_folders_with_plain_names_pass() {
        for (name, mode) in [
            ("data.db", None),
            ("storage/", Some(0o040_755)),
            ("storage/c1/r1/a.png", Some(0o100_644)),
            ("storage/x", Some(0o644)),
        ] {
            assert!(check_entry(name, mode).is_ok(), "{name}");
        }
        for (name, mode) in [
            ("storage/l", Some(0o120_777)),
            ("storage/d", Some(0o020_644)),
            ("storage/b", Some(0o060_644)),
            ("storage/f", Some(0o010_644)),
            ("storage/s", Some(0o140_644)),
            ("/data.db", None),
            ("storage/../../x", None),
            ("./data.db", None),
            ("storage//x", None),
            ("storage\\x", None),
            ("C:/x", None),
            ("storage/x\0", None),
            ("", None),
        ] {
            assert!(check_entry(name, mode).is_err(), "{name:?}");
        }
    }
}
