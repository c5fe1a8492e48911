//! Files kept in a bucket: what serving needs of them (their metadata, thumbnails made on
//! first request and kept in the bucket beside the original, as on disk).

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use super::bucket::{Bucket, Meta};
use super::store::{Storage, thumb_key};
use super::thumbs::{self, Size};
use crate::error::Result;

/// A file in a bucket.
pub struct Found {
    pub bucket: Arc<Bucket>,
    pub key: String,
    /// What the bucket said of it, when it was asked.
    pub meta: Option<Meta>,
}

/// The object at `key`, if there is one.
pub fn find(bucket: &Arc<Bucket>, key: &str) -> Result<Option<Found>> {
    Ok(bucket.head(key)?.map(|meta| Found {
        bucket: bucket.clone(),
        key: key.to_owned(),
        meta: Some(meta),
    }))
}

/// Removes its temporary files however the thumbnail ends.
struct Scratch(Vec<PathBuf>);

impl Drop for Scratch {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = fs::remove_file(path);
        }
    }
}

/// The thumbnail `spec` of `original`, made (from a download of the original, on disk, so
/// decoding is bounded as for local files) and uploaded when it is not there yet.
pub fn thumb(
    storage: &Storage,
    original: &Found,
    (collection_id, record_id, name): (&str, &str, &str),
    spec: &str,
    size: Size,
) -> Result<Found> {
    let key = thumb_key(collection_id, record_id, name, spec);
    if let Some(found) = find(&original.bucket, &key)? {
        return Ok(found);
    }
    let scratch = |what: &str| {
        storage
            .uploads_dir()
            .join(format!("{}.{what}", crate::ids::secret(24)))
    };
    let files = Scratch(vec![scratch("original"), scratch("thumb")]);
    let (source, made) = (&files.0[0], &files.0[1]);
    if !original.bucket.download(&original.key, source)? {
        return Err(crate::error::Error::not_found());
    }
    thumbs::create(source, made, size)?;
    let mime = super::mime::of_file(made)?;
    original.bucket.put_file(&key, made, &mime)?;
    find(&original.bucket, &key)?.ok_or_else(crate::error::Error::not_found)
}
