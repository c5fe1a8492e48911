//! Where finished archives are kept: the data dir's `backups/` folder, or the bucket of the
//! `backups.s3` settings while they are enabled (as PocketBase chooses its backups
//! filesystem: keys are the archive names at the bucket's root). Work in progress never
//! leaves the data dir: an archive is written, received or downloaded into a scratch folder
//! of `backups/` and only a whole one is moved or uploaded (streamed from its file).
//! Switching between the two moves nothing: each lists only what it holds.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{BackupInfo, folder, valid_key};
use crate::db::Db;
use crate::error::Result;
use crate::files::bucket::{Bucket, Config};

/// The type archives are stored and served with.
pub const ZIP: &str = "application/zip";

pub enum Place {
    Folder(PathBuf),
    Bucket(Arc<Bucket>),
}

impl Place {
    /// Where the data dir of `db` keeps its archives, by its settings now.
    pub fn of(db: &Db) -> Result<Self> {
        let settings = db.data.read_reserved(crate::settings::load)?;
        Self::from_settings(db.dir(), &settings)
    }

    pub fn from_settings(dir: &Path, settings: &Map<String, Value>) -> Result<Self> {
        let s3 = settings.get("backups").and_then(|b| b.get("s3"));
        Ok(match Config::enabled(s3) {
            Some(config) => Self::Bucket(Arc::new(Bucket::new(config)?)),
            None => Self::Folder(folder(dir)),
        })
    }

    /// Where it is, for people: `backups/` or `bucket "name"`.
    pub fn describe(&self) -> String {
        match self {
            Self::Folder(_) => "the data dir's backups/ folder".to_owned(),
            Self::Bucket(bucket) => format!("the S3 bucket \"{}\"", bucket.config().bucket),
        }
    }

    /// Every archive, ordered by key (as PocketBase's listing is). Objects of the bucket
    /// that no backup route could name (in folders, not `.zip`) are left out.
    pub fn list(&self) -> Result<Vec<BackupInfo>> {
        let mut out = match self {
            Self::Folder(folder) => list_folder(folder)?,
            Self::Bucket(bucket) => bucket
                .list("")?
                .into_iter()
                .filter(|o| valid_key(&o.key))
                .map(|o| BackupInfo {
                    modified: crate::datetime::parse(&o.modified)
                        .map(crate::datetime::format)
                        .unwrap_or_default(),
                    key: o.key,
                    size: o.size,
                })
                .collect(),
        };
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Whether there is an archive `key`.
    pub fn exists(&self, key: &str) -> Result<bool> {
        if !valid_key(key) {
            return Ok(false);
        }
        match self {
            Self::Folder(folder) => Ok(folder.join(key).is_file()),
            Self::Bucket(bucket) => Ok(bucket.head(key)?.is_some()),
        }
    }

    /// Stores the whole archive at `archive` (in a scratch folder, which its owner
    /// removes) as `key`: renamed into the folder, the rename made durable, or uploaded.
    pub fn keep(&self, archive: &Path, key: &str) -> Result<()> {
        match self {
            Self::Folder(folder) => {
                // The rename is the commit: the key appears whole or not at all.
                fs::rename(archive, folder.join(key))?;
                if let Ok(f) = File::open(folder) {
                    let _ = f.sync_all();
                }
                Ok(())
            }
            // A bucket shows an object only once its upload completed.
            Self::Bucket(bucket) => bucket.put_file(key, archive, ZIP),
        }
    }

    /// Removes the archive `key`; false when the folder holds none. A bucket answers a
    /// missing key as a removed one (S3's DELETE, as PocketBase's answer for it).
    pub fn remove(&self, key: &str) -> Result<bool> {
        match self {
            Self::Folder(folder) => {
                let path = folder.join(key);
                if !valid_key(key) || !path.is_file() {
                    return Ok(false);
                }
                fs::remove_file(path)?;
                Ok(true)
            }
            Self::Bucket(bucket) => {
                if !valid_key(key) {
                    return Ok(false);
                }
                bucket.delete(&[key.to_owned()])?;
                Ok(true)
            }
        }
    }

    /// The archive `key` as a local file: the folder's own, or downloaded (streamed) into
    /// `scratch`. None when there is no such archive.
    pub fn fetch(&self, key: &str, scratch: &Path) -> Result<Option<PathBuf>> {
        if !valid_key(key) {
            return Ok(None);
        }
        match self {
            Self::Folder(folder) => {
                let path = folder.join(key);
                Ok(path.is_file().then_some(path))
            }
            Self::Bucket(bucket) => {
                let path = scratch.join("download.zip");
                Ok(bucket.download(key, &path)?.then_some(path))
            }
        }
    }
}

fn list_folder(folder: &Path) -> Result<Vec<BackupInfo>> {
    if !folder.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in fs::read_dir(folder)? {
        let entry = entry?;
        let key = entry.file_name().to_string_lossy().into_owned();
        let meta = entry.metadata()?;
        if !meta.is_file() || !valid_key(&key) {
            continue;
        }
        let modified = meta
            .modified()
            .map(OffsetDateTime::from)
            .unwrap_or_else(|_| OffsetDateTime::from(SystemTime::UNIX_EPOCH));
        out.push(BackupInfo {
            key,
            modified: crate::datetime::format(modified),
            size: meta.len(),
        });
    }
    Ok(out)
}
