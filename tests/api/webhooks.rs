//! Webhooks: the superuser API, signed deliveries written in the change's transaction,
//! retries until the receiver answers, delivery after a crash, and the admin pages. Which
//! targets are refused: `webhook_targets.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, free_port, notes, spawn_app_with, wait_for};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A tiny HTTP server that keeps every request and answers `status`.
pub(crate) struct Receiver {
    pub(crate) port: u16,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub(crate) async fn start_on(port: u16, status: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let store = got.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let (head_end, length) = loop {
                        let n = stream.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (i + 4, length);
                        }
                    };
                    while buf.len() < head_end + length {
                        let n = stream.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    let headers = head
                        .lines()
                        .skip(1)
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                        .collect();
                    store.lock().unwrap().push(Received {
                        headers,
                        body: buf[head_end..head_end + length].to_vec(),
                    });
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        Self { port, got }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub(crate) async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        wait_for(within, &format!("{n} deliveries"), async || {
            let got = self.received();
            if got.len() >= n {
                Ok(got)
            } else {
                Err(format!("the receiver got {}", got.len()))
            }
        })
        .await
    }
}

/// The test receiver listens on 127.0.0.1, which webhooks may reach only with
/// `--webhook-allow-private`.
fn allow_private(c: &mut hearth::Config) {
    c.webhooks.allow_private = true;
}

fn verify(secret: &str, r: &Received) -> bool {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&r.body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    r.header("X-Hearth-Signature") == format!("sha256={hex}")
}

pub(crate) async fn webhook(app: &TestApp, token: &str, url: &str, events: Value) -> Value {
    let (status, body) = app
        .call(
            Method::POST,
            "/api/webhooks",
            Some(json!({"name": "n", "collection": "notes", "events": events, "url": url, "secret": "s3cret"})),
            Some(token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn deliveries(app: &TestApp, token: &str, hook: &str) -> Vec<Value> {
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/webhooks/{hook}/deliveries"),
            None,
            Some(token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

/// The newest delivery of `hook` once `done` holds for it; fails the test after 10 s.
pub(crate) async fn delivery_when(
    app: &TestApp,
    token: &str,
    hook: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    wait_for(Duration::from_secs(10), what, async || {
        let items = deliveries(app, token, hook).await;
        match items.first() {
            Some(d) if done(d) => Ok(d.clone()),
            _ => Err(items),
        }
    })
    .await
}

#[tokio::test]
async fn superusers_manage_webhooks_with_validation_in_pocketbase_shape() {
    let app = spawn_app_with(allow_private).await;
    let token = app.superuser_token().await;
    notes(&app, &token).await;

    let guest = app.call(Method::GET, "/api/webhooks", None, None).await;
    let bad = app
        .call(
            Method::POST,
            "/api/webhooks",
            Some(json!({"collection": "nope", "events": ["create", "explode"], "url": "ftp://x"})),
            Some(&token),
        )
        .await;
    let created = webhook(
        &app,
        &token,
        "http://127.0.0.1:9/hook",
        json!(["create", "delete"]),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/webhooks/{id}");
    let patched = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"active": false, "events": ["update"]})),
            Some(&token),
        )
        .await;
    let list = app
        .call(Method::GET, "/api/webhooks", None, Some(&token))
        .await;
    let deleted = app.call(Method::DELETE, &path, None, Some(&token)).await;
    let gone = app.call(Method::GET, &path, None, Some(&token)).await;

    assert_eq!(guest.0, 401);
    assert_eq!(bad.0, 400);
    assert_eq!(
        bad.1["message"],
        "An error occurred while validating the submitted data."
    );
    assert_eq!(
        bad.1["data"]["collection"]["code"],
        "validation_invalid_collection"
    );
    assert_eq!(bad.1["data"]["events"]["code"], "validation_invalid_value");
    assert_eq!(bad.1["data"]["url"]["code"], "validation_invalid_url");
    assert_eq!(created["collection"], "notes");
    assert_eq!(created["events"], json!(["create", "delete"]));
    assert_eq!(created["active"], true);
    assert_eq!(created["hasSecret"], true);
    assert!(created.get("secret").is_none(), "the secret never leaves");
    assert_eq!(patched.0, 200);
    assert_eq!(patched.1["active"], false);
    assert_eq!(patched.1["events"], json!(["update"]));
    assert_eq!(list.1["totalItems"], 1);
    assert_eq!(list.1["page"], 1);
    assert_eq!(list.1["perPage"], 30);
    assert_eq!(list.1["totalPages"], 1);
    assert_eq!(deleted.0, 204);
    assert_eq!(gone.0, 404);
}

#[tokio::test]
async fn deliveries_are_signed_and_carry_the_change() {
    let app = spawn_app_with(allow_private).await;
    let token = app.superuser_token().await;
    notes(&app, &token).await;
    let receiver = Receiver::start_on(0, 200).await;
    let hook = webhook(
        &app,
        &token,
        &receiver.url(),
        json!(["create", "update", "delete"]),
    )
    .await;

    let (_, note) = app
        .call(
            Method::POST,
            "/api/collections/notes/records",
            Some(json!({"text": "hi"})),
            None,
        )
        .await;
    let path = format!(
        "/api/collections/notes/records/{}",
        note["id"].as_str().unwrap()
    );
    app.call(Method::PATCH, &path, Some(json!({"text": "hello"})), None)
        .await;
    app.call(Method::DELETE, &path, None, None).await;
    let got = receiver.wait_for(3, Duration::from_secs(10)).await;

    let events: Vec<String> = got
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events, ["create", "update", "delete"]);
    for r in &got {
        assert!(verify("s3cret", r), "signature of {:?}", r.json());
        assert!(!verify("other", r));
        let body = r.json();
        assert_eq!(r.header("X-Hearth-Event"), body["event"]);
        assert_eq!(r.header("X-Hearth-Delivery"), body["id"]);
        assert_eq!(r.header("Content-Type"), "application/json");
        assert_eq!(body["collection"], "notes");
        assert_eq!(body["record"]["id"], note["id"]);
        assert!(body["timestamp"].as_str().is_some());
    }
    assert_eq!(got[1].json()["record"]["text"], "hello");
    let listed = deliveries(&app, &token, hook["id"].as_str().unwrap()).await;
    assert_eq!(listed.len(), 3);
    assert!(
        listed
            .iter()
            .all(|d| d["status"] == "delivered" && d["attempts"] == 1 && d["response"] == 200)
    );
}

#[tokio::test]
async fn a_rolled_back_change_delivers_nothing() {
    let app = spawn_app_with(allow_private).await;
    let token = app.superuser_token().await;
    notes(&app, &token).await;
    app.call(
        Method::PATCH,
        "/api/collections/notes",
        Some(json!({"createRule": "text != 'no'"})),
        Some(&token),
    )
    .await;
    let hook = webhook(&app, &token, "http://127.0.0.1:9/hook", json!(["create"])).await;

    let (status, _) = app
        .call(
            Method::POST,
            "/api/collections/notes/records",
            Some(json!({"text": "no"})),
            None,
        )
        .await;

    assert_eq!(status, 400);
    assert!(
        deliveries(&app, &token, hook["id"].as_str().unwrap())
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn failed_deliveries_are_retried_until_the_receiver_comes_up() {
    let app = spawn_app_with(|c| {
        allow_private(c);
        c.webhooks.backoff = Duration::from_millis(100);
        c.webhooks.max_backoff = Duration::from_millis(400);
        c.webhooks.max_attempts = 100;
    })
    .await;
    let token = app.superuser_token().await;
    notes(&app, &token).await;
    let port = free_port();
    let hook = webhook(
        &app,
        &token,
        &format!("http://127.0.0.1:{port}/hook"),
        json!(["create"]),
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();

    app.call(
        Method::POST,
        "/api/collections/notes/records",
        Some(json!({"text": "later"})),
        None,
    )
    .await;
    let failing = delivery_when(&app, &token, &hook_id, "a retry", |d| {
        d["attempts"].as_i64().unwrap() >= 2
    })
    .await;
    let receiver = Receiver::start_on(port, 200).await;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;

    assert_eq!(failing["status"], "pending");
    assert!(!failing["error"].as_str().unwrap().is_empty());
    assert_eq!(got[0].json()["record"]["text"], "later");
    let d = delivery_when(&app, &token, &hook_id, "`delivered`", |d| {
        d["status"] != "pending"
    })
    .await;
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["error"], "");
}

#[tokio::test]
async fn non_2xx_answers_use_up_the_attempts_and_then_fail() {
    let app = spawn_app_with(|c| {
        allow_private(c);
        c.webhooks.backoff = Duration::from_millis(50);
        c.webhooks.max_attempts = 3;
    })
    .await;
    let token = app.superuser_token().await;
    notes(&app, &token).await;
    let receiver = Receiver::start_on(0, 500).await;
    let hook = webhook(&app, &token, &receiver.url(), json!(["create"])).await;

    app.call(
        Method::POST,
        "/api/collections/notes/records",
        Some(json!({"text": "x"})),
        None,
    )
    .await;
    receiver.wait_for(3, Duration::from_secs(10)).await;
    let d = delivery_when(
        &app,
        &token,
        hook["id"].as_str().unwrap(),
        "`failed`",
        |d| d["status"] != "pending",
    )
    .await;

    assert_eq!(d["status"], "failed");
    assert_eq!(d["attempts"], 3);
    assert_eq!(d["response"], 500);
    assert_eq!(receiver.received().len(), 3, "no attempt past the limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_server_was_killed_before_delivery_is_delivered_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let allow = ["--webhook-allow-private"];
    let (server, client, token) = crate::crash::set_up_with(dir.path(), &allow).await;
    let port = free_port();
    let res = client
        .post(format!("{}/api/webhooks", server.base))
        .header("Authorization", &token)
        .json(&json!({"collection": "events", "events": ["create"], "url": format!("http://127.0.0.1:{port}/hook"), "secret": "k"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client
        .post(format!("{}/api/collections/events/records", server.base))
        .json(&json!({"n": "survives"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    server.kill();
    let receiver = Receiver::start_on(port, 200).await;
    let _server = crate::crash::Server::start_with(dir.path(), &allow).await;
    let got = receiver.wait_for(1, Duration::from_secs(15)).await;

    assert_eq!(got[0].json()["record"]["n"], "survives");
    assert!(verify("k", &got[0]));
}

#[tokio::test]
async fn the_admin_ui_adds_edits_retries_and_deletes_webhooks_with_plain_forms() {
    let app = spawn_app_with(|c| {
        allow_private(c);
        c.webhooks.max_attempts = 1;
        c.webhooks.backoff = Duration::from_millis(50);
    })
    .await;
    let token = app.superuser_token().await;
    notes(&app, &token).await;
    let receiver = Receiver::start_on(0, 500).await;
    let browser = app.browser();
    let res = app
        .sign_in_browser(&browser, crate::helpers::ADMIN_PASSWORD)
        .await;
    assert_eq!(res.status(), 303);
    let page = browser.get(app.url("/_/webhooks")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<a href="/_/webhooks" aria-current="page">Webhooks</a>"#));
    let csrf = crate::helpers::csrf_token(&html);
    let form = |csrf: &str, url: &str| {
        vec![
            ("csrf", csrf.to_owned()),
            ("name", "to <receiver>".to_owned()),
            ("collection", "notes".to_owned()),
            ("event_create", "on".to_owned()),
            ("url", url.to_owned()),
            ("secret", "k".to_owned()),
            ("active", "on".to_owned()),
        ]
    };

    let forged = browser
        .post(app.url("/_/webhooks"))
        .form(&form("forged", &receiver.url()))
        .send()
        .await
        .unwrap();
    let invalid = browser
        .post(app.url("/_/webhooks"))
        .form(&form(&csrf, "not a url"))
        .send()
        .await
        .unwrap();
    let added = browser
        .post(app.url("/_/webhooks"))
        .form(&form(&csrf, &receiver.url()))
        .send()
        .await
        .unwrap();

    assert_eq!(forged.status(), 403);
    assert_eq!(invalid.status(), 400);
    assert!(
        invalid
            .text()
            .await
            .unwrap()
            .contains("Must be a valid url.")
    );
    assert_eq!(added.status(), 303);
    let location = added.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/_/webhooks/"));

    // A change fails its single attempt; "retry now" gives it another.
    app.call(
        Method::POST,
        "/api/collections/notes/records",
        Some(json!({"text": "x"})),
        None,
    )
    .await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    let hook_id = location.rsplit('/').next().unwrap();
    delivery_when(&app, &token, hook_id, "`failed`", |d| {
        d["status"] == "failed"
    })
    .await;
    let html = browser
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("to <receiver>"), "names are escaped");
    assert!(html.contains("to &lt;receiver&gt;") || html.contains("to &#60;receiver&#62;"));
    assert!(html.contains(r#"<span class="badge badge-failed">failed</span>"#));
    assert!(html.contains("HTTP 500"));
    let marker = "/deliveries/";
    let start = html.find(marker).unwrap() + marker.len();
    let delivery = &html[start..start + html[start..].find('/').unwrap()];
    let retried = browser
        .post(app.url(&format!("{location}/deliveries/{delivery}/retry")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 303);
    receiver.wait_for(2, Duration::from_secs(10)).await;

    let paused = browser
        .post(app.url(&location))
        .form(&[
            ("csrf", csrf.as_str()),
            ("collection", "notes"),
            ("event_update", "on"),
            ("url", &receiver.url()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), 303);
    let (_, hook) = app
        .call(
            Method::GET,
            &format!("/api/webhooks/{}", location.rsplit('/').next().unwrap()),
            None,
            Some(&token),
        )
        .await;
    assert_eq!(hook["active"], false);
    assert_eq!(hook["events"], json!(["update"]));
    assert_eq!(
        hook["hasSecret"], true,
        "an empty secret field keeps the secret"
    );

    let deleted = browser
        .post(app.url(&format!("{location}/delete")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 303);
    let (_, list) = app
        .call(Method::GET, "/api/webhooks", None, Some(&token))
        .await;
    assert_eq!(list["totalItems"], 0);
}

#[tokio::test]
async fn records_removed_by_a_cascade_are_delivered_too() {
    let app = spawn_app_with(allow_private).await;
    let token = app.superuser_token().await;
    notes(&app, &token).await;
    let (_, notes_def) = app
        .call(Method::GET, "/api/collections/notes", None, Some(&token))
        .await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/collections",
            Some(json!({"name": "comments", "createRule": "", "fields": [
                {"name": "note", "type": "relation", "collectionId": notes_def["id"], "maxSelect": 1, "cascadeDelete": true}
            ]})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, hook) = app
        .call(
            Method::POST,
            "/api/webhooks",
            Some(json!({"collection": "comments", "events": ["delete"], "url": "http://127.0.0.1:9/x"})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{hook}");
    let (_, note) = app
        .call(
            Method::POST,
            "/api/collections/notes/records",
            Some(json!({"text": "n"})),
            None,
        )
        .await;
    let (_, comment) = app
        .call(
            Method::POST,
            "/api/collections/comments/records",
            Some(json!({"note": note["id"]})),
            None,
        )
        .await;

    let path = format!(
        "/api/collections/notes/records/{}",
        note["id"].as_str().unwrap()
    );
    let (status, _) = app.call(Method::DELETE, &path, None, None).await;

    assert_eq!(status, 204);
    let d = deliveries(&app, &token, hook["id"].as_str().unwrap()).await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["event"], "delete");
    assert_eq!(d[0]["record"], comment["id"]);
}

#[tokio::test]
async fn account_confirmations_are_record_updates_for_webhooks_and_realtime() {
    let app = spawn_app_with(allow_private).await;
    let token = app.superuser_token().await;
    let (status, hook) = app
        .call(
            Method::POST,
            "/api/webhooks",
            Some(
                json!({"collection": "users", "events": ["update"], "url": "http://127.0.0.1:9/x"}),
            ),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{hook}");
    let id = app.sign_up("ann@example.com", "password123").await;
    let mut sse = crate::helpers::Sse::connect(&app.address).await;
    let (status, _) = app
        .call(
            Method::POST,
            "/api/realtime",
            Some(json!({"clientId": sse.client_id, "subscriptions": [format!("users/{id}")]})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 204);
    app.call(
        Method::POST,
        "/api/collections/users/request-verification",
        Some(json!({"email": "ann@example.com"})),
        None,
    )
    .await;
    let verification = crate::account::token_in_latest_mail(&app, "ann@example.com");

    let (status, _) = app
        .call(
            Method::POST,
            "/api/collections/users/confirm-verification",
            Some(json!({"token": verification})),
            None,
        )
        .await;

    assert_eq!(status, 204);
    let event = sse.next().await.expect("the update is published").json();
    assert_eq!(event["action"], "update");
    assert_eq!(event["record"]["verified"], true);
    let d = deliveries(&app, &token, hook["id"].as_str().unwrap()).await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["record"], id.as_str());
}
