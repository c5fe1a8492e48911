//! The settings that act on every request, side by side with the real PocketBase 0.40.6
//! (issue #19): `rateLimits` rules (which rule wins, who is exempt, the 429 and when it
//! comes, counters that restart when the rules change), their validation on
//! `PATCH /api/settings`, `trustedProxy` deciding the client address behind a proxy (and
//! only then), `DELETE /api/logs`, and the settings' test routes (`test/email`,
//! `test/s3`). Each test runs the same steps on both and compares statuses and whole JSON
//! bodies (ids and times normalised).

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::compat::{PocketBase, assert_same, pocketbase_bin, start_pocketbase};
use crate::compat_scenarios::normalize;
use crate::files::{Server, answer};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, spawn_app, spawn_smtp_sink};

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

type Outcomes = Vec<(String, Value)>;

/// `[status, body]` with ids and times hidden.
fn seen(status: u16, body: &Value) -> Value {
    json!([status, normalize(body, &HashMap::new())])
}

/// Who sends a request.
#[derive(Clone, Copy)]
enum As<'a> {
    Guest,
    Superuser,
    Token(&'a str),
}

/// One request with `headers`, answered as `[status, body]` (normalised).
async fn send(
    server: &Server,
    who: As<'_>,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Value {
    let mut req = server.client.request(method, server.url(path));
    match who {
        As::Guest => {}
        As::Superuser => req = req.header("Authorization", &server.token),
        As::Token(t) => req = req.header("Authorization", t),
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let (status, body) = answer(req.send().await.unwrap()).await;
    seen(status, &body)
}

/// Changes the settings as the superuser; the answer must be 200.
async fn configure(server: &Server, patch: Value) {
    let (status, body) = server
        .send_json(Method::PATCH, "/api/settings", patch, true)
        .await;
    assert_eq!(status, 200, "{body}");
}

/// `posts`, which anyone may list and create in, and a user `ann` signed in: her token.
async fn posts_and_a_user(server: &Server) -> String {
    let posts = json!({
        "name": "posts",
        "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [{"name": "title", "type": "text"}]
    });
    let (status, body) = server
        .send_json(Method::POST, "/api/collections", posts, true)
        .await;
    assert_eq!(status, 200, "{body}");
    let ann = json!({"email": "ann@example.com", "password": "ann-pass-123", "passwordConfirm": "ann-pass-123"});
    let (status, body) = server
        .send_json(Method::POST, "/api/collections/users/records", ann, true)
        .await;
    assert_eq!(status, 200, "{body}");
    let login = json!({"identity": "ann@example.com", "password": "ann-pass-123"});
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/collections/users/auth-with-password",
            login,
            false,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// The same requests against the same rules: which requests are refused (and with what),
/// rule by rule; then new rules, excluded addresses and rules switched off, each in force
/// at once.
async fn rule_steps(server: &Server) -> Outcomes {
    let ann = posts_and_a_user(server).await;
    configure(
        server,
        json!({"batch": {"enabled": true}, "rateLimits": {"enabled": true, "rules": [
            {"label": "/api/health", "maxRequests": 2, "duration": 60},
            {"label": "posts:list", "audience": "@guest", "maxRequests": 3, "duration": 60},
            {"label": "posts:list", "audience": "@auth", "maxRequests": 1, "duration": 60},
            {"label": "*:create", "maxRequests": 2, "duration": 60},
            // Never used: `*:auth` comes earlier among a sign-in's labels.
            {"label": "POST /api/collections/users/auth-with-password", "maxRequests": 1, "duration": 60},
            {"label": "*:auth", "maxRequests": 2, "duration": 60},
            {"label": "/api/settings/", "maxRequests": 1, "duration": 60},
        ]}}),
    )
    .await;
    let mut out = Outcomes::new();
    let list = "/api/collections/posts/records?fields=title";
    let create = "/api/collections/posts/records";
    let batch = json!({"requests": [
        {"method": "POST", "url": create, "body": {"title": "b1"}},
        {"method": "POST", "url": create, "body": {"title": "b2"}},
        {"method": "POST", "url": create, "body": {"title": "b3"}},
    ]});
    let wrong = |who: &str| json!({"identity": who, "password": "not-the-password"});
    let steps: Vec<(&str, As, Method, &str, Option<Value>)> = vec![
        ("health 1", As::Guest, Method::GET, "/api/health", None),
        ("health 2", As::Guest, Method::GET, "/api/health", None),
        ("health 3", As::Guest, Method::GET, "/api/health", None),
        (
            "health by POST",
            As::Guest,
            Method::POST,
            "/api/health",
            None,
        ),
        (
            "health as superuser",
            As::Superuser,
            Method::GET,
            "/api/health",
            None,
        ),
        ("guest list 1", As::Guest, Method::GET, list, None),
        ("guest list 2", As::Guest, Method::GET, list, None),
        ("guest list 3", As::Guest, Method::GET, list, None),
        ("guest list 4", As::Guest, Method::GET, list, None),
        ("user list 1", As::Token(&ann), Method::GET, list, None),
        ("user list 2", As::Token(&ann), Method::GET, list, None),
        ("superuser list", As::Superuser, Method::GET, list, None),
        (
            "create 1",
            As::Guest,
            Method::POST,
            create,
            Some(json!({"title": "c1"})),
        ),
        (
            "create 2",
            As::Guest,
            Method::POST,
            create,
            Some(json!({"title": "c2"})),
        ),
        (
            "create 3",
            As::Guest,
            Method::POST,
            create,
            Some(json!({"title": "c3"})),
        ),
        (
            "batch of 3 creates",
            As::Guest,
            Method::POST,
            "/api/batch",
            Some(batch),
        ),
        (
            "list after the batch",
            As::Superuser,
            Method::GET,
            list,
            None,
        ),
    ];
    for (label, who, method, path, body) in steps {
        out.push((
            label.into(),
            send(server, who, method, path, body, &[]).await,
        ));
    }
    for (collection, who) in [("users", "ann@example.com"), ("_superusers", ADMIN_EMAIL)] {
        let path = format!("/api/collections/{collection}/auth-with-password");
        for i in 1..=3 {
            let body = Some(wrong(who));
            let outcome = send(server, As::Guest, Method::POST, &path, body, &[]).await;
            out.push((format!("{collection} sign-in {i}"), outcome));
        }
    }
    for (label, who, path) in [
        ("unknown settings path", As::Guest, "/api/settings/x"),
        ("unknown settings path again", As::Guest, "/api/settings/x"),
        ("settings under the prefix", As::Guest, "/api/settings"),
        ("settings as superuser", As::Superuser, "/api/settings"),
    ] {
        let outcome = send(server, who, Method::GET, path, None, &[]).await;
        out.push((label.into(), seen_rate_limits(outcome)));
    }
    // New rules act at once, with fresh counters.
    configure(
        server,
        json!({"rateLimits": {"rules": [{"label": "/api/health", "maxRequests": 1, "duration": 60}]}}),
    )
    .await;
    for i in 1..=2 {
        let outcome = send(server, As::Guest, Method::GET, "/api/health", None, &[]).await;
        out.push((format!("health under new rules {i}"), outcome));
    }
    let outcome = send(server, As::Guest, Method::GET, list, None, &[]).await;
    out.push(("list with no rule for it".into(), outcome));
    configure(
        server,
        json!({"rateLimits": {"excludedIPs": ["127.0.0.0/8"]}}),
    )
    .await;
    for i in 1..=3 {
        let outcome = send(server, As::Guest, Method::GET, "/api/health", None, &[]).await;
        out.push((format!("health from an excluded address {i}"), outcome));
    }
    configure(
        server,
        json!({"rateLimits": {"enabled": false, "excludedIPs": []}}),
    )
    .await;
    for i in 1..=3 {
        let outcome = send(server, As::Guest, Method::GET, "/api/health", None, &[]).await;
        out.push((format!("health with rules off {i}"), outcome));
    }
    // Renaming a collection renames its rules.
    configure(
        server,
        json!({"rateLimits": {"enabled": true, "rules": [
            {"label": "posts:list", "maxRequests": 1, "duration": 60},
            {"label": "postsx:list", "maxRequests": 5, "duration": 60}]}}),
    )
    .await;
    let rename = Some(json!({"name": "articles"}));
    send(
        server,
        As::Superuser,
        Method::PATCH,
        "/api/collections/posts",
        rename,
        &[],
    )
    .await;
    let settings = send(
        server,
        As::Superuser,
        Method::GET,
        "/api/settings",
        None,
        &[],
    )
    .await;
    out.push(("rules after a rename".into(), seen_rate_limits(settings)));
    for i in 1..=2 {
        let path = "/api/collections/articles/records?fields=title";
        let outcome = send(server, As::Guest, Method::GET, path, None, &[]).await;
        out.push((format!("renamed list {i}"), outcome));
    }
    out
}

/// A settings answer cut to the parts these tests are about.
fn seen_rate_limits(outcome: Value) -> Value {
    let body = &outcome[1];
    if body.get("rateLimits").is_some() {
        return json!([outcome[0], {"rateLimits": body["rateLimits"], "trustedProxy": body["trustedProxy"]}]);
    }
    outcome
}

#[tokio::test]
async fn rate_limit_rules_refuse_the_same_requests() {
    let Some((_pb, _app, [pb, hearth])) = both().await else {
        return;
    };
    let theirs = rule_steps(&pb).await;
    let ours = rule_steps(&hearth).await;
    assert_same(&ours, &theirs);
    // Not only alike: the rules did refuse, as PocketBase answers it.
    let refused = json!([429, {"data": {}, "message": "Too Many Requests.", "status": 429}]);
    assert_eq!(crate::compat::outcome(&ours, "health 3"), refused);
    assert_eq!(crate::compat::outcome(&ours, "guest list 4"), refused);
    assert_eq!(crate::compat::outcome(&ours, "user list 2"), refused);
    let batch = crate::compat::outcome(&ours, "batch of 3 creates");
    assert_eq!(batch[1]["data"]["requests"]["2"]["response"], refused[1]);
    assert_eq!(crate::compat::outcome(&ours, "renamed list 2"), refused);
    assert_eq!(crate::compat::outcome(&ours, "superuser list")[0], 200);
}

#[tokio::test]
async fn a_refusal_has_no_retry_after_and_keeps_cors() {
    let Some((_pb, _app, servers)) = both().await else {
        return;
    };
    let mut seen = Vec::new();
    for server in &servers {
        configure(
            server,
            json!({"rateLimits": {"enabled": true, "rules": [{"label": "/api/health", "maxRequests": 1, "duration": 60}]}}),
        )
        .await;
        let mut last = None;
        for _ in 0..2 {
            last = Some(
                server
                    .client
                    .get(server.url("/api/health"))
                    .header("Origin", "http://elsewhere.test")
                    .send()
                    .await
                    .unwrap(),
            );
        }
        let res = last.unwrap();
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        seen.push((
            res.status().as_u16(),
            header("retry-after"),
            header("access-control-allow-origin"),
        ));
    }
    assert_eq!(seen[0], (429, None, Some("*".into())));
    assert_eq!(
        seen[1], seen[0],
        "hearth (right) answers as PocketBase (left)"
    );
}

/// Every kind of invalid `rateLimits`, a `trustedProxy`, and how `null` and unknown keys
/// bind.
async fn validation_steps(server: &Server) -> Outcomes {
    let rule = |label: &str, audience: &str, duration: i64, max: i64| json!({"label": label, "audience": audience, "duration": duration, "maxRequests": max});
    let patches = [
        json!({"rateLimits": {"enabled": true, "rules": []}}),
        json!({"rateLimits": {"enabled": true, "rules": [
            {"label": "bad label!", "maxRequests": 0, "duration": 0, "audience": "x"}]}}),
        json!({"rateLimits": {"rules": [rule("/a", "", -5, -1)]}}),
        json!({"rateLimits": {"rules": [rule("/a", "", 1, 1), rule("/a", "", 2, 2)]}}),
        json!({"rateLimits": {"rules": [rule("a", "", 1, 1), rule("a", "@guest", 1, 1)]}}),
        json!({"rateLimits": {"rules": [rule("/a", "", 1, 1), rule("/a", "", 1, 0)]}}),
        json!({"rateLimits": {"rules": [rule("/a/", "", 1, 1), rule("/a/b", "", 1, 1), rule("/a", "", 1, 1)]}}),
        json!({"rateLimits": {"rules": [rule("GET /a/b-c", "@auth", 1, 1), rule("x:y", "", 1, 1),
            rule("*:z", "", 1, 1), rule("tag_1", "", 1, 1), rule("GET a", "", 1, 1)]}}),
        json!({"rateLimits": {"excludedIPs": ["", "1.2.3.4", "nope", "10.0.0.0/8", "10.0.0.0/33", "::1", null]}}),
        json!({"rateLimits": {"enabled": true, "rules": [], "excludedIPs": ["x"]}}),
        json!({"rateLimits": {"rules": "x"}}),
        json!({"rateLimits": {"rules": [{"maxRequests": "5"}]}}),
        json!({"rateLimits": {"rules": [{"maxRequests": 1.5}]}}),
        json!({"rateLimits": {"rules": [null]}}),
        json!({"trustedProxy": {"headers": "x"}}),
        json!({"trustedProxy": {"headers": [1]}}),
        json!({"rateLimits": {"enabled": true, "rules": [
            {"label": "/x", "duration": 1, "maxRequests": 1, "extra": 1}], "excludedIPs": null}}),
        json!({"trustedProxy": {"headers": ["X-Forwarded-For", "CF-Connecting-IP"], "useLeftmostIP": true}}),
        json!({"trustedProxy": {"headers": null, "useLeftmostIP": null}, "rateLimits": {"enabled": null}}),
        json!({"rateLimits": {"rules": null}}),
        json!({"rateLimits": null, "trustedProxy": null}),
    ];
    let mut out = Outcomes::new();
    for patch in patches {
        let label = patch.to_string();
        let outcome = send(
            server,
            As::Superuser,
            Method::PATCH,
            "/api/settings",
            Some(patch),
            &[],
        )
        .await;
        out.push((label, seen_rate_limits(outcome)));
    }
    let stored = send(
        server,
        As::Superuser,
        Method::GET,
        "/api/settings",
        None,
        &[],
    )
    .await;
    out.push(("stored".into(), seen_rate_limits(stored)));
    out
}

#[tokio::test]
async fn rate_limit_and_proxy_settings_validate_alike() {
    let Some((_pb, _app, [pb, hearth])) = both().await else {
        return;
    };
    let theirs = validation_steps(&pb).await;
    let ours = validation_steps(&hearth).await;
    assert_same(&ours, &theirs);
}

/// Two clients behind one address, each forging its own `X-Forwarded-For`: limited as one
/// until the settings trust that header, then apart (rightmost address, then leftmost);
/// the superuser's health shows the address used.
async fn proxy_steps(server: &Server) -> Outcomes {
    configure(
        server,
        json!({"rateLimits": {"enabled": true, "rules": [{"label": "/api/health", "maxRequests": 1, "duration": 60}]}}),
    )
    .await;
    let mut out = Outcomes::new();
    let mut health = async |label: String, who: As<'_>, forwarded: &str| {
        let headers = [("X-Forwarded-For", forwarded)];
        let outcome = send(server, who, Method::GET, "/api/health", None, &headers).await;
        out.push((label, outcome));
    };
    let round = [
        "1.1.1.1",
        "2.2.2.2",
        "1.1.1.1",
        "2.2.2.2",
        "10.0.0.1, 3.3.3.3",
        "10.0.0.1, 4.4.4.4",
    ];
    for forwarded in round {
        health(format!("untrusted {forwarded}"), As::Guest, forwarded).await;
    }
    health(
        "untrusted, superuser".into(),
        As::Superuser,
        "9.9.9.9, 8.8.8.8",
    )
    .await;
    for leftmost in [false, true] {
        configure(
            server,
            json!({"trustedProxy": {"headers": ["X-Forwarded-For"], "useLeftmostIP": leftmost}}),
        )
        .await;
        for forwarded in round {
            health(
                format!("leftmost={leftmost} {forwarded}"),
                As::Guest,
                forwarded,
            )
            .await;
        }
        let label = format!("leftmost={leftmost}, superuser");
        health(label, As::Superuser, "9.9.9.9, 8.8.8.8").await;
    }
    configure(
        server,
        json!({"rateLimits": {"excludedIPs": ["10.0.0.0/8"]}}),
    )
    .await;
    for i in 1..=3 {
        health(
            format!("excluded behind the proxy {i}"),
            As::Guest,
            "10.0.0.1, 5.5.5.5",
        )
        .await;
    }
    out
}

#[tokio::test]
async fn a_forged_forwarded_for_counts_only_once_trusted() {
    let Some((_pb, _app, [pb, hearth])) = both().await else {
        return;
    };
    let theirs = proxy_steps(&pb).await;
    let ours = proxy_steps(&hearth).await;
    assert_same(&ours, &theirs);
    let statuses = |prefix: &str| -> Vec<Value> {
        ours.iter()
            .filter(|(l, _)| l.starts_with(prefix) && !l.ends_with("superuser"))
            .map(|(_, o)| o[0].clone())
            .collect()
    };
    assert_eq!(
        statuses("untrusted "),
        [200, 429, 429, 429, 429, 429],
        "forged addresses are one client"
    );
    assert_eq!(statuses("leftmost=false "), [200, 200, 429, 429, 200, 200]);
    assert_eq!(statuses("leftmost=true "), [200, 200, 429, 429, 200, 429]);
}

/// `DELETE /api/logs`: refused to guests, 204 for superusers, and the list is empty after.
async fn delete_logs_steps(server: &Server) -> Outcomes {
    let mut out = Outcomes::new();
    // Something to delete: a request that is logged, once written.
    send(
        server,
        As::Guest,
        Method::GET,
        "/api/health?before=1",
        None,
        &[],
    )
    .await;
    crate::helpers::wait_for(
        std::time::Duration::from_secs(15),
        "the request log to be written",
        async || {
            let res = server
                .client
                .get(server.url("/api/logs?filter=data.url~'before'"))
                .header("Authorization", &server.token)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let body: Value = res.json().await.map_err(|e| e.to_string())?;
            if body["totalItems"].as_i64().unwrap_or(0) > 0 {
                Ok(())
            } else {
                Err(body.to_string())
            }
        },
    )
    .await;
    for (label, who) in [("guest", As::Guest), ("superuser", As::Superuser)] {
        let outcome = send(server, who, Method::DELETE, "/api/logs", None, &[]).await;
        out.push((format!("delete as {label}"), outcome));
    }
    let after = send(server, As::Superuser, Method::GET, "/api/logs", None, &[]).await;
    out.push(("list after".into(), after));
    out
}

#[tokio::test]
async fn deleting_the_logs_answers_as_pocketbase() {
    let Some((_pb, _app, [pb, hearth])) = both().await else {
        return;
    };
    let theirs = delete_logs_steps(&pb).await;
    let ours = delete_logs_steps(&hearth).await;
    assert_same(&ours, &theirs);
    assert_eq!(
        crate::compat::outcome(&ours, "list after")[1]["totalItems"],
        0
    );
}

/// The test routes: validation, the S3 answer with S3 off, and each mail template sent to
/// an SMTP server (then one that is not there, whose raw error is each client's own).
async fn test_route_steps(server: &Server, smtp_port: u16) -> Outcomes {
    let mut out = Outcomes::new();
    let email = "/api/settings/test/email";
    let bodies = [
        json!({}),
        json!({"template": "nope", "email": "bad", "collection": "nope"}),
        json!({"template": "login-alert", "email": "x@example.com", "collection": "posts"}),
        json!({"template": "otp", "email": "x@example.com", "collection": "x".repeat(256)}),
        json!({"template": "otp", "email": format!("{}@example.com", "a".repeat(250))}),
        json!({"email": 5}),
    ];
    let posts = json!({"name": "posts", "fields": [{"name": "title", "type": "text"}]});
    server
        .send_json(Method::POST, "/api/collections", posts, true)
        .await;
    for body in bodies {
        let label = format!("test email {body}");
        out.push((
            label,
            send(server, As::Superuser, Method::POST, email, Some(body), &[]).await,
        ));
    }
    let body = json!({"template": "otp", "email": "x@example.com"});
    let guest = send(server, As::Guest, Method::POST, email, Some(body), &[]).await;
    out.push(("test email as guest".into(), guest));
    let s3 = "/api/settings/test/s3";
    for body in [
        json!({}),
        json!({"filesystem": "storage"}),
        json!({"filesystem": "backups"}),
        json!({"filesystem": "x"}),
        json!({"filesystem": 1}),
    ] {
        let label = format!("test s3 {body}");
        out.push((
            label,
            send(server, As::Superuser, Method::POST, s3, Some(body), &[]).await,
        ));
    }
    let guest = send(server, As::Guest, Method::POST, s3, Some(json!({})), &[]).await;
    out.push(("test s3 as guest".into(), guest));
    let smtp = |port: u16| json!({"smtp": {"enabled": true, "host": "127.0.0.1", "port": port, "tls": false}});
    configure(server, smtp(smtp_port)).await;
    for (template, collection) in [
        ("verification", ""),
        ("password-reset", "users"),
        ("email-change", "users"),
        ("otp", "_superusers"),
        ("login-alert", "users"),
    ] {
        let body =
            json!({"template": template, "email": "to@example.com", "collection": collection});
        let outcome = send(server, As::Superuser, Method::POST, email, Some(body), &[]).await;
        out.push((format!("send {template}"), outcome));
    }
    // Nothing listens on port 9 (discard) here.
    configure(server, smtp(9)).await;
    let body = json!({"template": "otp", "email": "to@example.com"});
    let failed = send(server, As::Superuser, Method::POST, email, Some(body), &[]).await;
    let message = failed[1]["message"].as_str().unwrap_or_default();
    let prefix = "Failed to send the test email. Raw error: \n";
    assert!(message.starts_with(prefix), "{failed}");
    out.push(("send without a server".into(), json!([failed[0], prefix])));
    out
}

#[tokio::test]
async fn the_settings_test_routes_answer_as_pocketbase() {
    let Some((_pb, _app, [pb, hearth])) = both().await else {
        return;
    };
    let (pb_sink, hearth_sink) = (spawn_smtp_sink().await, spawn_smtp_sink().await);
    let theirs = test_route_steps(&pb, pb_sink.port).await;
    let ours = test_route_steps(&hearth, hearth_sink.port).await;
    assert_same(&ours, &theirs);
    let (pb_mails, our_mails) = (pb_sink.received_n(5).await, hearth_sink.received_n(5).await);
    assert_eq!(our_mails.len(), pb_mails.len(), "one mail per template");
    assert!(our_mails.iter().all(|m| m.contains("to@example.com")));
}
