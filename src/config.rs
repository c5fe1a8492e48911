//! Typed settings from flags and `HEARTH_*` environment variables. Built once by the CLI and
//! passed by value; nothing reads flags or the environment anywhere else.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::db::PoolOptions;
use crate::hooks::{HooksOptions, Limits};
use crate::mail::smtp::{Security, SmtpConfig};
use crate::ratelimit::AuthLimits;

/// Options every command shares.
#[derive(Debug, Clone, Args)]
pub struct DirArgs {
    /// The data directory (data.db, auxiliary.db, storage/, backups/).
    #[arg(
        long,
        env = "HEARTH_DIR",
        default_value = "./hearth_data",
        global = true
    )]
    pub dir: PathBuf,
}

/// `hearth serve` options.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Domains to serve over HTTPS with certificates from Let's Encrypt (ACME, as
    /// `pocketbase serve example.com`); then `--http` defaults to 0.0.0.0:80 and `--https`
    /// to 0.0.0.0:443.
    #[arg(value_name = "DOMAIN", env = "HEARTH_DOMAINS", value_delimiter = ',')]
    pub domains: Vec<String>,
    /// Address to listen on for HTTP (port 0: any free port). Default 127.0.0.1:8090, or
    /// 0.0.0.0:80 with domains. With HTTPS on, it only redirects to HTTPS.
    #[arg(long, env = "HEARTH_HTTP")]
    pub http: Option<String>,
    /// Address to listen on for HTTPS, with `--tls-cert`/`--tls-key` or domains.
    #[arg(long, env = "HEARTH_HTTPS")]
    pub https: Option<String>,
    /// PEM certificate chain for `--https` (reloaded when the file changes).
    #[arg(long, env = "HEARTH_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `--tls-cert`.
    #[arg(long, env = "HEARTH_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// ACME directory the certificates for domains come from.
    #[arg(long, env = "HEARTH_ACME_DIRECTORY", default_value = LETS_ENCRYPT)]
    pub acme_directory: String,
    /// A PEM root certificate to trust for the ACME directory besides the system's (a test
    /// CA such as pebble's).
    #[arg(long, env = "HEARTH_ACME_CA")]
    pub acme_ca: Option<PathBuf>,
    /// Contact address given to the ACME directory (expiry warnings).
    #[arg(long, env = "HEARTH_ACME_EMAIL")]
    pub acme_email: Option<String>,
    /// Challenges tried, in order, to prove control of a domain.
    #[arg(
        long,
        env = "HEARTH_ACME_CHALLENGES",
        value_enum,
        value_delimiter = ',',
        default_value = "tls-alpn-01,http-01"
    )]
    pub acme_challenges: Vec<Challenge>,
    /// Origins a browser page may call `/api/` from (CORS), comma-separated: `*` for any,
    /// exact origins (`https://app.example.com`), or patterns with `*` (`https://*.example.com`).
    #[arg(
        long,
        env = "HEARTH_ORIGINS",
        default_value = "*",
        value_delimiter = ','
    )]
    pub origins: Vec<String>,
    /// The app's own frontend, served at `/` (PocketBase's `pb_public`).
    #[arg(long, env = "HEARTH_PUBLIC_DIR", default_value = "./hearth_public")]
    pub public_dir: PathBuf,
    /// Serve `index.html` for unknown paths without a file extension (a single-page app's
    /// client routes); `--index-fallback=false` answers them 404.
    #[arg(long, env = "HEARTH_INDEX_FALLBACK", default_value_t = true, action = clap::ArgAction::Set)]
    pub index_fallback: bool,
    /// JS hooks (PocketBase's `pb_hooks`): every `*.pb.js` file here is loaded at start.
    #[arg(long, env = "HEARTH_HOOKS_DIR", default_value = "./hearth_hooks")]
    pub hooks_dir: PathBuf,
    /// Load the hooks again when their files change (`--hooks-watch=false`: only at start).
    #[arg(long, env = "HEARTH_HOOKS_WATCH", default_value_t = true, action = clap::ArgAction::Set)]
    pub hooks_watch: bool,
    /// JS runtimes that may run hooks side by side; they start as calls need them.
    #[arg(long, env = "HEARTH_HOOKS_POOL", default_value_t = 32)]
    pub hooks_pool: usize,
    /// JS migrations (PocketBase's `pb_migrations`): pending `*.js` files here are applied
    /// in name order at start.
    #[arg(
        long,
        env = "HEARTH_MIGRATIONS_DIR",
        default_value = "./hearth_migrations"
    )]
    pub migrations_dir: PathBuf,
    /// Seconds one hook call may run before it is stopped.
    #[arg(long, env = "HEARTH_HOOKS_TIMEOUT", default_value_t = 30)]
    pub hooks_timeout: u64,
    /// Megabytes of memory each JS runtime may use.
    #[arg(long, env = "HEARTH_HOOKS_MEMORY", default_value_t = 64)]
    pub hooks_memory: usize,
    /// Development mode: verbose logs, including every SQL error in full.
    #[arg(long, env = "HEARTH_DEV")]
    pub dev: bool,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "HEARTH_BODY_LIMIT", default_value_t = 32 * 1024 * 1024)]
    pub body_limit: usize,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "HEARTH_WORKERS")]
    pub workers: Option<usize>,
    /// Read-only SQLite connections per database file (default: two per core, 4 to 16).
    #[arg(long, env = "HEARTH_READERS")]
    pub readers: Option<u32>,
    /// fsync every commit (SQLite `synchronous=FULL`): survive power loss, not only crashes.
    #[arg(long, env = "HEARTH_SYNC_FULL")]
    pub sync_full: bool,
    /// Seconds a request may wait for a database connection before a 503.
    #[arg(long, env = "HEARTH_DB_WAIT", default_value_t = 10)]
    pub db_wait: u64,
    /// Seconds a request's SQL may run before it is stopped with a 400, as PocketBase's
    /// `--queryTimeout` (0: no limit).
    #[arg(long, env = "HEARTH_QUERY_TIMEOUT", default_value_t = 30)]
    pub query_timeout: u64,
    /// Sign-in attempts allowed per client IP per minute (0: no limit).
    #[arg(long, env = "HEARTH_AUTH_IP_LIMIT", default_value_t = 60)]
    pub auth_ip_limit: u32,
    /// Sign-in attempts allowed per identity (email) per 15 minutes (0: no limit).
    #[arg(long, env = "HEARTH_AUTH_IDENTITY_LIMIT", default_value_t = 20)]
    pub auth_identity_limit: u32,
    /// SMTP server for outgoing mail; without it mails stay in the outbox.
    #[arg(long, env = "HEARTH_SMTP_HOST")]
    pub smtp_host: Option<String>,
    #[arg(long, env = "HEARTH_SMTP_PORT", default_value_t = 587)]
    pub smtp_port: u16,
    #[arg(long, env = "HEARTH_SMTP_USERNAME", default_value = "")]
    pub smtp_username: String,
    /// Prefer the environment variable: flags show up in process lists.
    #[arg(
        long,
        env = "HEARTH_SMTP_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    pub smtp_password: String,
    #[arg(
        long,
        env = "HEARTH_SMTP_SECURITY",
        value_enum,
        default_value = "starttls"
    )]
    pub smtp_security: Security,
    /// Sender of outgoing mail, `Name <address>`.
    #[arg(
        long,
        env = "HEARTH_MAIL_FROM",
        default_value = "hearth <noreply@localhost>"
    )]
    pub mail_from: String,
    /// A key that lets a scraper read `/api/metrics` (`Authorization: Bearer KEY`) without a
    /// superuser token. Prefer the environment variable.
    #[arg(long, env = "HEARTH_METRICS_KEY", hide_env_values = true)]
    pub metrics_key: Option<String>,
    /// Litestream's control socket (the `socket:` of its config), when hearth runs under
    /// `litestream replicate`: replication lag and health then show in `/api/metrics` and
    /// on the dashboard.
    #[arg(long, env = "HEARTH_LITESTREAM", value_name = "SOCKET")]
    pub litestream: Option<PathBuf>,
    /// Most realtime (SSE) clients connected at once; past it, 503 (0: no limit).
    #[arg(long, env = "HEARTH_REALTIME_MAX_CLIENTS", default_value_t = 10_000)]
    pub realtime_max_clients: usize,
    /// Seconds a realtime connection may go without a message before it is closed (the
    /// SDK reconnects), as PocketBase's 5 minutes.
    #[arg(long, env = "HEARTH_REALTIME_IDLE_TIMEOUT", default_value_t = 300)]
    pub realtime_idle_timeout: u64,
    /// Attempts per webhook delivery before it is marked failed.
    #[arg(long, env = "HEARTH_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8)]
    pub webhook_max_attempts: u32,
    /// Seconds one webhook request may take, connecting included.
    #[arg(long, env = "HEARTH_WEBHOOK_TIMEOUT", default_value_t = 10)]
    pub webhook_timeout: u64,
    /// Days settled (delivered or failed) webhook deliveries are kept.
    #[arg(long, env = "HEARTH_WEBHOOK_RETENTION_DAYS", default_value_t = 7)]
    pub webhook_retention_days: u32,
    /// Let webhooks reach loopback, private, link-local and metadata addresses (refused by
    /// default, at saving and at delivery); deliveries then also honour HTTP(S)_PROXY.
    #[arg(long, env = "HEARTH_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,
    /// Let a new OAuth2 user's avatar be downloaded from loopback, private, link-local and
    /// metadata addresses (a provider on your own network); refused by default, as
    /// PocketBase does.
    #[arg(long, env = "HEARTH_OAUTH2_AVATAR_ALLOW_PRIVATE")]
    pub oauth2_avatar_allow_private: bool,
    /// Keep the settings (SMTP password, S3 secret, OAuth2 secrets, ...) encrypted in
    /// data.db with the 32-character key held by the environment variable NAME, as
    /// PocketBase's `--encryptionEnv NAME`.
    #[arg(long, env = "HEARTH_ENCRYPTION_ENV", value_name = "NAME")]
    pub encryption_env: Option<String>,
}

/// HTTPS: where to listen and where the certificates come from. `certificates` is None
/// when `--https` was given without a source, which `App::build` refuses.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub https: String,
    pub certificates: Option<Certificates>,
}

#[derive(Debug, Clone)]
pub enum Certificates {
    Files { cert: PathBuf, key: PathBuf },
    Acme(AcmeConfig),
}

/// Let's Encrypt's production directory, the default for `hearth serve DOMAIN`.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// How control of a domain is proven to the ACME directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Challenge {
    /// A self-signed certificate presented on the HTTPS port (RFC 8737).
    #[value(name = "tls-alpn-01")]
    TlsAlpn01,
    /// A token answered on the HTTP port under `/.well-known/acme-challenge/`.
    #[value(name = "http-01")]
    Http01,
}

/// Certificates for `domains` from an ACME directory, cached in `cache`.
#[derive(Debug, Clone)]
pub struct AcmeConfig {
    pub domains: Vec<String>,
    pub directory: String,
    pub ca: Option<PathBuf>,
    pub email: Option<String>,
    pub challenges: Vec<Challenge>,
    pub cache: PathBuf,
}

/// Realtime limits.
#[derive(Debug, Clone)]
pub struct RealtimeOptions {
    pub max_clients: usize,
    pub idle_timeout: Duration,
}

impl Default for RealtimeOptions {
    fn default() -> Self {
        Self {
            max_clients: 10_000,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// How webhook deliveries are attempted and kept.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    pub max_attempts: u32,
    pub timeout: Duration,
    pub retention: Duration,
    /// The first retry's delay; each later one doubles it (plus jitter), up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// How often the worker looks for due deliveries.
    pub poll: Duration,
    /// Webhooks may target loopback, private, link-local and metadata addresses.
    pub allow_private: bool,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            timeout: Duration::from_secs(10),
            retention: Duration::from_secs(7 * 24 * 3600),
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(3600),
            poll: Duration::from_millis(250),
            allow_private: false,
        }
    }
}

/// Everything `App::build` needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub dir: PathBuf,
    pub http: String,
    /// HTTPS, when on (see `tls`).
    pub tls: Option<TlsConfig>,
    /// CORS origins for `/api/` (see `api::cors`).
    pub origins: Vec<String>,
    /// The app's own frontend (see `public`), and whether unknown extensionless paths get
    /// its `index.html`.
    pub public_dir: PathBuf,
    pub index_fallback: bool,
    pub hooks: HooksOptions,
    pub dev: bool,
    pub body_limit: usize,
    pub workers: Option<usize>,
    pub pool: PoolOptions,
    pub auth_limits: AuthLimits,
    /// None: mails are kept in the outbox.
    pub smtp: Option<SmtpConfig>,
    /// Bearer key for `/api/metrics` besides superuser tokens.
    pub metrics_key: Option<String>,
    /// Litestream's control socket, read for replication lag (see `litestream`).
    pub litestream: Option<PathBuf>,
    pub realtime: RealtimeOptions,
    pub webhooks: WebhookOptions,
    /// OAuth2 avatars may be downloaded from private addresses (see `auth::avatar`).
    pub oauth2_avatar_allow_private: bool,
    /// The environment variable holding the settings' key (see `crypt`).
    pub encryption_env: Option<String>,
}

/// Request readers when `--readers` is not given: two per core, between 4 and 16. Reads are
/// CPU work on pages the OS keeps cached, so more connections than that add no throughput,
/// only memory: each keeps its own page cache and statements, and runs on a thread of its
/// own (8 on a 2-core machine held 10 MB more than 4 under the benchmark's load).
fn default_readers() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 2).clamp(4, 16) as u32
}

impl Config {
    pub fn new(dir: DirArgs, serve: ServeArgs) -> Self {
        let domains: Vec<String> = serve
            .domains
            .iter()
            .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        let default_http = if domains.is_empty() {
            "127.0.0.1:8090"
        } else {
            "0.0.0.0:80"
        };
        let https = serve
            .https
            .or_else(|| (!domains.is_empty()).then(|| "0.0.0.0:443".to_owned()));
        let certificates = match (serve.tls_cert, serve.tls_key) {
            (Some(cert), Some(key)) => Some(Certificates::Files { cert, key }),
            _ if domains.is_empty() => None,
            _ => Some(Certificates::Acme(AcmeConfig {
                cache: dir.dir.join(".acme"),
                domains,
                directory: serve.acme_directory,
                ca: serve.acme_ca,
                email: serve.acme_email.filter(|e| !e.is_empty()),
                challenges: serve.acme_challenges,
            })),
        };
        Self {
            http: serve.http.unwrap_or_else(|| default_http.to_owned()),
            tls: https.map(|https| TlsConfig {
                https,
                certificates,
            }),
            dir: dir.dir,
            origins: serve
                .origins
                .into_iter()
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            public_dir: serve.public_dir,
            index_fallback: serve.index_fallback,
            hooks: HooksOptions {
                dir: serve.hooks_dir,
                migrations: serve.migrations_dir,
                watch: serve.hooks_watch,
                pool: serve.hooks_pool.max(1),
                limits: Limits {
                    memory: serve.hooks_memory.max(4) * 1024 * 1024,
                    budget: Duration::from_secs(serve.hooks_timeout.max(1)),
                },
            },
            dev: serve.dev,
            body_limit: serve.body_limit,
            workers: serve.workers,
            pool: PoolOptions {
                readers: serve.readers.unwrap_or_else(default_readers),
                wait: Duration::from_secs(serve.db_wait),
                sync_full: serve.sync_full,
                query_timeout: (serve.query_timeout > 0)
                    .then(|| Duration::from_secs(serve.query_timeout)),
            },
            auth_limits: AuthLimits {
                per_ip_per_minute: serve.auth_ip_limit,
                per_identity_per_15_minutes: serve.auth_identity_limit,
            },
            metrics_key: serve.metrics_key.filter(|k| !k.is_empty()),
            litestream: serve.litestream.filter(|p| !p.as_os_str().is_empty()),
            smtp: serve
                .smtp_host
                .filter(|h| !h.is_empty())
                .map(|host| SmtpConfig {
                    host,
                    port: serve.smtp_port,
                    username: serve.smtp_username,
                    password: serve.smtp_password,
                    security: serve.smtp_security,
                    from: serve.mail_from,
                }),
            realtime: RealtimeOptions {
                max_clients: serve.realtime_max_clients,
                idle_timeout: Duration::from_secs(serve.realtime_idle_timeout.max(1)),
            },
            webhooks: WebhookOptions {
                max_attempts: serve.webhook_max_attempts.max(1),
                timeout: Duration::from_secs(serve.webhook_timeout.max(1)),
                retention: Duration::from_secs(u64::from(serve.webhook_retention_days) * 24 * 3600),
                allow_private: serve.webhook_allow_private,
                ..WebhookOptions::default()
            },
            oauth2_avatar_allow_private: serve.oauth2_avatar_allow_private,
            encryption_env: serve.encryption_env.filter(|e| !e.is_empty()),
        }
    }

    /// Defaults for a data dir, listening on `http` (tests use `127.0.0.1:0`).
    pub fn for_dir(dir: impl Into<PathBuf>, http: &str) -> Self {
        Self {
            dir: dir.into(),
            http: http.to_owned(),
            tls: None,
            origins: vec!["*".into()],
            public_dir: PathBuf::from("./hearth_public"),
            index_fallback: true,
            hooks: HooksOptions {
                dir: PathBuf::from("./hearth_hooks"),
                migrations: PathBuf::from("./hearth_migrations"),
                watch: false,
                pool: 2,
                limits: Limits {
                    memory: 64 * 1024 * 1024,
                    budget: Duration::from_secs(30),
                },
            },
            dev: false,
            body_limit: 32 * 1024 * 1024,
            workers: None,
            pool: PoolOptions::default(),
            auth_limits: AuthLimits::default(),
            smtp: None,
            metrics_key: None,
            litestream: None,
            realtime: RealtimeOptions::default(),
            webhooks: WebhookOptions::default(),
            oauth2_avatar_allow_private: false,
            encryption_env: None,
        }
    }
}
