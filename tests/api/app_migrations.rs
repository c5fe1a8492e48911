//! JS migrations (`--migrations-dir`, PocketBase's `pb_migrations`): the same files applied
//! by hearth and by PocketBase 0.40.6 at start build the same collections (ids, fields,
//! rules, indexes) and the same records; `migrate down` reverts them the same way on both.

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::compat::{pocketbase_bin, start_pocketbase_with};
use crate::helpers::{TestApp, client, hearth_cli, spawn_app_with, superuser_token_at};

const FILES: [(&str, &str); 4] = [
    (
        "1700000000_created_posts.js",
        include_str!("js_migrations/1700000000_created_posts.js"),
    ),
    (
        "1700000001_updated_posts.js",
        include_str!("js_migrations/1700000001_updated_posts.js"),
    ),
    (
        "1700000002_seed.js",
        include_str!("js_migrations/1700000002_seed.js"),
    ),
    (
        "1700000003_members_and_temp.js",
        include_str!("js_migrations/1700000003_members_and_temp.js"),
    ),
];

/// A collection without what differs between any two servers (times).
fn stable(c: &Value) -> Value {
    let mut c = c.clone();
    if let Some(map) = c.as_object_mut() {
        map.remove("created");
        map.remove("updated");
    }
    c
}

/// The app's collections and the posts, as either server answers them.
async fn built(base: &str) -> Value {
    let http = client();
    let token = superuser_token_at(&http, base).await;
    let get = |path: String| {
        let http = http.clone();
        let token = token.clone();
        async move {
            http.get(path)
                .header("Authorization", token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let collections = get(format!(
        "{base}/api/collections?perPage=200&filter=system=false&sort=name"
    ))
    .await;
    let collections: Vec<Value> = collections["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(stable)
        .collect();
    let posts = get(format!(
        "{base}/api/collections/posts/records?sort=title&fields=title,views,slug"
    ))
    .await;
    json!({"collections": collections, "posts": posts["items"]})
}

/// What a reverted migration leaves in `data.db`: the posts table's columns, its rows, the
/// app tables and the migrations still applied.
fn stored(db: &std::path::Path) -> Value {
    let conn = Connection::open(db).unwrap();
    let strings = |sql: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    json!({
        "columns": strings("SELECT name FROM pragma_table_info('posts') ORDER BY name"),
        "rows": strings("SELECT title FROM posts ORDER BY title"),
        "tables": strings("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('posts', 'members', 'temp') ORDER BY name"),
        "applied": strings("SELECT file FROM _migrations WHERE file LIKE '17%.js' ORDER BY file"),
    })
}

async fn hearth_with_migrations(dir: &std::path::Path) -> TestApp {
    let dir = dir.to_path_buf();
    spawn_app_with(move |c| {
        c.hooks.migrations = dir;
        c.hooks.watch = false;
    })
    .await
}

#[tokio::test]
async fn migrations_build_and_revert_as_on_pocketbase() {
    let folder = tempfile::tempdir().unwrap();
    for (name, text) in FILES {
        std::fs::write(folder.path().join(name), text).unwrap();
    }
    let app = hearth_with_migrations(folder.path()).await;
    app.create_superuser(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let ours = built(&app.address).await;

    let names: Vec<&str> = ours["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["members", "posts", "users"],
        "temp was created and deleted"
    );
    let titles: Vec<&str> = ours["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["first", "second", "sum 12"]);

    let migrations = folder.path().to_str().unwrap();
    let down = hearth_cli(
        app.dir.path(),
        &["migrate", "--migrations-dir", migrations, "down", "2"],
    );
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    let status = hearth_cli(
        app.dir.path(),
        &["migrate", "--migrations-dir", migrations, "status"],
    );
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        status.contains("app/1700000002_seed.js") && status.contains("pending"),
        "{status}"
    );
    let our_down = stored(&app.dir.path().join("data.db"));

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase_with(&bin, &[], &FILES).await;
    let theirs = built(&pb.address).await;
    let (a, b) = (&ours["collections"], &theirs["collections"]);
    for (ca, cb) in a.as_array().unwrap().iter().zip(b.as_array().unwrap()) {
        assert_eq!(ca, cb, "hearth (left) vs PocketBase (right)");
    }
    assert_eq!(ours, theirs);

    pb.cli(&bin, &["migrate", "down", "2"], "y\n");
    assert_eq!(
        our_down,
        stored(&pb.dir().join("data.db")),
        "after `migrate down 2`"
    );
}
