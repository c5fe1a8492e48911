use crate::helpers::{spawn_app, spawn_app_with};

fn pragma(app: &crate::helpers::TestApp, name: &str, writer: bool) -> i64 {
    let sql = format!("PRAGMA {name}");
    let read = |c: &rusqlite::Connection| Ok(c.query_row(&sql, [], |r| r.get::<_, i64>(0))?);
    if writer {
        app.db.data.with_writer(|c| read(c)).unwrap()
    } else {
        app.db.data.read(read).unwrap()
    }
}

#[tokio::test]
async fn every_connection_gets_the_pragmas() {
    let app = spawn_app().await;

    let mode: String = app
        .db
        .data
        .read(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?))
        .unwrap();

    assert_eq!(mode, "wal");
    for writer in [true, false] {
        assert_eq!(pragma(&app, "busy_timeout", writer), 10_000);
        assert_eq!(pragma(&app, "synchronous", writer), 1, "NORMAL");
        assert_eq!(pragma(&app, "foreign_keys", writer), 1);
        assert_eq!(pragma(&app, "temp_store", writer), 2, "MEMORY");
        assert_eq!(pragma(&app, "cache_size", writer), -32_000);
    }
    assert_eq!(pragma(&app, "query_only", true), 0);
    assert_eq!(pragma(&app, "query_only", false), 1, "readers cannot write");
    let refused = app
        .db
        .data
        .read(|c| Ok(c.execute("DELETE FROM _params", [])?));
    assert!(refused.is_err());
}

#[tokio::test]
async fn sync_full_raises_durability() {
    let app = spawn_app_with(|c| c.pool.sync_full = true).await;

    assert_eq!(pragma(&app, "synchronous", true), 2, "FULL");
}
