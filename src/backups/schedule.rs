//! Scheduled backups: the `backups.cron` setting (a standard 5-field cron expression, UTC)
//! read by a thread of its own, which writes `@auto_hearth_backup_*.zip` archives when due
//! and keeps only the `backups.cronMaxKeep` newest of them. Manual archives are never pruned.

use std::path::Path;
use std::sync::Weak;
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;
use serde_json::{Map, Value};

use super::{AUTO_PREFIX, list, write_archive};
use crate::crons::parse;
use crate::error::{Error, Result};
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

/// Deletes the oldest scheduled archives beyond the `keep` newest.
pub fn prune(dir: &Path, keep: usize) -> Result<usize> {
    let mut auto: Vec<_> = list(dir)?
        .into_iter()
        .filter(|b| b.key.starts_with(AUTO_PREFIX))
        .collect();
    // The key holds the UTC time it was made, so by key is by age.
    auto.sort_by(|a, b| b.key.cmp(&a.key));
    let mut removed = 0;
    for old in auto.iter().skip(keep.max(1)) {
        super::delete(dir, &old.key)?;
        removed += 1;
    }
    Ok(removed)
}

/// When the schedule is due: the expression in force and its next run.
#[derive(Default)]
struct Timer {
    current: Option<(String, DateTime<Utc>)>,
}

impl Timer {
    /// True when a backup is due at `now` under `expr` (empty: no schedule). A new or changed
    /// expression starts counting from `now`; an unusable one (the settings refuse those) is
    /// ignored.
    fn due(&mut self, expr: &str, now: DateTime<Utc>) -> bool {
        if expr.is_empty() {
            self.current = None;
            return false;
        }
        let next = parse(expr).and_then(|c| next_after(&c, now));
        match &mut self.current {
            Some((e, due)) if e == expr => {
                if now < *due {
                    return false;
                }
                match next {
                    Ok(n) => *due = n,
                    Err(_) => self.current = None,
                }
                true
            }
            _ => {
                self.current = next.ok().map(|n| (expr.to_owned(), n));
                false
            }
        }
    }
}

/// Starts the schedule thread; it re-reads the settings every two seconds and ends when the
/// app is dropped.
pub fn start(state: Weak<AppState>) {
    let spawned = std::thread::Builder::new()
        .name("backup-schedule".into())
        .spawn(move || {
            let mut timer = Timer::default();
            loop {
                std::thread::sleep(Duration::from_secs(2));
                let Some(state) = state.upgrade() else { break };
                let (expr, keep) = match state.db.data.read_reserved(crate::settings::load) {
                    Ok(settings) => policy(&settings),
                    Err(e) => {
                        log::warn!("backup schedule: cannot read the settings: {e}");
                        continue;
                    }
                };
                if timer.due(&expr, Utc::now()) {
                    run(&state, keep);
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the backup schedule: {e}");
    }
}

fn next_after(cron: &Cron, t: DateTime<Utc>) -> Result<DateTime<Utc>> {
    cron.find_next_occurrence(&t, false)
        .map_err(|e| Error::internal(format!("cron: {e}")))
}

fn run(state: &AppState, keep: usize) {
    let key = super::default_name(AUTO_PREFIX);
    log::info!("scheduled backup {key} starting");
    match write_archive(&state.db, &key, &|step| log::debug!("backup {key}: {step}")) {
        Ok(()) => log::info!("scheduled backup {key} written"),
        Err(e) => return log::warn!("scheduled backup {key} failed: {e}"),
    }
    match prune(state.db.dir(), keep) {
        Ok(0) => {}
        Ok(n) => log::info!("deleted {n} scheduled backup(s) beyond backups.cronMaxKeep={keep}"),
        Err(e) => log::warn!("cannot prune scheduled backups: {e}"),
    }
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
    fn the_timer_fires_once_per_scheduled_time() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let mut timer = Timer::default();
        assert!(
            !timer.due("0 3 * * *", at("2026-01-01T02:59:00Z")),
            "first sight only arms it"
        );
        assert!(!timer.due("0 3 * * *", at("2026-01-01T02:59:59Z")));
        assert!(timer.due("0 3 * * *", at("2026-01-01T03:00:01Z")));
        assert!(
            !timer.due("0 3 * * *", at("2026-01-01T03:00:03Z")),
            "once per time"
        );
        assert!(!timer.due("0 3 * * *", at("2026-01-02T02:00:00Z")));
        assert!(timer.due("0 3 * * *", at("2026-01-02T03:00:00Z")));
        // A changed expression starts over; an empty or broken one never fires.
        assert!(!timer.due("30 3 * * *", at("2026-01-02T03:00:02Z")));
        assert!(timer.due("30 3 * * *", at("2026-01-02T03:30:00Z")));
        assert!(!timer.due("", at("2026-01-03T03:30:00Z")));
        assert!(!timer.due("nope", at("2026-01-04T03:30:00Z")));
        assert!(!timer.due("nope", at("2026-01-05T03:30:00Z")));
    }

    #[test]
    fn pruning_keeps_the_newest_scheduled_archives_and_every_manual_one() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let folder = super::super::folder(dir.path());
        std::fs::create_dir_all(&folder).unwrap_or_else(|e| panic!("{e}"));
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
        assert_eq!(prune(dir.path(), 2).ok(), Some(1));
        let left: Vec<String> = list(dir.path())
            .unwrap_or_default()
            .into_iter()
            .map(|b| b.key)
            .collect();
        assert_eq!(left, names[1..]);
        // cronMaxKeep 0 still keeps the newest: a schedule never deletes its only archive.
        assert_eq!(prune(dir.path(), 0).ok(), Some(1));
        assert!(folder.join(names[2]).exists());
    }
}
