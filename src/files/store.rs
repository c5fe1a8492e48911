//! The `storage/` folder: one folder per record, files moved in whole (written elsewhere,
//! fsynced, renamed), removed with their thumbnails, empty folders tidied away. Uploads in
//! progress live in `storage/.uploads/`, which start-up empties, so a crash mid-upload
//! leaves nothing behind in a record's folder.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::names::is_plain;
use crate::error::{Error, Result};

/// Where uploads wait until their record commits.
const UPLOADS: &str = ".uploads";

#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
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
        Ok(Self {
            root: root.to_owned(),
        })
    }

    /// `root` as it is, for a process beside the server (the CLI): nothing is cleared.
    pub fn at(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
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

    /// Moves a finished (already fsynced) upload to its place and makes the rename durable.
    pub fn place(
        &self,
        temp: &Path,
        collection_id: &str,
        record_id: &str,
        name: &str,
    ) -> Result<PathBuf> {
        let dest = self
            .file_path(collection_id, record_id, name)
            .ok_or_else(|| Error::internal(format!("refusing to store {name:?}")))?;
        let dir = dest
            .parent()
            .ok_or_else(|| Error::internal("stored file has no folder"))?;
        fs::create_dir_all(dir)?;
        fs::rename(temp, &dest)?;
        sync_dir(dir);
        Ok(dest)
    }

    /// Removes files of a record (and their thumbnails); the folder goes too once empty.
    /// Failures are logged, never raised: the record change they follow has committed.
    pub fn remove_files(&self, collection_id: &str, record_id: &str, names: &[String]) {
        // Nothing removed leaves the folder as it was (and spares every plain write a
        // failing `rmdir`).
        if names.is_empty() {
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
            // Fails, as meant, while the folder still holds files.
            let _ = fs::remove_dir(dir);
        }
    }

    /// Removes a deleted record's folder with everything in it.
    pub fn remove_record(&self, collection_id: &str, record_id: &str) {
        if let Some(dir) = self.record_dir(collection_id, record_id) {
            remove_logged(&dir, true);
        }
    }

    /// Removes every file of a collection (deleted or truncated).
    pub fn remove_collection(&self, collection_id: &str) {
        if is_plain(collection_id) {
            remove_logged(&self.root.join(collection_id), true);
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
        let s = Storage {
            root: PathBuf::from("/data/storage"),
        };
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
