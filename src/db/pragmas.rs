//! The pragmas every connection gets, in the order SPEC "Storage" fixes. Applied by the pools'
//! init hook, so no connection can ever miss them.

use rusqlite::Connection;

/// How long a connection waits on another process's lock (the CLI writing while the server
/// runs) before SQLITE_BUSY. Inside one process the single writer means no waiting at all.
pub const BUSY_TIMEOUT_MS: u32 = 10_000;

/// Statements kept prepared per connection; hearth's queries are few and repeated.
const STATEMENT_CACHE: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    ReadOnly,
}

/// `sync_full` raises `synchronous` from NORMAL (durable across process crashes) to FULL
/// (durable across power loss too).
pub fn apply(conn: &Connection, access: Access, sync_full: bool) -> rusqlite::Result<()> {
    // busy_timeout first: even switching to WAL may have to wait for another process.
    conn.pragma_update(None, "busy_timeout", BUSY_TIMEOUT_MS)?;
    // Readers never change the journal mode: that needs a write lock.
    if access == Access::ReadWrite {
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "journal_mode stayed {mode}, WAL is required"
            )));
        }
    }
    conn.pragma_update(
        None,
        "synchronous",
        if sync_full { "FULL" } else { "NORMAL" },
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -32_000)?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    if access == Access::ReadOnly {
        conn.pragma_update(None, "query_only", 1)?;
    }
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::idle::{TABLE_OF_500_PAGES, thread_reads as reads};

    fn sum(conn: &Connection) -> i64 {
        conn.query_row("SELECT sum(length(x)) FROM t", [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Each connection keeps its own page cache (the bundled SQLite is built without
    /// SQLITE_ENABLE_MEMORY_MANAGEMENT, see `.cargo/config.toml`): one connection handing
    /// its cache back (the request-log writer's `PRAGMA shrink_memory`) leaves a reader's
    /// cached pages where they are, so reading them again reads nothing from the file.
    #[test]
    fn shrinking_one_connections_cache_leaves_the_others_alone() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("data.db");
        let writer = Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
        apply(&writer, Access::ReadWrite, false).unwrap_or_else(|e| panic!("{e}"));
        writer
            .execute_batch(TABLE_OF_500_PAGES)
            .and_then(|()| writer.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)"))
            .unwrap_or_else(|e| panic!("{e}"));
        let reader = Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
        apply(&reader, Access::ReadOnly, false).unwrap_or_else(|e| panic!("{e}"));
        let total = sum(&reader);

        // The table is ~500 pages; a read transaction itself makes a few reads.
        let before = reads();
        assert_eq!(sum(&reader), total);
        assert!(reads() - before < 20, "a warm cache reads (almost) nothing");

        writer
            .execute_batch("PRAGMA shrink_memory")
            .unwrap_or_else(|e| panic!("{e}"));
        let before = reads();
        assert_eq!(sum(&reader), total);
        assert!(
            reads() - before < 20,
            "the writer's shrink_memory emptied the reader's page cache"
        );
    }
}
