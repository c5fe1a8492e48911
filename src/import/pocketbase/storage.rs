//! PocketBase's `storage/` copied into hearth's, which has the same layout:
//! `storage/<collectionId>/<recordId>/<name>` and the thumbnails in `thumbs_<name>/` beside
//! each file. Every file is copied (never moved: PocketBase's dir stays as it was) and
//! fsynced, and so is every folder made.

use std::fs;
use std::path::Path;

use super::summary::Summary;
use crate::error::{Error, Result};

/// Copies `from` (PocketBase's storage folder) into `to`, counting originals, thumbnails
/// and bytes. Links and other special files are skipped and noted.
pub fn copy(from: &Path, to: &Path, summary: &mut Summary) -> Result<()> {
    // Not followed when it is a link, as no link below it is.
    let is_dir = fs::symlink_metadata(from).is_ok_and(|m| m.is_dir());
    if !is_dir {
        if from.exists() {
            summary.note(format!(
                "{} is not a plain folder: not copied",
                from.display()
            ));
        }
        return Ok(());
    }
    copy_dir(from, to, false, summary)
}

fn copy_dir(from: &Path, to: &Path, thumbs: bool, summary: &mut Summary) -> Result<()> {
    let failed = |path: &Path, e: std::io::Error| {
        Error::internal(format!("cannot copy {}: {e}", path.display()))
    };
    fs::create_dir_all(to).map_err(|e| failed(to, e))?;
    for entry in fs::read_dir(from).map_err(|e| failed(from, e))? {
        let entry = entry.map_err(|e| failed(from, e))?;
        let path = entry.path();
        let name = entry.file_name();
        let kind = entry.file_type().map_err(|e| failed(&path, e))?;
        if kind.is_dir() {
            let is_thumbs = thumbs || name.to_string_lossy().starts_with("thumbs_");
            copy_dir(&path, &to.join(&name), is_thumbs, summary)?;
        } else if kind.is_file() {
            let dest = to.join(&name);
            let bytes = fs::copy(&path, &dest).map_err(|e| failed(&path, e))?;
            fs::File::open(&dest)
                .and_then(|f| f.sync_all())
                .map_err(|e| failed(&dest, e))?;
            // PocketBase's blob driver keeps a `<name>.attrs` sidecar beside each file:
            // copied (harmless to hearth), not counted as files.
            if name.to_string_lossy().ends_with(".attrs") {
                continue;
            }
            summary.bytes += bytes;
            if thumbs {
                summary.thumbs += 1;
            } else {
                summary.files += 1;
            }
        } else {
            summary.note(format!(
                "{}: not a plain file or folder (a link?); not copied",
                path.display()
            ));
        }
    }
    crate::files::store::sync_dir(to);
    Ok(())
}
