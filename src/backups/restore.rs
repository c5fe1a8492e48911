//! The one restore service, for the API, the admin UI and the CLI: fetch the archive (a
//! bucket's is downloaded into the data dir first), unpack it,
//! verify it whole (`verify::prepare`), swap it in by renames (`swap`), start on it, and
//! put the old data back if starting fails. Knows nothing of HTTP.

use std::fs;

use super::{Place, Scratch, begin, folder, stamp, swap, verify};
use crate::db::{Db, migrate};
use crate::error::{Error, Result};

/// Replaces the data dir's content with the archive `key`, after checking it whole.
///
/// Until the swap, nothing of the live data is touched: a refused archive (400) changes
/// nothing. The swap closes every connection (`Db::offline`), renames the old files into
/// `backups/.before_restore_<time>/` and the verified ones into place, and opens them again.
/// Then `start` makes the caller follow the new data (a server reloads its collections and
/// settings); if that or anything before it fails, the old data is put back, opened again,
/// and the answer says why. The old data stays in `.before_restore_*` after a success.
pub fn restore(
    db: &Db,
    key: &str,
    progress: &dyn Fn(&str),
    start: &dyn Fn() -> Result<()>,
) -> Result<()> {
    let dir = db.dir();
    let missing = || Error::bad_request("Missing or invalid backup file.");
    let place = Place::of(db)?;
    // As PocketBase: a bucket that cannot say is no archive to restore.
    let exists = place.exists(key).unwrap_or_else(|e| {
        log::warn!(
            "restore of {key}: cannot look it up in {}: {e}",
            place.describe()
        );
        false
    });
    if !exists {
        return Err(missing());
    }
    let _busy = begin(dir, key)?;
    let scratch = Scratch::new(dir, "restore")?;
    if let Place::Bucket(_) = place {
        progress(&format!("downloading from {}", place.describe()));
    }
    let zip = place.fetch(key, &scratch.0)?.ok_or_else(missing)?;
    let unpacked = scratch.0.join("unpacked");
    fs::create_dir(&unpacked)?;
    progress("unpacking");
    super::archive::extract(&zip, &unpacked)?;
    progress("checking");
    // Sealed settings in the archive are read with the live database's key.
    crate::crypt::share_key(db.data.path(), &unpacked.join("data.db"));
    let verified = verify::prepare(&unpacked)?;

    let kept = folder(dir).join(format!(
        ".before_restore_{}_{}",
        stamp(),
        &crate::ids::record_id()[..4]
    ));
    progress(&format!(
        "swapping; the current data goes to {}",
        kept.display()
    ));
    let swap = match db.offline(|| swap::Swap::run(dir, verified.dir(), &kept)) {
        Ok(swap) => swap,
        Err(e) => return Err(put_back(db, key, "swapping it in", e)),
    };
    progress("starting on the restored data");
    if let Err(e) = start_on(db, start) {
        return Err(put_back(db, key, "starting on it", e));
    }
    swap.commit(dir)?;
    progress("done");
    Ok(())
}

/// What every start does, then the caller's part.
fn start_on(db: &Db, start: &dyn Fn() -> Result<()>) -> Result<()> {
    fs::create_dir_all(db.dir().join("storage").join(".uploads"))?;
    migrate::up(&db.data, migrate::Set::Data)?;
    migrate::up(&db.aux, migrate::Set::Auxiliary)?;
    verify::loads(db)?;
    start()
}

/// Rolls the swap back after `failed` and returns the error to answer with. A busy
/// database (503) stays what it is: nothing was swapped, try again.
fn put_back(db: &Db, key: &str, doing: &str, failed: Error) -> Error {
    if matches!(failed, Error::Overloaded) {
        return failed;
    }
    log::error!("restore of {key} failed while {doing} ({failed}); putting the previous data back");
    let dir = db.dir();
    match db.offline(|| swap::roll_back(dir)) {
        Ok(()) => {
            log::warn!("restore of {key}: the previous data is back");
            Error::bad_request(format!(
                "The backup could not be restored: {doing} failed ({}). The previous data was put back.",
                reason(&failed)
            ))
        }
        Err(e) => {
            log::error!(
                "restore of {key}: putting the previous data back failed too ({e}); the next start finishes it (see {})",
                dir.join(swap::JOURNAL).display()
            );
            Error::internal(format!(
                "restore failed ({failed}) and so did the roll back ({e})"
            ))
        }
    }
}

fn reason(e: &Error) -> String {
    match e {
        Error::BadRequest { message, .. } => message.clone(),
        other => other.to_string(),
    }
}
