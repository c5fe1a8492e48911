//! Request logs (`/api/logs`, written off the request path into auxiliary.db), their
//! retention and `hearth logs prune`, and `/api/metrics` read with a real Prometheus
//! text-format parser.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{logs_when, spawn_app, spawn_app_with};

#[tokio::test]
async fn requests_are_logged_as_pocketbase_logs_them() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    app.get("/api/health?probe=1").await;
    app.get("/api/collections/nope/records").await;
    app.call(
        Method::GET,
        "/api/collections/users/records",
        None,
        Some(&token),
    )
    .await;

    let found = logs_when(&app, &token, "data.url ~ 'probe=1'", 1).await;
    let entry = &found["items"][0];
    assert_eq!(entry["message"], "GET /api/health?probe=1");
    assert_eq!(entry["level"], 0);
    let data = &entry["data"];
    assert_eq!(data["type"], "request");
    assert_eq!(data["method"], "GET");
    assert_eq!(data["status"], 200);
    assert_eq!(data["auth"], "");
    assert_eq!(data["remoteIP"], "127.0.0.1");
    assert!(data["execTime"].as_f64().unwrap() >= 0.0);
    let mut keys: Vec<&str> = entry
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["created", "data", "id", "level", "message"]);

    // Failures are level 8 with the error message; the caller's collection is recorded.
    let failed = logs_when(&app, &token, "data.status >= 400 && data.url ~ 'nope'", 1).await;
    assert_eq!(failed["items"][0]["level"], 8);
    assert_eq!(failed["items"][0]["data"]["status"], 404);
    assert!(
        failed["items"][0]["data"]["error"]
            .as_str()
            .unwrap()
            .contains("Missing collection")
    );
    let authed = logs_when(
        &app,
        &token,
        "data.auth = '_superusers' && data.url ~ 'users/records'",
        1,
    )
    .await;
    assert_eq!(authed["items"][0]["data"]["method"], "GET");

    // One entry by id; stats per hour.
    let id = entry["id"].as_str().unwrap();
    let (status, one) = app
        .call(Method::GET, &format!("/api/logs/{id}"), None, Some(&token))
        .await;
    assert_eq!(status, 200);
    assert_eq!(&one, entry);
    let (status, stats) = app
        .call(
            Method::GET,
            "/api/logs/stats?filter=data.status%3E%3D400",
            None,
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    let hours = stats.as_array().unwrap();
    assert!(!hours.is_empty());
    assert!(hours[0]["total"].as_u64().unwrap() >= 1);
    assert!(hours[0]["date"].as_str().unwrap().ends_with(":00:00.000Z"));

    // Sorting, a bad filter, a missing id, and who may read.
    let (status, sorted) = app
        .call(
            Method::GET,
            "/api/logs?sort=rowid&perPage=1",
            None,
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(sorted["items"].as_array().unwrap().len(), 1);
    let (status, _) = app
        .call(
            Method::GET,
            "/api/logs?filter=nosuch%3D1",
            None,
            Some(&token),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .call(Method::GET, "/api/logs/missing", None, Some(&token))
        .await;
    assert_eq!(status, 404);
    for path in ["/api/logs", "/api/logs/stats", &format!("/api/logs/{id}")] {
        let (status, body) = app.call(Method::GET, path, None, None).await;
        assert_eq!(status, 401, "{path}: {body}");
    }
}

#[tokio::test]
async fn max_days_zero_turns_request_logging_off_and_prune_deletes_old_entries() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    app.get("/api/health?before=1").await;
    logs_when(&app, &token, "data.url ~ 'before=1'", 1).await;

    let (status, _) = app
        .call(
            Method::PATCH,
            "/api/settings",
            Some(json!({"logs": {"maxDays": 0}})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    app.get("/api/health?after=1").await;
    // A fixed wait on purpose: an entry that must never be written can only be shown absent
    // by waiting past the log writer's cycle (it gathers a trickle for a moment, and wakes
    // at least every second).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, after) = app
        .call(
            Method::GET,
            "/api/logs?filter=data.url~'after%3D1'",
            None,
            Some(&token),
        )
        .await;
    assert_eq!(after["totalItems"], 0, "{after}");

    // The CLI prunes while the server runs; a bad age is a one-line error.
    let out = app.hearth(&["logs", "prune", "--older-than", "0s"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("Deleted "));
    let (_, all) = app.call(Method::GET, "/api/logs", None, Some(&token)).await;
    assert_eq!(all["totalItems"], 0, "{all}");
    let out = app.hearth(&["logs", "prune", "--older-than", "a week"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

fn scrape(text: &str) -> prometheus_parse::Scrape {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text format")
}

#[tokio::test]
async fn metrics_are_prometheus_text_for_superusers_or_the_metrics_key() {
    let app = spawn_app_with(|c| c.metrics_key = Some("scrape-key-123".into())).await;
    let token = app.superuser_token().await;
    for _ in 0..3 {
        app.get("/api/health").await;
    }
    app.get("/api/collections/nope/records").await;

    let (status, _) = app.call(Method::GET, "/api/metrics", None, None).await;
    assert_eq!(status, 401);
    let wrong = app
        .api
        .get(app.url("/api/metrics"))
        .bearer_auth("scrape-key-124")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    for auth in [token.as_str(), "scrape-key-123"] {
        let res = app
            .api
            .get(app.url("/api/metrics"))
            .bearer_auth(auth)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        let parsed = scrape(&res.text().await.unwrap());
        let health = parsed
            .samples
            .iter()
            .find(|s| {
                s.metric == "hearth_http_requests_total"
                    && s.labels.get("route") == Some("/api/health")
                    && s.labels.get("status") == Some("200")
            })
            .expect("health requests counted by route template");
        match health.value {
            prometheus_parse::Value::Counter(n) => assert!(n >= 3.0, "{n}"),
            ref other => panic!("not a counter: {other:?}"),
        }
        assert!(
            parsed
                .samples
                .iter()
                .any(|s| s.metric == "hearth_http_requests_total"
                    && s.labels.get("route") == Some("/api/collections/:collection/records")
                    && s.labels.get("status") == Some("404"))
        );
        let names: Vec<&str> = parsed.samples.iter().map(|s| s.metric.as_str()).collect();
        for name in [
            "hearth_http_request_duration_seconds",
            "hearth_db_writer_wait_seconds",
            "hearth_db_reader_wait_seconds",
            "hearth_db_size_bytes",
            "hearth_blocking_queued",
            "hearth_request_logs_dropped",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        let data_size = parsed
            .samples
            .iter()
            .find(|s| s.metric == "hearth_db_size_bytes" && s.labels.get("db") == Some("data"))
            .unwrap();
        match data_size.value {
            prometheus_parse::Value::Gauge(n) => assert!(n > 0.0),
            ref other => panic!("not a gauge: {other:?}"),
        }
    }
}
