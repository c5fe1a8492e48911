use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

async fn sign_up(app: &TestApp, email: &str) -> String {
    let (status, user) = app
        .call(Method::POST, "/api/collections/users/records",
            Some(json!({"email": email, "password": "password123", "passwordConfirm": "password123"})), None)
        .await;
    assert_eq!(status, 200, "{user}");
    user["id"].as_str().unwrap().to_owned()
}

fn outbox(app: &TestApp) -> Vec<hearth::mail::Outboxed> {
    app.db.data.read(|c| hearth::mail::outbox(c, 50)).unwrap()
}

/// The token in the newest mail's link (`.../confirm-xxx/{TOKEN}`).
fn token_in_latest_mail(app: &TestApp, to: &str) -> String {
    let mails = outbox(app);
    let mail = mails
        .iter()
        .find(|m| m.recipient == to)
        .expect("a mail to the address");
    let marker = mail
        .html
        .find("/_/#/auth/confirm-")
        .expect("a confirm link");
    let rest = &mail.html[marker..];
    let start = rest.find('/').unwrap() + 1;
    let path = &rest[start..rest.find('"').unwrap()];
    path.rsplit('/').next().unwrap().to_owned()
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> (u16, serde_json::Value) {
    app.call(
        Method::POST,
        "/api/collections/users/auth-with-password",
        Some(json!({"identity": email, "password": password})),
        None,
    )
    .await
}

#[tokio::test]
async fn verification_by_mail() {
    let app = spawn_app().await;
    let id = sign_up(&app, "ann@example.com").await;

    let (unknown, _) = app
        .call(
            Method::POST,
            "/api/collections/users/request-verification",
            Some(json!({"email": "nobody@example.com"})),
            None,
        )
        .await;
    assert_eq!(unknown, 204, "no hint that the address has no account");
    assert!(outbox(&app).is_empty());

    let (status, _) = app
        .call(
            Method::POST,
            "/api/collections/users/request-verification",
            Some(json!({"email": "ann@example.com"})),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let mail = &outbox(&app)[0];
    assert_eq!(mail.kind, "verification");
    assert_eq!(mail.status, "kept");
    assert_eq!(mail.subject, "Verify your Acme email");
    let token = token_in_latest_mail(&app, "ann@example.com");

    let (status, body) = app
        .call(
            Method::POST,
            "/api/collections/users/confirm-verification",
            Some(json!({"token": token})),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let su = app.superuser_token().await;
    let (_, user) = app
        .call(
            Method::GET,
            &format!("/api/collections/users/records/{id}"),
            None,
            Some(&su),
        )
        .await;
    assert_eq!(user["verified"], true);

    let (status, body) = app
        .call(
            Method::POST,
            "/api/collections/users/confirm-verification",
            Some(json!({"token": "forged"})),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["data"]["token"]["code"], "validation_invalid_token");
}

#[tokio::test]
async fn password_reset_by_mail_revokes_sessions_and_is_single_use() {
    let app = spawn_app().await;
    sign_up(&app, "ann@example.com").await;
    let (_, session) = sign_in(&app, "ann@example.com", "password123").await;
    let old_token = session["token"].as_str().unwrap().to_owned();

    let (status, _) = app
        .call(
            Method::POST,
            "/api/collections/users/request-password-reset",
            Some(json!({"email": "ann@example.com"})),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let token = token_in_latest_mail(&app, "ann@example.com");
    let confirm =
        json!({"token": token, "password": "brand-new-pass", "passwordConfirm": "brand-new-pass"});

    let (status, body) = app
        .call(
            Method::POST,
            "/api/collections/users/confirm-password-reset",
            Some(confirm.clone()),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(sign_in(&app, "ann@example.com", "password123").await.0, 400);
    assert_eq!(
        sign_in(&app, "ann@example.com", "brand-new-pass").await.0,
        200
    );
    let (refresh, _) = app
        .call(
            Method::POST,
            "/api/collections/users/auth-refresh",
            None,
            Some(&old_token),
        )
        .await;
    assert_eq!(refresh, 401, "the reset ended the old session");
    let (again, _) = app
        .call(
            Method::POST,
            "/api/collections/users/confirm-password-reset",
            Some(confirm),
            None,
        )
        .await;
    assert_eq!(again, 400, "the reset token works once");
}

#[tokio::test]
async fn email_change_by_mail() {
    let app = spawn_app().await;
    sign_up(&app, "ann@example.com").await;
    sign_up(&app, "taken@example.com").await;
    let (_, session) = sign_in(&app, "ann@example.com", "password123").await;
    let token = session["token"].as_str().unwrap().to_owned();

    let (taken, body) = app
        .call(
            Method::POST,
            "/api/collections/users/request-email-change",
            Some(json!({"newEmail": "taken@example.com"})),
            Some(&token),
        )
        .await;
    assert_eq!(taken, 400, "{body}");
    let (status, _) = app
        .call(
            Method::POST,
            "/api/collections/users/request-email-change",
            Some(json!({"newEmail": "ann.new@example.com"})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 204);
    let change = token_in_latest_mail(&app, "ann.new@example.com");

    let (wrong, _) = app
        .call(
            Method::POST,
            "/api/collections/users/confirm-email-change",
            Some(json!({"token": change, "password": "nope-nope"})),
            None,
        )
        .await;
    assert_eq!(wrong, 400);
    let (status, body) = app
        .call(
            Method::POST,
            "/api/collections/users/confirm-email-change",
            Some(json!({"token": change, "password": "password123"})),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        sign_in(&app, "ann.new@example.com", "password123").await.0,
        200
    );
    assert_eq!(sign_in(&app, "ann@example.com", "password123").await.0, 400);
}
