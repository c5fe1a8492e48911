//! Scheduled backups: the `backups.cron` setting (a standard 5-field cron expression, UTC)
//! becomes the `__pbAutoBackup__` job of the `crons` registry (as PocketBase names it),
//! which writes `@auto_hearth_backup_*.zip` archives (where the settings keep backups: the
//! data dir or the `backups.s3` bucket) and keeps only the `backups.cronMaxKeep` newest of
//! them there. Manual archives are never pruned. A thread re-reads
//! the settings every two seconds and keeps the job in step with them.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::{Map, Value};

use super::{AUTO_PREFIX, Place, write_archive};
use crate::crons::{Owner, Work, parse};
use crate::error::Result;
use crate::state::AppState;

/// `backups.cron` and `backups.cronMaxKeep` from the settings document.
fn policy(settings: &Map<String, Value>) -> (String, usize) {
    let backups = settings.get("backups");
    let cron = backups
        .and_then(|b| b.get("cron"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_owned();
    let keep = backups
        .and_then(|b| b.get("cronMaxKeep"))
        .and_then(Value::as_u64)
        .unwrap_or(3);
    (cron, usize::try_from(keep).unwrap_or(usize::MAX))
}

/// Deletes the oldest scheduled archives of `place` beyond the `keep` newest.
pub fn prune(place: &Place, keep: usize) -> Result<usize> {
    let mut auto: Vec<_> = place
        .list()?
        .into_iter()
        .filter(|b| b.key.starts_with(AUTO_PREFIX))
        .collect();
    // The key holds the UTC time it was made, so by key is by age.
    auto.sort_by(|a, b| b.key.cmp(&a.key));
    let mut removed = 0;
    for old in auto.iter().skip(keep.max(1)) {
        super::delete(place, &old.key)?;
        removed += 1;
    }
    Ok(removed)
}

/// PocketBase's id of the scheduled backup job.
pub const JOB: &str = "__pbAutoBackup__";

/// Starts the thread that keeps the job in step with the settings; it re-reads them every
/// two seconds and ends when the app is dropped.
pub fn start(state: Weak<AppState>) {
    let spawned = std::thread::Builder::new()
        .name("backup-schedule".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(2));
                let Some(app) = state.upgrade() else { break };
                let expr = match app.db.data.read_reserved(crate::settings::load) {
                    Ok(settings) => policy(&settings).0,
                    Err(e) => {
                        log::warn!("backup schedule: cannot read the settings: {e}");
                        continue;
                    }
                };
                // The settings refuse unusable expressions; one that slipped in is no job.
                if expr.is_empty() || parse(&expr).is_err() {
                    app.crons.remove(JOB);
                    continue;
                }
                let weak = state.clone();
                let work: Work = Arc::new(move || match weak.upgrade() {
                    Some(app) => run(&app),
                    None => Ok(()),
                });
                if let Err(e) = app.crons.ensure(JOB, &expr, Owner::Server, work) {
                    log::warn!("backup schedule: {e}");
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the backup schedule: {e}");
    }
}

/// Writes one scheduled archive, then prunes to `backups.cronMaxKeep`.
fn run(state: &AppState) -> Result<()> {
    let settings = state.db.data.read_reserved(crate::settings::load)?;
    let keep = policy(&settings).1;
    let place = Place::from_settings(state.db.dir(), &settings)?;
    let key = super::default_name(AUTO_PREFIX);
    log::info!("scheduled backup {key} starting");
    write_archive(&state.db, &place, &key, &|step| {
        log::debug!("backup {key}: {step}")
    })?;
    log::info!("scheduled backup {key} written to {}", place.describe());
    match prune(&place, keep) {
        Ok(0) => {}
        Ok(n) => log::info!("deleted {n} scheduled backup(s) beyond backups.cronMaxKeep={keep}"),
        Err(e) => log::warn!("cannot prune scheduled backups: {e}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_field_expressions_and_macros_parse() {
        assert!(parse("0 3 * * *").is_ok());
        assert!(parse("*/5 * * * *").is_ok());
        assert!(parse("@daily").is_ok());
        assert!(parse("0 0 3 * * *").is_err());
        assert!(parse("not cron").is_err());
        assert!(parse("61 * * * *").is_err());
    }

    #[test]
    fn pruning_keeps_the_newest_scheduled_archives_and_every_manual_one() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let folder = super::super::folder(dir.path());
        std::fs::create_dir_all(&folder).unwrap_or_else(|e| panic!("{e}"));
        let place = Place::Folder(folder.clone());
        let names = [
            "@auto_hearth_backup_20260101000000.zip",
            "@auto_hearth_backup_20260102000000.zip",
            "@auto_hearth_backup_20260103000000.zip",
            "hearth_backup_20250101000000.zip",
            "mine.zip",
        ];
        for name in names {
            std::fs::write(folder.join(name), "x").unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(prune(&place, 2).ok(), Some(1));
        let left: Vec<String> = place
            .list()
            .unwrap_or_default()
            .into_iter()
            .map(|b| b.key)
            .collect();
        assert_eq!(left, names[1..]);
        // cronMaxKeep 0 still keeps the newest: a schedule never deletes its only archive.
        assert_eq!(prune(&place, 0).ok(), Some(1));
        assert!(folder.join(names[2]).exists());
    }
}
