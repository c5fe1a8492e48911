//! Executors: threads that each own a JS runtime (QuickJS runtimes are not shared between
//! threads) and take jobs from one queue. JS never runs on an async worker; a request
//! awaits its job's answer. A runtime that reached its memory cap is replaced.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::bridge::{AppHandle, ExecutorHost};
use super::records::JsHooks;
use super::registry::Registry;
use super::runtime::{Failure, Js};
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

    /// Calls the prelude's `function` with JSON arguments after compiling `handlers`.
    pub fn call(
        &mut self,
        function: &str,
        handlers: &[usize],
        args: &[&str],
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

/// The executors of one loaded version of the hooks; their threads end when it is dropped.
pub struct Pool {
    jobs: SyncSender<Job>,
}

impl Pool {
    pub fn start(
        size: usize,
        registry: Arc<Registry>,
        limits: Limits,
        dir: &Path,
        app: AppHandle,
    ) -> Result<Self> {
        let size = size.max(1);
        let (jobs, queue) = mpsc::sync_channel::<Job>(size * QUEUE_PER_EXECUTOR);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..size {
            let (queue, registry, limits) = (queue.clone(), registry.clone(), limits.clone());
            let (dir, app) = (dir.to_path_buf(), app.clone());
            std::thread::Builder::new()
                .name(format!("hooks-{n}"))
                .spawn(move || serve(&queue, registry, limits, dir, app))
                .map_err(|e| Error::internal(format!("cannot start a hooks thread: {e}")))?;
        }
        Ok(Self { jobs })
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
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Error::Overloaded),
            Err(TrySendError::Disconnected(_)) => {
                return Err(Error::internal("the hooks executors have stopped"));
            }
        }
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
        self.jobs
            .send(job)
            .map_err(|_| Error::internal("the hooks executors have stopped"))?;
        rx.recv()
            .map_err(|_| Error::internal("a hooks executor stopped during a call"))
    }
}

fn serve(
    queue: &Mutex<Receiver<Job>>,
    registry: Arc<Registry>,
    limits: Limits,
    dir: PathBuf,
    app: AppHandle,
) {
    let mut executor = match Executor::new(registry, limits, dir, app) {
        Ok(e) => e,
        Err(e) => {
            log::error!("hooks: cannot start a JS runtime: {e}");
            return;
        }
    };
    loop {
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match job {
            Ok(job) => {
                let ran = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut executor)));
                if ran.is_err() {
                    // The caller gets a 500 (its answer channel is gone); the runtime,
                    // perhaps left mid-call, is replaced.
                    log::error!("hooks: a call panicked; its JS runtime is replaced");
                    executor.renew();
                }
            }
            Err(_) => break,
        }
    }
}
