//! The SQL console (issue #19): `POST /api/sql` side by side with PocketBase 0.40.6 (reads,
//! writes in a transaction, the row cap, errors, who may use it), and hearth's refusal of a
//! write that does not look like one (it runs on a `query_only` reader).

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::compat::{assert_same, pocketbase_bin, start_pocketbase};
use crate::compat_scenarios::normalize;
use crate::files::Server;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, spawn_app};

/// `[status, body]`, ids hidden, the run time and SQLite's own words left out.
fn seen(status: u16, body: &Value) -> Value {
    let mut body = body.clone();
    if body.get("execTime").is_some_and(Value::is_number) {
        body["execTime"] = json!("<ms>");
    }
    if let Some(m) = body["message"].as_str()
        && m.starts_with("Failed to execute query. Raw error:")
    {
        body["message"] = json!("Failed to execute query. Raw error: <raw>");
    }
    json!([status, normalize(&body, &HashMap::new())])
}

async fn steps(server: &Server) -> Vec<(String, Value)> {
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/collections",
            json!({"name": "notes", "fields": [
                {"name": "title", "type": "text"},
                {"name": "n", "type": "number"}
            ]}),
            true,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for (title, n) in [("a", 1.5), ("b", 2.0), ("c", -3.0)] {
        let (status, body) = server
            .send_json(
                Method::POST,
                "/api/collections/notes/records",
                json!({"title": title, "n": n}),
                true,
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let mut out = Vec::new();
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/sql",
            json!({"query": "SELECT 1"}),
            false,
        )
        .await;
    out.push(("guest".into(), seen(status, &body)));
    let long = format!("SELECT 1 {}", " ".repeat(5000));
    let queries = [
        ("empty", json!({})),
        ("too long", json!({"query": long})),
        (
            "a table",
            json!({"query": "SELECT title, n, id FROM notes ORDER BY title"}),
        ),
        (
            "expressions",
            json!({"query": "SELECT 1 AS one, 1.5 AS f, NULL AS nada, 'x' || 'y' AS s, 1234567.0 AS big"}),
        ),
        (
            "an update",
            json!({"query": "UPDATE notes SET n = n + 1 WHERE title != 'a'"}),
        ),
        (
            "after it",
            json!({"query": "SELECT title, n FROM notes ORDER BY title"}),
        ),
        (
            "a delete",
            json!({"query": "  delete FROM notes WHERE title = 'b'"}),
        ),
        ("no table", json!({"query": "SELECT * FROM nope"})),
        (
            "many rows",
            json!({"query": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1500) SELECT x FROM c"}),
        ),
        (
            "a broken write",
            json!({"query": "INSERT INTO nope VALUES (1)"}),
        ),
    ];
    for (label, body) in queries {
        let (status, answer) = server.send_json(Method::POST, "/api/sql", body, true).await;
        let answer = if label == "many rows" {
            json!({"rows": answer["rows"].as_array().map(Vec::len), "last": answer["rows"][999]})
        } else {
            answer
        };
        out.push((label.into(), seen(status, &answer)));
    }
    out
}

#[tokio::test]
async fn the_sql_console_answers_as_pocketbase() {
    let Some(bin) = pocketbase_bin() else { return };
    let pb = start_pocketbase(&bin).await;
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let theirs = steps(&Server::signed_in(&pb.address).await).await;
    let ours = steps(&Server::signed_in(&app.address).await).await;
    assert_same(&ours, &theirs);

    // A write that does not start like one runs on a read-only reader here: refused, and
    // nothing changed.
    let server = Server::signed_in(&app.address).await;
    let sneaky = "WITH x AS (SELECT 1) DELETE FROM notes";
    let (status, body) = server
        .send_json(Method::POST, "/api/sql", json!({"query": sneaky}), true)
        .await;
    assert_eq!(status, 400, "{body}");
    let (_, left) = server
        .send_json(
            Method::POST,
            "/api/sql",
            json!({"query": "SELECT count(*) FROM notes"}),
            true,
        )
        .await;
    assert_eq!(left["rows"], json!([["2"]]));
}

#[tokio::test]
async fn the_sql_page_runs_a_query_and_shows_its_answer() {
    let app = spawn_app().await;
    let (browser, csrf) = app.admin_browser().await;
    let page = browser.get(app.url("/_/sql")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let run = |query: &'static str| {
        let (browser, url, csrf) = (browser.clone(), app.url("/_/sql"), csrf.clone());
        async move {
            let res = browser
                .post(url)
                .form(&[("csrf", csrf.as_str()), ("query", query)])
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let (status, html) = run("SELECT 'a<b' AS shown, NULL AS nada").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<th scope=\"col\">shown"), "{html}");
    assert!(html.contains("<td>a&#60;b</td>"), "escaped: {html}");
    assert!(html.contains("1 rows in"), "{html}");
    let (status, html) = run("CREATE TABLE scratch (x)").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("0 rows changed"), "{html}");
    let (status, html) = run("INSERT INTO scratch VALUES (1), (2)").await;
    assert_eq!(status, 200);
    assert!(html.contains("2 rows changed"), "{html}");
    let (status, html) = run("SELECT * FROM nope").await;
    assert_eq!(status, 400);
    assert!(html.contains("Failed to execute query"), "{html}");
    // The API takes form bodies now, as a cross-site HTML form would send them: the admin
    // session cookie does not make such a post a superuser's.
    let forged = browser
        .post(app.url("/api/sql"))
        .form(&[("query", "DROP TABLE scratch")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let (status, html) = run("SELECT count(*) AS n FROM scratch").await;
    assert_eq!(status, 200);
    assert!(html.contains("<td>2</td>"), "{html}");
}
