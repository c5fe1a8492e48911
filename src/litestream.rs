//! Replication as Litestream sees it, for operators: when hearth runs under `litestream
//! replicate` and `--litestream` names Litestream's control socket, a thread asks it once a
//! second (`GET /list`, HTTP over the Unix socket) when each database last synced to its
//! replica. `/api/metrics` and the dashboard read the last answer: no request ever waits on
//! Litestream. It only reads; checkpoints are `db`'s business.
//!
//! Lag is the time since the last successful sync: Litestream syncs every `sync-interval`
//! (1 s by default) even with nothing new, so it stays under about twice that while
//! replication works, and grows when the replica is away or Litestream is stuck. A write
//! acknowledged within the lag is the most a lost disk could cost.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

/// How often Litestream is asked, and how long one question may take.
const POLL: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(1);
/// An answer older than this counts as Litestream not answering.
const STALE: Duration = Duration::from_secs(5);
/// The files hearth replicates, as Litestream lists them.
pub const FILES: [&str; 2] = ["data.db", "auxiliary.db"];
/// Bound on an answer: a few lines of JSON per database.
const MAX_ANSWER: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq)]
pub struct FileState {
    /// `data.db` or `auxiliary.db`.
    pub file: &'static str,
    /// Litestream's status for it (`replicating`, `open`, `stopped`); None: not in its list.
    pub status: Option<String>,
    pub last_sync: Option<SystemTime>,
}

impl FileState {
    /// Seconds since the last successful sync to the replica, as of `now`.
    pub fn lag(&self, now: SystemTime) -> Option<f64> {
        self.last_sync
            .map(|t| now.duration_since(t).unwrap_or_default().as_secs_f64())
    }
}

/// What hearth knows of Litestream now.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// When the socket last answered; None: never since start.
    pub answered: Option<SystemTime>,
    /// The last error, while the socket does not answer.
    pub error: Option<String>,
    pub files: Vec<FileState>,
}

impl Snapshot {
    /// Litestream answered lately and replicates `file`.
    pub fn replicating(&self, file: &FileState, now: SystemTime) -> bool {
        let fresh = self
            .answered
            .is_some_and(|t| now.duration_since(t).unwrap_or_default() < STALE);
        fresh && file.status.as_deref() == Some("replicating")
    }
}

/// Litestream's control socket and its last answer.
pub struct Replication {
    socket: PathBuf,
    dir: PathBuf,
    last: RwLock<Snapshot>,
}

impl Replication {
    /// Starts asking Litestream at `socket` about the files of data dir `dir`; the thread
    /// ends once the returned value is dropped.
    pub fn start(socket: &Path, dir: &Path) -> Arc<Self> {
        let me = Arc::new(Self {
            socket: socket.to_owned(),
            dir: std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned()),
            last: RwLock::new(Snapshot {
                answered: None,
                error: Some("not asked yet".into()),
                files: FILES
                    .iter()
                    .map(|&file| FileState {
                        file,
                        status: None,
                        last_sync: None,
                    })
                    .collect(),
            }),
        });
        let weak: Weak<Self> = Arc::downgrade(&me);
        let spawned = std::thread::Builder::new()
            .name("litestream".into())
            .spawn(move || {
                while let Some(me) = weak.upgrade() {
                    me.poll();
                    drop(me);
                    std::thread::sleep(POLL);
                }
            });
        if let Err(e) = spawned {
            log::warn!("cannot start the Litestream watch: {e}");
        }
        me
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn snapshot(&self) -> Snapshot {
        self.last
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn poll(&self) {
        let answer = ask(&self.socket, "/list").and_then(|body| {
            serde_json::from_slice::<List>(&body).map_err(|e| format!("unreadable answer: {e}"))
        });
        let Ok(mut last) = self.last.write() else {
            return;
        };
        match answer {
            Ok(list) => {
                last.answered = Some(SystemTime::now());
                last.error = None;
                last.files = files(&list, &self.dir);
            }
            Err(e) => {
                if last.error.is_none() {
                    log::warn!("Litestream at {}: {e}", self.socket.display());
                }
                last.error = Some(e);
            }
        }
    }
}

#[derive(Deserialize)]
struct List {
    databases: Vec<ListedDb>,
}

#[derive(Deserialize)]
struct ListedDb {
    path: String,
    status: String,
    last_sync_at: Option<String>,
}

/// hearth's two files in Litestream's list: matched by path inside `dir`.
fn files(list: &List, dir: &Path) -> Vec<FileState> {
    FILES
        .iter()
        .map(|&file| {
            let want = dir.join(file);
            let listed = list.databases.iter().find(|d| {
                let path = Path::new(&d.path);
                path == want || std::fs::canonicalize(path).is_ok_and(|p| p == want)
            });
            FileState {
                file,
                status: listed.map(|d| d.status.clone()),
                last_sync: listed
                    .and_then(|d| d.last_sync_at.as_deref())
                    .and_then(parse_time),
            }
        })
        .collect()
}

fn parse_time(text: &str) -> Option<SystemTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(SystemTime::from)
}

/// One HTTP/1.0 GET over the Unix socket, each step bounded by `TIMEOUT`; the body of a
/// 200 answer.
fn ask(socket: &Path, route: &str) -> Result<Vec<u8>, String> {
    let mut stream = UnixStream::connect(socket).map_err(|e| format!("cannot connect: {e}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET {route} HTTP/1.0\r\nHost: litestream\r\n\r\n")
        .map_err(|e| format!("cannot ask: {e}"))?;
    let mut answer = Vec::new();
    stream
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .map_err(|e| format!("no answer: {e}"))?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("a truncated answer")?;
    let status_line = answer[..split]
        .split(|&b| b == b'\r')
        .next()
        .unwrap_or_default();
    if !status_line.windows(5).any(|w| w == b" 200 ") {
        return Err(format!(
            "answered {}",
            String::from_utf8_lossy(status_line).trim()
        ));
    }
    Ok(answer.split_off(split + 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn litestreams_list_gives_each_files_last_sync() {
        let dir = Path::new("/srv/hearth_data");
        let list: List = serde_json::from_str(
            r#"{"databases":[
                {"path":"/srv/hearth_data/data.db","status":"replicating",
                 "last_sync_at":"2026-12-01T23:00:05.409123456Z"},
                {"path":"/srv/other/auxiliary.db","status":"replicating"}]}"#,
        )
        .unwrap();
        let files = files(&list, dir);
        assert_eq!(files[0].status.as_deref(), Some("replicating"));
        let synced = files[0].last_sync.unwrap();
        let lag = files[0].lag(synced + Duration::from_millis(1500)).unwrap();
        assert!((lag - 1.5).abs() < 1e-6, "{lag}");
        // Another data dir's auxiliary.db is not ours.
        assert_eq!(files[1].status, None);
        assert_eq!(files[1].lag(SystemTime::now()), None);
    }

    #[test]
    fn a_socket_nobody_listens_on_is_an_error_not_a_wait() {
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let err = ask(&dir.path().join("missing.sock"), "/list").unwrap_err();
        assert!(err.starts_with("cannot connect"), "{err}");
        assert!(started.elapsed() < TIMEOUT);
    }
}
