//! Bucket objects to remove: what a committed change dropped (a replaced file, a deleted
//! record or collection) and what an uncommitted one had already uploaded. Removals run on
//! one background thread, after the change, so no request waits on the bucket; while the
//! bucket is away they are retried, waiting longer each time, for up to a day.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::bucket::Bucket;

/// The first wait after a failure, doubled after each one up to `LONGEST`.
const FIRST_WAIT: Duration = Duration::from_secs(1);
const LONGEST: Duration = Duration::from_secs(5 * 60);
/// After this long, a removal is given up (and logged).
const GIVE_UP: Duration = Duration::from_secs(24 * 60 * 60);

enum What {
    Keys(Vec<String>),
    Prefix(String),
}

struct Job {
    bucket: Arc<Bucket>,
    what: What,
    since: Instant,
    wait: Duration,
    next: Instant,
}

impl Job {
    fn run(&self) -> crate::error::Result<()> {
        match &self.what {
            What::Keys(keys) => self.bucket.delete(keys),
            What::Prefix(prefix) => self.bucket.delete_prefix(prefix),
        }
    }

    fn describe(&self) -> String {
        match &self.what {
            What::Keys(keys) => keys.join(", "),
            What::Prefix(prefix) => format!("{prefix}*"),
        }
    }
}

/// The queue's handle; its thread starts with the first removal.
#[derive(Clone, Default)]
pub struct Removals {
    sender: Arc<OnceLock<Mutex<Sender<Job>>>>,
}

impl Removals {
    /// Removes `keys` from `bucket`.
    pub fn keys(&self, bucket: Arc<Bucket>, keys: Vec<String>) {
        if !keys.is_empty() {
            self.send(bucket, What::Keys(keys));
        }
    }

    /// Removes every object under `prefix` from `bucket`.
    pub fn prefix(&self, bucket: Arc<Bucket>, prefix: String) {
        self.send(bucket, What::Prefix(prefix));
    }

    fn send(&self, bucket: Arc<Bucket>, what: What) {
        let now = Instant::now();
        let job = Job {
            bucket,
            what,
            since: now,
            wait: FIRST_WAIT,
            next: now,
        };
        let sender = self.sender.get_or_init(|| {
            let (tx, rx) = mpsc::channel();
            let started = std::thread::Builder::new()
                .name("s3-removals".into())
                .spawn(move || work(rx));
            if let Err(e) = started {
                log::error!("cannot start the S3 removal thread: {e}");
            }
            Mutex::new(tx)
        });
        let sent = match sender.lock() {
            Ok(s) => s.send(job),
            Err(p) => p.into_inner().send(job),
        };
        if let Err(mpsc::SendError(job)) = sent {
            log::error!("S3 removal thread is gone; not removed: {}", job.describe());
        }
    }
}

/// The removal thread: runs each job when it is due, puts failed ones back with a longer
/// wait, and ends when every handle is gone and nothing is left.
fn work(rx: Receiver<Job>) {
    let mut waiting: VecDeque<Job> = VecDeque::new();
    let mut open = true;
    while open || !waiting.is_empty() {
        let now = Instant::now();
        let due = waiting.iter().map(|j| j.next).min();
        let incoming = match due {
            Some(at) if at <= now => None,
            Some(at) if open => match rx.recv_timeout(at - now) {
                Ok(job) => Some(job),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    None
                }
            },
            Some(at) => {
                std::thread::sleep(at - now);
                None
            }
            None => match rx.recv() {
                Ok(job) => Some(job),
                Err(_) => {
                    open = false;
                    None
                }
            },
        };
        if let Some(job) = incoming {
            waiting.push_back(job);
        }
        let now = Instant::now();
        for _ in 0..waiting.len() {
            let Some(mut job) = waiting.pop_front() else {
                break;
            };
            if job.next > now {
                waiting.push_back(job);
                continue;
            }
            match job.run() {
                Ok(()) => {}
                Err(e) if job.since.elapsed() > GIVE_UP => {
                    log::error!("gave up removing {} from S3: {e}", job.describe());
                }
                Err(e) => {
                    log::warn!(
                        "cannot remove {} from S3 yet (retrying in {:?}): {e}",
                        job.describe(),
                        job.wait
                    );
                    job.next = Instant::now() + job.wait;
                    job.wait = (job.wait * 2).min(LONGEST);
                    waiting.push_back(job);
                }
            }
        }
    }
}
