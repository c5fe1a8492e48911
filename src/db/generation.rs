//! A write generation per database file: every commit through the writer moves it on.
//! A reader that remembers what it computed (the record totals of list requests) keeps the
//! generation it read first and reuses the answer only while it is unchanged.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use rusqlite::Connection;

static GENERATIONS: LazyLock<Mutex<HashMap<String, u64>>> = LazyLock::new(Mutex::default);

fn database(conn: &Connection) -> String {
    conn.path().unwrap_or_default().to_owned()
}

/// Moves `conn`'s database on: called after each commit, and after anything run on the
/// writer that may have written (a migration, VACUUM).
pub fn advance(conn: &Connection) {
    if let Ok(mut g) = GENERATIONS.lock() {
        *g.entry(database(conn)).or_default() += 1;
    }
}

/// `conn`'s database's generation now; None when it cannot be known (nothing to trust).
pub fn current(conn: &Connection) -> Option<u64> {
    let g = GENERATIONS.lock().ok()?;
    Some(g.get(&database(conn)).copied().unwrap_or(0))
}
