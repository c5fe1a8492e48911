//! Executors: threads that each own a JS runtime (QuickJS runtimes are not shared between
//! threads) and take jobs from one queue. JS never runs on an async worker; a request
//! awaits its job's answer. A runtime that reached its memory cap is replaced.
//!
//! An executor blocks while a hook's `e.next()` waits for its write to commit (or `$http`
//! for an answer). A job that finds no executor idle starts another while fewer executors
//! than CPUs are free to run JS, up to the pool's size; those beyond the first two end
//! after a minute without work. An executor counts as blocked only once it has waited
//! outside JS for `PATIENCE` (a watch thread looks again every `PATIENCE` while jobs
//! wait): a commit under load is shorter than that, and growing for it only spread the
//! same work over more runtimes and threads. Measured with a trivial create hook at 64
//! connections: 32 executors took 176-182 us of CPU and 4 context switches per create, 2
//! executors 121-135 us and 1.5. A slow call (`$http`, `sleep`, a writer held by a long
//! transaction) still lets the pool grow; JS that only computes queues for the executors
//! there are instead of waking more threads than CPUs.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::bridge::{AppHandle, ExecutorHost};
use super::records::JsHooks;
use super::registry::Registry;
use super::runtime::{Arg, Failure, Js};
use crate::error::{Error, Result};

/// Jobs waiting per executor before new ones are refused (503).
const QUEUE_PER_EXECUTOR: usize = 64;

type Job = Box<dyn FnOnce(&mut Executor) + Send>;

/// What a runtime is built with.
#[derive(Debug, Clone)]
pub struct Limits {
    pub memory: usize,
    pub budget: Duration,
}

pub struct Executor {
    js: Js,
    registry: Arc<Registry>,
    compiled: Vec<bool>,
    limits: Limits,
    dir: PathBuf,
    app: AppHandle,
}

impl Executor {
    fn new(registry: Arc<Registry>, limits: Limits, dir: PathBuf, app: AppHandle) -> Result<Self> {
        let js = runtime(&limits, &dir, &app, &registry)?;
        Ok(Self {
            compiled: vec![false; registry.handlers.len()],
            js,
            registry,
            limits,
            dir,
            app,
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Compiles those of `handlers` this runtime has not compiled yet.
    fn compile(&mut self, handlers: &[usize]) -> Result<(), Failure> {
        for &id in handlers {
            if !self.compiled.get(id).copied().unwrap_or(true) {
                let handler = &self.registry.handlers[id];
                self.js.compile(id, handler)?;
                self.compiled[id] = true;
            }
        }
        Ok(())
    }

    /// Calls the prelude's `function` with `args` after compiling `handlers`.
    pub fn call(
        &mut self,
        function: &str,
        handlers: &[usize],
        args: &[Arg],
    ) -> Result<String, Failure> {
        self.compile(handlers)?;
        let answer = self.js.call(function, args, self.limits.budget);
        if matches!(answer, Err(Failure::OutOfMemory)) {
            self.renew();
        }
        answer
    }

    /// Runs `f` (a record write, a request with hooks) with the record hooks at hand,
    /// under the time budget.
    pub fn enter<T>(&mut self, f: impl FnOnce(&JsHooks) -> Result<T>) -> Result<T> {
        let registry = self.registry.clone();
        let entered = self.js.enter(self.limits.budget, |ctx| {
            f(&JsHooks {
                ctx,
                registry: &registry,
            })
        });
        match entered {
            Ok(out) => out,
            Err(failure) => {
                if matches!(failure, Failure::OutOfMemory) {
                    self.renew();
                }
                Err(super::records::failure_error(
                    failure,
                    "Something went wrong while processing your request.",
                ))
            }
        }
    }

    /// `call` with `next` lent as the innermost `e.next()`; its depth is passed to the JS
    /// function as one more argument.
    pub fn call_with_next(
        &mut self,
        function: &str,
        handlers: &[usize],
        args: &[&str],
        next: &mut dyn FnMut(crate::records::Record) -> Result<crate::records::Record>,
    ) -> Result<String, Failure> {
        self.compile(handlers)?;
        let budget = self.limits.budget;
        let answer = self
            .js
            .enter(budget, |ctx| {
                super::records::with_next(next, |depth| {
                    let depth = depth.to_string();
                    let mut all: Vec<&str> = args.to_vec();
                    all.push(&depth);
                    super::runtime::call_in(ctx, function, &all, false)
                })
            })
            .and_then(|inner| inner);
        if matches!(answer, Err(Failure::OutOfMemory)) {
            self.renew();
        }
        answer
    }

    /// A fresh runtime in place of one that may be left in a bad state.
    fn renew(&mut self) {
        match runtime(&self.limits, &self.dir, &self.app, &self.registry) {
            Ok(js) => {
                self.js = js;
                self.compiled.iter_mut().for_each(|c| *c = false);
            }
            Err(e) => log::error!("hooks: cannot renew a JS runtime: {e}"),
        }
    }
}

fn runtime(limits: &Limits, dir: &Path, app: &AppHandle, registry: &Arc<Registry>) -> Result<Js> {
    let host = ExecutorHost {
        dir: dir.to_path_buf(),
        app: app.clone(),
        registry: registry.clone(),
    };
    Js::new(limits.memory, Rc::new(host), dir)
}

/// Executors started with the pool and never ended for want of work.
const STEADY: usize = 2;

/// How long an executor beyond the steady ones waits for work before it ends.
const RETIRE_AFTER: Duration = Duration::from_secs(60);

/// The executors of one loaded version of the hooks; their threads end when it is dropped.
pub struct Pool {
    crew: Arc<Crew>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.crew.queue.close();
    }
}

/// The jobs waiting for an executor: one lock and one wake-up per job. (A channel behind a
/// mutex woke two threads per job: the one taking it and the next in line for the lock.)
struct Queue {
    waiting: Mutex<Waiting>,
    ready: Condvar,
    /// Wakes the watch (see `Crew::watch`) when the pool is dropped.
    ready_closed: Condvar,
    capacity: usize,
}

#[derive(Default)]
struct Waiting {
    jobs: VecDeque<Job>,
    closed: bool,
}

enum Taken {
    Job(Job),
    /// No job came in the time given.
    Idle,
    Closed,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job`; answers how many jobs now wait. 503 when `bounded` and the queue is
    /// full.
    fn push(&self, job: Job, bounded: bool) -> Result<usize> {
        let mut waiting = self.lock();
        if waiting.closed {
            return Err(Error::internal("the hooks executors have stopped"));
        }
        if bounded && waiting.jobs.len() >= self.capacity {
            return Err(Error::Overloaded);
        }
        waiting.jobs.push_back(job);
        let queued = waiting.jobs.len();
        drop(waiting);
        self.ready.notify_one();
        Ok(queued)
    }

    /// The next job, waiting at most `wait` for one; once closed, the jobs left first.
    fn take(&self, wait: Duration) -> Taken {
        let waiting = self.lock();
        let (mut waiting, _) = self
            .ready
            .wait_timeout_while(waiting, wait, |w| w.jobs.is_empty() && !w.closed)
            .unwrap_or_else(PoisonError::into_inner);
        match waiting.jobs.pop_front() {
            Some(job) => Taken::Job(job),
            None if waiting.closed => Taken::Closed,
            None => Taken::Idle,
        }
    }

    fn len(&self) -> usize {
        self.lock().jobs.len()
    }

    /// Waits `wait`, or less once closed; answers whether it is closed.
    fn closed_after(&self, wait: Duration) -> bool {
        let waiting = self.lock();
        let (waiting, _) = self
            .ready_closed
            .wait_timeout_while(waiting, wait, |w| !w.closed)
            .unwrap_or_else(PoisonError::into_inner);
        waiting.closed
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
        self.ready_closed.notify_all();
    }
}

/// What starting another executor takes, and how many there are.
struct Crew {
    queue: Queue,
    registry: Arc<Registry>,
    limits: Limits,
    dir: PathBuf,
    app: AppHandle,
    /// Executors running or starting.
    alive: AtomicUsize,
    /// Executors starting or waiting for a job.
    idle: AtomicUsize,
    /// Since when each executor has been outside JS (see `outside_js`).
    outside: Arc<Outside>,
    size: usize,
    cpus: usize,
}

/// How long an executor waits outside JS before the pool may grow past it.
const PATIENCE: Duration = Duration::from_millis(20);

/// One slot per possible executor: whether an executor holds it, and since when (micro-
/// seconds after `start`, 0: not outside JS) it has been outside JS.
struct Outside {
    start: Instant,
    taken: Vec<AtomicBool>,
    since: Vec<AtomicU64>,
}

impl Outside {
    fn new(size: usize) -> Self {
        Self {
            start: Instant::now(),
            taken: (0..size).map(|_| AtomicBool::new(false)).collect(),
            since: (0..size).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// A free slot for a starting executor (there are as many as the pool's size).
    fn take(&self) -> Option<usize> {
        self.taken.iter().position(|t| {
            t.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })
    }

    fn free(&self, slot: usize) {
        self.taken[slot].store(false, Ordering::Release);
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// How many executors have been outside JS for `PATIENCE` or longer.
    fn blocked(&self) -> usize {
        let limit = self.now().saturating_sub(PATIENCE.as_micros() as u64);
        self.since
            .iter()
            .map(|s| s.load(Ordering::Acquire))
            .filter(|&at| at != 0 && at <= limit)
            .count()
    }
}

thread_local! {
    /// The executor's slot, on its own thread.
    static OUTSIDE: RefCell<Option<(Arc<Outside>, usize)>> = const { RefCell::new(None) };
}

/// Runs `f` (a call from JS into hearth: a write, a read, `$http`, `sleep`) marked as
/// outside JS, so that the pool may grow if it blocks for long.
pub fn outside_js<T>(f: impl FnOnce() -> T) -> T {
    let mark = OUTSIDE.with(|c| c.borrow().clone());
    let Some((outside, slot)) = mark else {
        return f();
    };
    // A call inside another (a write whose model hooks call hearth) keeps the outer's time.
    let now = outside.now().max(1);
    let first = outside.since[slot]
        .compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire)
        .is_ok();
    let out = f();
    if first {
        outside.since[slot].store(0, Ordering::Release);
    }
    out
}

impl Crew {
    /// Starts an executor when more jobs wait (`queued`) than executors are idle, fewer
    /// executors than CPUs are free to run JS (alive and not blocked: an idle one is about
    /// to take a job), and there is room for one more.
    fn grow(self: &Arc<Self>, queued: usize) {
        if queued <= self.idle.load(Ordering::Acquire) {
            return;
        }
        let alive = self.alive.load(Ordering::Acquire);
        if alive.saturating_sub(self.outside.blocked()) >= self.cpus {
            return;
        }
        let reserved = self
            .alive
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.size).then_some(n + 1)
            });
        if let Ok(n) = reserved
            && let Err(e) = self.spawn(n)
        {
            log::error!("hooks: {e}");
        }
    }

    /// Starts executor `n`, already counted in `alive`; counted idle until it takes a job.
    fn spawn(self: &Arc<Self>, n: usize) -> Result<()> {
        self.idle.fetch_add(1, Ordering::AcqRel);
        let crew = self.clone();
        let started = std::thread::Builder::new()
            .name(format!("hooks-{n}"))
            .spawn(move || crew.serve());
        if let Err(e) = started {
            self.alive.fetch_sub(1, Ordering::AcqRel);
            self.idle.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::internal(format!("cannot start a hooks thread: {e}")));
        }
        Ok(())
    }

    /// One executor's life: take jobs until the pool is dropped, or, beyond the steady
    /// executors, until a minute passes without one.
    fn serve(self: Arc<Self>) {
        // As many slots as executors may be alive: one is free for each.
        let slot = self.outside.take();
        if let Some(slot) = slot {
            OUTSIDE.with(|c| *c.borrow_mut() = Some((self.outside.clone(), slot)));
        }
        self.work();
        if let Some(slot) = slot {
            self.outside.free(slot);
        }
    }

    fn work(&self) {
        let built = Executor::new(
            self.registry.clone(),
            self.limits.clone(),
            self.dir.clone(),
            self.app.clone(),
        );
        let mut executor = match built {
            Ok(e) => e,
            Err(e) => {
                log::error!("hooks: cannot start a JS runtime: {e}");
                self.idle.fetch_sub(1, Ordering::AcqRel);
                self.alive.fetch_sub(1, Ordering::AcqRel);
                return;
            }
        };
        loop {
            let job = match self.queue.take(RETIRE_AFTER) {
                Taken::Job(job) => job,
                Taken::Idle if self.retire() => return,
                Taken::Idle => continue,
                Taken::Closed => return,
            };
            self.idle.fetch_sub(1, Ordering::AcqRel);
            let ran = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut executor)));
            if ran.is_err() {
                // The caller gets a 500 (its answer channel is gone); the runtime,
                // perhaps left mid-call, is replaced.
                log::error!("hooks: a call panicked; its JS runtime is replaced");
                executor.renew();
            }
            self.idle.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Every `PATIENCE`, while the pool lives: grows it if jobs wait while executors are
    /// blocked outside JS (a job pushed just before they blocked finds no reason to grow,
    /// and no later job may come).
    fn watch(self: Arc<Self>) {
        while !self.queue.closed_after(PATIENCE) {
            let queued = self.queue.len();
            if queued > 0 {
                self.grow(queued);
            }
        }
    }

    /// Whether an idle executor may end: only while more than the steady ones are alive.
    fn retire(&self) -> bool {
        let left = self
            .alive
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n > STEADY).then(|| n - 1)
            });
        if left.is_ok() {
            self.idle.fetch_sub(1, Ordering::AcqRel);
        }
        left.is_ok()
    }
}

impl Pool {
    /// Up to `size` executors; the steady ones start now.
    pub fn start(
        size: usize,
        registry: Arc<Registry>,
        limits: Limits,
        dir: &Path,
        app: AppHandle,
    ) -> Result<Self> {
        let size = size.max(1);
        let crew = Arc::new(Crew {
            queue: Queue {
                waiting: Mutex::new(Waiting::default()),
                ready: Condvar::new(),
                ready_closed: Condvar::new(),
                capacity: size * QUEUE_PER_EXECUTOR,
            },
            registry,
            limits,
            dir: dir.to_path_buf(),
            app,
            alive: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
            // Room for an executor starting while one that retired has not yet left.
            outside: Arc::new(Outside::new(size * 2)),
            size,
            cpus: std::thread::available_parallelism().map_or(2, usize::from),
        });
        for n in 0..STEADY.min(size) {
            crew.alive.fetch_add(1, Ordering::AcqRel);
            crew.spawn(n)?;
        }
        if size > STEADY {
            let watched = crew.clone();
            std::thread::Builder::new()
                .name("hooks-watch-pool".into())
                .spawn(move || watched.watch())
                .map_err(|e| Error::internal(format!("cannot start a hooks thread: {e}")))?;
        }
        Ok(Self { crew })
    }

    /// Runs `work` on an executor and waits for its answer without blocking the caller's
    /// thread. 503 when every executor is busy and the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Executor) -> T + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |executor| {
            let _ = tx.send(work(executor));
        });
        let queued = self.crew.queue.push(job, true)?;
        self.crew.grow(queued);
        rx.await
            .map_err(|_| Error::internal("a hooks executor stopped during a call"))
    }
}

impl Pool {
    /// `run` for a thread that may block (a cron job's): waits for the answer.
    pub fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Executor) -> T + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move |executor| {
            let _ = tx.send(work(executor));
        });
        let queued = self.crew.queue.push(job, false)?;
        self.crew.grow(queued);
        rx.recv()
            .map_err(|_| Error::internal("a hooks executor stopped during a call"))
    }
}
