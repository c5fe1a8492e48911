//! Integration tests: each starts the real server (port 0, temp data dir) and talks HTTP,
//! or runs the real binary.

// Tests fail loudly by design: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod account;
mod acme;
mod admin_pages;
mod admin_record_forms;
mod app_migrations;
mod auth;
mod backups;
mod bounded;
mod browser;
mod browser_app;
mod cli;
mod collections;
mod compat;
mod compat_scenarios;
mod compression;
mod cors;
mod crash;
mod csrf;
mod errors;
mod faults;
mod file_lifecycle;
mod files;
mod files_compat;
mod health;
mod helpers;
mod hook_auth;
mod hook_crons;
mod hook_enrich;
mod hook_lifecycle;
mod hook_mail;
mod hook_use;
mod hook_writes;
mod hooks;
mod hostile;
mod observability;
mod openapi;
mod public;
mod realtime;
mod record_hooks;
mod record_rules;
mod records;
mod restore;
mod sdk;
mod spa;
mod storage;
mod superusers;
mod tls;
mod ui;
mod webhook_targets;
mod webhooks;
mod writes;
