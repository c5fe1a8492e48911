//! Exact totals for list requests, remembered until the next write to the same database.
//! Counting every matching row is most of a list request's cost (the page itself stops after
//! `perPage` rows of an index); while nothing is written, the same count is the same
//! answer. Every committed write transaction moves its database's generation on
//! (`db::generation`), and a total is only reused under the generation it was counted in.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use rusqlite::Connection;
use rusqlite::types::Value as Sql;

use crate::error::Result;

/// Remembered totals across all queries; past this the memory is cleared and refilled.
const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
struct Memory {
    /// (database, SQL, parameters) -> (generation, total).
    totals: HashMap<String, (u64, u64)>,
}

static MEMORY: LazyLock<Mutex<Memory>> = LazyLock::new(Mutex::default);

/// `SELECT count(*) ...` with `params`, answered from memory when nothing was written since.
pub fn total(conn: &Connection, sql: &str, params: &[Sql]) -> Result<u64> {
    let db = conn.path().unwrap_or_default();
    let key = format!("{db}\u{0}{sql}\u{0}{params:?}");
    // Read before counting: a write committed meanwhile makes this total stale at once.
    let generation = crate::db::generation::current(conn);
    if let (Some(generation), Ok(m)) = (generation, MEMORY.lock())
        && let Some((g, n)) = m.totals.get(&key)
        && *g == generation
    {
        return Ok(*n);
    }
    let n: i64 = conn
        .prepare_cached(sql)?
        .query_row(rusqlite::params_from_iter(params), |r| r.get(0))?;
    let n = n.max(0) as u64;
    if let (Some(generation), Ok(mut m)) = (generation, MEMORY.lock()) {
        if m.totals.len() >= MAX_ENTRIES {
            m.totals.clear();
        }
        m.totals.insert(key, (generation, n));
    }
    Ok(n)
}
