//! Realtime over SSE, as PocketBase serves it: PB_CONNECT first, subscriptions set by
//! POST under that request's auth, and only records the subscriber may read.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Sse, TestApp, spawn_app, spawn_app_with};

async fn subscribe(app: &TestApp, sse: &Sse, topics: &[&str], token: Option<&str>) -> (u16, Value) {
    app.call(
        Method::POST,
        "/api/realtime",
        Some(json!({"clientId": sse.client_id, "subscriptions": topics})),
        token,
    )
    .await
}

/// A `posts` collection: anyone lists published posts and views any post; users create.
async fn posts(app: &TestApp, token: &str) {
    let (status, body) = app
        .call(
            Method::POST,
            "/api/collections",
            Some(json!({
                "name": "posts",
                "listRule": "published = true",
                "viewRule": "",
                "createRule": "title != 'forbidden'",
                "updateRule": "",
                "deleteRule": "",
                "fields": [
                    {"name": "title", "type": "text"},
                    {"name": "published", "type": "bool"},
                    {"name": "views", "type": "number"}
                ]
            })),
            Some(token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn create(app: &TestApp, token: Option<&str>, body: Value) -> Value {
    let (status, record) = app
        .call(
            Method::POST,
            "/api/collections/posts/records",
            Some(body),
            token,
        )
        .await;
    assert_eq!(status, 200, "{record}");
    record
}

#[tokio::test]
async fn the_stream_opens_with_pb_connect_and_its_client_id() {
    let app = spawn_app().await;

    let sse = Sse::connect(&app.address).await;

    assert_eq!(sse.client_id.len(), 40);
    assert!(sse.client_id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(sse.headers["content-type"], "text/event-stream");
    assert_eq!(sse.headers["cache-control"], "no-store");
    assert_eq!(sse.headers["x-accel-buffering"], "no");
}

#[tokio::test]
async fn bad_subscription_requests_answer_like_pocketbase() {
    let app = spawn_app().await;
    let sse = Sse::connect(&app.address).await;

    let unknown = app
        .call(
            Method::POST,
            "/api/realtime",
            Some(json!({"clientId": "nope", "subscriptions": []})),
            None,
        )
        .await;
    let missing = app
        .call(
            Method::POST,
            "/api/realtime",
            Some(json!({"subscriptions": []})),
            None,
        )
        .await;
    let too_long = subscribe(&app, &sse, &[&"x".repeat(2501)], None).await;
    let fine = subscribe(&app, &sse, &[], None).await;

    assert_eq!(
        unknown,
        (
            404,
            json!({"data": {}, "message": "Missing or invalid client id.", "status": 404})
        )
    );
    assert_eq!(missing.0, 400);
    assert_eq!(missing.1["data"]["clientId"]["code"], "validation_required");
    assert_eq!(
        missing.1["message"],
        "Something went wrong while processing your request."
    );
    assert_eq!(too_long.0, 400);
    assert_eq!(
        too_long.1["data"]["subscriptions"]["0"]["code"],
        "validation_length_too_long"
    );
    assert_eq!(fine.0, 204);
}

#[tokio::test]
async fn an_authorized_client_keeps_its_auth_and_a_guest_may_sign_in() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    let sse = Sse::connect(&app.address).await;

    let as_guest = subscribe(&app, &sse, &["posts/*"], None).await;
    let upgraded = subscribe(&app, &sse, &["posts/*"], Some(&token)).await;
    let same = subscribe(&app, &sse, &["posts/*"], Some(&token)).await;
    let downgraded = subscribe(&app, &sse, &["posts/*"], None).await;

    assert_eq!(as_guest.0, 204);
    assert_eq!(upgraded.0, 204);
    assert_eq!(same.0, 204);
    assert_eq!(downgraded.0, 403);
    assert_eq!(
        downgraded.1["message"],
        "The current and the previous request authorization don't match."
    );
}

#[tokio::test]
async fn events_follow_the_list_rule_for_each_subscriber() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    posts(&app, &token).await;
    let mut guest = Sse::connect(&app.address).await;
    let mut admin = Sse::connect(&app.address).await;
    assert_eq!(subscribe(&app, &guest, &["posts/*"], None).await.0, 204);
    assert_eq!(
        subscribe(&app, &admin, &["posts/*"], Some(&token)).await.0,
        204
    );

    let hidden = create(
        &app,
        Some(&token),
        json!({"title": "draft", "published": false}),
    )
    .await;
    let shown = create(
        &app,
        Some(&token),
        json!({"title": "news", "published": true}),
    )
    .await;

    let e = guest
        .next()
        .await
        .expect("the guest sees the published post");
    assert_eq!(e.event, "posts/*");
    assert_eq!(e.id, guest.client_id);
    assert_eq!(e.json()["action"], "create");
    assert_eq!(e.json()["record"], shown);
    assert!(
        e.data.starts_with(r#"{"record":"#),
        "record before action, as PocketBase"
    );
    assert!(
        guest
            .next_within(Duration::from_millis(300))
            .await
            .is_none(),
        "never the draft"
    );
    let a1 = admin.next().await.unwrap().json();
    let a2 = admin.next().await.unwrap().json();
    assert_eq!(a1["record"]["id"], hidden["id"]);
    assert_eq!(a2["record"]["id"], shown["id"]);
}

#[tokio::test]
async fn updates_and_deletes_arrive_and_record_topics_use_the_view_rule() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    posts(&app, &token).await;
    let draft = create(
        &app,
        Some(&token),
        json!({"title": "draft", "published": false}),
    )
    .await;
    let id = draft["id"].as_str().unwrap();
    let mut one = Sse::connect(&app.address).await;
    let mut all = Sse::connect(&app.address).await;
    let topic = format!("posts/{id}");
    assert_eq!(subscribe(&app, &one, &[&topic], None).await.0, 204);
    assert_eq!(subscribe(&app, &all, &["posts/*"], None).await.0, 204);

    let path = format!("/api/collections/posts/records/{id}");
    app.call(Method::PATCH, &path, Some(json!({"views": 3})), None)
        .await;
    app.call(Method::DELETE, &path, None, None).await;

    // The view rule is public: the one-record topic sees both; the list rule hides drafts.
    let update = one.next().await.expect("update");
    assert_eq!(update.event, topic);
    assert_eq!(update.json()["action"], "update");
    assert_eq!(update.json()["record"]["views"], 3);
    let delete = one.next().await.expect("delete");
    assert_eq!(delete.json()["action"], "delete");
    assert_eq!(delete.json()["record"]["title"], "draft");
    assert!(all.next_within(Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn subscription_options_filter_and_shape_the_record() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    posts(&app, &token).await;
    let mut sse = Sse::connect(&app.address).await;
    let topic = r#"posts/*?options={"query":{"filter":"views > 10","fields":"id,title"}}"#;
    assert_eq!(subscribe(&app, &sse, &[topic], None).await.0, 204);

    create(
        &app,
        Some(&token),
        json!({"title": "few", "published": true, "views": 1}),
    )
    .await;
    let many = create(
        &app,
        Some(&token),
        json!({"title": "many", "published": true, "views": 99}),
    )
    .await;

    let e = sse.next().await.expect("the matching record");
    assert_eq!(e.event, topic);
    assert_eq!(
        e.json()["record"],
        json!({"id": many["id"], "title": "many"})
    );
    assert!(sse.next_within(Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn a_rolled_back_change_is_never_published() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    posts(&app, &token).await;
    let mut sse = Sse::connect(&app.address).await;
    assert_eq!(
        subscribe(&app, &sse, &["posts/*"], Some(&token)).await.0,
        204
    );

    // The create rule fails after the insert: the transaction rolls back.
    let (status, _) = app
        .call(
            Method::POST,
            "/api/collections/posts/records",
            Some(json!({"title": "forbidden", "published": true})),
            None,
        )
        .await;

    assert_eq!(status, 400);
    assert!(sse.next_within(Duration::from_millis(500)).await.is_none());
}

#[tokio::test]
async fn auth_records_show_emails_only_to_their_owner_and_superusers() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    let (status, _) = app
        .call(
            Method::PATCH,
            "/api/collections/users",
            Some(json!({"listRule": "", "viewRule": "", "updateRule": "id = @request.auth.id"})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    let (_, ann) = app
        .call(
            Method::POST,
            "/api/collections/users/records",
            Some(json!({"email": "ann@example.com", "password": "password123", "passwordConfirm": "password123"})),
            None,
        )
        .await;
    let (_, signed_in) = app
        .call(
            Method::POST,
            "/api/collections/users/auth-with-password",
            Some(json!({"identity": "ann@example.com", "password": "password123"})),
            None,
        )
        .await;
    let ann_token = signed_in["token"].as_str().unwrap().to_owned();
    let mut guest = Sse::connect(&app.address).await;
    let mut owner = Sse::connect(&app.address).await;
    subscribe(&app, &guest, &["users/*"], None).await;
    subscribe(&app, &owner, &["users/*"], Some(&ann_token)).await;

    let path = format!(
        "/api/collections/users/records/{}",
        ann["id"].as_str().unwrap()
    );
    let (status, _) = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"name": "Ann"})),
            Some(&ann_token),
        )
        .await;
    assert_eq!(status, 200);

    let seen_by_guest = guest.next().await.unwrap().json();
    let seen_by_owner = owner.next().await.unwrap().json();
    assert_eq!(seen_by_guest["record"]["name"], "Ann");
    assert!(seen_by_guest["record"].get("email").is_none());
    assert_eq!(seen_by_owner["record"]["email"], "ann@example.com");
    assert!(seen_by_owner["record"].get("password").is_none());
    assert!(seen_by_owner["record"].get("tokenKey").is_none());
}

#[tokio::test]
async fn many_clients_each_get_every_event_once() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    posts(&app, &token).await;
    let mut clients = Vec::new();
    for _ in 0..50 {
        let sse = Sse::connect(&app.address).await;
        assert_eq!(subscribe(&app, &sse, &["posts/*"], None).await.0, 204);
        clients.push(sse);
    }

    for i in 0..5 {
        create(
            &app,
            Some(&token),
            json!({"title": format!("p{i}"), "published": true}),
        )
        .await;
    }

    for sse in &mut clients {
        for i in 0..5 {
            let e = sse.next().await.expect("every event reaches every client");
            assert_eq!(
                e.json()["record"]["title"],
                format!("p{i}"),
                "in commit order"
            );
        }
        assert!(sse.next_within(Duration::from_millis(20)).await.is_none());
    }
}

#[tokio::test]
async fn an_idle_stream_is_closed_and_its_client_forgotten() {
    let app = spawn_app_with(|c| c.realtime.idle_timeout = Duration::from_millis(300)).await;
    let mut sse = Sse::connect(&app.address).await;

    assert!(sse.closed_within(Duration::from_secs(3)).await);
    let (status, _) = subscribe(&app, &sse, &["posts/*"], None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn clients_past_the_limit_are_turned_away() {
    let app = spawn_app_with(|c| c.realtime.max_clients = 2).await;
    let _a = Sse::connect(&app.address).await;
    let _b = Sse::connect(&app.address).await;

    let third = app.get("/api/realtime").await;

    assert_eq!(third.status(), 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_ends_open_streams_instead_of_waiting_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::crash::Server::start(dir.path()).await;
    let mut sse = Sse::connect(&server.base).await;

    let took = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();

    assert!(took < Duration::from_secs(10), "stopping took {took:?}");
    assert!(sse.closed_within(Duration::from_secs(1)).await);
}

#[tokio::test]
async fn metrics_count_realtime_clients_and_the_webhook_backlog() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    let _a = Sse::connect(&app.address).await;
    let _b = Sse::connect(&app.address).await;

    let text = app
        .get_with_token("/api/metrics", &token)
        .await
        .text()
        .await
        .unwrap();

    assert!(text.contains("\nhearth_realtime_clients 2\n"), "{text}");
    assert!(text.contains("\nhearth_realtime_clients_dropped 0\n"));
    assert!(text.contains("\nhearth_webhook_deliveries_pending 0\n"));
}

#[tokio::test]
async fn a_batch_publishes_its_changes_after_commit_and_a_failed_batch_nothing() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    posts(&app, &token).await;
    let (status, _) = app
        .call(
            Method::PATCH,
            "/api/settings",
            Some(json!({"batch": {"enabled": true}})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    let mut sse = Sse::connect(&app.address).await;
    assert_eq!(
        subscribe(&app, &sse, &["posts/*"], Some(&token)).await.0,
        204
    );
    let create = |title: &str| json!({"method": "POST", "url": "/api/collections/posts/records", "body": {"title": title}});

    let failed = app
        .call(
            Method::POST,
            "/api/batch",
            Some(json!({"requests": [create("one"), create("forbidden")]})),
            None,
        )
        .await;
    let ok = app
        .call(
            Method::POST,
            "/api/batch",
            Some(json!({"requests": [create("a"), create("b")]})),
            None,
        )
        .await;

    assert_eq!(failed.0, 400);
    assert_eq!(ok.0, 200, "{}", ok.1);
    let first = sse.next().await.expect("first of the batch").json();
    let second = sse.next().await.expect("second of the batch").json();
    assert_eq!(
        first["record"]["title"], "a",
        "never the rolled-back batch's 'one'"
    );
    assert_eq!(second["record"]["title"], "b");
    assert!(sse.next_within(Duration::from_millis(300)).await.is_none());
}
