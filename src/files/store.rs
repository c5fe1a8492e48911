//! Where record files live: the `storage/` folder, or the S3 bucket of the `s3` settings
//! once they are enabled (as in PocketBase, files stored before a switch stay where they
//! were and are not served from the new place).
//!
//! On disk: one folder per record, files moved in whole (written elsewhere, fsynced,
//! renamed), removed with their thumbnails, empty folders tidied away. In a bucket: the
//! same layout as keys (`<collectionId>/<recordId>/<name>`, thumbnails under
//! `thumbs_<name>/`), as PocketBase lays them out. Uploads in progress always live in
//! `storage/.uploads/`, which start-up empties, so a crash mid-upload leaves nothing
//! behind in a record's folder.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde_json::{Map, Value};

use super::bucket::{self, Bucket};
use super::names::is_plain;
use super::removals::Removals;
use crate::error::{Error, Result};

/// Where uploads wait until their record commits.
const UPLOADS: &str = ".uploads";

#[derive(Clone)]
pub struct Storage {
    root: PathBuf,
    /// The bucket files go to, while the `s3` settings enable one.
    bucket: Arc<RwLock<Option<Arc<Bucket>>>>,
    /// Bucket keys to remove, retried while the bucket is away.
    removals: Removals,
}

/// A file moved into place for a record that is not committed yet; `Storage::unplace`
/// takes it back.
pub enum Placed {
    Local(PathBuf),
    Remote(Arc<Bucket>, String),
}

/// Where a stored file is read from.
pub enum Location {
    Local(PathBuf),
    Remote(Arc<Bucket>, String),
}

/// The bucket key of a record's file, as PocketBase writes it.
pub fn key(collection_id: &str, record_id: &str, name: &str) -> String {
    format!("{collection_id}/{record_id}/{name}")
}

/// The bucket key of a thumbnail, `size` as the query gave it (`100x100`).
pub fn thumb_key(collection_id: &str, record_id: &str, name: &str, size: &str) -> String {
    format!("{collection_id}/{record_id}/thumbs_{name}/{size}_{name}")
}

impl Storage {
    /// Opens `root` (creating it) and clears uploads a previous run left unfinished.
    pub fn open(root: &Path) -> Result<Self> {
        let uploads = root.join(UPLOADS);
        match fs::remove_dir_all(&uploads) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => log::warn!("cannot clear {}: {e}", uploads.display()),
        }
        fs::create_dir_all(&uploads)?;
        Ok(Self::at(root))
    }

    /// `root` as it is, for a process beside the server (the CLI): nothing is cleared.
    pub fn at(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
            bucket: Arc::default(),
            removals: Removals::default(),
        }
    }

    /// Follows the `s3` settings: files go to their bucket while it is enabled, to
    /// `storage/` otherwise. Settings that do not make a bucket leave files on disk (and
    /// say so in the log).
    pub fn configure(&self, settings: &Map<String, Value>) {
        let wanted = bucket::Config::enabled(settings.get("s3"));
        let current = self.bucket();
        if current.as_ref().map(|b| b.config()) == wanted.as_ref() {
            return;
        }
        let next = match wanted.map(Bucket::new) {
            None => None,
            Some(Ok(b)) => Some(Arc::new(b)),
            Some(Err(e)) => {
                log::error!("s3 settings cannot be used, files stay on disk: {e}");
                None
            }
        };
        match self.bucket.write() {
            Ok(mut b) => *b = next,
            Err(p) => *p.into_inner() = next,
        }
    }

    /// The bucket files go to now, if any.
    pub fn bucket(&self) -> Option<Arc<Bucket>> {
        self.bucket
            .read()
            .map_or_else(|p| p.into_inner().clone(), |b| b.clone())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder new uploads are streamed into.
    pub fn uploads_dir(&self) -> PathBuf {
        self.root.join(UPLOADS)
    }

    /// A record's folder, or None when either id could step outside `storage/`.
    pub fn record_dir(&self, collection_id: &str, record_id: &str) -> Option<PathBuf> {
        (is_plain(collection_id) && is_plain(record_id))
            .then(|| self.root.join(collection_id).join(record_id))
    }

    /// The path of one stored file, or None for a name that is not a plain file name.
    pub fn file_path(&self, collection_id: &str, record_id: &str, name: &str) -> Option<PathBuf> {
        is_plain(name)
            .then(|| self.record_dir(collection_id, record_id))
            .flatten()
            .map(|d| d.join(name))
    }

    /// Where the thumbnails of `name` are kept (PocketBase's `thumbs_<name>/`).
    pub fn thumbs_dir(&self, collection_id: &str, record_id: &str, name: &str) -> Option<PathBuf> {
        is_plain(name)
            .then(|| self.record_dir(collection_id, record_id))
            .flatten()
            .map(|d| d.join(format!("thumbs_{name}")))
    }

    /// Moves a finished (already fsynced) upload to its place: renamed into the record's
    /// folder (the rename made durable), or uploaded to the bucket and removed from disk.
    pub fn place(
        &self,
        temp: &Path,
        collection_id: &str,
        record_id: &str,
        name: &str,
        content_type: &str,
    ) -> Result<Placed> {
        let dest = self
            .file_path(collection_id, record_id, name)
            .ok_or_else(|| Error::internal(format!("refusing to store {name:?}")))?;
        if let Some(bucket) = self.bucket() {
            let key = key(collection_id, record_id, name);
            bucket.put_file(&key, temp, content_type)?;
            let _ = fs::remove_file(temp);
            return Ok(Placed::Remote(bucket, key));
        }
        let dir = dest
            .parent()
            .ok_or_else(|| Error::internal("stored file has no folder"))?;
        fs::create_dir_all(dir)?;
        fs::rename(temp, &dest)?;
        sync_dir(dir);
        Ok(Placed::Local(dest))
    }

    /// Takes back a file placed for a record that did not commit.
    pub fn unplace(&self, placed: Placed) {
        match placed {
            Placed::Local(path) => {
                let _ = fs::remove_file(&path);
                if let Some(dir) = path.parent() {
                    // Only an empty folder goes: a new record's, never an existing one's.
                    let _ = fs::remove_dir(dir);
                }
            }
            Placed::Remote(bucket, key) => self.removals.keys(bucket, vec![key]),
        }
    }

    /// Where a record's file is read from now; None for a name that cannot be one.
    pub fn locate(&self, collection_id: &str, record_id: &str, name: &str) -> Option<Location> {
        let path = self.file_path(collection_id, record_id, name)?;
        Some(match self.bucket() {
            Some(bucket) => Location::Remote(bucket, key(collection_id, record_id, name)),
            None => Location::Local(path),
        })
    }

    /// Removes files of a record (and their thumbnails); the folder goes too once empty.
    /// Failures are logged, never raised: the record change they follow has committed. In
    /// a bucket, they are retried in the background while it is away.
    pub fn remove_files(&self, collection_id: &str, record_id: &str, names: &[String]) {
        if names.is_empty() {
            return;
        }
        if let Some(bucket) = self.bucket() {
            let plain = names.iter().filter(|n| is_plain(n));
            for name in plain {
                self.removals.prefix(
                    bucket.clone(),
                    format!("{collection_id}/{record_id}/thumbs_{name}/"),
                );
            }
            let keys = names
                .iter()
                .filter(|n| is_plain(n))
                .map(|n| key(collection_id, record_id, n))
                .collect();
            self.removals.keys(bucket, keys);
            return;
        }
        for name in names {
            if let Some(path) = self.file_path(collection_id, record_id, name) {
                remove_logged(&path, false);
            }
            if let Some(thumbs) = self.thumbs_dir(collection_id, record_id, name) {
                remove_logged(&thumbs, true);
            }
        }
        if let Some(dir) = self.record_dir(collection_id, record_id) {
            let _ = fs::remove_dir(dir);
        }
    }

    /// Removes a record's folder and everything in it.
    pub fn remove_record(&self, collection_id: &str, record_id: &str) {
        let Some(dir) = self.record_dir(collection_id, record_id) else {
            return;
        };
        match self.bucket() {
            Some(bucket) => self
                .removals
                .prefix(bucket, format!("{collection_id}/{record_id}/")),
            None => remove_logged(&dir, true),
        }
    }

    /// Removes a collection's folder and everything in it.
    pub fn remove_collection(&self, collection_id: &str) {
        if !is_plain(collection_id) {
            return;
        }
        match self.bucket() {
            Some(bucket) => self.removals.prefix(bucket, format!("{collection_id}/")),
            None => remove_logged(&self.root.join(collection_id), true),
        }
    }
}

fn remove_logged(path: &Path, dir: bool) {
    let result = if dir {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => log::warn!("cannot remove {}: {e}", path.display()),
    }
}

/// Makes a rename in `dir` durable. Best effort: some filesystems refuse to sync folders.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_a_crash_cut_off_are_cleared_at_start() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let s = Storage::open(dir.path())?;
        fs::write(s.uploads_dir().join("abc.part"), b"half a file")?;
        let s = Storage::open(dir.path())?;
        assert_eq!(fs::read_dir(s.uploads_dir())?.count(), 0);
        Ok(())
    }

    #[test]
    fn paths_never_leave_storage() {
        let s = Storage::at(Path::new("/data/storage"));
        assert_eq!(
            s.file_path("c1", "r1", "a.png"),
            Some(PathBuf::from("/data/storage/c1/r1/a.png"))
        );
        assert_eq!(s.file_path("c1", "r1", "../x"), None);
        assert_eq!(s.file_path("..", "r1", "a.png"), None);
        assert_eq!(s.file_path("c1", "..", "a.png"), None);
        assert_eq!(s.record_dir("c1", ".uploads"), None);
    }
}
