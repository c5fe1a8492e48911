//! Builds the HTTP server: opens the data dir, binds the listener (port 0 works, `port()`
//! says which was chosen) and wires every route and middleware, here and nowhere else.

use std::net::TcpListener;
use std::pin::pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{Condition, Logger, from_fn};
use actix_web::{HttpServer, web};
use futures_util::future::{self, Either};

use crate::auth::superusers::Superuser;
use crate::config::Config;
use crate::db::{self, Db, DirLock};
use crate::error::{Error, Result};
use crate::mail::smtp::{Sender, SmtpConfig};
use crate::realtime::{self, Broker};
use crate::state::AppState;
use crate::{api, compress, middleware, tls, ui, webhooks};

/// Threads per worker for blocking work (SQLite reads, blocking writes, file reads): the
/// readers plus the writer and one more for file work, split between the workers. SQLite
/// work cannot run wider than that, and more threads only add task switches and memory:
/// 16 per worker (32 on two cores) held ~20 MB, since each thread that allocates keeps
/// pages of its own in the allocator. Work beyond queues, up to `http::MAX_BLOCKING` in
/// flight. (Creates and updates without hooks, files or passwords take no blocking thread:
/// `Writes::save_queued`.)
fn blocking_threads_per_worker(readers: u32, workers: usize) -> usize {
    (readers as usize + 2).div_ceil(workers.max(1)).max(2)
}

/// In-flight requests get this long to finish after SIGINT/SIGTERM.
const SHUTDOWN_GRACE_SECS: u64 = 30;

pub struct App {
    server: Server,
    port: u16,
    https_port: Option<u16>,
    state: web::Data<AppState>,
    signals: StopSignals,
    _lock: DirLock,
}

impl App {
    /// Opens the data dir (migrating it), binds `config.http` and prepares the server.
    /// Must be called inside an async runtime; nothing is served until `run_until_stopped`.
    pub fn build(config: Config) -> Result<Self> {
        // Before the lock file: PocketBase's dir is left exactly as it is.
        if db::foreign::is_pocketbase(&config.dir) {
            return Err(db::foreign::pocketbase_refusal(&config.dir));
        }
        let lock = db::lock_dir(&config.dir)?;
        // Before anything is served: once the server answers, SIGTERM stops it gracefully.
        let signals = StopSignals::listen();
        let db = Db::open(&config.dir, &config.pool)?;
        if let Some(env) = &config.encryption_env {
            crate::crypt::use_key(db.data.path(), env)?;
            crate::settings::reseal(&db.data)?;
        }
        crate::backups::sweep(&config.dir);
        let listener = bind(&config.http)?;
        let addr = listener.local_addr()?;
        // HTTPS: its listener, its certificates, and the HTTP side turned into a redirect.
        let https = match &config.tls {
            Some(tls) => {
                let listener = bind(&tls.https)?;
                let prepared = tls::prepare(tls)?;
                let side = web::Data::new(tls::HttpsSide {
                    port: listener.local_addr()?.port(),
                    certificates: prepared.certificates,
                });
                Some((listener, prepared.config, side))
            }
            None => None,
        };
        let https_side = https.as_ref().map(|(_, _, side)| side.clone());
        let workers = config.workers;
        let blocking_threads = blocking_threads_per_worker(
            config.pool.readers,
            workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        );
        let config_smtp = config.smtp.clone();
        let (broker, events) = Broker::new(config.realtime.max_clients);
        let webhook_options = config.webhooks.clone();
        let state = web::Data::new(AppState::new(db, config, broker)?);

        let shared = state.clone();
        // One stderr line per request costs a sixth of a fast request; the request log in
        // auxiliary.db keeps them anyway. Shown with --dev or RUST_LOG naming the logger.
        let access_log =
            log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info);
        let mut server = HttpServer::new(move || {
            let mut app = actix_web::App::new().app_data(shared.clone());
            if let Some(side) = https_side.clone() {
                app = app.app_data(side);
            }
            app.configure(routes)
                // The settings' rate-limit rules, for what the `/api` scope's guard does not see.
                .wrap(from_fn(api::rate_limits::guard_outside_api))
                // `routerUse` middlewares of the JS hooks, around every route.
                .wrap(from_fn(api::hooks_use::around_routes))
                .wrap(from_fn(middleware::method_mismatch_as_404))
                .wrap(from_fn(middleware::catch_panic))
                .wrap(from_fn(middleware::request_id))
                .wrap(from_fn(middleware::observe))
                .wrap(Condition::new(https_side.is_some(), from_fn(tls::to_https)))
                // brotli, zstd or gzip as the client accepts; not for what is compressed
                // already, ranges, empty answers or the realtime stream.
                .wrap(compress::Compress)
                .wrap(Condition::new(
                    access_log,
                    Logger::new(r#"%a "%r" %s %b %Dms id=%{x-request-id}o"#),
                ))
        })
        .shutdown_timeout(SHUTDOWN_GRACE_SECS)
        // A client that closes its side has gone (as Go's server, and so PocketBase, takes
        // it): the connection is dropped with its handler, whose reads are then interrupted
        // (`http::blocking`). By default actix keeps waiting for a response nobody reads.
        .h1_allow_half_closed(false)
        .worker_max_blocking_threads(blocking_threads)
        // Signals are handled in `run_until_stopped`, which also ends the realtime streams
        // (they never finish by themselves and would hold the graceful stop for its whole
        // grace period).
        .disable_signals()
        .listen(listener)?;
        let mut https_port = None;
        if let Some((listener, config, _)) = https {
            https_port = Some(listener.local_addr()?.port());
            server = server.listen_rustls_0_23(listener, config)?;
        }
        if let Some(n) = workers {
            server = server.workers(n.max(1));
        }

        match https_port {
            None => log::info!(
                "hearth {} listening on http://{addr} (admin UI: http://{addr}/_/)",
                crate::VERSION
            ),
            Some(port) => log::info!(
                "hearth {} listening on https port {port} (admin UI under /_/), http://{addr} \
                 redirects to it",
                crate::VERSION
            ),
        }
        if state.db.data.read(Superuser::count)? == 0 {
            let token = state.installer.open();
            let origin = match https_port {
                Some(port) => format!("https://{}:{port}", installer_host(addr)),
                None => format!("http://{}:{}", installer_host(addr), addr.port()),
            };
            log::warn!(
                "no superuser yet: open {origin}/_/install/{token} within 30 minutes to create \
                 the first one (or run `hearth superuser upsert EMAIL PASSWORD`)"
            );
        }
        if let Some(cfg) = &config_smtp {
            // Fail at start-up, not at the first mail, on an unusable SMTP flag.
            Sender::new(cfg)?;
        }
        let this: Weak<AppState> = Arc::downgrade(&state.clone().into_inner());
        state.hooks.attach(this);
        state.hooks.lifecycle("onBootstrap");
        // The app's JS migrations, before anything is served; one that fails stops the start.
        for name in crate::hooks::migrations::up(&state.clone().into_inner())? {
            log::info!("applied migration {name}");
        }
        housekeeping(Arc::downgrade(&state.clone().into_inner()));
        crate::jobs::register(&state.clone().into_inner())?;
        crate::crons::schedule(Arc::downgrade(&state.crons));
        mailer(Arc::downgrade(&state.clone().into_inner()), config_smtp);
        realtime::start_dispatcher(Arc::downgrade(&state.clone().into_inner()), events);
        webhooks::deliver::start(Arc::downgrade(&state.clone().into_inner()), webhook_options);
        crate::backups::schedule::start(Arc::downgrade(&state.clone().into_inner()));
        Ok(Self {
            server: server.run(),
            port: addr.port(),
            https_port,
            state,
            signals,
            _lock: lock,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The HTTPS listener's port, when HTTPS is on.
    pub fn https_port(&self) -> Option<u16> {
        self.https_port
    }

    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// Serves until SIGINT/SIGTERM (or the server handle stops it), lets in-flight requests
    /// finish, then checkpoints the WAL so the data dir is left clean.
    pub async fn run_until_stopped(self) -> Result<()> {
        let handle = self.server.handle();
        let state = self.state.clone();
        let signals = self.signals;
        let stop = async move {
            signals.first().await;
            log::info!("stopping: closing realtime connections, finishing requests");
            state.realtime.close_all();
            handle.stop(true).await;
        };
        match future::select(pin!(self.server), pin!(stop)).await {
            Either::Left((served, _)) => served?,
            Either::Right(((), server)) => server.await?,
        }
        let hooks = self.state.hooks.clone();
        let _ = actix_web::rt::task::spawn_blocking(move || hooks.lifecycle("onTerminate")).await;
        self.state.db.checkpoint()?;
        log::info!("hearth stopped; databases closed cleanly");
        Ok(())
    }
}

fn bind(addr: &str) -> Result<TcpListener> {
    TcpListener::bind(addr).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
            " (ports below 1024 need root, or once: sudo setcap cap_net_bind_service=+ep hearth)"
        } else {
            ""
        };
        Error::internal(format!("cannot listen on {addr}: {e}{hint}"))
    })
}

/// SIGINT and SIGTERM, listened for from the start.
struct StopSignals {
    term: Option<actix_web::rt::signal::unix::Signal>,
    int: Option<actix_web::rt::signal::unix::Signal>,
}

impl StopSignals {
    fn listen() -> Self {
        use actix_web::rt::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind, name: &str| {
            signal(kind)
                .inspect_err(|e| log::warn!("cannot listen for {name}: {e}"))
                .ok()
        };
        Self {
            term: listen(SignalKind::terminate(), "SIGTERM"),
            int: listen(SignalKind::interrupt(), "SIGINT"),
        }
    }

    /// Resolves at the first of them (never, if neither could be listened for).
    async fn first(mut self) {
        let term = async {
            match self.term.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => future::pending::<()>().await,
            }
        };
        let int = async {
            match self.int.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => future::pending::<()>().await,
            }
        };
        future::select(pin!(term), pin!(int)).await;
    }
}

/// Background upkeep, once a second: hands back the page caches of connections gone quiet
/// (`db::idle`), picks up schema changes made by other processes (the CLI), every ten
/// seconds the settings, and each minute lets the rate limiters forget
/// recovered keys. Ends when the app is dropped.
fn housekeeping(state: Weak<AppState>) {
    let spawned = std::thread::Builder::new()
        .name("housekeeping".into())
        .spawn(move || {
            let mut watch = state
                .upgrade()
                .and_then(|s| s.db.data.watch().inspect_err(|e| log::warn!("{e}")).ok());
            for tick in 1u64.. {
                std::thread::sleep(Duration::from_secs(1));
                let Some(state) = state.upgrade() else { break };
                state.db.data.shrink_idle(crate::db::idle::AFTER);
                state.db.aux.shrink_idle(crate::db::idle::AFTER);
                // Writes by another process (the CLI) make remembered list totals stale.
                if let Some(w) = watch.as_mut()
                    && w.changed().unwrap_or(true)
                {
                    crate::db::generation::advance(w.connection());
                }
                if tick % 60 == 0 {
                    state.limiter.sweep();
                    state.rate_limits.sweep();
                }
                if tick % 10 == 0 {
                    follow_settings(&state);
                }
                match state
                    .db
                    .data
                    .read_reserved(|c| state.schema.refresh_if_changed(c))
                {
                    Ok(true) => log::info!("collections changed outside this server; reloaded"),
                    Ok(false) => {}
                    Err(e) => log::warn!("schema check failed: {e}"),
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start housekeeping: {e}");
    }
}

/// Re-reads the settings that act on every request (a CLI, a restore or another process
/// may have changed them); the log pruning is the `__pbLogsCleanup__` job (`jobs`).
fn follow_settings(state: &AppState) {
    match state.db.data.read_reserved(crate::settings::load) {
        Ok(settings) => state.follow_settings(&settings, false),
        Err(e) => log::warn!("cannot read the settings: {e}"),
    }
}

/// Delivers the mail outbox: every half second, whatever is pending and due, over the SMTP
/// server the settings enable, else the one given by flags, else none (mails are kept).
/// SMTP can be slow, so it has a thread of its own. Ends when the app is dropped.
fn mailer(state: Weak<AppState>, flags: Option<SmtpConfig>) {
    let spawned = std::thread::Builder::new()
        .name("mailer".into())
        .spawn(move || {
            // The sender is rebuilt only when the effective SMTP settings change.
            let mut current: Option<(String, Option<Sender>)> = None;
            loop {
                std::thread::sleep(Duration::from_millis(500));
                let Some(state) = state.upgrade() else { break };
                let from_settings = state
                    .db
                    .data
                    .read_reserved(crate::settings::load)
                    .ok()
                    .and_then(|s| crate::mail::smtp::from_settings(&s));
                let wanted = from_settings.or_else(|| flags.clone());
                let key = wanted
                    .as_ref()
                    .map_or_else(String::new, SmtpConfig::identity);
                if current.as_ref().is_none_or(|(k, _)| *k != key) {
                    let sender = match wanted.as_ref().map(Sender::new).transpose() {
                        Ok(s) => s,
                        Err(e) => {
                            log::warn!("SMTP settings unusable, mails stay pending: {e}");
                            continue;
                        }
                    };
                    match &wanted {
                        Some(cfg) => {
                            log::info!("mail is delivered over SMTP via {}:{}", cfg.host, cfg.port)
                        }
                        None => log::info!("SMTP is not configured: mails are kept in the outbox"),
                    }
                    current = Some((key, sender));
                }
                let sender = current.as_ref().and_then(|(_, s)| s.as_ref());
                if let Err(e) = crate::mail::smtp::deliver_pending(&state.db.data, sender) {
                    log::warn!("mail delivery: {e}");
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the mailer: {e}");
    }
}

/// Every route of the application.
fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .configure(api::configure)
            .default_service(web::to(api::hooks::or_not_found))
            // Under CORS: preflights are not counted, and a 429 carries the CORS headers.
            .wrap(from_fn(api::rate_limits::guard))
            .wrap(api::cors::Cors),
    )
    .configure(ui::configure)
    .default_service(web::to(api::hooks::or_public));
}

/// The host of the installer link: the bound address, or loopback when bound to all.
fn installer_host(addr: std::net::SocketAddr) -> String {
    match addr.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    }
}
