//! Bounded queries: a guest's expensive filter cannot hold the database. Request SQL stops
//! at `--query-timeout` and when its client goes away; the server's own jobs keep readers
//! requests cannot take; `/api/health` says when every request reader is taken.

use std::time::{Duration, Instant};

use hearth::Config;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, notes, spawn_app_with, url_encode, wait_until};
use crate::webhooks::{Receiver, webhook};

/// Rows in the collection the expensive filters run over.
const ROWS: usize = 2000;

/// A guest's filter that follows `links` forward and back again, with `~`: no index helps,
/// and over `ROWS` records it runs for many minutes (hours with more rows).
const EXPENSIVE: &str = "links.items_via_links.title ~ 'zzz'";

/// Generous bounds for a slow, busy 2-core machine; each is far below how long the
/// expensive filter runs, so a pass still means the bound works.
const PROMPTLY: Duration = Duration::from_secs(20);

/// An app with `items` (public list and view rules), whose multi relation `links` points
/// back into `items`: `ROWS` records, each linking three others.
async fn app_with_items(tweak: impl FnOnce(&mut Config)) -> (TestApp, String) {
    let app = spawn_app_with(tweak).await;
    let token = app.superuser_token().await;
    let (status, items) = app
        .call(
            Method::POST,
            "/api/collections",
            Some(json!({"name": "items", "listRule": "", "viewRule": "",
                        "fields": [{"name": "title", "type": "text"}]})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{items}");
    let (status, body) = app
        .call(
            Method::PATCH,
            "/api/collections/items",
            Some(json!({"fields": [
                {"name": "title", "type": "text"},
                {"name": "links", "type": "relation", "collectionId": items["id"], "maxSelect": 99}
            ]})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let store = app.db.data.clone();
    tokio::task::spawn_blocking(move || {
        store.write(|c| {
            let id = |i: usize| format!("item{i:011}");
            let mut insert =
                c.prepare("INSERT INTO items (id, title, links) VALUES (?1, ?2, ?3)")?;
            for i in 0..ROWS {
                let links: Vec<String> = [7, 131, 977]
                    .iter()
                    .map(|k| id((i * k + 1) % ROWS))
                    .collect();
                insert.execute((id(i), format!("item number {i}"), json!(links).to_string()))?;
            }
            Ok(())
        })
    })
    .await
    .unwrap()
    .unwrap();
    (app, token)
}

fn list_url(app: &TestApp, filter: &str) -> String {
    let q: String = url_encode(filter);
    app.url(&format!("/api/collections/items/records?filter={q}"))
}

/// Starts `n` guest requests with the expensive filter, each given up by its client after
/// `patience` (dropped: the connection is closed). Returns their tasks.
fn fire(app: &TestApp, n: usize, patience: Duration) -> Vec<tokio::task::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let req = app.api.get(list_url(app, EXPENSIVE)).timeout(patience);
            tokio::spawn(async move {
                let _ = req.send().await;
            })
        })
        .collect()
}

/// A cheap read: one page of one record, as (status, body), waiting as long as it takes.
async fn cheap_read(app: &TestApp) -> (u16, Value) {
    let res = app
        .api
        .get(app.url("/api/collections/items/records?perPage=1&skipTotal=1"))
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn health(app: &TestApp) -> (u16, Value) {
    let res = app.get("/api/health").await;
    (res.status().as_u16(), res.json().await.unwrap())
}

/// Waits until health answers `status`; fails the test, saying `what`, after `PROMPTLY`.
async fn health_becomes(app: &TestApp, status: u16, what: &str) {
    wait_until(PROMPTLY, what, async || health(app).await.0 == status).await;
}

#[tokio::test]
async fn abandoned_expensive_filters_stop_and_give_their_readers_back() {
    // No time limit: only the clients leaving can stop these queries.
    let (app, _) = app_with_items(|c| {
        c.pool.readers = 2;
        c.pool.query_timeout = None;
        c.pool.wait = Duration::from_secs(3);
    })
    .await;

    // As many abandoned requests as there are readers; their clients leave after a second.
    for task in fire(&app, 2, Duration::from_secs(1)) {
        task.await.unwrap();
    }
    let started = Instant::now();
    let (status, body) = cheap_read(&app).await;

    // Held for hours before: the read waited `--db-wait` for a reader and got a 503.
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert!(started.elapsed() < PROMPTLY, "{:?}", started.elapsed());
    health_becomes(&app, 200, "health to answer 200 again").await;
}

#[tokio::test]
async fn a_query_past_the_timeout_is_stopped_with_a_clear_400() {
    let (app, _) = app_with_items(|c| {
        c.pool.readers = 1;
        c.pool.query_timeout = Some(Duration::from_secs(1));
    })
    .await;

    let started = Instant::now();
    let res = app
        .api
        .get(list_url(&app, EXPENSIVE))
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();

    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("took longer"),
        "{body}"
    );
    assert!(took < PROMPTLY, "{took:?}");
    // The one reader is free again: the next read is served.
    let (status, body) = cheap_read(&app).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn server_jobs_and_health_work_while_requests_hold_every_reader() {
    let (app, token) = app_with_items(|c| {
        c.pool.readers = 2;
        c.pool.query_timeout = None;
        c.pool.wait = Duration::from_secs(2);
        // The test receiver listens on 127.0.0.1.
        c.webhooks.allow_private = true;
    })
    .await;
    notes(&app, &token).await;
    let receiver = Receiver::start_on(0, 200).await;
    webhook(&app, &token, &receiver.url(), json!(["create"])).await;
    let (status, body) = health(&app).await;
    assert_eq!(status, 200, "{body}");

    // Clients that wait (ten minutes) for their expensive lists: every request reader taken.
    let held = fire(&app, 2, Duration::from_secs(600));
    health_becomes(&app, 503, "health to answer 503 with every reader taken").await;
    let (_, busy_body) = health(&app).await;
    let (status, created) = app
        .call(
            Method::POST,
            "/api/collections/notes/records",
            Some(json!({"text": "still delivered"})),
            None,
        )
        .await;
    assert_eq!(status, 200, "{created}");
    // The webhook worker reads its due deliveries on a reader requests cannot take.
    let got = receiver.wait_for(1, PROMPTLY).await;
    for task in &held {
        task.abort();
    }
    // The held clients gave up: their queries stopped and the readers came back.
    health_becomes(&app, 200, "health to answer 200 after the clients left").await;

    assert_eq!(busy_body["code"], 503, "{busy_body}");
    assert_eq!(busy_body["data"], json!({}));
    assert!(
        busy_body["message"].as_str().unwrap().contains("busy"),
        "{busy_body}"
    );
    assert_eq!(got[0].json()["record"]["text"], "still delivered");
}
