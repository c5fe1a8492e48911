//! Exact totals for list requests, remembered until the next write to the same database.
//! Counting every matching row is most of a list request's cost (the page itself stops after
//! `perPage` rows of an index); while nothing is written, the same count is the same
//! answer. Every committed write transaction bumps its database's generation (the store
//! calls `written`), and a total is only reused under the generation it was counted in.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use rusqlite::Connection;
use rusqlite::types::Value as Sql;

use crate::error::Result;

/// Remembered totals across all queries; past this the memory is cleared and refilled.
const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
struct Memory {
    /// Write generation per database file.
    generations: HashMap<String, u64>,
    /// (database, SQL, parameters) -> (generation, total).
    totals: HashMap<String, (u64, u64)>,
}

static MEMORY: LazyLock<Mutex<Memory>> = LazyLock::new(Mutex::default);

fn database(conn: &Connection) -> String {
    conn.path().unwrap_or_default().to_owned()
}

/// Marks every remembered total of `conn`'s database stale; called after each commit.
pub fn written(conn: &Connection) {
    let db = database(conn);
    if let Ok(mut m) = MEMORY.lock() {
        *m.generations.entry(db).or_default() += 1;
    }
}

/// `SELECT count(*) ...` with `params`, answered from memory when nothing was written since.
pub fn total(conn: &Connection, sql: &str, params: &[Sql]) -> Result<u64> {
    let db = database(conn);
    let key = format!("{db}\u{0}{sql}\u{0}{params:?}");
    let generation = {
        let m = MEMORY
            .lock()
            .map_err(|_| crate::error::Error::internal("count cache poisoned"))?;
        let generation = m.generations.get(&db).copied().unwrap_or(0);
        if let Some((g, n)) = m.totals.get(&key)
            && *g == generation
        {
            return Ok(*n);
        }
        generation
    };
    let n: i64 = conn
        .prepare_cached(sql)?
        .query_row(rusqlite::params_from_iter(params), |r| r.get(0))?;
    let n = n.max(0) as u64;
    if let Ok(mut m) = MEMORY.lock() {
        if m.totals.len() >= MAX_ENTRIES {
            m.totals.clear();
        }
        m.totals.insert(key, (generation, n));
    }
    Ok(n)
}
