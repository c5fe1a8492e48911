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
