//! The PocketBase-compatible JSON API under `/api/`. One module per resource, each with a
//! `configure` that `app.rs` calls; handlers parse input, call a service, shape the output.

mod account;
mod account_hooks;
pub mod auth;
mod auth_hooks;
pub mod backups;
mod batch;
mod collections;
pub mod cors;
mod crons;
mod enrich;
mod etag;
mod files;
mod files_bucket;
mod health;
pub mod hooks;
pub mod hooks_use;
pub mod list;
mod logs;
mod metrics;
mod oauth2;
mod oauth2_hooks;
mod oauth2_submit;
mod openapi;
pub mod rate_limits;
mod realtime;
mod record_requests;
pub(crate) mod records;
mod request_auth;
mod settings;
mod sql;
mod webhooks;

use actix_web::web;

pub use request_auth::RequestAuth;

/// The routes under `/api`. actix tries them in this order, matching each pattern with
/// parameters by a regex, so the record and file routes (most requests) come first; no two
/// patterns here match the same path, so the order changes nothing else.
pub fn configure(cfg: &mut web::ServiceConfig) {
    records::configure(cfg);
    files::configure(cfg);
    health::configure(cfg);
    auth::configure(cfg);
    oauth2::configure(cfg);
    account::configure(cfg);
    collections::configure(cfg);
    crons::configure(cfg);
    realtime::configure(cfg);
    webhooks::configure(cfg);
    settings::configure(cfg);
    sql::configure(cfg);
    logs::configure(cfg);
    batch::configure(cfg);
    metrics::configure(cfg);
    openapi::configure(cfg);
    backups::configure(cfg);
}
