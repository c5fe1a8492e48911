//! Wire details side by side with the real PocketBase 0.40.6 (issue #23): JSON fields sent
//! as text, zero values of optional fields, `@request.*` in client filters, unique-index
//! errors, auth-methods, `expand: {}` under `fields`, view field types of aggregates, and
//! the CLI importing a `GET /api/collections` answer. Each test runs the same requests on
//! both and compares statuses and whole JSON bodies (ids and times normalised).

use std::collections::HashMap;

use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::compat::{PocketBase, assert_same, pocketbase_bin, start_pocketbase};
use crate::compat_scenarios::normalize;
use crate::files::Server;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, spawn_app};

/// A fresh PocketBase and a fresh hearth, each with a signed-in superuser; None (the test
/// passes) only when `HEARTH_SKIP` names PocketBase.
async fn both() -> Option<(PocketBase, TestApp, [Server; 2])> {
    let bin = pocketbase_bin()?;
    let pb = start_pocketbase(&bin).await;
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let servers = [
        Server::signed_in(&pb.address).await,
        Server::signed_in(&app.address).await,
    ];
    Some((pb, app, servers))
}

/// `[status, body]` with ids and times hidden.
fn seen(status: u16, body: &Value) -> Value {
    json!([status, normalize(body, &HashMap::new())])
}

/// Outcomes labelled in order, to compare with `assert_same` (PocketBase's on the right).
type Outcomes = Vec<(String, Value)>;

/// `wire`: every kind of field these tests need, anyone may read and write; `code` unique.
fn wire_collection() -> Value {
    json!({
        "name": "wire",
        "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "meta", "type": "json"},
            {"name": "n", "type": "number", "min": 1, "max": 10, "onlyInt": true},
            {"name": "short", "type": "text", "min": 3},
            {"name": "code", "type": "text"}
        ],
        "indexes": ["CREATE UNIQUE INDEX idx_wire_code ON wire (code) WHERE code != ''"]
    })
}

/// Creates `wire`; its id.
async fn create_wire(server: &Server) -> Value {
    let (status, body) = server
        .send_json(Method::POST, "/api/collections", wire_collection(), true)
        .await;
    assert_eq!(status, 200, "{body}");
    body["id"].clone()
}

const RECORDS: &str = "/api/collections/wire/records";

/// JSON-field values sent as text (multipart, urlencoded, a string in a JSON body) are
/// parsed as PocketBase's `JSONField.PrepareValue` parses them, and JSON-path filters then
/// find the same records.
async fn json_text_steps(server: &Server) -> Outcomes {
    create_wire(server).await;
    let mut out = Outcomes::new();
    let texts = [
        r#"{"a":1}"#,
        "[1,2]",
        r#""quoted""#,
        "hello",
        "",
        "null",
        "true",
        "12.5",
        "-3",
        r#" {"a":1}"#,
        "{bad",
        "1x",
    ];
    for (i, text) in texts.iter().enumerate() {
        let form = Form::new()
            .text("title", format!("form {i:02}"))
            .text("meta", text.to_string());
        let (status, body) = server.send_form(Method::POST, RECORDS, form, false).await;
        out.push((format!("multipart meta={text:?}"), seen(status, &body)));
    }
    let res = server
        .client
        .post(server.url(RECORDS))
        .form(&[("title", "urlencoded"), ("meta", r#"{"a":2,"b":[true]}"#)])
        .send()
        .await
        .unwrap();
    let (status, body) = crate::files::answer(res).await;
    out.push(("urlencoded meta".into(), seen(status, &body)));
    for (label, meta) in [
        ("json string object", json!(r#"{"a":3}"#)),
        ("json string word", json!("word")),
        ("json object", json!({"a": 4})),
    ] {
        let (status, body) = server
            .send_json(
                Method::POST,
                RECORDS,
                json!({"title": label, "meta": meta}),
                false,
            )
            .await;
        out.push((label.into(), seen(status, &body)));
    }
    for query in [
        "?filter=meta.a%3E0&sort=title&fields=title,meta",
        "?filter=meta.a%3D1&fields=title",
        "?filter=meta.b%3F%3Dtrue&fields=title",
        "?filter=meta%3D'hello'&fields=title",
    ] {
        let res = server.get(&format!("{RECORDS}{query}")).await;
        let (status, body) = crate::files::answer(res).await;
        out.push((format!("list {query}"), seen(status, &body)));
    }
    out
}

#[tokio::test]
async fn json_fields_sent_as_text_are_parsed_alike() {
    let Some((_pb, _app, [pb, hearth])) = both().await else {
        return;
    };
    let theirs = json_text_steps(&pb).await;
    let ours = json_text_steps(&hearth).await;
    assert_same(&ours, &theirs);
}

/// Zero values of optional fields skip their other checks (a number's min/max/onlyInt, a
/// text's min length); a unique index refused on create and on update; `@request.*` and
/// `@collection.*` in a client's filter or sort.
async fn validation_steps(server: &Server) -> Outcomes {
    create_wire(server).await;
    let mut out = Outcomes::new();
    let mut create = async |label: &str, body: Value| {
        let (status, answer) = server.send_json(Method::POST, RECORDS, body, false).await;
        out.push((label.to_owned(), seen(status, &answer)));
        answer["id"].as_str().unwrap_or_default().to_owned()
    };
    create("omitted number and text", json!({"title": "a"})).await;
    create("zero number, empty text", json!({"n": 0, "short": ""})).await;
    create("number below min", json!({"n": -1})).await;
    create("fraction", json!({"n": 0.5})).await;
    create("text below min", json!({"short": "ab"})).await;
    create("number as empty text", json!({"n": ""})).await;
    create("first code", json!({"code": "x"})).await;
    create("same code", json!({"code": "x"})).await;
    let other = create("other code", json!({"code": "y"})).await;
    let (status, body) = server
        .send_json(
            Method::PATCH,
            &format!("{RECORDS}/{other}"),
            json!({"code": "x"}),
            false,
        )
        .await;
    out.push(("update to a taken code".into(), seen(status, &body)));
    for (label, query, admin) in [
        (
            "guest @request filter",
            "?filter=@request.auth.id%3D''",
            false,
        ),
        (
            "guest @request in text",
            "?filter=title%3D'@request.x'",
            false,
        ),
        (
            "guest @collection filter",
            "?filter=@collection.wire.id%3D''",
            false,
        ),
        ("guest @request sort", "?sort=@request.auth.id", false),
        (
            "superuser @request filter",
            "?filter=@request.auth.id!%3D''%26%26code%3D'x'&fields=code",
            true,
        ),
    ] {
        let mut req = server.client.get(server.url(&format!("{RECORDS}{query}")));
        if admin {
            req = req.header("Authorization", &server.token);
        }
        let (status, body) = crate::files::answer(req.send().await.unwrap()).await;
        out.push((label.into(), seen(status, &body)));
    }
    out
}

#[tokio::test]
async fn validation_and_client_filters_answer_alike() {
    let Some((_pb, _app, [pb, hearth])) = both().await else {
        return;
    };
    let theirs = validation_steps(&pb).await;
    let ours = validation_steps(&hearth).await;
    assert_same(&ours, &theirs);
}

/// A user's `@request.auth.id` in a list filter: refused as PocketBase refuses it.
#[tokio::test]
async fn a_users_request_filter_is_refused_alike() {
    let Some((_pb, _app, servers)) = both().await else {
        return;
    };
    let mut answers = Vec::new();
    for server in &servers {
        let (status, _) = server
            .send_json(
                Method::POST,
                "/api/collections/users/records",
                json!({"email": "u@example.com", "password": "12345678", "passwordConfirm": "12345678"}),
                true,
            )
            .await;
        assert_eq!(status, 200);
        let (_, auth) = server
            .send_json(
                Method::POST,
                "/api/collections/users/auth-with-password",
                json!({"identity": "u@example.com", "password": "12345678"}),
                false,
            )
            .await;
        let token = auth["token"].as_str().unwrap_or_default().to_owned();
        let res =
            server
                .client
                .get(server.url(
                    "/api/collections/users/records?filter=id%3D@request.auth.id&fields=email",
                ))
                .header("Authorization", token)
                .send()
                .await
                .unwrap();
        let (status, body) = crate::files::answer(res).await;
        answers.push(seen(status, &body));
    }
    assert_eq!(
        answers[1], answers[0],
        "hearth (left) vs PocketBase (right)"
    );
    assert_eq!(answers[0][0], 403);
}

/// The auth-methods answer of a default auth collection, whole.
#[tokio::test]
async fn auth_methods_answer_alike() {
    let Some((_pb, _app, servers)) = both().await else {
        return;
    };
    let mut answers = Vec::new();
    for server in &servers {
        let res = server.get("/api/collections/users/auth-methods").await;
        let (status, body) = crate::files::answer(res).await;
        answers.push(json!([status, body]));
    }
    assert_eq!(
        answers[1], answers[0],
        "hearth (left) vs PocketBase (right)"
    );
}

/// `expand` with `fields`: a record whose asked-for relation is empty still answers
/// `"expand": {}` where the fields keep it, in lists and views.
async fn expand_steps(server: &Server) -> Outcomes {
    let wire = create_wire(server).await;
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/collections",
            json!({"name": "notes", "listRule": "", "viewRule": "", "createRule": "",
            "fields": [
                {"name": "text", "type": "text"},
                {"name": "post", "type": "relation", "collectionId": wire, "maxSelect": 1}
            ]}),
            true,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, post) = server
        .send_json(Method::POST, RECORDS, json!({"title": "p"}), false)
        .await;
    let notes = "/api/collections/notes/records";
    server
        .send_json(
            Method::POST,
            notes,
            json!({"text": "with", "post": post["id"]}),
            false,
        )
        .await;
    let (_, without) = server
        .send_json(Method::POST, notes, json!({"text": "without"}), false)
        .await;
    let without = without["id"].as_str().unwrap_or_default().to_owned();
    let mut out = Outcomes::new();
    for query in [
        "fields=text,expand",
        "fields=text,expand&expand=post",
        "fields=*,expand.post&expand=post",
        "fields=*,expand.post",
        "fields=text,expand.post.title&expand=post",
        "fields=text&expand=post",
        "expand=post",
        "expand=notes_via_post&fields=title,expand",
    ] {
        let list = if query.contains("notes_via_post") {
            format!("{RECORDS}?{query}")
        } else {
            format!("{notes}?sort=text&{query}")
        };
        let (status, body) = crate::files::answer(server.get(&list).await).await;
        out.push((format!("list {query}"), seen(status, &body)));
        if !query.contains("notes_via_post") {
            let view = format!("{notes}/{without}?{query}");
            let (status, body) = crate::files::answer(server.get(&view).await).await;
            out.push((format!("view {query}"), seen(status, &body)));
        }
    }
    out
}

#[tokio::test]
async fn expand_under_fields_answers_alike() {
    let Some((_pb, _app, [pb, hearth])) = both().await else {
        return;
    };
    let theirs = expand_steps(&pb).await;
    let ours = expand_steps(&hearth).await;
    assert_same(&ours, &theirs);
}

/// A view collection's fields as the create answer gives them: aggregates and casts typed
/// as PocketBase types them (`_clone_` ids are random on both).
async fn view_steps(server: &Server) -> Outcomes {
    create_wire(server).await;
    let mut out = Outcomes::new();
    for (label, query) in [
        (
            "aggregates",
            "SELECT w.id, count(w.id) AS total_count, COUNT(*) n_all, total(w.n) AS n_total, \
             sum(w.n) AS n_sum, avg(w.n) n_avg, max(w.n) AS n_max, w.title FROM wire w GROUP BY w.id",
        ),
        (
            "casts",
            "SELECT id, cast(n as integer) AS i, CAST(n AS REAL) r, cast(n as numeric) AS num, \
             cast(n as text) AS t, cast(n as bool) b, cast(n as blob) AS raw, (n + 1) AS plus FROM wire",
        ),
    ] {
        let (status, mut body) = server
            .send_json(
                Method::POST,
                "/api/collections",
                json!({"name": format!("view_{label}"), "type": "view", "listRule": "",
                    "viewQuery": query}),
                true,
            )
            .await;
        for field in body["fields"].as_array_mut().into_iter().flatten() {
            if field["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("_clone_"))
            {
                field["id"] = json!("_clone_");
            }
        }
        body["viewQuery"] = json!("<query>");
        out.push((label.into(), seen(status, &body)));
    }
    out
}

#[tokio::test]
async fn view_field_types_are_inferred_alike() {
    let Some((_pb, _app, [pb, hearth])) = both().await else {
        return;
    };
    let theirs = view_steps(&pb).await;
    let ours = view_steps(&hearth).await;
    assert_same(&ours, &theirs);
}

/// `hearth collections import` takes PocketBase's own `GET /api/collections` answer: the
/// collection made on PocketBase is then answered by hearth alike.
#[tokio::test]
async fn the_cli_imports_a_collections_list_answer() {
    let Some((_pb, app, [pb, hearth])) = both().await else {
        return;
    };
    create_wire(&pb).await;
    let list = |server: &Server, path: &'static str| {
        let req = server
            .client
            .get(server.url(path))
            .header("Authorization", &server.token);
        async move { crate::files::answer(req.send().await.unwrap()).await }
    };
    let (status, answer) = list(&pb, "/api/collections?perPage=500").await;
    assert_eq!(status, 200);
    let file = app.dir.path().join("collections.json");
    std::fs::write(&file, answer.to_string()).unwrap();

    let import = app.hearth(&["collections", "import", file.to_str().unwrap()]);
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );

    crate::helpers::wait_until(
        std::time::Duration::from_secs(4),
        "the running server to pick up the CLI import",
        async || list(&hearth, "/api/collections/wire").await.0 == 200,
    )
    .await;
    let (_, ours) = list(&hearth, "/api/collections/wire").await;
    let (_, theirs) = list(&pb, "/api/collections/wire").await;
    assert_eq!(
        normalize(&ours, &HashMap::new()),
        normalize(&theirs, &HashMap::new())
    );

    // One page of a longer list is refused: importing it could drop the rest.
    let (_, page) = list(&pb, "/api/collections?perPage=2").await;
    std::fs::write(&file, page.to_string()).unwrap();
    let partial = app.hearth(&["collections", "import", file.to_str().unwrap()]);
    assert!(!partial.status.success());
    assert!(String::from_utf8_lossy(&partial.stderr).contains("perPage"));
}
