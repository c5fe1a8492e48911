use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app, wait_for, wait_until};

fn outbox(app: &TestApp) -> Vec<hearth::mail::Outboxed> {
    app.db.data.read(|c| hearth::mail::outbox(c, 50)).unwrap()
}

/// The token in the newest mail's link (`.../confirm-xxx/{TOKEN}`).
pub fn token_in_latest_mail(app: &TestApp, to: &str) -> String {
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

#[tokio::test]
async fn verification_by_mail() {
    let app = spawn_app().await;
    let id = app.sign_up("ann@example.com", "password123").await;

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
    let mail = wait_for(
        Duration::from_secs(5),
        "the mail to leave `pending`",
        async || {
            let mail = outbox(&app)[0].clone();
            if mail.status == "pending" {
                Err(mail.status)
            } else {
                Ok(mail)
            }
        },
    )
    .await;
    assert_eq!(mail.kind, "verification");
    assert_eq!(
        mail.status, "kept",
        "no SMTP configured: kept in the outbox"
    );
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

    // As PocketBase: a token without an email claim is refused for its payload, one with
    // a forged signature for that.
    let last = if token.ends_with('A') { "B" } else { "A" };
    let forged_signature = format!("{}{last}", &token[..token.len() - 1]);
    for (forged, code) in [
        ("forged", "validation_invalid_token_claims"),
        (forged_signature.as_str(), "validation_invalid_token"),
    ] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/collections/users/confirm-verification",
                Some(json!({"token": forged})),
                None,
            )
            .await;
        assert_eq!(status, 400);
        assert_eq!(body["data"]["token"]["code"], code, "{forged}");
    }
}

#[tokio::test]
async fn password_reset_by_mail_revokes_sessions_and_is_single_use() {
    let app = spawn_app().await;
    app.sign_up("ann@example.com", "password123").await;
    let (_, session) = app.user_sign_in("ann@example.com", "password123").await;
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
    assert_eq!(
        app.user_sign_in("ann@example.com", "password123").await.0,
        400
    );
    assert_eq!(
        app.user_sign_in("ann@example.com", "brand-new-pass")
            .await
            .0,
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
    app.sign_up("ann@example.com", "password123").await;
    app.sign_up("taken@example.com", "password123").await;
    let (_, session) = app.user_sign_in("ann@example.com", "password123").await;
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
        app.user_sign_in("ann.new@example.com", "password123")
            .await
            .0,
        200
    );
    assert_eq!(
        app.user_sign_in("ann@example.com", "password123").await.0,
        400
    );
}

#[tokio::test]
async fn mails_are_delivered_over_smtp_when_configured() {
    let sink = crate::helpers::spawn_smtp_sink().await;
    let port = sink.port;
    let app = crate::helpers::spawn_app_with(|c| {
        c.smtp = Some(hearth::mail::smtp::SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            username: String::new(),
            password: String::new(),
            security: hearth::mail::smtp::Security::None,
            from: "Acme <noreply@acme.test>".into(),
        });
    })
    .await;
    app.sign_up("ann@example.com", "password123").await;

    let (status, _) = app
        .call(
            Method::POST,
            "/api/collections/users/request-password-reset",
            Some(json!({"email": "ann@example.com"})),
            None,
        )
        .await;
    assert_eq!(status, 204);

    let received = sink.received().await;
    assert_eq!(received.len(), 1, "one mail reached the SMTP server");
    let raw = &received[0];
    assert!(raw.contains("Subject: Reset your Acme password"), "{raw}");
    assert!(raw.contains("To: ann@example.com"), "{raw}");
    assert!(raw.contains("From: Acme <noreply@acme.test>"), "{raw}");
    wait_until(
        Duration::from_secs(5),
        "the outbox to mark the mail `sent`",
        async || outbox(&app)[0].status == "sent",
    )
    .await;
    // The token in the delivered mail works.
    let token = token_in_latest_mail(&app, "ann@example.com");
    let (status, _) = app
        .call(Method::POST, "/api/collections/users/confirm-password-reset",
            Some(json!({"token": token, "password": "via-smtp-123", "passwordConfirm": "via-smtp-123"})), None)
        .await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn one_time_passwords_by_mail() {
    let app = spawn_app().await;
    app.sign_up("ann@example.com", "password123").await;
    let su = app.superuser_token().await;
    let (off, _) = app
        .call(
            Method::POST,
            "/api/collections/users/request-otp",
            Some(json!({"email": "ann@example.com"})),
            None,
        )
        .await;
    assert_eq!(off, 403, "OTP is off by default");
    app.call(
        Method::PATCH,
        "/api/collections/users",
        Some(json!({"otp": {"enabled": true, "length": 6}})),
        Some(&su),
    )
    .await;

    let (status, body) = app
        .call(
            Method::POST,
            "/api/collections/users/request-otp",
            Some(json!({"email": "ann@example.com"})),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let otp_id = body["otpId"].as_str().unwrap().to_owned();
    let html = outbox(&app)
        .into_iter()
        .find(|m| m.kind == "otp")
        .expect("an OTP mail")
        .html;
    let start = html.find("<strong>").unwrap() + "<strong>".len();
    let code = &html[start..start + 6];
    assert!(code.chars().all(|c| c.is_ascii_digit()), "{code}");

    let attempt = |password: &str| json!({"otpId": otp_id, "password": password});
    let (wrong, _) = app
        .call(
            Method::POST,
            "/api/collections/users/auth-with-otp",
            Some(attempt("000000x")),
            None,
        )
        .await;
    let (right, auth) = app
        .call(
            Method::POST,
            "/api/collections/users/auth-with-otp",
            Some(attempt(code)),
            None,
        )
        .await;
    let (reused, _) = app
        .call(
            Method::POST,
            "/api/collections/users/auth-with-otp",
            Some(attempt(code)),
            None,
        )
        .await;

    assert_eq!(wrong, 400);
    assert_eq!(right, 200, "{auth}");
    assert_eq!(auth["record"]["email"], "ann@example.com");
    assert_eq!(
        auth["record"]["verified"], true,
        "the code proved the mailbox"
    );
    assert!(auth["token"].is_string());
    assert_eq!(reused, 400, "a code works once");
    let (unknown, body) = app
        .call(
            Method::POST,
            "/api/collections/users/request-otp",
            Some(json!({"email": "nobody@example.com"})),
            None,
        )
        .await;
    assert_eq!(unknown, 200, "no hint that the address has no account");
    assert!(body["otpId"].is_string());
}

#[tokio::test]
async fn smtp_and_app_name_come_from_the_settings_api() {
    let sink = crate::helpers::spawn_smtp_sink().await;
    let app = spawn_app().await;
    let su = app.superuser_token().await;
    let patch = json!({
        "meta": {"appName": "Hearthy", "senderName": "Hearthy Team", "senderAddress": "team@hearthy.test"},
        "smtp": {"enabled": true, "host": "127.0.0.1", "port": sink.port, "password": "s3cret-pass", "tls": false}
    });

    let (status, body) = app
        .call(Method::PATCH, "/api/settings", Some(patch), Some(&su))
        .await;

    assert_eq!(status, 200, "{body}");
    assert!(
        body["smtp"].get("password").is_none(),
        "the secret is never returned"
    );
    let (_, shown) = app
        .call(Method::GET, "/api/settings", None, Some(&su))
        .await;
    assert!(!shown.to_string().contains("s3cret-pass"));
    app.sign_up("ann@example.com", "password123").await;
    app.call(
        Method::POST,
        "/api/collections/users/request-verification",
        Some(json!({"email": "ann@example.com"})),
        None,
    )
    .await;
    let received = sink.received().await;
    assert_eq!(
        received.len(),
        1,
        "delivered over the SMTP server the settings name"
    );
    assert!(
        received[0].contains("Subject: Verify your Hearthy email"),
        "{}",
        received[0]
    );
    assert!(
        received[0].contains("From: \"Hearthy Team\" <team@hearthy.test>"),
        "{}",
        received[0]
    );
}
