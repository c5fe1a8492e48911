//! The write ceiling of this machine for `bench/run.py`: single-row insert transactions on
//! one connection with hearth's pragmas (WAL, synchronous=NORMAL, ...), as fast as they go,
//! into a table shaped like the benchmark's `posts`. Prints transactions per second.
//!
//!     cargo run --release --example write_ceiling -- [seconds]

use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let dir = std::env::temp_dir().join(format!("hearth-write-ceiling-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut conn = Connection::open(dir.join("data.db"))?;
    hearth::db::pragmas::apply(&conn, hearth::db::pragmas::Access::ReadWrite, false)?;
    conn.execute_batch(
        "CREATE TABLE posts (id TEXT PRIMARY KEY NOT NULL, title TEXT DEFAULT '' NOT NULL,
         views NUMERIC DEFAULT 0 NOT NULL, published BOOLEAN DEFAULT FALSE NOT NULL,
         created TEXT DEFAULT '' NOT NULL, updated TEXT DEFAULT '' NOT NULL);
         CREATE INDEX idx_posts_views ON posts (views);",
    )?;
    let started = Instant::now();
    let mut n: u64 = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.prepare_cached(
            "INSERT INTO posts (id, title, views, published, created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )?
        .execute((hearth::ids::record_id(), "bench", 7, true, hearth::datetime::now()))?;
        tx.commit()?;
        n += 1;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!("{rate:.0}");
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
