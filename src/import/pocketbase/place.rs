//! All or nothing: the conversion is written into a new folder beside the target, fsynced,
//! then renamed into place; a failure removes that folder and leaves the target as it was.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Options, Summary, convert};
use crate::error::{Error, Result};

fn is_empty_dir(dir: &Path) -> Result<bool> {
    Ok(fs::read_dir(dir)?.next().is_none())
}

/// The folder the conversion is written into: beside `dir`, so the final rename stays on
/// one file system.
fn work_dir(dir: &Path) -> Result<PathBuf> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::internal(format!("{} names no folder", dir.display())))?;
    fs::create_dir_all(&parent)?;
    Ok(parent.join(format!(".{name}.import-{}", &crate::ids::record_id()[..8])))
}

/// Converts `pb_dir` into the hearth data dir `dir`, which must not exist or be empty.
/// Nothing is written to `dir` unless the whole conversion succeeds.
pub fn into_dir(
    pb_dir: &Path,
    dir: &Path,
    opts: &Options,
    progress: &dyn Fn(&str),
) -> Result<Summary> {
    if dir.exists() {
        if !dir.is_dir() || !is_empty_dir(dir)? {
            return Err(Error::internal(format!(
                "{} is not empty: import into a new or empty folder (nothing was written)",
                dir.display()
            )));
        }
        if let (Ok(a), Ok(b)) = (pb_dir.canonicalize(), dir.canonicalize())
            && a == b
        {
            return Err(Error::internal(
                "the PocketBase dir and --dir are the same folder",
            ));
        }
    }
    let work = work_dir(dir)?;
    fs::create_dir(&work)?;
    let done = convert(pb_dir, &work, opts, progress).and_then(|summary| {
        sync_tree(&work)?;
        Ok(summary)
    });
    let summary = match done {
        Ok(summary) => summary,
        Err(e) => {
            let _ = fs::remove_dir_all(&work);
            return Err(e);
        }
    };
    // An empty target is replaced by the rename itself (rename(2) onto an empty folder).
    if let Err(e) = fs::rename(&work, dir) {
        let _ = fs::remove_dir_all(&work);
        return Err(Error::internal(format!(
            "cannot move the converted data into {}: {e}",
            dir.display()
        )));
    }
    if let Some(parent) = dir.parent() {
        crate::files::store::sync_dir(if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        });
    }
    Ok(summary)
}

/// fsyncs every file and folder under `dir` (the databases are closed by now).
fn sync_tree(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            sync_tree(&path)?;
        } else {
            fs::File::open(&path)?.sync_all()?;
        }
    }
    crate::files::store::sync_dir(dir);
    Ok(())
}
