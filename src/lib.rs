//! hearth: a PocketBase-compatible application backend in one binary.
//!
//! The binary (`main.rs`) only parses the command line; everything lives here so the
//! integration tests can build and drive the real server.

pub mod api;
pub mod app;
pub mod auth;
pub mod backups;
pub mod cli;
pub mod client_ip;
pub mod collections;
pub mod compress;
pub mod config;
pub mod console;
pub mod crons;
pub mod crypt;
pub mod datetime;
pub mod db;
pub mod error;
pub mod files;
pub mod filter;
#[doc(hidden)]
pub mod fuzzing;
pub mod hooks;
pub mod http;
pub mod ids;
pub mod import;
pub mod jobs;
pub mod json;
pub mod litestream;
pub mod logs;
pub mod mail;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod outbound;
pub mod password;
pub mod public;
pub mod ratelimit;
pub mod realtime;
pub mod records;
pub mod schema;
pub mod settings;
pub mod state;
pub mod tls;
pub mod ui;
pub mod validate;
pub mod webhooks;

pub use app::App;
pub use config::Config;
pub use error::{Error, Result};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
