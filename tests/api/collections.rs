use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{SuperuserApp, TestApp, spawn_app, wait_until};

fn posts() -> Value {
    json!({"name": "posts", "fields": [
        {"name": "title", "type": "text", "required": true},
        {"name": "views", "type": "number"},
        {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
    ]})
}

fn table_sql(app: &TestApp, name: &str) -> Option<String> {
    app.db
        .data
        .read(|c| {
            Ok(c.query_row(
                "SELECT sql FROM sqlite_master WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .ok())
        })
        .unwrap()
}

#[tokio::test]
async fn collections_need_a_superuser() {
    let app = spawn_app().await;

    let list = app.get("/api/collections").await;
    let create = app.post_json("/api/collections", &posts()).await;

    assert_eq!(list.status(), 401);
    assert_eq!(
        list.json::<Value>().await.unwrap(),
        json!({"data": {}, "message": "The request requires valid record authorization token.", "status": 401})
    );
    assert_eq!(create.status(), 401);
    assert!(table_sql(&app, "posts").is_none());
}

#[tokio::test]
async fn the_default_collections_are_listed() {
    let app = SuperuserApp::spawn().await;

    let (status, body) = app.su(reqwest::Method::GET, "/api/collections", None).await;

    assert_eq!(status, 200);
    assert_eq!(body["page"], 1);
    assert_eq!(body["perPage"], 30);
    assert_eq!(body["totalItems"], 6);
    let names: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for name in [
        "users",
        "_superusers",
        "_mfas",
        "_otps",
        "_externalAuths",
        "_authOrigins",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let users = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "users")
        .unwrap();
    assert_eq!(users["id"], "_pb_users_auth_");
    assert_eq!(users["listRule"], "id = @request.auth.id");
    assert_eq!(
        users["authToken"],
        json!({"duration": 432000}),
        "no secret leaks"
    );
}

#[tokio::test]
async fn paging_and_skip_total() {
    let app = SuperuserApp::spawn().await;

    let (_, page2) = app
        .su(
            reqwest::Method::GET,
            "/api/collections?perPage=4&page=2",
            None,
        )
        .await;
    let (_, skipped) = app
        .su(reqwest::Method::GET, "/api/collections?skipTotal=1", None)
        .await;

    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    assert_eq!(page2["totalPages"], 2);
    assert_eq!(skipped["totalItems"], -1);
    assert_eq!(skipped["totalPages"], -1);
}

#[tokio::test]
async fn creating_a_collection_creates_its_table() {
    let app = SuperuserApp::spawn().await;

    let (status, body) = app
        .su(reqwest::Method::POST, "/api/collections", Some(posts()))
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "pbc_1125843985");
    assert_eq!(body["type"], "base");
    assert_eq!(body["system"], false);
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["id", "title", "views", "tags"]);
    assert_eq!(body["fields"][1]["id"], "text724990059");
    let sql = table_sql(&app, "posts").expect("table exists");
    assert!(sql.contains("\"tags\" JSON DEFAULT '[]' NOT NULL"), "{sql}");
    assert!(
        sql.contains("\"views\" NUMERIC DEFAULT 0 NOT NULL"),
        "{sql}"
    );
    let (status, viewed) = app
        .su(reqwest::Method::GET, "/api/collections/posts", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(viewed, body);
}

#[tokio::test]
async fn invalid_definitions_are_refused_field_by_field() {
    let app = SuperuserApp::spawn().await;
    app.su(reqwest::Method::POST, "/api/collections", Some(posts()))
        .await;

    let duplicate = app
        .su(
            reqwest::Method::POST,
            "/api/collections",
            Some(json!({"name": "POSTS"})),
        )
        .await;
    let bad = app.su(reqwest::Method::POST,
        "/api/collections",
        Some(json!({"name": "bad name", "type": "nope", "fields": [
            {"name": "ok", "type": "text"}, {"name": "ok", "type": "text"}, {"name": "x", "type": "unknown"},
            {"name": "r", "type": "relation", "collectionId": "missing"}
        ]})),
    )
    .await;

    assert_eq!(duplicate.0, 400);
    assert_eq!(
        duplicate.1["data"]["name"]["code"],
        "validation_collection_name_exists"
    );
    assert_eq!(bad.0, 400);
    let data = &bad.1["data"];
    assert!(data["name"]["code"].is_string(), "{data}");
    assert_eq!(data["type"]["code"], "validation_in_invalid");
    assert!(data["fields"]["2"]["type"]["code"].is_string(), "{data}");
    assert!(table_sql(&app, "bad name").is_none());
}

#[tokio::test]
async fn auth_collections_get_system_fields_indexes_and_hidden_secrets() {
    let app = SuperuserApp::spawn().await;

    let (status, body) = app
        .su(
            reqwest::Method::POST,
            "/api/collections",
            Some(json!({"name": "members", "type": "auth"})),
        )
        .await;

    assert_eq!(status, 200, "{body}");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "id",
            "password",
            "tokenKey",
            "email",
            "emailVisibility",
            "verified"
        ]
    );
    assert_eq!(body["indexes"].as_array().unwrap().len(), 2);
    assert!(body["authToken"].get("secret").is_none());
    let stored: String = app
        .db
        .data
        .read(|c| {
            Ok(c.query_row(
                "SELECT options FROM _collections WHERE name = 'members'",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    let options: Value = serde_json::from_str(&stored).unwrap();
    assert!(options["authToken"]["secret"].as_str().unwrap().len() >= 30);
    let index = app
        .db
        .data
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'members'",
                [],
                |r| r.get::<_, i64>(0),
            )?)
        })
        .unwrap();
    assert!(index >= 2);
}

#[tokio::test]
async fn renaming_a_field_keeps_its_data_and_removing_one_drops_the_column() {
    let app = SuperuserApp::spawn().await;
    let (_, created) = app
        .su(reqwest::Method::POST, "/api/collections", Some(posts()))
        .await;
    app.db
        .data
        .write(|tx| {
            tx.execute(
                "INSERT INTO posts (id, title, views) VALUES ('abc', 'kept', 7)",
                [],
            )?;
            Ok(())
        })
        .unwrap();
    let mut fields = created["fields"].as_array().unwrap().clone();
    fields[1]["name"] = json!("headline");
    fields.remove(2);
    fields.push(json!({"name": "body", "type": "editor"}));

    let (status, body) = app
        .su(
            reqwest::Method::PATCH,
            "/api/collections/posts",
            Some(json!({"fields": fields})),
        )
        .await;

    assert_eq!(status, 200, "{body}");
    let sql = table_sql(&app, "posts").unwrap();
    assert!(
        sql.contains("\"headline\"") && sql.contains("\"body\"") && !sql.contains("\"views\""),
        "{sql}"
    );
    let headline: String = app
        .db
        .data
        .read(|c| {
            Ok(
                c.query_row("SELECT headline FROM posts WHERE id = 'abc'", [], |r| {
                    r.get(0)
                })?,
            )
        })
        .unwrap();
    assert_eq!(headline, "kept");
}

#[tokio::test]
async fn a_failed_schema_change_changes_nothing() {
    let app = SuperuserApp::spawn().await;
    app.su(reqwest::Method::POST, "/api/collections", Some(posts()))
        .await;
    let before = table_sql(&app, "posts").unwrap();

    // The index's predicate is refused by SQLite only when the DDL runs, after the rename.
    let (status, body) = app.su(reqwest::Method::PATCH,
        "/api/collections/posts",
        Some(json!({"name": "articles", "indexes": ["CREATE INDEX idx_t ON articles (title) WHERE nope(title)"]})),
    )
    .await;

    assert_eq!(status, 400, "{body}");
    assert_eq!(table_sql(&app, "posts").unwrap(), before);
    assert!(table_sql(&app, "articles").is_none());
    let (status, _) = app
        .su(reqwest::Method::GET, "/api/collections/posts", None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn delete_and_truncate() {
    let app = SuperuserApp::spawn().await;
    app.su(reqwest::Method::POST, "/api/collections", Some(posts()))
        .await;
    app.db
        .data
        .write(|tx| {
            tx.execute("INSERT INTO posts (id, title) VALUES ('abc', 'x')", [])?;
            Ok(())
        })
        .unwrap();

    let (truncated, _) = app
        .su(
            reqwest::Method::DELETE,
            "/api/collections/posts/truncate",
            None,
        )
        .await;
    let rows: i64 = app
        .db
        .data
        .read(|c| Ok(c.query_row("SELECT count(*) FROM posts", [], |r| r.get(0))?))
        .unwrap();
    let (system, _) = app
        .su(
            reqwest::Method::DELETE,
            "/api/collections/_superusers",
            None,
        )
        .await;
    let (deleted, _) = app
        .su(reqwest::Method::DELETE, "/api/collections/posts", None)
        .await;
    let (missing, _) = app
        .su(reqwest::Method::GET, "/api/collections/posts", None)
        .await;

    assert_eq!(truncated, 204);
    assert_eq!(rows, 0);
    assert_eq!(system, 400);
    assert_eq!(deleted, 204);
    assert_eq!(missing, 404);
    assert!(table_sql(&app, "posts").is_none());
}

#[tokio::test]
async fn a_referenced_collection_cannot_be_deleted() {
    let app = SuperuserApp::spawn().await;
    app.su(reqwest::Method::POST,
        "/api/collections",
        Some(json!({"name": "comments", "fields": [{"name": "author", "type": "relation", "collectionId": "_pb_users_auth_"}]})),
    )
    .await;

    let (status, body) = app
        .su(reqwest::Method::DELETE, "/api/collections/users", None)
        .await;

    assert_eq!(status, 400, "{body}");
    assert!(table_sql(&app, "users").is_some());
}

#[tokio::test]
async fn view_collections_are_sql_views() {
    let app = SuperuserApp::spawn().await;

    let (status, body) = app.su(reqwest::Method::POST,
        "/api/collections",
        Some(json!({"name": "user_names", "type": "view", "viewQuery": "SELECT id, name FROM users"})),
    )
    .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["viewQuery"], "SELECT id, name FROM users");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["id", "name"]);
    assert!(
        table_sql(&app, "user_names")
            .unwrap()
            .starts_with("CREATE VIEW")
    );
    let (bad, body) = app
        .su(
            reqwest::Method::POST,
            "/api/collections",
            Some(
                json!({"name": "broken", "type": "view", "viewQuery": "SELECT nope FROM nowhere"}),
            ),
        )
        .await;
    assert_eq!(bad, 400);
    assert!(body["data"]["viewQuery"]["code"].is_string());
}

fn import_body(delete_missing: bool) -> Value {
    // `comments` comes first but points at `posts`: the import orders them itself.
    json!({"deleteMissing": delete_missing, "collections": [
        {"id": "pbc_comments01", "name": "comments", "fields": [
            {"name": "text", "type": "text"},
            {"name": "post", "type": "relation", "collectionId": "pbc_posts00001", "maxSelect": 1}
        ]},
        {"id": "pbc_posts00001", "name": "posts", "listRule": "", "fields": [{"name": "title", "type": "text"}]}
    ]})
}

#[tokio::test]
async fn import_creates_updates_and_deletes_missing_in_one_transaction() {
    let app = SuperuserApp::spawn().await;
    app.su(
        reqwest::Method::POST,
        "/api/collections",
        Some(json!({"name": "extra"})),
    )
    .await;

    let (status, _) = app
        .su(
            reqwest::Method::PUT,
            "/api/collections/import",
            Some(import_body(false)),
        )
        .await;
    assert_eq!(status, 204);
    assert!(table_sql(&app, "posts").is_some() && table_sql(&app, "comments").is_some());
    app.db
        .data
        .write(|tx| {
            tx.execute("INSERT INTO posts (id, title) VALUES ('p1', 'kept')", [])?;
            Ok(())
        })
        .unwrap();

    // A bad item fails the whole import: nothing of it is applied.
    let mut bad = import_body(true);
    bad["collections"][1]["fields"][0]["name"] = json!("renamed");
    bad["collections"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "broken", "fields": [{"name": "s", "type": "select"}]}));
    let (status, body) = app
        .su(reqwest::Method::PUT, "/api/collections/import", Some(bad))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], "Failed to import collections.");
    assert_eq!(
        body["data"]["collections"]["code"],
        "validation_collections_import_failure"
    );
    assert!(table_sql(&app, "extra").is_some());
    assert!(table_sql(&app, "posts").unwrap().contains("\"title\""));

    let mut good = import_body(true);
    good["collections"][1]["fields"] =
        json!([{"id": "text724990059", "name": "headline", "type": "text"}]);
    let (status, body) = app
        .su(reqwest::Method::PUT, "/api/collections/import", Some(good))
        .await;
    assert_eq!(status, 204, "{body}");
    assert!(
        table_sql(&app, "extra").is_none(),
        "deleteMissing removed it"
    );
    let kept: String = app
        .db
        .data
        .read(|c| {
            Ok(
                c.query_row("SELECT headline FROM posts WHERE id = 'p1'", [], |r| {
                    r.get(0)
                })?,
            )
        })
        .unwrap();
    assert_eq!(kept, "kept", "a rename by field id keeps the data");
    assert!(
        table_sql(&app, "_superusers").is_some(),
        "system collections stay"
    );
    assert!(
        table_sql(&app, "users").is_none(),
        "users is not a system collection, as in PocketBase"
    );

    let (status, body) = app
        .su(
            reqwest::Method::PUT,
            "/api/collections/import",
            Some(json!({"collections": []})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["data"]["collections"]["code"], "validation_required");
}

#[tokio::test]
async fn cli_export_and_import_round_trip_and_a_running_server_sees_it() {
    let source = SuperuserApp::spawn().await;
    source
        .su(
            reqwest::Method::PUT,
            "/api/collections/import",
            Some(import_body(false)),
        )
        .await;
    let file = source.dir.path().join("schema.json");

    let export = source.hearth(&["collections", "export", file.to_str().unwrap()]);
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let exported: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(
        exported
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "comments")
    );

    let target = SuperuserApp::spawn().await;
    let import = target.hearth(&["collections", "import", file.to_str().unwrap()]);
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );

    wait_until(
        Duration::from_secs(4),
        "the running server to pick up the CLI import",
        async || {
            let (status, _) = target
                .su(reqwest::Method::GET, "/api/collections/comments", None)
                .await;
            status == 200
        },
    )
    .await;
    let (_, listed) = target
        .su(reqwest::Method::GET, "/api/collections/posts/records", None)
        .await;
    assert_eq!(listed["totalItems"], 0);

    let junk = target.dir.path().join("junk.json");
    std::fs::write(&junk, "{not json").unwrap();
    let failed = target.hearth(&["collections", "import", junk.to_str().unwrap()]);
    assert!(!failed.status.success());
    assert_eq!(
        String::from_utf8_lossy(&failed.stderr)
            .trim_end()
            .lines()
            .count(),
        1
    );
}

#[tokio::test]
async fn field_patterns_must_compile() {
    let app = SuperuserApp::spawn().await;

    let (status, body) = app.su(reqwest::Method::POST,
        "/api/collections",
        Some(json!({"name": "bad", "fields": [{"name": "x", "type": "text", "pattern": "(unclosed"}]})),
    )
    .await;

    assert_eq!(status, 400);
    assert_eq!(
        body["data"]["fields"]["1"]["pattern"]["code"],
        "validation_invalid_regex"
    );
}

#[tokio::test]
async fn names_of_hearths_own_tables_and_indexes_are_refused_with_a_field_error() {
    let app = SuperuserApp::spawn().await;
    let (status, _) = app
        .su(reqwest::Method::POST, "/api/collections", Some(posts()))
        .await;
    assert_eq!(status, 200);
    // Every table and index the migrations create outside `_collections` (and SQLite's own).
    let reserved: Vec<String> = app
        .db
        .data
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_autoindex%'
                   AND tbl_name NOT IN (SELECT name FROM _collections)",
            )?;
            let names = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(names)
        })
        .unwrap();
    for name in [
        "_mails",
        "_webhooks",
        "_webhook_deliveries",
        "idx_mails_status",
    ] {
        assert!(reserved.iter().any(|r| r == name), "{name} in {reserved:?}");
    }
    let mut names = reserved.clone();
    // Case does not matter to SQLite; an index of a collection is taken too.
    names.extend(["_MAILS".into(), "sqlite_stat1".into()]);
    let posts_index = format!("idx_{}", "posts_title");
    let (status, body) = app
        .su(
            reqwest::Method::PATCH,
            "/api/collections/posts",
            Some(json!({"indexes": [format!("CREATE INDEX {posts_index} ON posts (title)")]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    names.push(posts_index);

    for name in &names {
        let create = app
            .su(
                reqwest::Method::POST,
                "/api/collections",
                Some(json!({"name": name, "type": "base"})),
            )
            .await;
        let rename = app
            .su(
                reqwest::Method::PATCH,
                "/api/collections/posts",
                Some(json!({"name": name})),
            )
            .await;
        for (what, (status, body)) in [("create", create), ("rename", rename)] {
            assert_eq!(status, 400, "{what} {name}: {body}");
            assert_eq!(body["status"], 400);
            assert_eq!(
                body["data"]["name"]["code"], "validation_collection_name_invalid",
                "{what} {name}: {body}"
            );
        }
        let (status, body) = app
            .su(
                reqwest::Method::PUT,
                "/api/collections/import",
                Some(json!({"collections": [{"name": name, "type": "base"}]})),
            )
            .await;
        assert_eq!(status, 400, "import {name}: {body}");
        let detail = body["data"]["collections"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(
            detail.contains("validation_collection_name_invalid"),
            "import {name}: {body}"
        );
    }
    // Nothing was created, renamed or dropped on the way.
    assert!(table_sql(&app, "posts").is_some());
    let (_, mail_outbox) = app
        .su(reqwest::Method::GET, "/api/collections/_mails", None)
        .await;
    assert_eq!(mail_outbox["status"], 404);
    let count: i64 = app
        .db
        .data
        .read(|c| Ok(c.query_row("SELECT count(*) FROM _mails", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(count, 0);
}
