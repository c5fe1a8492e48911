//! Scheduled jobs: one registry for everything that runs on a cron expression (the server's
//! own jobs under PocketBase's ids, see `jobs`; the scheduled backup; the JS hooks'
//! `cronAdd` jobs), listed and run on demand through `/api/crons` as PocketBase's and on
//! the admin UI's Crons page. One thread checks every second which jobs are due (UTC); each due job runs
//! on a thread of its own, never twice at once: a job still running at its next tick skips
//! it. A job that fails says so in the log and runs again at its next tick.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;

use crate::error::{Error, Result};

/// Parses a schedule: five fields (minute hour day-of-month month day-of-week) or a macro
/// such as `@daily`.
pub fn parse(expr: &str) -> Result<Cron> {
    let expr = expr.trim();
    if !expr.starts_with('@') && expr.split_whitespace().count() != 5 {
        return Err(Error::bad_request(
            "A cron expression has 5 fields: minute hour day-of-month month day-of-week.",
        ));
    }
    Cron::from_str(expr).map_err(|e| Error::bad_request(format!("Invalid cron expression: {e}")))
}

/// What a job does; its error is logged.
pub type Work = Arc<dyn Fn() -> Result<()> + Send + Sync>;

/// Who registered a job: the hooks' jobs are replaced as a whole when the hooks reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Hooks,
    Server,
}

/// How a job's last run went.
#[derive(Clone, Debug)]
pub struct LastRun {
    pub started: DateTime<Utc>,
    pub took: Duration,
    /// Why it failed; None when it succeeded.
    pub error: Option<String>,
}

/// A job as the admin UI shows it.
pub struct Entry {
    pub id: String,
    pub expression: String,
    pub next: Option<DateTime<Utc>>,
    pub last: Option<LastRun>,
    pub running: bool,
}

/// What a run shares with the registry: whether it runs, and how the last run went.
#[derive(Clone, Default)]
struct Runs {
    running: Arc<AtomicBool>,
    last: Arc<Mutex<Option<LastRun>>>,
}

struct Job {
    id: String,
    expression: String,
    cron: Cron,
    owner: Owner,
    next: Option<DateTime<Utc>>,
    runs: Runs,
    work: Work,
}

#[derive(Default)]
pub struct Crons {
    jobs: Mutex<Vec<Job>>,
}

impl Crons {
    fn jobs(&self) -> std::sync::MutexGuard<'_, Vec<Job>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds job `id` (replacing one of the same id); a bad expression is refused.
    pub fn add(&self, id: &str, expression: &str, owner: Owner, work: Work) -> Result<()> {
        let cron = parse(expression)?;
        let next = next_after(&cron, Utc::now());
        let mut jobs = self.jobs();
        jobs.retain(|j| j.id != id);
        jobs.push(Job {
            id: id.to_owned(),
            expression: expression.trim().to_owned(),
            cron,
            owner,
            next,
            runs: Runs::default(),
            work,
        });
        Ok(())
    }

    /// Adds job `id` unless it is there already with this expression (its schedule and
    /// last run are kept then).
    pub fn ensure(&self, id: &str, expression: &str, owner: Owner, work: Work) -> Result<()> {
        let same = self
            .jobs()
            .iter()
            .any(|j| j.id == id && j.expression == expression.trim());
        if same {
            return Ok(());
        }
        self.add(id, expression, owner, work)
    }

    /// Every job with its next and last run, in `list`'s order.
    pub fn entries(&self) -> Vec<Entry> {
        let jobs = self.jobs();
        let mut out: Vec<Entry> = jobs
            .iter()
            .map(|j| Entry {
                id: j.id.clone(),
                expression: j.expression.clone(),
                next: j.next,
                last: j.runs.last.lock().ok().and_then(|l| l.clone()),
                running: j.runs.running.load(Ordering::Acquire),
            })
            .collect();
        out.sort_by(|a, b| {
            (a.id.starts_with("__pb"), &a.id).cmp(&(b.id.starts_with("__pb"), &b.id))
        });
        out
    }

    pub fn remove(&self, id: &str) {
        self.jobs().retain(|j| j.id != id);
    }

    /// Removes every job `owner` registered.
    pub fn remove_all(&self, owner: Owner) {
        self.jobs().retain(|j| j.owner != owner);
    }

    /// `(id, expression)` of every job, ordered as PocketBase lists them: by id, its own
    /// `__pb...` jobs last.
    pub fn list(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .jobs()
            .iter()
            .map(|j| (j.id.clone(), j.expression.clone()))
            .collect();
        out.sort_by(|a, b| (a.0.starts_with("__pb"), &a.0).cmp(&(b.0.starts_with("__pb"), &b.0)));
        out
    }

    /// Starts job `id` now, in the background; false when there is no such job.
    pub fn run_now(&self, id: &str) -> bool {
        let found = self
            .jobs()
            .iter()
            .find(|j| j.id == id)
            .map(|j| (j.id.clone(), j.runs.clone(), j.work.clone()));
        match found {
            Some((id, runs, work)) => {
                start(id, runs, work);
                true
            }
            None => false,
        }
    }

    /// Starts the jobs due at `now` and sets their next run.
    fn tick(&self, now: DateTime<Utc>) {
        let mut due = Vec::new();
        for job in self.jobs().iter_mut() {
            if job.next.is_some_and(|at| at <= now) {
                job.next = next_after(&job.cron, now);
                due.push((job.id.clone(), job.runs.clone(), job.work.clone()));
            }
        }
        for (id, runs, work) in due {
            start(id, runs, work);
        }
    }
}

fn next_after(cron: &Cron, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    cron.find_next_occurrence(&now, false).ok()
}

/// Runs a job on its own thread unless it is still running, noting how the run went.
fn start(id: String, runs: Runs, work: Work) {
    if runs.running.swap(true, Ordering::AcqRel) {
        log::warn!("cron {id}: still running, this run is skipped");
        return;
    }
    let running = runs.running.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("cron-{id}"))
        .spawn(move || {
            let started = Utc::now();
            let clock = std::time::Instant::now();
            let outcome = work();
            if let Err(e) = &outcome {
                log::error!("cron {id} failed: {e}");
            }
            if let Ok(mut last) = runs.last.lock() {
                *last = Some(LastRun {
                    started,
                    took: clock.elapsed(),
                    error: outcome.err().map(|e| e.to_string()),
                });
            }
            runs.running.store(false, Ordering::Release);
        });
    if let Err(e) = spawned {
        log::error!("cannot start a thread for a cron job: {e}");
        running.store(false, Ordering::Release);
    }
}

/// The scheduler thread; it ends when the registry is dropped.
pub fn schedule(crons: Weak<Crons>) {
    let spawned = std::thread::Builder::new()
        .name("crons".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let Some(crons) = crons.upgrade() else { break };
                crons.tick(Utc::now());
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the cron scheduler: {e}");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[test]
    fn due_jobs_run_once_per_tick_and_are_listed_as_pocketbase_orders_them() {
        let crons = Crons::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let work: Work = Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        assert!(
            crons
                .add("x", "not a cron", Owner::Hooks, work.clone())
                .is_err()
        );
        crons.add("b", "* * * * *", Owner::Hooks, work.clone()).ok();
        crons
            .add("__pbA__", "0 * * * *", Owner::Server, work.clone())
            .ok();
        crons.add("a", "*/5 * * * *", Owner::Hooks, work).ok();
        let ids: Vec<String> = crons.list().into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["a", "b", "__pbA__"]);

        // Two minutes on: "b" is due (once), "a" maybe, "__pbA__" not unless the hour turned.
        let later = Utc::now() + chrono::Duration::minutes(2);
        crons.tick(later);
        crons.tick(later);
        std::thread::sleep(Duration::from_millis(200));
        let n = runs.load(Ordering::SeqCst);
        assert!((1..=3).contains(&n), "{n} runs");

        crons.remove_all(Owner::Hooks);
        assert_eq!(crons.list().len(), 1);
        assert!(!crons.run_now("b"));
        assert!(crons.run_now("__pbA__"));
    }
}
