//! Integration tests: each starts the real server (port 0, temp data dir) and talks HTTP,
//! or runs the real binary.

// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod account;
mod admin_pages;
mod auth;
mod backups;
mod bounded;
mod browser;
mod browser_app;
mod cli;
mod collections;
mod compat;
mod compression;
mod cors;
mod crash;
mod errors;
mod faults;
mod files;
mod health;
mod helpers;
mod hostile;
mod observability;
mod openapi;
mod public;
mod realtime;
mod records;
mod restore;
mod sdk;
mod storage;
mod superusers;
mod ui;
mod webhooks;
mod writes;
