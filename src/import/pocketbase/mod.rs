//! `hearth import pocketbase PB_DATA_DIR`: a PocketBase 0.23+ data dir (`pb_data`) made
//! into a hearth data dir. `convert` writes the hearth data into an empty folder and is
//! what both the CLI (through `into_dir`, all or nothing) and a restore of a PocketBase
//! backup use. PocketBase's files are only ever read: each database through SQLite's
//! backup API from a read-only connection, so it may keep running meanwhile.
//!
//! hearth's system schema follows PocketBase's (`_collections`, `_params`, `_superusers`,
//! `_externalAuths`, `_mfas`, `_otps`, `_authOrigins`, auxiliary.db's `_logs` have the same
//! columns), so rows travel as stored; what differs is made by hearth's own migrations
//! (`_migrations` names hearth's SQL files, not PocketBase's Go ones; `_params` gains
//! `hearthSecret`; `_mails` and `_webhooks` are hearth's own).

mod collections;
mod place;
mod rows;
mod settings;
mod snapshot;
mod storage;
mod summary;

use std::fs;
use std::path::Path;

pub use place::into_dir;
pub use settings::decrypt;
pub use summary::{Carried, Summary};

use crate::db::{Db, PoolOptions};
use crate::error::{Error, Result};

/// How to read the PocketBase data.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The key PocketBase's settings are encrypted with (the value of the environment
    /// variable it was started with as `--encryptionEnv NAME`), if they are.
    pub encryption_key: Option<String>,
}

/// Where the database snapshots wait inside the output folder while it is being written.
const SCRATCH: &str = ".pocketbase-snapshot";

/// Converts the PocketBase data dir `pb_dir` into a hearth data dir written into `out_dir`
/// (which must exist and be empty). On failure `out_dir` holds a partial result: callers
/// write into a folder of their own and discard it (see `into_dir`).
pub fn convert(
    pb_dir: &Path,
    out_dir: &Path,
    opts: &Options,
    progress: &dyn Fn(&str),
) -> Result<Summary> {
    let mut summary = Summary::default();
    let scratch = out_dir.join(SCRATCH);
    fs::create_dir(&scratch)?;
    progress("copying PocketBase's databases (SQLite backup API, read-only)");
    let (pb, pb_aux) = snapshot::take(pb_dir, &scratch)?;
    let pb_collections = collections::read(&pb)?;

    progress("creating hearth's schema");
    let db = Db::open(
        out_dir,
        &PoolOptions {
            readers: 1,
            query_timeout: None,
            ..PoolOptions::default()
        },
    )?;
    progress("collections");
    collections::carry(&db, &pb_collections)?;
    rows::records(
        &db.data,
        &scratch.join("data.db"),
        &pb_collections,
        progress,
        &mut summary,
    )?;
    progress("settings");
    settings::carry(&pb, opts.encryption_key.as_deref(), &db.data, &mut summary)?;
    drop(pb);
    match &pb_aux {
        Some(path) => {
            progress("request logs");
            rows::logs(&db.aux, path, &mut summary)?;
        }
        None => {
            summary.note("auxiliary.db: PocketBase's dir has none, so no request logs were carried")
        }
    }
    progress("files");
    storage::copy(
        &pb_dir.join("storage"),
        &out_dir.join("storage"),
        &mut summary,
    )?;
    progress("checking that hearth starts on the result");
    check_loads(&db)?;
    db.checkpoint()?;
    drop(db);
    fs::remove_dir_all(&scratch)?;
    // Made by `Db::open`; a server makes it again. Not part of the converted data.
    let _ = fs::remove_dir(out_dir.join("backups"));
    summary.note(
        "password hashes: PocketBase's bcrypt hashes are kept byte for byte; hearth replaces \
         each by argon2id at that account's first sign-in",
    );
    Ok(summary)
}

/// What a server reads at start, read as it reads it.
fn check_loads(db: &Db) -> Result<()> {
    db.data.read(|c| {
        crate::settings::server_secret(c)?;
        crate::schema::Registry::load(c)?;
        crate::settings::load(c)?;
        Ok(())
    })?;
    for store in [&db.data, &db.aux] {
        let findings = store.check()?;
        if let Some(first) = findings.first() {
            return Err(Error::internal(format!(
                "the converted {} fails its check: {first}",
                store.path().display()
            )));
        }
    }
    Ok(())
}
