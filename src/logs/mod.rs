//! Request logs in `auxiliary.db`, as PocketBase keeps them (`_logs`: level, message, data).
//! Requests only hand an entry to a bounded queue; one background thread writes the queue
//! in batches, so logging never waits on SQLite. When the queue is full the entry is
//! dropped and counted rather than slowing the request.

pub mod query;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

use rusqlite::Connection;
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::db::Store;
use crate::error::Result;

/// Entries waiting to be written; beyond this, new ones are dropped (and counted). Counted
/// by hand on an unbounded channel: a bounded one allocates (and touches) all its slots up
/// front, 2 MB held by an idle server.
const QUEUE: usize = 8192;
/// Entries written per transaction, at most.
const BATCH: usize = 4096;
/// How long the writer lets entries gather after the first one: one transaction per
/// fifth of a second under load, instead of one per entry (each commit writes whole pages).
const GATHER: Duration = Duration::from_millis(200);

/// slog's levels, which PocketBase stores.
pub const LEVEL_INFO: i64 = 0;
pub const LEVEL_ERROR: i64 = 8;

/// One request, as the middleware saw it. The writer turns it into PocketBase's `_logs`
/// row (level, message, `data` JSON), so the request itself only copies a few strings.
pub struct Entry {
    pub created: OffsetDateTime,
    pub method: String,
    /// Path and query, as sent.
    pub url: String,
    pub status: u16,
    pub exec_time: Duration,
    pub referer: String,
    pub user_agent: String,
    /// The caller's collection (`users`, `_superusers`), or empty for a guest.
    pub auth: String,
    /// Only when `logs.logAuthId` is on.
    pub auth_id: Option<String>,
    /// Only when `logs.logIP` is on.
    pub ips: Option<Ips>,
    /// What went wrong, for answers of 400 and above.
    pub error: Option<String>,
}

/// Where a request came from: the client (`userIP`, behind a trusted proxy the address
/// its header gives) and the peer of the connection (`remoteIP`).
#[derive(Debug, Clone, Default)]
pub struct Ips {
    pub user: String,
    pub remote: String,
}

/// `data` as PocketBase writes it for a request.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestData<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
    method: &'a str,
    status: u16,
    exec_time: f64,
    referer: &'a str,
    user_agent: &'a str,
    auth: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_id: Option<&'a str>,
    #[serde(rename = "userIP", skip_serializing_if = "Option::is_none")]
    user_ip: Option<&'a str>,
    #[serde(rename = "remoteIP", skip_serializing_if = "Option::is_none")]
    remote_ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

impl Entry {
    fn level(&self) -> i64 {
        if self.status >= 400 {
            LEVEL_ERROR
        } else {
            LEVEL_INFO
        }
    }

    /// `GET /api/...`, the URL shown decoded.
    fn message(&self) -> String {
        let shown = percent_encoding::percent_decode_str(&self.url).decode_utf8_lossy();
        format!("{} {shown}", self.method)
    }

    fn data(&self) -> String {
        let data = RequestData {
            kind: "request",
            url: &self.url,
            method: &self.method,
            status: self.status,
            exec_time: self.exec_time.as_secs_f64() * 1000.0,
            referer: &self.referer,
            user_agent: &self.user_agent,
            auth: &self.auth,
            auth_id: self.auth_id.as_deref(),
            user_ip: self.ips.as_ref().map(|i| i.user.as_str()),
            remote_ip: self.ips.as_ref().map(|i| i.remote.as_str()),
            error: self.error.as_deref(),
        };
        serde_json::to_string(&data).unwrap_or_else(|_| "{}".into())
    }
}

/// What the `logs` settings say; refreshed by housekeeping, read on every request.
pub struct Policy {
    max_days: AtomicU32,
    log_ip: AtomicBool,
    log_auth_id: AtomicBool,
    min_level: AtomicU32,
}

impl Policy {
    fn apply(&self, settings: &Map<String, Value>) {
        let logs = settings.get("logs");
        let num = |k: &str, d: u64| {
            logs.and_then(|l| l.get(k))
                .and_then(Value::as_u64)
                .unwrap_or(d)
        };
        let flag = |k: &str, d: bool| {
            logs.and_then(|l| l.get(k))
                .and_then(Value::as_bool)
                .unwrap_or(d)
        };
        self.max_days.store(
            num("maxDays", 5).min(u32::MAX as u64) as u32,
            Ordering::Relaxed,
        );
        self.min_level.store(
            num("minLevel", 0).min(u32::MAX as u64) as u32,
            Ordering::Relaxed,
        );
        self.log_ip.store(flag("logIP", true), Ordering::Relaxed);
        self.log_auth_id
            .store(flag("logAuthId", false), Ordering::Relaxed);
    }

    /// Days of logs to keep; 0 turns request logging off, as in PocketBase.
    pub fn max_days(&self) -> u32 {
        self.max_days.load(Ordering::Relaxed)
    }

    pub fn log_ip(&self) -> bool {
        self.log_ip.load(Ordering::Relaxed)
    }

    pub fn log_auth_id(&self) -> bool {
        self.log_auth_id.load(Ordering::Relaxed)
    }
}

/// The handle requests log through.
pub struct RequestLog {
    queue: Sender<Entry>,
    /// Entries sent and not yet taken by the writer.
    waiting: Arc<AtomicUsize>,
    pub policy: Policy,
    dropped: AtomicU64,
    written: Arc<AtomicU64>,
}

impl RequestLog {
    /// Starts the writer thread for `aux` (it ends when the handle is dropped).
    pub fn start(aux: Store) -> Self {
        let (queue, rx) = channel();
        let written = Arc::new(AtomicU64::new(0));
        let waiting = Arc::new(AtomicUsize::new(0));
        let (w, taken) = (written.clone(), waiting.clone());
        let spawned = std::thread::Builder::new()
            .name("request-log".into())
            .spawn(move || writer(aux, rx, taken, w));
        if let Err(e) = spawned {
            log::warn!("cannot start the request-log writer: {e}");
        }
        Self {
            queue,
            waiting,
            policy: Policy {
                max_days: AtomicU32::new(5),
                log_ip: AtomicBool::new(true),
                log_auth_id: AtomicBool::new(false),
                min_level: AtomicU32::new(0),
            },
            dropped: AtomicU64::new(0),
            written,
        }
    }

    pub fn configure(&self, settings: &Map<String, Value>) {
        self.policy.apply(settings);
    }

    /// Queues an entry; never blocks.
    pub fn push(&self, entry: Entry) {
        if self.policy.max_days() == 0
            || entry.level() < i64::from(self.policy.min_level.load(Ordering::Relaxed))
        {
            return;
        }
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= QUEUE || self.queue.send(entry).is_err()
        {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Entries dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

fn writer(aux: Store, rx: Receiver<Entry>, waiting: Arc<AtomicUsize>, written: Arc<AtomicU64>) {
    let mut batch = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(first) => batch.push(first),
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        }
        drain(&rx, &mut batch);
        if batch.len() < BATCH / 8 {
            // A trickle: let more gather so each commit carries many entries.
            std::thread::sleep(GATHER);
            drain(&rx, &mut batch);
        }
        waiting.fetch_sub(batch.len(), Ordering::Relaxed);
        let n = batch.len() as u64;
        match aux.write(|tx| insert(tx, &batch)) {
            Ok(()) => {
                written.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => log::warn!("could not write {n} request log entries: {e}"),
        }
        // Appending touches fresh pages every time, which would fill the writer's page
        // cache (tens of MB) with pages never read again: hand them back after each batch.
        let _ = aux.with_writer(|c| Ok(c.execute_batch("PRAGMA shrink_memory")?));
        // A burst's batch (a MB at BATCH entries) is not kept for the quiet after it.
        batch.clear();
        batch.shrink_to(BATCH / 8);
    }
}

/// Moves waiting entries into `batch`, up to `BATCH`.
fn drain(rx: &Receiver<Entry>, batch: &mut Vec<Entry>) {
    while batch.len() < BATCH {
        match rx.try_recv() {
            Ok(e) => batch.push(e),
            Err(_) => break,
        }
    }
}

fn insert(conn: &Connection, batch: &[Entry]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO _logs (id, level, message, data, created) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for e in batch {
        let micros = (e.created.unix_timestamp_nanos() / 1_000) as i64;
        stmt.execute((
            crate::ids::log_id(micros),
            e.level(),
            e.message(),
            e.data(),
            crate::datetime::format(e.created),
        ))?;
    }
    Ok(())
}

/// Deletes every entry (`DELETE /api/logs`), then gives the space back to the disk as
/// PocketBase does (a failed VACUUM is only logged: the entries are gone either way).
pub fn truncate(aux: &Store) -> Result<usize> {
    let deleted = aux.write(|tx| Ok(tx.prepare_cached("DELETE FROM _logs")?.execute([])?))?;
    if let Err(e) = aux.with_writer(|c| Ok(c.execute_batch("VACUUM")?)) {
        log::warn!("cannot VACUUM auxiliary.db after deleting the logs: {e}");
    }
    Ok(deleted)
}

/// Deletes entries created before `cutoff` (PocketBase's date text); returns how many.
pub fn prune(aux: &Store, cutoff: &str) -> Result<usize> {
    aux.write(|tx| {
        Ok(tx
            .prepare_cached("DELETE FROM _logs WHERE created < ?1")?
            .execute([cutoff])?)
    })
}

/// Parses `7d`, `12h`, `30m` (or a bare number of days) as a duration.
pub fn parse_age(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (num, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&text[..i], &text[i..]),
        None => (text, "d"),
    };
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "d" => n.checked_mul(86_400)?,
        "h" => n.checked_mul(3_600)?,
        "m" => n.checked_mul(60)?,
        "s" => n,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// PocketBase's date text for `age` ago.
pub fn cutoff(age: Duration) -> String {
    let now = time::OffsetDateTime::now_utc();
    crate::datetime::format(now - age)
}

/// `text` cut to at most `max` bytes on a character boundary, marked with `...` when cut:
/// how long values go into a log.
pub fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_durations() {
        assert_eq!(parse_age("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_age("12h"), Some(Duration::from_secs(12 * 3_600)));
        assert_eq!(parse_age("3"), Some(Duration::from_secs(3 * 86_400)));
        assert_eq!(parse_age("7 days"), None);
        assert_eq!(parse_age("-1d"), None);
        assert_eq!(parse_age(""), None);
    }
}
