//! The swap of a restore: the live data (`data.db`, `auxiliary.db`, their `-wal`, `-shm` and
//! `-journal` files, `storage/`) replaced by a verified copy, by renames only, so that a
//! crash (kill -9, power loss) at any point leaves a data dir that the next start turns
//! back into the complete old data. Knows files, nothing of SQLite or HTTP; every
//! connection to the files must be closed while it runs (`Db::offline`).
//!
//! # Protocol
//!
//! `D` is the data dir, `S` the staged copy (`D/backups/.tmp-restore-*/unpacked`, same file
//! system, so every rename is atomic), `K` the folder the old data goes to
//! (`D/backups/.before_restore_*`). The journal `D/.restore-journal` names `S`, `K` and the
//! items `D` held before (`old`) and the items `S` holds (`new`).
//!
//! 1. `K` is created and the journal is written: to `.restore-journal.tmp`, fsynced, renamed
//!    into place, `D` fsynced. Nothing has moved yet.
//! 2. Each old item is renamed `D/x` -> `K/x`.
//! 3. Each new item is renamed `S/x` -> `D/x`; then `D`, `K` and `S` are fsynced.
//! 4. The server opens the new files and starts on them (migrations, collections,
//!    settings). If that fails, the swap is rolled back (below).
//! 5. Commit: the journal is removed and `D` fsynced. `K` stays, as the kept old data.
//!
//! Roll back (after a failed step 4, or at start when a journal is found, whatever step
//! the crash interrupted): for each item, in the same order, if `K/x` exists then `x` was
//! moved out, so whatever `D/x` holds now is new and goes back into `S`, and `K/x` is renamed
//! to `D/x`; an item that `D` did not hold before but holds now is new and goes into `S`.
//! Then `D` is fsynced and the journal removed. Each move is a rename that is either done or
//! not, and the rule reads only what is on disk, so a roll back interrupted in turn is
//! simply run again at the next start. A `.restore-journal.tmp` without a journal is from
//! step 1, when nothing had moved: it is deleted.
//!
//! So a start always finds either the old data whole (journal present: rolled back) or the
//! new data whole (journal gone: committed, after the server had started on it).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The journal, in the data dir while a swap is under way.
pub const JOURNAL: &str = ".restore-journal";
const JOURNAL_PART: &str = ".restore-journal.tmp";

/// Everything of a data dir a restore replaces, in the order it is moved.
pub const ITEMS: [&str; 9] = [
    "data.db",
    "data.db-wal",
    "data.db-shm",
    "data.db-journal",
    "auxiliary.db",
    "auxiliary.db-wal",
    "auxiliary.db-shm",
    "auxiliary.db-journal",
    "storage",
];

/// A database's `-wal` or `-shm` file, which SQLite removes itself on the last close.
pub fn is_sidecar(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".db-wal") || n.ends_with(".db-shm"))
}

/// A swap under way, as its journal records it. Paths are relative to the data dir.
#[derive(Debug, Serialize, Deserialize)]
pub struct Swap {
    staged: PathBuf,
    kept: PathBuf,
    old: Vec<String>,
    new: Vec<String>,
}

impl Swap {
    /// Step 1: writes the journal for replacing the data of `dir` with `staged`, the old
    /// data going to `kept` (both inside `dir`).
    pub fn begin(dir: &Path, staged: &Path, kept: &Path) -> Result<Self> {
        let relative = |p: &Path| {
            p.strip_prefix(dir)
                .map(Path::to_owned)
                .map_err(|_| Error::internal(format!("{} is outside the data dir", p.display())))
        };
        let present = |base: &Path| -> Vec<String> {
            ITEMS
                .iter()
                .filter(|item| base.join(item).symlink_metadata().is_ok())
                .map(|item| (*item).to_owned())
                .collect()
        };
        let swap = Self {
            staged: relative(staged)?,
            kept: relative(kept)?,
            old: present(dir),
            new: present(staged),
        };
        fs::create_dir_all(kept)?;
        let text = serde_json::to_vec(&swap).map_err(Error::internal)?;
        let mut part = File::create(dir.join(JOURNAL_PART))?;
        part.write_all(&text)?;
        part.sync_all()?;
        fs::rename(dir.join(JOURNAL_PART), dir.join(JOURNAL))?;
        sync_dir(dir)?;
        Ok(swap)
    }

    /// Steps 2 and 3: every rename, in order, as (from, to).
    pub fn steps(&self, dir: &Path) -> Vec<(PathBuf, PathBuf)> {
        let (staged, kept) = (dir.join(&self.staged), dir.join(&self.kept));
        let out = self.old.iter().map(|x| (dir.join(x), kept.join(x)));
        let into = self.new.iter().map(|x| (staged.join(x), dir.join(x)));
        out.chain(into).collect()
    }

    /// Steps 1 to 3: the new data in place, the old in `kept`, the journal still there.
    pub fn run(dir: &Path, staged: &Path, kept: &Path) -> Result<Self> {
        let swap = Self::begin(dir, staged, kept)?;
        for (from, to) in swap.steps(dir) {
            match fs::rename(&from, &to) {
                Ok(()) => {}
                // A `-wal` or `-shm` file SQLite removed when the last connection to its
                // database closed (a pool's, on another thread), after folding the WAL
                // back: there is nothing left to move.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && is_sidecar(&from) => {}
                Err(e) => {
                    return Err(Error::internal(format!(
                        "cannot move {} to {}: {e}",
                        from.display(),
                        to.display()
                    )));
                }
            }
        }
        for d in [dir, &dir.join(&swap.staged), &dir.join(&swap.kept)] {
            sync_dir(d)?;
        }
        Ok(swap)
    }

    /// Step 5: the new data stays.
    pub fn commit(self, dir: &Path) -> Result<()> {
        fs::remove_file(dir.join(JOURNAL))?;
        sync_dir(dir)
    }

    /// Puts the old data back (see the module's protocol) and removes the journal.
    fn roll_back(&self, dir: &Path) -> Result<()> {
        let (staged, kept) = (dir.join(&self.staged), dir.join(&self.kept));
        fs::create_dir_all(&staged)?;
        for item in ITEMS {
            let (live, old) = (dir.join(item), kept.join(item));
            let moved_out = old.symlink_metadata().is_ok();
            let was_there = self.old.iter().any(|x| x == item);
            if (moved_out || !was_there) && live.symlink_metadata().is_ok() {
                fs::rename(&live, staged.join(format!("undone-{item}")))?;
            }
            if moved_out {
                fs::rename(&old, &live)?;
            }
        }
        sync_dir(dir)?;
        fs::remove_file(dir.join(JOURNAL))?;
        sync_dir(dir)
    }

    /// The journal in `dir`, if a swap is under way or was interrupted.
    fn read(dir: &Path) -> Result<Option<Self>> {
        let text = match fs::read(dir.join(JOURNAL)) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let swap: Self = serde_json::from_slice(&text).map_err(|e| {
            Error::internal(format!(
                "{} is unreadable: {e}",
                dir.join(JOURNAL).display()
            ))
        })?;
        // Only folders a restore makes, and only the items above: a journal never moves
        // anything else, whoever wrote it.
        let inside = |p: &Path, prefix: &str| {
            let mut parts = p.components().map(|c| c.as_os_str().to_string_lossy());
            parts.next().as_deref() == Some("backups")
                && parts.next().is_some_and(|n| n.starts_with(prefix))
                && parts.all(|n| n != ".." && n != ".")
        };
        let known = |items: &[String]| items.iter().all(|x| ITEMS.contains(&x.as_str()));
        if !inside(&swap.staged, ".tmp-restore-")
            || !inside(&swap.kept, ".before_restore_")
            || !known(&swap.old)
            || !known(&swap.new)
        {
            return Err(Error::internal(format!(
                "{} names paths a restore never uses; remove it by hand",
                dir.join(JOURNAL).display()
            )));
        }
        Ok(Some(swap))
    }
}

/// Rolls back the swap under way in `dir` (after a failed start on the new data). Nothing
/// to do without a journal.
pub fn roll_back(dir: &Path) -> Result<()> {
    match Swap::read(dir)? {
        Some(swap) => swap.roll_back(dir),
        None => Ok(()),
    }
}

/// At start: puts the old data back if a restore was interrupted (see the protocol). Waits
/// for a restore another process is running to end first: only when none runs is a
/// journal a left-over.
pub fn recover(dir: &Path) -> Result<()> {
    if !dir.join(JOURNAL).exists() && !dir.join(JOURNAL_PART).exists() {
        return Ok(());
    }
    let _lock = super::wait_for_lock(dir)?;
    // Step 1 never finished: nothing had moved.
    let _ = fs::remove_file(dir.join(JOURNAL_PART));
    if let Some(swap) = Swap::read(dir)? {
        log::warn!(
            "a restore was interrupted before it completed; putting back the data it replaced (from {})",
            dir.join(&swap.kept).display()
        );
        swap.roll_back(dir)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}
