//! What hearth adds around PocketBase's `rateLimits` and `trustedProxy` (the side-by-side
//! part is `compat_limits.rs`): how the rules and the sign-in flag limits combine, the admin
//! UI's signed-in superusers exempt like API superusers, the one client address reaching
//! request logs, the JS hooks, and realtime's OAuth2 hand-over, and the test mail kept in
//! the outbox.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, hooks_folder, logs_when, spawn_app, spawn_app_with, spawn_app_with_hooks_and_superuser,
};

async fn configure(app: &TestApp, token: &str, patch: Value) {
    let (status, body) = app
        .call(Method::PATCH, "/api/settings", Some(patch), Some(token))
        .await;
    assert_eq!(status, 200, "{body}");
}

/// One wrong sign-in to `users`: (status, Retry-After if any).
async fn sign_in(app: &TestApp, i: usize) -> (u16, Option<String>) {
    let res = app
        .api
        .post(app.url("/api/collections/users/auth-with-password"))
        .json(&json!({"identity": format!("u{i}@example.com"), "password": "whatever1"}))
        .send()
        .await
        .unwrap();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (res.status().as_u16(), retry)
}

#[tokio::test]
async fn rules_replace_the_sign_in_flag_limit_only_where_they_apply() {
    let app = spawn_app_with(|c| {
        c.auth_limits = hearth::ratelimit::AuthLimits {
            per_ip_per_minute: 3,
            per_identity_per_15_minutes: 0,
        };
    })
    .await;
    // The superuser's sign-in takes one of the flag's 3 a minute.
    let su = app.superuser_token().await;
    // A rule covering sign-ins: the flag's limit stands aside, the rule's 4 count.
    configure(
        &app,
        &su,
        json!({"rateLimits": {"enabled": true, "rules": [
            {"label": "*:auth", "maxRequests": 4, "duration": 60}]}}),
    )
    .await;
    let mut covered = Vec::new();
    for i in 0..5 {
        covered.push(sign_in(&app, i).await);
    }
    assert_eq!(
        covered,
        [
            (400, None),
            (400, None),
            (400, None),
            (400, None),
            (429, None)
        ],
        "the rule's limit, answered as PocketBase (no Retry-After)"
    );
    // Rules that say nothing about sign-ins: the flag's default is back.
    configure(
        &app,
        &su,
        json!({"rateLimits": {"rules": [{"label": "/api/health", "maxRequests": 9, "duration": 60}]}}),
    )
    .await;
    let mut uncovered = Vec::new();
    for i in 0..3 {
        uncovered.push(sign_in(&app, i).await.0);
    }
    assert_eq!(uncovered, [400, 400, 429]);
    // Rules off: the flag alone, with its Retry-After.
    configure(&app, &su, json!({"rateLimits": {"enabled": false}})).await;
    assert_eq!(sign_in(&app, 9).await, (429, Some("60".into())));
}

#[tokio::test]
async fn superusers_of_the_admin_ui_are_not_limited() {
    let app = spawn_app().await;
    let (browser, _) = app.admin_browser().await;
    let su = app
        .token_for(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    configure(
        &app,
        &su,
        json!({"rateLimits": {"enabled": true, "rules": [{"label": "/_/", "maxRequests": 1, "duration": 60}]}}),
    )
    .await;
    for _ in 0..3 {
        let res = browser.get(app.url("/_/settings")).send().await.unwrap();
        assert_eq!(res.status(), 200, "the signed-in superuser is exempt");
    }
    let guest = app.browser();
    let first = guest.get(app.url("/_/login")).send().await.unwrap();
    let second = guest.get(app.url("/_/login")).send().await.unwrap();
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 429)
    );
}

const IP_ROUTE: &str = r#"
routerAdd("GET", "/api/ip", (e) => e.json(200, {real: e.realIP(), remote: e.remoteIP()}));
"#;

#[tokio::test]
async fn the_client_address_logs_hooks_and_realtime_see_follows_the_trusted_proxy() {
    let hooks = hooks_folder(&[("ip.pb.js", IP_ROUTE)]);
    let app = spawn_app_with_hooks_and_superuser(hooks.path()).await;
    let su = app.superuser_token().await;
    let ip = async |forwarded: &str| {
        let res = app
            .api
            .get(app.url(&format!("/api/ip?probe={}", forwarded.len())))
            .header("X-Forwarded-For", forwarded)
            .send()
            .await
            .unwrap();
        res.json::<Value>().await.unwrap()
    };
    assert_eq!(
        ip("1.1.1.1").await,
        json!({"real": "127.0.0.1", "remote": "127.0.0.1"}),
        "a forged header changes nothing"
    );
    configure(
        &app,
        &su,
        json!({"trustedProxy": {"headers": ["X-Forwarded-For"]}}),
    )
    .await;
    assert_eq!(
        ip("9.9.9.9, 2001:db8::1").await,
        json!({"real": "2001:0db8:0000:0000:0000:0000:0000:0001", "remote": "127.0.0.1"})
    );
    // "9.9.9.9, 2001:db8::1" is 20 characters long.
    let logged = logs_when(&app, &su, "data.url ~ 'probe=20'", 1).await;
    let data = &logged["items"][0]["data"];
    assert_eq!(
        (data["userIP"].as_str(), data["remoteIP"].as_str()),
        (
            Some("2001:0db8:0000:0000:0000:0000:0000:0001"),
            Some("127.0.0.1")
        )
    );
    // The OAuth2 hand-over goes only to a realtime client at the same address.
    assert!(oauth2_handed_over(&app, "3.3.3.3", "3.3.3.3").await);
    assert!(!oauth2_handed_over(&app, "3.3.3.3", "4.4.4.4").await);
    configure(&app, &su, json!({"trustedProxy": {"headers": []}})).await;
    assert!(
        oauth2_handed_over(&app, "3.3.3.3", "4.4.4.4").await,
        "untrusted headers: both are the peer"
    );
}

/// A realtime client connected (and subscribed to `@oauth2`) from `from`, then the
/// provider's redirect from `redirect_from`: true when the code was handed over.
async fn oauth2_handed_over(app: &TestApp, from: &str, redirect_from: &str) -> bool {
    use futures_util::StreamExt;
    let res = app
        .api
        .get(app.url("/api/realtime"))
        .header("X-Forwarded-For", from)
        .send()
        .await
        .unwrap();
    let mut stream = res.bytes_stream();
    let mut hello = String::new();
    while !hello.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        hello.push_str(&String::from_utf8_lossy(&chunk));
    }
    let id = hello
        .lines()
        .find_map(|l| l.strip_prefix("id:"))
        .unwrap()
        .to_owned();
    let subscribed = app
        .api
        .post(app.url("/api/realtime"))
        .header("X-Forwarded-For", from)
        .json(&json!({"clientId": id, "subscriptions": ["@oauth2"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status(), 204);
    let redirect = app
        .api
        .get(app.url(&format!("/api/oauth2-redirect?state={id}&code=c1")))
        .header("X-Forwarded-For", redirect_from)
        .send()
        .await
        .unwrap();
    let location = crate::helpers::location(&redirect);
    drop(stream);
    location.ends_with("oauth2-redirect-success")
}

#[tokio::test]
async fn a_test_mail_without_smtp_is_kept_in_the_outbox() {
    let app = spawn_app().await;
    let su = app.superuser_token().await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/settings/test/email",
            Some(json!({"template": "password-reset", "email": "to@example.com", "collection": "users"})),
            Some(&su),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    crate::helpers::wait_until(Duration::from_secs(5), "the mail to be kept", async || {
        let mails = app.db.data.read(|c| hearth::mail::outbox(c, 5)).unwrap();
        mails.len() == 1 && mails[0].status == "kept"
    })
    .await;
    let mail = &app.db.data.read(|c| hearth::mail::outbox(c, 5)).unwrap()[0];
    assert_eq!(mail.recipient, "to@example.com");
    assert_eq!(mail.kind, "passwordReset");

    // With an SMTP server that is not there: 400 with the client's words, kept as failed.
    configure(
        &app,
        &su,
        json!({"smtp": {"enabled": true, "host": "127.0.0.1", "port": 9, "tls": false}}),
    )
    .await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/settings/test/email",
            Some(json!({"template": "otp", "email": "to@example.com"})),
            Some(&su),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Failed to send the test email. Raw error: \n")
    );
    let newest = &app.db.data.read(|c| hearth::mail::outbox(c, 5)).unwrap()[0];
    assert_eq!(
        (newest.kind.as_str(), newest.status.as_str()),
        ("otp", "failed")
    );
}

#[tokio::test]
async fn the_settings_page_edits_the_rules_and_the_trusted_proxy() {
    let app = spawn_app().await;
    let (browser, csrf) = app.admin_browser().await;
    let form = |rule_max: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("appName", "Acme".into()),
            ("appURL", "http://localhost:8090".into()),
            ("senderName", "Support".into()),
            ("senderAddress", "support@example.com".into()),
            ("smtpPort", "587".into()),
            ("limitsEnabled", "true".into()),
            ("ruleLabel", "*:auth".into()),
            ("ruleAudience", "@guest".into()),
            ("ruleDuration", "3".into()),
            ("ruleMax", rule_max.into()),
            // The blank row the page always adds.
            ("ruleLabel", String::new()),
            ("ruleAudience", String::new()),
            ("ruleDuration", String::new()),
            ("ruleMax", String::new()),
            ("limitsExcluded", "10.0.0.0/8, nope".into()),
            ("proxyHeaders", "X-Forwarded-For".into()),
        ]
    };
    let res = browser
        .post(app.url("/_/settings"))
        .form(&form("two"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("maxRequests: Must be a whole number."),
        "{html}"
    );
    let res = browser
        .post(app.url("/_/settings"))
        .form(&form("2"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("Invalid IP or CIDR subnet."), "{html}");
    assert!(
        html.contains(r#"value="10.0.0.0/8, nope""#),
        "the input is kept"
    );

    let mut good = form("2");
    good.retain(|(k, _)| *k != "limitsExcluded");
    let res = browser
        .post(app.url("/_/settings"))
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let token = app
        .token_for(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let (_, settings) = app
        .call(Method::GET, "/api/settings", None, Some(&token))
        .await;
    assert_eq!(
        settings["rateLimits"],
        json!({"enabled": true, "excludedIPs": [], "rules": [
            {"label": "*:auth", "audience": "@guest", "duration": 3, "maxRequests": 2}]})
    );
    assert_eq!(
        settings["trustedProxy"],
        json!({"headers": ["X-Forwarded-For"], "useLeftmostIP": false})
    );
    let page = browser
        .get(app.url("/_/settings"))
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"value="*:auth""#));
    assert!(
        page.contains("<dd>203.0.113.9</dd>"),
        "the trusted header's address"
    );
}
