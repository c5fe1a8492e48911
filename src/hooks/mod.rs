//! Server-side application logic in JavaScript, as PocketBase's `pb_hooks`: the files of
//! `--hooks-dir` register routes and middlewares with PocketBase's JSVM API, and run in a
//! pool of QuickJS runtimes (`pool`) under a time budget and a memory cap each. With
//! `--hooks-watch` a changed folder is loaded again; a version that fails to load leaves
//! the running one in place and says why.

mod app;
mod bridge;
pub mod enrich;
mod http;
mod lent;
mod loader;
pub mod migrations;
mod pool;
mod records;
mod registry;
mod runtime;
mod sql;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

pub use pool::{Executor, Limits, Pool};
pub use records::{JsHooks, described, failure_error as records_failure, with_next};
pub use registry::{Lookup, Middleware, Registry, Route};
pub use runtime::{Arg, Failure};

use crate::collections::Collections;
use crate::crons::{Crons, Owner, Work};
use crate::db::Store;
use crate::error::Result;
use crate::files::Storage;
use crate::records::Writes;
use crate::records::write::RecordHooks;
use bridge::AppHandle;
use loader::Source;

/// The running server as the hooks reach it (`$app`, the migrations, `cronAdd` jobs).
/// `AppState` is it; the hooks never name the server's state, which holds them.
pub trait Server: Send + Sync {
    fn data(&self) -> &Store;
    fn schema(&self) -> &crate::schema::Registry;
    fn files(&self) -> &Storage;
    fn crons(&self) -> &Crons;
    fn hooks(&self) -> &Hooks;
    fn records_with<'a>(&'a self, hooks: &'a dyn RecordHooks) -> Writes<'a>;
    fn collections(&self) -> Collections<'_>;
}

/// The TypeScript declarations of the supported API, written into the hooks folder.
const TYPES: &str = include_str!("types.d.ts");

/// How often the folder is compared with what is loaded.
const WATCH_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct HooksOptions {
    pub dir: PathBuf,
    /// JS migrations (PocketBase's `pb_migrations`).
    pub migrations: PathBuf,
    pub watch: bool,
    pub pool: usize,
    pub limits: Limits,
}

/// One loaded version of the hooks folder.
pub struct Loaded {
    pub registry: Arc<Registry>,
    /// None when nothing is registered (no threads are started for nothing).
    pub pool: Option<Pool>,
    /// The executors that run `routerUse` middlewares around the built-in routes, apart
    /// from `pool`: a middleware waits in its `e.next()` for a route that may itself need
    /// an executor of `pool`, so sharing one pool could leave every executor waiting.
    pub around: Option<Pool>,
    files: Vec<Source>,
    /// The enrich handlers by collection, for the schema snapshot they were worked out for.
    enrich: enrich::Memo,
}

pub struct Hooks {
    current: RwLock<Arc<Loaded>>,
    /// The files of the last version that failed to load.
    failed: Mutex<Option<Vec<Source>>>,
    options: HooksOptions,
    /// The server, for `$app`; set by `attach` once it exists.
    app: AppHandle,
}

impl Hooks {
    /// Loads the folder (an error names the file and line that failed) and, with
    /// `watch`, keeps it loaded as it changes.
    pub fn start(options: HooksOptions) -> Result<Arc<Self>> {
        if options.dir.is_dir() {
            let types = options.dir.join("types.d.ts");
            if std::fs::read_to_string(&types).ok().as_deref() != Some(TYPES)
                && let Err(e) = std::fs::write(&types, TYPES)
            {
                log::warn!("hooks: cannot write {}: {e}", types.display());
            }
        }
        let files = loader::sources(&options.dir)?;
        let app = AppHandle::default();
        let loaded = load(files, &options, &app)?;
        if loaded.pool.is_some() {
            log::info!(
                "hooks: {} route(s) and {} event hook(s) from {}",
                loaded.registry.routes.len(),
                loaded.registry.hooks.len(),
                options.dir.display()
            );
        }
        let hooks = Arc::new(Self {
            current: RwLock::new(Arc::new(loaded)),
            failed: Mutex::new(None),
            options,
            app,
        });
        if hooks.options.watch {
            watch(Arc::downgrade(&hooks));
        }
        Ok(hooks)
    }

    /// Gives `$app` the running server (the hooks are loaded while it is being built), and
    /// the server the hooks' `cronAdd` jobs.
    pub fn attach(&self, app: Weak<dyn Server>) {
        let _ = self.app.set(app);
        self.sync_crons();
    }

    /// Puts the current version's `cronAdd` jobs in the server's registry, in place of
    /// the previous version's.
    fn sync_crons(&self) {
        let Some(state) = self.app.get().and_then(Weak::upgrade) else {
            return;
        };
        state.crons().remove_all(Owner::Hooks);
        for (id, expr, _) in &self.current().registry.crons {
            let app = Arc::downgrade(&state);
            let job = id.clone();
            let work: Work = Arc::new(move || run_cron(&app, &job));
            if let Err(e) = state.crons().add(id, expr, Owner::Hooks, work) {
                log::error!("hooks: cronAdd({id:?}): {e}");
            }
        }
    }

    pub fn current(&self) -> Arc<Loaded> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Loads the folder again if it changed; true when a new version is in service.
    pub fn reload_if_changed(&self) -> bool {
        let files = match loader::sources(&self.options.dir) {
            Ok(files) => files,
            Err(e) => {
                log::warn!("hooks: {e}");
                return false;
            }
        };
        let failed = |files: &Vec<Source>| {
            self.failed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                == Some(files)
        };
        if files == self.current().files || failed(&files) {
            return false;
        }
        match load(files.clone(), &self.options, &self.app) {
            Ok(loaded) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(loaded);
                *self.failed.lock().unwrap_or_else(PoisonError::into_inner) = None;
                self.sync_crons();
                log::info!("hooks: reloaded from {}", self.options.dir.display());
                true
            }
            Err(e) => {
                log::error!("hooks: not reloaded, the previous version keeps running: {e}");
                // Said once per version of the files, not every second.
                *self.failed.lock().unwrap_or_else(PoisonError::into_inner) = Some(files);
                false
            }
        }
    }
}

fn load(files: Vec<Source>, options: &HooksOptions, app: &AppHandle) -> Result<Loaded> {
    let registry = Arc::new(loader::load(
        &files,
        &options.dir,
        options.limits.memory,
        options.limits.budget,
    )?);
    let used = !registry.routes.is_empty()
        || !registry.global.is_empty()
        || !registry.hooks.is_empty()
        || !registry.crons.is_empty();
    let start = || {
        Pool::start(
            options.pool,
            registry.clone(),
            options.limits.clone(),
            &options.dir,
            app.clone(),
        )
    };
    let pool = if used { Some(start()?) } else { None };
    let around = if registry.global.is_empty() {
        None
    } else {
        Some(start()?)
    };
    Ok(Loaded {
        registry,
        pool,
        around,
        files,
        enrich: Default::default(),
    })
}

impl Hooks {
    /// Runs the app lifecycle hooks named `name` (`onBootstrap`, `onTerminate`)
    /// and waits for them; a failure is logged, as the server goes on (or down) anyway.
    pub fn lifecycle(&self, name: &str) {
        let loaded = self.current();
        let ids: Vec<usize> = loaded
            .registry
            .hooks
            .iter()
            .filter(|h| h.name == name)
            .map(|h| h.handler)
            .collect();
        let Some(pool) = loaded.pool.as_ref().filter(|_| !ids.is_empty()) else {
            return;
        };
        let input = serde_json::json!({ "name": name, "ids": ids }).to_string();
        match pool
            .run_blocking(move |executor| executor.call("__lifecycle", &ids, &[Arg::Json(&input)]))
        {
            Ok(Ok(_)) => {}
            Ok(Err(failure)) => log::error!("hooks: {name}: {}", failure.describe()),
            Err(e) => log::error!("hooks: {name}: {e}"),
        }
    }
}

/// Schedules a `cronAdd` job a handler added while the server runs (`spec`: `id`, `expr`,
/// the handler's `source`): it runs on the current version's executors until a reload or
/// `cronRemove` drops it.
fn add_cron(state: &Arc<dyn Server>, spec: &serde_json::Value) -> Result<()> {
    let id = spec["id"].as_str().unwrap_or_default();
    let expr = spec["expr"].as_str().unwrap_or_default();
    let job = serde_json::json!({"source": spec["handler"], "file": spec["file"]}).to_string();
    let app = Arc::downgrade(state);
    let work: Work = Arc::new(move || run_added_cron(&app, &job));
    state
        .crons()
        .add(id, expr, Owner::Hooks, work)
        .map_err(|e| crate::error::Error::bad_request(format!("cronAdd({id:?}): {e}")))
}

fn run_added_cron(app: &Weak<dyn Server>, job: &str) -> Result<()> {
    let Some(state) = app.upgrade() else {
        return Ok(());
    };
    let loaded = state.hooks().current();
    let Some(pool) = loaded.pool.as_ref() else {
        return Ok(());
    };
    let job = job.to_owned();
    let ran =
        pool.run_blocking(move |executor| executor.call("__cronSource", &[], &[Arg::Json(&job)]))?;
    ran.map(drop)
        .map_err(|f| crate::error::Error::internal(f.describe()))
}

/// Runs the current version's `cronAdd` job `id` on an executor and waits for it.
fn run_cron(app: &Weak<dyn Server>, id: &str) -> Result<()> {
    let Some(state) = app.upgrade() else {
        return Ok(());
    };
    let loaded = state.hooks().current();
    let Some(&(_, _, handler)) = loaded.registry.crons.iter().find(|(j, _, _)| j == id) else {
        return Ok(());
    };
    let Some(pool) = loaded.pool.as_ref() else {
        return Ok(());
    };
    let arg = handler.to_string();
    let ran =
        pool.run_blocking(move |executor| executor.call("__cron", &[handler], &[Arg::Json(&arg)]))?;
    ran.map(drop)
        .map_err(|f| crate::error::Error::internal(f.describe()))
}

fn watch(hooks: Weak<Hooks>) {
    let spawned = std::thread::Builder::new()
        .name("hooks-watch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(WATCH_EVERY);
                let Some(hooks) = hooks.upgrade() else { break };
                hooks.reload_if_changed();
            }
        });
    if let Err(e) = spawned {
        log::warn!("hooks: cannot watch the folder: {e}");
    }
}
