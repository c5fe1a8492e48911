//! Hostile input to every route: whatever arrives, the answer is a 2xx or a 4xx in
//! PocketBase's error shape, never a 5xx or a dropped connection.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

fn routes() -> Vec<(Method, &'static str)> {
    use Method as M;
    vec![
        (M::POST, "/api/collections"),
        (M::PATCH, "/api/collections/posts"),
        (M::PUT, "/api/collections/import"),
        (M::POST, "/api/collections/posts/records"),
        (M::PATCH, "/api/collections/posts/records/abc"),
        (M::POST, "/api/collections/users/records"),
        (M::POST, "/api/collections/users/auth-with-password"),
        (M::POST, "/api/collections/_superusers/auth-with-password"),
        (M::POST, "/api/collections/users/auth-refresh"),
        (M::POST, "/api/collections/users/request-verification"),
        (M::POST, "/api/collections/users/confirm-verification"),
        (M::POST, "/api/collections/users/request-password-reset"),
        (M::POST, "/api/collections/users/confirm-password-reset"),
        (M::POST, "/api/collections/users/request-email-change"),
        (M::POST, "/api/collections/users/confirm-email-change"),
        (M::POST, "/api/collections/users/request-otp"),
        (M::POST, "/api/collections/users/auth-with-otp"),
        (M::POST, "/api/collections/users/impersonate/abc"),
        (M::PATCH, "/api/settings"),
        (M::POST, "/api/realtime"),
        (M::POST, "/api/webhooks"),
        (M::PATCH, "/api/webhooks/abc"),
        (M::POST, "/_/webhooks"),
        (M::POST, "/_/login"),
        (M::POST, "/_/logout"),
    ]
}

fn payloads() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_obj = format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
    let huge = json!({"name": "x".repeat(2_000_000), "title": "y".repeat(2_000_000), "email": "z".repeat(100_000)}).to_string();
    let injection = json!({
        "name": "x'; DROP TABLE users; --", "title": "<script>alert(1)</script>",
        "email": "a@b.c' OR '1'='1", "password": "' OR 1=1 --", "identity": "admin@example.com' --",
        "fields": [{"name": "id\"; DROP TABLE x; --", "type": "text"}], "filter": "1=1 OR", "token": "../../etc/passwd",
        "listRule": "id = '' || 1=1; DROP TABLE users", "viewQuery": "SELECT * FROM _superusers; DROP TABLE users",
    })
    .to_string();
    let types = json!({"name": [1, 2], "type": {"a": 1}, "fields": "nope", "email": 5, "password": [], "title": {"x": null},
        "collections": 7, "duration": "soon", "meta": [], "smtp": "yes"}).to_string();
    vec![
        ("malformed", b"{\"a\":".to_vec(), "application/json"),
        ("deeply nested array", deep.into_bytes(), "application/json"),
        (
            "deeply nested object",
            deep_obj.into_bytes(),
            "application/json",
        ),
        ("huge strings", huge.into_bytes(), "application/json"),
        (
            "invalid utf-8",
            vec![
                b'{', b'"', b'a', b'"', b':', b'"', 0xff, 0xfe, 0xc3, b'"', b'}',
            ],
            "application/json",
        ),
        (
            "nul bytes",
            "{\"name\":\"a\u{0}b\",\"email\":\"a\u{0}@b.c\"}"
                .as_bytes()
                .to_vec(),
            "application/json",
        ),
        (
            "injection strings",
            injection.into_bytes(),
            "application/json",
        ),
        ("wrong types", types.into_bytes(), "application/json"),
        (
            "form garbage",
            b"a=%ZZ&&==&b[]=1".to_vec(),
            "application/x-www-form-urlencoded",
        ),
        (
            "not json at all",
            b"\x00\x01\x02 binary".to_vec(),
            "application/octet-stream",
        ),
        ("empty", Vec::new(), "application/json"),
    ]
}

fn pocketbase_shape(body: &Value, status: u16) -> bool {
    body.get("data").is_some_and(Value::is_object)
        && body.get("message").is_some_and(Value::is_string)
        && body.get("status") == Some(&json!(status))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_hostile_bodies_with_a_4xx() {
    let app = crate::helpers::spawn_app_with(|c| c.auth_limits.per_ip_per_minute = 0).await;
    let token = app.superuser_token().await;
    let posts = json!({"name": "posts", "listRule": "", "createRule": "", "fields": [{"name": "title", "type": "text"}]});
    assert_eq!(
        app.call(Method::POST, "/api/collections", Some(posts), Some(&token))
            .await
            .0,
        200
    );

    let mut failures = Vec::new();
    for (method, path) in routes() {
        for (label, body, content_type) in payloads() {
            for auth in [None, Some(token.as_str())] {
                let mut req = app
                    .api
                    .request(method.clone(), app.url(path))
                    .header("Content-Type", content_type)
                    .body(body.clone());
                if let Some(t) = auth {
                    req = req.header("Authorization", t);
                }
                let res = match req.send().await {
                    Ok(res) => res,
                    Err(e) => {
                        failures.push(format!("{method} {path} [{label}]: connection failed: {e}"));
                        continue;
                    }
                };
                let status = res.status().as_u16();
                let is_html = path.starts_with("/_/");
                let text = res.text().await.unwrap_or_default();
                if status >= 500 {
                    failures.push(format!(
                        "{method} {path} [{label}]: {status} {}",
                        &text[..text.len().min(200)]
                    ));
                } else if status >= 400 && !is_html {
                    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if !pocketbase_shape(&body, status) {
                        failures.push(format!("{method} {path} [{label}]: {status} not in PocketBase's shape: {text:.200}"));
                    }
                }
            }
        }
    }
    // The server is still healthy and the data intact.
    assert_eq!(app.get("/api/health").await.status(), 200);
    let tables: i64 = app
        .db
        .data
        .read(|c| Ok(c.query_row("SELECT count(*) FROM sqlite_master WHERE name IN ('users', '_superusers', 'posts')", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(tables, 3);
    assert!(
        failures.is_empty(),
        "{} bad answers:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn hostile_query_strings_are_4xx_or_harmless() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    let posts =
        json!({"name": "posts", "listRule": "", "fields": [{"name": "title", "type": "text"}]});
    app.call(Method::POST, "/api/collections", Some(posts), Some(&token))
        .await;
    let long = "a".repeat(5000);
    let queries = [
        "filter=title%3D'x'%20OR%201%3D1".to_owned(),
        "filter=%27%3B%20DROP%20TABLE%20posts%3B%20--".to_owned(),
        format!("filter=title%3D'{long}'"),
        "filter=((((((((((title%3D1".to_owned(),
        "sort=title;DROP%20TABLE%20posts".to_owned(),
        "sort=-,-,-,-,-,-,-,-,-,-".to_owned(),
        "expand=../../etc/passwd".to_owned(),
        "expand=a.b.c.d.e.f.g.h".to_owned(),
        "fields=*,expand.%00".to_owned(),
        "page=-1&perPage=99999999999999999999".to_owned(),
        "skipTotal=%ff%fe".to_owned(),
    ];
    for q in queries {
        let res = app
            .get_with_token(&format!("/api/collections/posts/records?{q}"), &token)
            .await;
        let status = res.status().as_u16();
        assert!(status < 500, "{q}: {status}");
        if status >= 400 {
            let body: Value = res.json().await.unwrap();
            assert!(pocketbase_shape(&body, status), "{q}: {body}");
        }
    }
    let (_, list) = app
        .call(
            Method::GET,
            "/api/collections/posts/records",
            None,
            Some(&token),
        )
        .await;
    assert_eq!(
        list["totalItems"], 0,
        "nothing was written and the table is still there"
    );
}
