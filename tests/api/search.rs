//! Full-text search with no other condition is answered from the remembered ranked order
//! (`records::search`): the same records, order and totals as the ranked query computed in
//! full, on every page (past the remembered best too), and a write through any path (the
//! API, the SQL console, a batch) is seen by the next search at once.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::SuperuserApp;

const WORDS: [&str; 4] = ["charlie", "delta", "echo", "fox"];

/// A public `posts` collection with a searchable title, and `count` records whose titles
/// give bm25 different scores (repeated words, varied lengths) and ties.
async fn posts(app: &SuperuserApp, count: usize) {
    app.collection(json!({
        "name": "posts", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "",
        "deleteRule": "",
        "fields": [{"name": "title", "type": "text", "searchable": true},
                   {"name": "n", "type": "number"}],
    }))
    .await;
    let (status, _) = app
        .su(
            Method::PATCH,
            "/api/settings",
            Some(json!({"batch": {"enabled": true, "maxRequests": 100}})),
        )
        .await;
    assert_eq!(status, 200);
    for chunk in (0..count).collect::<Vec<_>>().chunks(100) {
        let requests: Vec<Value> = chunk
            .iter()
            .map(|i| {
                let filler = "word ".repeat(i % 5);
                let again = if i % 3 == 0 { " charlie" } else { "" };
                json!({"method": "POST", "url": "/api/collections/posts/records",
                    "body": {"title": format!("{filler}{}{again} {i}", WORDS[i % 4]), "n": i}})
            })
            .collect();
        let (status, body) = app
            .su(
                Method::POST,
                "/api/batch",
                Some(json!({ "requests": requests })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
}

async fn ids(app: &SuperuserApp, query: &str) -> (Vec<String>, Value) {
    let (status, body) = app
        .guest(
            Method::GET,
            &format!("/api/collections/posts/records?{query}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{query}: {body}");
    let ids = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    (ids, body["totalItems"].clone())
}

#[tokio::test]
async fn a_remembered_search_answers_as_the_ranked_query() {
    let app = SuperuserApp::spawn().await;
    posts(&app, 2600).await;
    // `filter=n>=0` admits every record but makes the search a query with a condition,
    // ranked in full each time: the reference.
    for (page, per_page) in [
        (1, 20),
        (2, 20),
        (1, 500),
        (2, 500),
        (3, 400),
        (21, 50),
        (40, 20),
    ] {
        let query = format!("search=charlie&page={page}&perPage={per_page}");
        let (remembered, total) = ids(&app, &query).await;
        // Asked twice: the second comes from memory.
        let (again, total_again) = ids(&app, &query).await;
        let (full, full_total) = ids(&app, &format!("{query}&filter=n%3E%3D0")).await;
        assert!(!full.is_empty(), "page {page} x {per_page} has records");
        assert_eq!(remembered, full, "page {page} x {per_page}");
        assert_eq!(again, full, "page {page} x {per_page}, again");
        assert_eq!((&total, &total_again), (&full_total, &full_total));
    }
    let (_, total) = ids(&app, "search=charlie").await;
    let matching = (0..2600).filter(|i| i % 4 == 0 || i % 3 == 0).count();
    assert_eq!(total, json!(matching));
    let (_, skipped) = ids(&app, "search=charlie&skipTotal=1").await;
    assert_eq!(skipped, -1);
    // A superuser's search is the same.
    let (status, body) = app
        .su(
            Method::GET,
            "/api/collections/posts/records?search=charlie",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let su: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(su, ids(&app, "search=charlie").await.0);
}

#[tokio::test]
async fn a_remembered_search_sees_every_write_at_once() {
    let app = SuperuserApp::spawn().await;
    posts(&app, 200).await;
    let search = "search=zulu&perPage=5";
    assert_eq!(ids(&app, search).await.1, 0);
    // Created: the best match (one short title) comes first.
    let (_, long) = app
        .guest(
            Method::POST,
            "/api/collections/posts/records",
            Some(json!({"title": "zulu and many other words here", "n": 1})),
        )
        .await;
    let (_, short) = app
        .guest(
            Method::POST,
            "/api/collections/posts/records",
            Some(json!({"title": "zulu", "n": 2})),
        )
        .await;
    let (long, short) = (long["id"].as_str().unwrap(), short["id"].as_str().unwrap());
    assert_eq!(
        ids(&app, search).await,
        (vec![short.to_owned(), long.to_owned()], json!(2))
    );
    // Updated through the API: the short one no longer matches.
    let (status, _) = app
        .guest(
            Method::PATCH,
            &format!("/api/collections/posts/records/{short}"),
            Some(json!({"title": "yankee"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&app, search).await, (vec![long.to_owned()], json!(1)));
    // Through the SQL console (a write of its own, not through the record service).
    let (status, body) = app
        .su(
            Method::POST,
            "/api/sql",
            Some(json!({"query": format!("UPDATE posts SET title = 'zulu zulu' WHERE id = '{short}'")})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        ids(&app, search).await,
        (vec![short.to_owned(), long.to_owned()], json!(2))
    );
    // Deleted in a batch.
    let (status, body) = app
        .su(
            Method::POST,
            "/api/batch",
            Some(json!({"requests": [{"method": "DELETE",
                "url": format!("/api/collections/posts/records/{short}")}]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&app, search).await, (vec![long.to_owned()], json!(1)));
    // A schema change (the title no longer searchable, then again) starts afresh.
    let (_, def) = app.su(Method::GET, "/api/collections/posts", None).await;
    let mut fields = def["fields"].clone();
    for searchable in [false, true] {
        for f in fields.as_array_mut().unwrap() {
            if f["name"] == "title" {
                f["searchable"] = json!(searchable);
            }
        }
        let (status, body) = app
            .su(
                Method::PATCH,
                "/api/collections/posts",
                Some(json!({ "fields": fields })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(ids(&app, search).await, (vec![long.to_owned()], json!(1)));
}
