//! Backups of the data dir as zip archives, kept in `<dir>/backups/` or in the bucket of the
//! `backups.s3` settings (`place`): create (online, while the server keeps writing), list,
//! delete and restore, shared by the API, the admin UI, the CLI and the schedule. Only one
//! backup or restore runs at a time per data dir, across processes. Knows nothing of HTTP.
//!
//! Work in progress lives in dot-folders of `backups/` (`.tmp-*`), which are never listed and
//! are swept away on the next start, so a crash never leaves a half archive under a key.

pub mod archive;
pub mod place;
mod restore;
pub mod schedule;
pub mod swap;
pub mod verify;

pub use place::Place;
pub use restore::restore;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::db::Db;
use crate::error::{Error, FieldError, FieldErrors, Result};

/// What a manual backup is called unless named: `hearth_backup_20260101120000.zip`.
pub const MANUAL_PREFIX: &str = "hearth_backup_";
/// Scheduled backups; only these are pruned to `backups.cronMaxKeep`.
pub const AUTO_PREFIX: &str = "@auto_hearth_backup_";
const TEMP_PREFIX: &str = ".tmp-";
const LOCK_FILE: &str = ".lock";

/// One archive as `GET /api/backups` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct BackupInfo {
    pub key: String,
    pub modified: String,
    pub size: u64,
}

/// The archive currently being written or restored in this process.
static ACTIVE: Mutex<Option<String>> = Mutex::new(None);

pub fn folder(dir: &Path) -> PathBuf {
    dir.join("backups")
}

/// A key that names an archive in `backups/` and nothing else: no separators, no dot-files,
/// ends in `.zip`.
pub fn valid_key(key: &str) -> bool {
    key.len() <= 200
        && key.len() > 4
        && key.ends_with(".zip")
        && !key.starts_with('.')
        && !key.contains("..")
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'))
}

/// PocketBase's rules for a name given to a new backup: 1–150 characters of `[a-z0-9_-]`
/// followed by `.zip`, and not taken in `place`.
pub fn validate_name(place: &Place, name: &str) -> Result<()> {
    let error = if name.is_empty() || name.chars().count() > 150 {
        Some(FieldError::new(
            "validation_length_out_of_range",
            "The length must be between 1 and 150.",
        ))
    } else if !name.strip_suffix(".zip").is_some_and(|stem| {
        !stem.is_empty()
            && stem
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    }) {
        Some(FieldError::new(
            "validation_match_invalid",
            "Must be in a valid format.",
        ))
    } else if place.exists(name)? {
        Some(FieldError::new(
            "validation_backup_name_exists",
            "The backup file name is invalid or already exists.",
        ))
    } else {
        None
    };
    match error {
        None => Ok(()),
        Some(e) => Err(Error::validation(FieldErrors::from([(
            "name".to_owned(),
            e.into(),
        )]))),
    }
}

/// `hearth_backup_YYYYMMDDHHMMSS.zip` (or the scheduled kind), in UTC.
pub fn default_name(prefix: &str) -> String {
    let stamp = OffsetDateTime::now_utc()
        .format(format_description!(
            "[year][month][day][hour][minute][second]"
        ))
        .unwrap_or_default();
    format!("{prefix}{stamp}.zip")
}

/// The path of an existing archive in the data dir's folder, or None for unknown or unsafe
/// keys.
pub fn find(dir: &Path, key: &str) -> Option<PathBuf> {
    let path = folder(dir).join(key);
    (valid_key(key) && path.is_file()).then_some(path)
}

/// Holds the one backup-or-restore slot of a data dir while it lives: a file lock (against
/// other processes) plus the key being worked on (for this process's delete check).
pub struct Busy {
    _lock: File,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Ok(mut active) = ACTIVE.lock() {
            *active = None;
        }
    }
}

/// PocketBase's answer while another backup or restore runs.
pub fn busy_error() -> Error {
    Error::bad_request("Try again later - another backup/restore process has already been started.")
}

/// The data dir's backup lock file, opened (not locked).
fn lock_file(dir: &Path) -> Result<File> {
    let folder = folder(dir);
    fs::create_dir_all(&folder)?;
    Ok(fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(folder.join(LOCK_FILE))?)
}

/// Takes the data dir's backup lock, or None while another backup or restore holds it.
fn try_lock(dir: &Path) -> Result<Option<File>> {
    let file = lock_file(dir)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

fn begin(dir: &Path, key: &str) -> Result<Busy> {
    let file = try_lock(dir)?.ok_or_else(busy_error)?;
    // With the lock held no other backup or restore is working: theirs are left-overs.
    remove_scratch(dir, &["backup", "restore"]);
    if let Ok(mut active) = ACTIVE.lock() {
        *active = Some(key.to_owned());
    }
    Ok(Busy { _lock: file })
}

/// True while `key` is being written or restored by this process.
pub fn in_use(key: &str) -> bool {
    ACTIVE
        .lock()
        .map(|a| a.as_deref() == Some(key))
        .unwrap_or(false)
}

/// Waits for the data dir's backup lock (see `try_lock`) and holds it while it lives.
fn wait_for_lock(dir: &Path) -> Result<File> {
    let file = lock_file(dir)?;
    file.lock()?;
    Ok(file)
}

/// A work folder in `backups/` that removes itself when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(dir: &Path, what: &str) -> Result<Self> {
        let path = folder(dir).join(format!("{TEMP_PREFIX}{what}-{}", crate::ids::record_id()));
        fs::create_dir_all(&path)?;
        Ok(Self(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Removes what interrupted backups and restores left behind (after a crash), unless a
/// backup or restore (of another process) is running now.
pub fn sweep(dir: &Path) {
    if let Ok(Some(_lock)) = try_lock(dir) {
        remove_scratch(dir, &["backup", "restore", "upload"]);
    }
}

/// Removes the scratch folders of the given kinds (`Scratch::new`'s `what`).
fn remove_scratch(dir: &Path, kinds: &[&str]) {
    let Ok(entries) = fs::read_dir(folder(dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = kinds
            .iter()
            .any(|kind| name.starts_with(&format!("{TEMP_PREFIX}{kind}-")));
        if stale {
            log::info!(
                "removing {} left by an interrupted backup",
                entry.path().display()
            );
            let _ = fs::remove_dir_all(entry.path()).or_else(|_| fs::remove_file(entry.path()));
        }
    }
}

/// Writes a new archive `name` (PocketBase's rules; a default name when None) of the data
/// dir while it stays in use, and returns its key. `progress` hears what is happening.
pub fn create(db: &Db, name: Option<&str>, progress: &dyn Fn(&str)) -> Result<String> {
    let place = Place::of(db)?;
    let key = match name.filter(|n| !n.is_empty()) {
        Some(n) => {
            validate_name(&place, n)?;
            n.to_owned()
        }
        None => default_name(MANUAL_PREFIX),
    };
    write_archive(db, &place, &key, progress)?;
    Ok(key)
}

/// Writes the archive `key` (not checked against the naming rules: scheduled names start
/// with `@`) and keeps it in `place`.
pub fn write_archive(db: &Db, place: &Place, key: &str, progress: &dyn Fn(&str)) -> Result<()> {
    let dir = db.dir();
    let _busy = begin(dir, key)?;
    let scratch = Scratch::new(dir, "backup")?;
    for (name, store) in archive::DATABASES.iter().zip([&db.data, &db.aux]) {
        archive::snapshot(store.path(), &scratch.0.join(name), &|pct| {
            progress(&format!("copying {name}: {pct}%"))
        })?;
    }
    progress("compressing");
    let part = scratch.0.join("archive.zip");
    archive::write_zip(&part, &scratch.0, &dir.join("storage"))?;
    if let Place::Bucket(_) = place {
        progress(&format!("uploading to {}", place.describe()));
    }
    place.keep(&part, key)?;
    progress("done");
    Ok(())
}

/// An archive being received (`POST /api/backups/upload`): written into a scratch folder,
/// kept (moved into `backups/` or uploaded to the bucket) only once complete and looking
/// like a zip.
pub struct Upload {
    scratch: Scratch,
    file: File,
}

impl Upload {
    pub fn start(dir: &Path) -> Result<Self> {
        let scratch = Scratch::new(dir, "upload")?;
        let file = File::create(scratch.0.join("archive.zip"))?;
        Ok(Self { scratch, file })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        Ok(self.file.write_all(bytes)?)
    }

    /// Keeps the archive in `place` as `key` (already checked to be a free, valid key).
    pub fn finish(self, place: &Place, key: &str) -> Result<()> {
        use std::io::Read;
        self.file.sync_all()?;
        let part = self.scratch.0.join("archive.zip");
        let mut magic = [0u8; 4];
        let is_zip = File::open(&part)?.read_exact(&mut magic).is_ok() && magic == *b"PK\x03\x04";
        if !is_zip {
            return Err(Error::bad_request(
                "The uploaded file is not a zip archive.",
            ));
        }
        place.keep(&part, key)
    }
}

/// Deletes the archive `key` from `place`. PocketBase's answers for unknown and busy keys.
pub fn delete(place: &Place, key: &str) -> Result<()> {
    if in_use(key) {
        return Err(Error::bad_request(
            "The backup is currently being used and cannot be deleted.",
        ));
    }
    if !place.remove(key)? {
        return Err(Error::bad_request(
            "Invalid or already deleted backup file.",
        ));
    }
    Ok(())
}

pub(crate) fn stamp() -> String {
    OffsetDateTime::now_utc()
        .format(format_description!(
            "[year][month][day][hour][minute][second]"
        ))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_leave_the_backups_folder() {
        for bad in [
            "../data.db",
            "../x.zip",
            "a/b.zip",
            "a\\b.zip",
            ".tmp-x.zip",
            ".zip",
            "x.ZIP.txt",
            "",
            "..zip",
        ] {
            assert!(!valid_key(bad), "{bad:?} must be refused");
        }
        for good in [
            "hearth_backup_20260101000000.zip",
            "@auto_hearth_backup_1.zip",
            "A.b-c.zip",
        ] {
            assert!(valid_key(good), "{good:?} must be accepted");
        }
    }

    #[test]
    fn names_follow_pocketbase_rules() {
        let place = Place::Folder(std::env::temp_dir().join("hearth-no-such-dir"));
        assert!(validate_name(&place, "ok_name-1.zip").is_ok());
        for bad in ["Upper.zip", "no-suffix", ".zip", "a b.zip", "../a.zip"] {
            assert!(validate_name(&place, bad).is_err(), "{bad:?}");
        }
        assert!(validate_name(&place, &format!("{}.zip", "a".repeat(147))).is_err());
        assert!(default_name(MANUAL_PREFIX).starts_with("hearth_backup_"));
        assert!(valid_key(&default_name(AUTO_PREFIX)));
    }
}
