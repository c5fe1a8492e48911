//! `?search=` over a collection's full-text index (`schema::fts`), best matches first.
//!
//! Ranking by bm25 scores every match of the words before the first page can be cut: for a
//! common word at 100k records that is most of a request (12,500 matches, ~20 ms of FTS5's
//! `rank`), where fetching a page of 20 rows by rowid is a few dozen microseconds. So the
//! ranked order of recent searches is remembered: the first `KEPT` rowids and the exact
//! number of matches, for searches with no other condition (no list rule to apply, no
//! filter, no sort of the client's). Each is stamped with the index's own structure and
//! averages records (`%_data` rows 10 and 1), which FTS5 rewrites on every write to the
//! index, through any path: hearth's writer, hooks, the SQL console, a restore. A stamp
//! that differs means the order is computed again.

use std::collections::VecDeque;
use std::sync::{Arc, LazyLock, Mutex};

use rusqlite::Connection;
use rusqlite::types::Value as Sql;

use super::access::manage_column;
use super::{Ctx, Record, output};
use crate::error::Result;
use crate::schema::{Collection, fts};

/// How many of the best matches are remembered per search (the first 50 pages of 20).
const KEPT: usize = 1000;

/// How many searches are remembered (at most 8 KB of rowids each).
const MAX_ENTRIES: usize = 64;

/// What a search's list needs: the FTS5 table and the query for it.
pub(super) struct Search {
    pub index: String,
    pub query: String,
}

impl Search {
    /// The list's FROM clause: the matches (with their bm25 rank, as `f.fts_rank`) joined
    /// to the collection's rows; `query` is bound as parameter `n`.
    pub fn from(&self, table: &str, n: usize) -> String {
        let index = &self.index;
        // The search drives the query: matches come from the index first (CROSS JOIN keeps
        // SQLite from scanning the table and probing the index row by row instead).
        format!(
            "(SELECT rowid AS fts_rowid, rank AS fts_rank FROM \"{index}\" WHERE \"{index}\" MATCH ?{n}) f \
             CROSS JOIN \"{table}\" t ON t.rowid = f.fts_rowid"
        )
    }

    /// Best matches first (bm25), the newest first among equals.
    pub const ORDER: &str = " ORDER BY f.fts_rank, t.rowid DESC";

    /// The number of matches, counted in the index alone (every indexed row is a row of the
    /// table: the triggers keep them in step). For searches with no other condition.
    pub fn total(&self, conn: &Connection) -> Result<u64> {
        let index = &self.index;
        let sql = format!("SELECT count(*) FROM \"{index}\" WHERE \"{index}\" MATCH ?1");
        super::count::total(conn, &sql, &[Sql::Text(self.query.clone())])
    }

    /// A page of a search with no other condition, in ranked order, from the remembered
    /// order when the index is unchanged since. None for a page past the `KEPT` best.
    pub fn page(
        &self,
        conn: &Connection,
        c: &Collection,
        ctx: &Ctx,
        offset: u64,
        per_page: u64,
        skip_total: bool,
    ) -> Result<Option<(Vec<Record>, Option<u64>)>> {
        let end = offset.saturating_add(per_page);
        if end > KEPT as u64 {
            return Ok(None);
        }
        let ranked = self.ranked(conn)?;
        if end > ranked.rowids.len() as u64 && ranked.total > ranked.rowids.len() as u64 {
            return Ok(None);
        }
        let from = (offset as usize).min(ranked.rowids.len());
        let to = (end as usize).min(ranked.rowids.len());
        let wanted = ranked.rowids[from..to]
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut params = Vec::new();
        let manage = manage_column(c, ctx, &mut params);
        params.push(Sql::Text(format!("[{wanted}]")));
        let sql = format!(
            "SELECT t.*{manage} FROM json_each(?{}) j CROSS JOIN \"{}\" t ON t.rowid = j.value \
             ORDER BY j.key",
            params.len(),
            c.name
        );
        let viewer = ctx.caller.viewer();
        let items = conn
            .prepare_cached(&sql)?
            .query_map(rusqlite::params_from_iter(&params), |row| {
                output::record(c, row, viewer)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Some((items, (!skip_total).then_some(ranked.total))))
    }

    /// The best `KEPT` matches and their total, remembered or computed now.
    fn ranked(&self, conn: &Connection) -> Result<Arc<Ranked>> {
        let key = (
            conn.path().unwrap_or_default().to_owned(),
            self.index.clone(),
            self.query.clone(),
        );
        // Read before ranking: a write committed meanwhile changes the stamp at once.
        let stamp = self.stamp(conn)?;
        if let Ok(mut memory) = MEMORY.lock()
            && let Some(at) = memory.iter().position(|e| e.key == key)
            && let Some(entry) = memory.remove(at)
            && entry.stamp == stamp
        {
            // Most recently used last.
            let ranked = entry.ranked.clone();
            memory.push_back(entry);
            return Ok(ranked);
        }
        let index = &self.index;
        let rowids = conn
            .prepare_cached(&format!(
                "SELECT rowid FROM \"{index}\" WHERE \"{index}\" MATCH ?1 \
                 ORDER BY rank, rowid DESC LIMIT {KEPT}"
            ))?
            .query_map([&self.query], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        let total = if rowids.len() < KEPT {
            rowids.len() as u64
        } else {
            self.total(conn)?
        };
        let ranked = Arc::new(Ranked { total, rowids });
        if let Ok(mut memory) = MEMORY.lock() {
            if memory.len() >= MAX_ENTRIES {
                memory.pop_front();
            }
            memory.push_back(Entry {
                key,
                stamp,
                ranked: ranked.clone(),
            });
        }
        Ok(ranked)
    }

    /// The index's structure and averages records: FTS5 rewrites them on every write to
    /// the index (its structure record counts the segments ever written).
    fn stamp(&self, conn: &Connection) -> Result<Vec<u8>> {
        let sql = format!(
            "SELECT block FROM \"{}_data\" WHERE id IN (1, 10) ORDER BY id",
            self.index
        );
        let mut stamp = Vec::new();
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let block: Vec<u8> = row.get(0)?;
            stamp.extend_from_slice(&(block.len() as u64).to_le_bytes());
            stamp.extend_from_slice(&block);
        }
        Ok(stamp)
    }
}

/// A search's best matches, in order, and how many matches there are in all.
struct Ranked {
    total: u64,
    rowids: Vec<i64>,
}

struct Entry {
    /// (database, index, query)
    key: (String, String, String),
    stamp: Vec<u8>,
    ranked: Arc<Ranked>,
}

/// Remembered searches, least recently used first.
static MEMORY: LazyLock<Mutex<VecDeque<Entry>>> = LazyLock::new(Mutex::default);

/// The search `words` asks for in `c`: the index and its FTS5 query.
pub(super) fn prepare(c: &Collection, words: &str) -> Result<Search> {
    if fts::fields(c).is_empty() {
        return Err(crate::error::Error::bad_request(
            "The collection has no searchable fields to search in.",
        ));
    }
    let Some(query) = fts::query(words) else {
        return Err(crate::error::Error::bad_request(
            "Invalid search parameter: no words to find.",
        ));
    };
    Ok(Search {
        index: fts::table(&c.name),
        query,
    })
}
