//! What every handler shares: the database, the configuration and server-wide secrets.

use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::files::Storage;
use crate::hooks::Hooks;
use crate::logs::RequestLog;
use crate::ratelimit::Limiter;
use crate::realtime::Broker;
use crate::schema::Registry;

pub struct AppState {
    pub db: Db,
    /// Every collection definition, kept in memory and replaced after schema changes.
    pub schema: Registry,
    pub config: Config,
    /// Signs CSRF tokens; generated into `_params` by the first migration.
    pub secret: String,
    /// Sign-in attempt limits (the `--auth-*-limit` flags).
    pub limiter: Limiter,
    /// The settings' `rateLimits` rules in force and their counters.
    pub rate_limits: crate::ratelimit::Live,
    /// The settings' `trustedProxy`: which header, if any, names the client's address.
    pub proxy: crate::client_ip::Live,
    /// The request log's queue and writer thread (into auxiliary.db).
    pub logs: RequestLog,
    /// Uploaded files, `storage/` in the data dir.
    pub files: Storage,
    /// Connected realtime clients and their subscriptions.
    pub realtime: Broker,
    /// The JS hooks of `--hooks-dir` (routes, middlewares).
    pub hooks: Arc<Hooks>,
    /// Scheduled jobs (`cronAdd`), listed and run through `/api/crons`.
    pub crons: Arc<crate::crons::Crons>,
    /// Names Apple posted with a redirect, for the sign-in that follows.
    pub apple_names: crate::auth::apple_names::AppleNames,
    /// The first-run installer link, while no superuser exists.
    pub installer: crate::auth::installer::Installer,
    /// Litestream's view of replication, with `--litestream`.
    pub litestream: Option<Arc<crate::litestream::Replication>>,
    pub started: Instant,
}

impl AppState {
    pub fn new(db: Db, config: Config, realtime: Broker) -> Result<Self> {
        let secret = db.data.read(crate::settings::server_secret)?;
        let schema = db.data.read(Registry::load)?;
        let limiter = Limiter::new(config.auth_limits);
        let logs = RequestLog::start(db.aux.clone());
        let files = Storage::open(&db.dir().join("storage"))?;
        let hooks = Hooks::start(config.hooks.clone())?;
        let litestream = config
            .litestream
            .as_deref()
            .map(|socket| crate::litestream::Replication::start(socket, db.dir()));
        let state = Self {
            litestream,
            hooks,
            crons: Arc::default(),
            apple_names: Default::default(),
            installer: Default::default(),
            files,
            db,
            schema,
            limiter,
            rate_limits: Default::default(),
            proxy: Default::default(),
            logs,
            realtime,
            config,
            secret,
            started: Instant::now(),
        };
        state.follow_settings(&state.db.data.read(crate::settings::load)?, false);
        Ok(state)
    }

    /// Puts the settings that act on every request into force: the request log's policy,
    /// the rate-limit rules, the trusted proxy and where files are stored. `saved` (a settings save) starts every
    /// rate-limit counter afresh, as PocketBase's settings reload does; otherwise they are
    /// kept unless the rules changed.
    pub fn follow_settings(
        &self,
        settings: &serde_json::Map<String, serde_json::Value>,
        saved: bool,
    ) {
        self.logs.configure(settings);
        self.rate_limits.configure(settings, saved);
        self.proxy.configure(settings);
        self.files.configure(settings);
    }

    /// Makes the in-memory state (collections, settings, realtime clients) follow restored
    /// databases.
    pub fn follow_restore(&self) -> Result<()> {
        self.db.data.read(|c| self.schema.reload(c))?;
        // Realtime clients hold who they were signed in as before: they reconnect and sign
        // in again against the restored data (PocketBase restarts, which drops them too).
        self.realtime.close_all();
        self.follow_settings(&self.db.data.read(crate::settings::load)?, true);
        Ok(())
    }

    /// The record write service over this server's database, storage and realtime broker,
    /// without JS hooks (see `records_with` on a hooks executor).
    pub fn records(&self) -> crate::records::Writes<'_> {
        self.records_with(&crate::records::write::NoHooks)
    }

    /// The record write service with `hooks` around its writes.
    pub fn records_with<'a>(
        &'a self,
        hooks: &'a dyn crate::records::write::RecordHooks,
    ) -> crate::records::Writes<'a> {
        crate::records::Writes {
            store: &self.db.data,
            storage: &self.files,
            realtime: &self.realtime,
            hooks,
        }
    }

    /// The collection service over this server's database, registry and storage.
    pub fn collections(&self) -> crate::collections::Collections<'_> {
        crate::collections::Collections {
            store: &self.db.data,
            registry: &self.schema,
            storage: &self.files,
        }
    }
}

impl crate::realtime::Source for AppState {
    fn collections(&self) -> Arc<crate::schema::Snapshot> {
        self.schema.snapshot()
    }

    fn store(&self) -> &crate::db::Store {
        &self.db.data
    }

    fn broker(&self) -> &Broker {
        &self.realtime
    }

    fn enrich(
        &self,
        record: serde_json::Map<String, serde_json::Value>,
        identity: &crate::realtime::Identity,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        use serde_json::{Value, json};
        // The realtime connection's request as the hooks see it: a GET by this identity.
        let request = || {
            let auth = match (&identity.caller, &identity.auth) {
                (_, Some((c, r))) => {
                    json!({"collection": crate::hooks::described(c), "record": r})
                }
                (crate::records::Caller::Superuser, None) => json!({"collection": {
                    "id": crate::auth::superusers::COLLECTION_ID, "name": "_superusers",
                    "type": "auth"}, "record": {}}),
                _ => Value::Null,
            };
            json!({"method": "GET", "path": "/api/realtime", "rawQuery": "",
                "query": [], "headers": [], "params": {}, "body": {}, "bodyError": null,
                "auth": auth, "host": "", "remoteAddr": "", "remoteIP": "", "realIP": "",
                "tls": false,
                "realtime": true})
            .to_string()
        };
        let schema = self.schema.snapshot();
        let out = self
            .hooks
            .enrich_blocking(&schema, request, vec![Value::Object(record)])?;
        match out.into_iter().next() {
            Some(Value::Object(record)) => Ok(record),
            _ => Err(Error::internal("enrich lost the record")),
        }
    }
}

impl crate::hooks::Server for AppState {
    fn data(&self) -> &crate::db::Store {
        &self.db.data
    }

    fn schema(&self) -> &Registry {
        &self.schema
    }

    fn files(&self) -> &Storage {
        &self.files
    }

    fn crons(&self) -> &crate::crons::Crons {
        &self.crons
    }

    fn hooks(&self) -> &Hooks {
        &self.hooks
    }

    fn records_with<'a>(
        &'a self,
        hooks: &'a dyn crate::records::write::RecordHooks,
    ) -> crate::records::Writes<'a> {
        AppState::records_with(self, hooks)
    }

    fn collections(&self) -> crate::collections::Collections<'_> {
        AppState::collections(self)
    }
}
