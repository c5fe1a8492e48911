//! `onRecordAuthRequest`: sign-ins and refreshes answer through the hooks bound to the auth
//! collection; the same hooks file on hearth and PocketBase 0.40.6 gives the same answers
//! (tokens aside).

use serde_json::{Value, json};

use crate::compat::{assert_same, pocketbase_bin, start_pocketbase_with_hooks};
use crate::helpers::{client, hooks_folder, spawn_app_with_hooks};

const AUTH: &str = r#"
onRecordAuthRequest((e) => {
  if (e.record.getString("email").startsWith("blocked")) throw new ForbiddenError("Blocked.");
  e.meta = { method: e.authMethod, hooked: true };
  e.next();
}, "users");
"#;

async fn scenario(base: &str) -> Vec<(String, Value)> {
    let http = client();
    let users = format!("{base}/api/collections/users");
    for email in ["ann@example.com", "blocked@example.com"] {
        let body = json!({"email": email, "password": "secret-pass-1", "passwordConfirm": "secret-pass-1"});
        let res = http
            .post(format!("{users}/records"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let mut out = Vec::new();
    let mut token = String::new();
    for email in ["ann@example.com", "blocked@example.com"] {
        let res = http
            .post(format!("{users}/auth-with-password"))
            .json(&json!({"identity": email, "password": "secret-pass-1"}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        if let Some(t) = body["token"].as_str().filter(|_| token.is_empty()) {
            token = t.to_owned();
        }
        let keys: Vec<String> = body
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        out.push((
            email.to_owned(),
            json!([
                status,
                keys,
                body["meta"],
                body["record"]["email"],
                body["message"]
            ]),
        ));
    }
    let res = http
        .post(format!("{users}/auth-refresh"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    out.push((
        "refresh".to_owned(),
        json!([status, body["meta"], body["record"]["email"]]),
    ));
    out
}

#[tokio::test]
async fn auth_hooks_answer_as_on_pocketbase() {
    let dir = hooks_folder(&[("auth.pb.js", AUTH)]);
    let app = spawn_app_with_hooks(dir.path()).await;
    let ours = scenario(&app.address).await;
    assert_eq!(ours[0].1[0], 200);
    assert_eq!(ours[0].1[2], json!({"method": "password", "hooked": true}));
    assert_eq!(ours[1].1[0], 403);

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase_with_hooks(&bin, &[("auth.pb.js", AUTH)]).await;
    let theirs = scenario(&pb.address).await;
    assert_same(&ours, &theirs);
}

const ACCOUNT: &str = r#"
onRecordUpdate((e) => {
  if (e.record.getString("email") === "refuse@example.com") throw new BadRequestError("Not this one.");
  if (e.record.getBool("verified")) e.record.set("name", "checked by a hook");
  e.next();
}, "users");

onRecordAfterUpdateSuccess((e) => {
  $app.save(new Record($app.findCollectionByNameOrId("audit"), {
    msg: e.record.getString("email") + " verified " + e.record.getBool("verified"),
  }));
  e.next();
}, "users");
"#;

/// The account flows' own updates (here a verification) run the update hooks: a model hook
/// may refuse it or set more on the record (written with it), and the after hooks see it.
#[tokio::test]
async fn account_flow_updates_run_the_update_hooks() {
    let dir = hooks_folder(&[("account.pb.js", ACCOUNT)]);
    let app = spawn_app_with_hooks(dir.path()).await;
    let token = app.superuser_token().await;
    let (status, body) = app
        .call(
            reqwest::Method::POST,
            "/api/collections",
            Some(json!({"name": "audit", "fields": [{"name": "msg", "type": "text"}]})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for email in ["ann@example.com", "refuse@example.com"] {
        app.sign_up(email, "password123").await;
        let (status, _) = app
            .call(
                reqwest::Method::POST,
                "/api/collections/users/request-verification",
                Some(json!({"email": email})),
                None,
            )
            .await;
        assert_eq!(status, 204);
        let verify = crate::account::token_in_latest_mail(&app, email);
        let (status, body) = app
            .call(
                reqwest::Method::POST,
                "/api/collections/users/confirm-verification",
                Some(json!({"token": verify})),
                None,
            )
            .await;
        let expected = if email.starts_with("refuse") {
            400
        } else {
            204
        };
        assert_eq!(status, expected, "{email}: {body}");
    }
    let (_, audit) = app
        .call(
            reqwest::Method::GET,
            "/api/collections/audit/records",
            None,
            Some(&token),
        )
        .await;
    let msgs: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["msg"].as_str().unwrap())
        .collect();
    assert_eq!(msgs, ["ann@example.com verified true"]);
    let (_, users) = app
        .call(
            reqwest::Method::GET,
            "/api/collections/users/records?filter=verified=true",
            None,
            Some(&token),
        )
        .await;
    assert_eq!(
        users["totalItems"], 1,
        "the refused verification rolled back"
    );
    assert_eq!(users["items"][0]["name"], "checked by a hook");
}

const PASSWORD: &str = r#"
onRecordAuthWithPasswordRequest((e) => {
  if (e.identity === "alias@example.com") {
    // A custom find: the alias signs in as ann.
    e.record = $app.findAuthRecordByEmail("users", "ann@example.com");
  }
  if (e.identity.startsWith("blocked")) throw new ForbiddenError("Blocked by the password hook.");
  if (e.identity === "custom@example.com") {
    return e.json(202, { custom: true, found: e.record !== null, identity: e.identity });
  }
  if (e.password === "magic") e.password = "secret-pass-1";
  e.next();
}, "users");

onRecordAuthRequest((e) => {
  e.meta = { method: e.authMethod, found: e.record.getString("email") };
  e.next();
}, "users");

onRecordAuthRefreshRequest((e) => {
  if (e.requestInfo().query["freeze"] === "1") throw new ForbiddenError("Frozen.");
  e.next();
}, "users");
"#;

/// The accounts the sign-in and account-flow scenarios start with.
const ACCOUNTS: [&str; 3] = [
    "ann@example.com",
    "blocked@example.com",
    "custom@example.com",
];

/// Signs up these accounts in `users` (its URL), each with password `secret-pass-1`.
pub(crate) async fn sign_up(http: &reqwest::Client, users: &str, emails: &[&str]) {
    for email in emails {
        let body = json!({"email": email, "password": "secret-pass-1", "passwordConfirm": "secret-pass-1"});
        let res = http
            .post(format!("{users}/records"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
}

/// A token of the account (password `secret-pass-1`) in `users` (its URL).
async fn token_at(http: &reqwest::Client, users: &str, email: &str) -> String {
    let signed: Value = http
        .post(format!("{users}/auth-with-password"))
        .json(&json!({"identity": email, "password": "secret-pass-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    signed["token"].as_str().unwrap_or_default().to_owned()
}

async fn password_scenario(base: &str) -> Vec<(String, Value)> {
    let (http, users) = (client(), format!("{base}/api/collections/users"));
    sign_up(&http, &users, &ACCOUNTS).await;
    let mut out = Vec::new();
    for (label, identity, password) in [
        ("right password", "ann@example.com", "secret-pass-1"),
        ("password replaced by the hook", "ann@example.com", "magic"),
        ("wrong password", "ann@example.com", "wrong-pass-1"),
        (
            "record found by the hook",
            "alias@example.com",
            "secret-pass-1",
        ),
        ("thrown", "blocked@example.com", "secret-pass-1"),
        (
            "answered by the hook",
            "custom@example.com",
            "secret-pass-1",
        ),
        ("unknown", "nobody@example.com", "secret-pass-1"),
        ("no password", "ann@example.com", ""),
    ] {
        let res = http
            .post(format!("{users}/auth-with-password"))
            .json(&json!({"identity": identity, "password": password}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        let shown = match body.get("token") {
            Some(_) => json!([body["meta"], body["record"]["email"]]),
            None => body,
        };
        out.push((label.to_owned(), json!([status, shown])));
    }
    let token = &token_at(&http, &users, "ann@example.com").await;
    for (label, query) in [("refresh", ""), ("refresh refused", "?freeze=1")] {
        let res = http
            .post(format!("{users}/auth-refresh{query}"))
            .header("Authorization", token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        let shown = match body.get("token") {
            Some(_) => json!([body["meta"], body["record"]["email"]]),
            None => body,
        };
        out.push((label.to_owned(), json!([status, shown])));
    }
    out
}

#[tokio::test]
async fn sign_in_hooks_answer_as_on_pocketbase() {
    let dir = hooks_folder(&[("password.pb.js", PASSWORD)]);
    let app = spawn_app_with_hooks(dir.path()).await;
    let ours = password_scenario(&app.address).await;
    let signed_in_as_ann =
        json!([200, [{"method": "password", "found": "ann@example.com"}, "ann@example.com"]]);
    assert_eq!(ours[0].1, signed_in_as_ann);
    assert_eq!(ours[1].1, signed_in_as_ann);
    assert_eq!(ours[2].1[0], 400);
    assert_eq!(ours[3].1, signed_in_as_ann);
    assert_eq!(ours[4].1[0], 403);
    assert_eq!(
        ours[5].1,
        json!([202, {"custom": true, "found": true, "identity": "custom@example.com"}])
    );

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase_with_hooks(&bin, &[("password.pb.js", PASSWORD)]).await;
    let theirs = password_scenario(&pb.address).await;
    assert_same(&ours, &theirs);
}

const FLOWS: &str = r#"
onRecordRequestPasswordResetRequest((e) => {
  if (e.record.getString("email").startsWith("blocked")) throw new BadRequestError("No resets for you.");
  e.next();
}, "users");

onRecordRequestVerificationRequest((e) => {
  if (e.record.getString("email").startsWith("custom")) {
    return e.json(200, { custom: true, email: e.record.email() });
  }
  e.next();
}, "users");

onRecordConfirmVerificationRequest((e) => {
  if (e.record.getString("email").startsWith("blocked")) throw new ForbiddenError("Not verifiable.");
  e.next();
}, "users");

onRecordConfirmPasswordResetRequest((e) => {
  if (e.record.getString("email").startsWith("blocked")) throw new ForbiddenError("Not resettable.");
  e.next();
}, "users");

onRecordRequestEmailChangeRequest((e) => {
  if (e.newEmail.endsWith("@blocked.test")) throw new BadRequestError("Not that domain.");
  e.next();
}, "users");

onRecordConfirmEmailChangeRequest((e) => {
  if (e.newEmail.startsWith("frozen")) throw new ForbiddenError("Frozen.");
  e.next();
}, "users");
"#;

async fn flow_scenario(base: &str) -> Vec<(String, Value)> {
    let (http, users) = (client(), format!("{base}/api/collections/users"));
    sign_up(&http, &users, &ACCOUNTS).await;
    let mut out = Vec::new();
    for (label, path, email) in [
        ("reset", "request-password-reset", "ann@example.com"),
        (
            "reset refused",
            "request-password-reset",
            "blocked@example.com",
        ),
        (
            "reset, no account",
            "request-password-reset",
            "nobody@example.com",
        ),
        ("reset, no email", "request-password-reset", ""),
        (
            "verification answered by the hook",
            "request-verification",
            "custom@example.com",
        ),
        ("verification", "request-verification", "ann@example.com"),
    ] {
        let res = http
            .post(format!("{users}/{path}"))
            .json(&json!({"email": email}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        out.push((label.to_owned(), json!([status, body])));
    }
    let token = &token_at(&http, &users, "custom@example.com").await;
    for (label, new_email) in [
        ("email change refused", "x@blocked.test"),
        ("email change, bad address", "nope"),
    ] {
        let res = http
            .post(format!("{users}/request-email-change"))
            .header("Authorization", token)
            .json(&json!({"newEmail": new_email}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        out.push((label.to_owned(), json!([status, body])));
    }
    out
}

/// Requests an email change for the account (email, password) to `new_email` on hearth,
/// then confirms it with the mailed token: the confirmation's status.
async fn email_change(
    app: &crate::helpers::TestApp,
    (email, password): (&str, &str),
    new_email: &str,
) -> u16 {
    let signed = users_token(app, email, password).await;
    let body = json!({ "newEmail": new_email });
    let (status, _) = users_post(app, "request-email-change", Some(body), Some(&signed)).await;
    assert_eq!(status, 204);
    let token = crate::account::token_in_latest_mail(app, new_email);
    let confirm = json!({"token": token, "password": password});
    users_post(app, "confirm-email-change", Some(confirm), None)
        .await
        .0
}

/// A token of `users` on hearth for this email and password, which must sign in.
async fn users_token(app: &crate::helpers::TestApp, email: &str, password: &str) -> String {
    let body = json!({"identity": email, "password": password});
    let (status, signed) = users_post(app, "auth-with-password", Some(body), None).await;
    assert_eq!(status, 200, "{email} signs in: {signed}");
    signed["token"].as_str().unwrap_or_default().to_owned()
}

/// `POST /api/collections/users/{action}` on hearth: status and body.
async fn users_post(
    app: &crate::helpers::TestApp,
    action: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let path = format!("/api/collections/users/{action}");
    app.call(reqwest::Method::POST, &path, body, token).await
}

#[tokio::test]
async fn account_flow_request_hooks_answer_as_on_pocketbase() {
    let dir = hooks_folder(&[("flows.pb.js", FLOWS)]);
    let app = spawn_app_with_hooks(dir.path()).await;
    let ours = flow_scenario(&app.address).await;
    assert_eq!(ours[0].1, json!([204, null]));
    assert_eq!(ours[1].1[0], 400);
    assert_eq!(
        ours[4].1,
        json!([200, {"custom": true, "email": "custom@example.com"}])
    );

    // The confirmations, with the tokens the requests mailed.
    for (email, expected) in [("ann@example.com", 204), ("blocked@example.com", 403)] {
        let (status, _) = users_post(
            &app,
            "request-verification",
            Some(json!({"email": email})),
            None,
        )
        .await;
        assert_eq!(status, 204);
        let token = crate::account::token_in_latest_mail(&app, email);
        let (status, body) = users_post(
            &app,
            "confirm-verification",
            Some(json!({"token": token})),
            None,
        )
        .await;
        assert_eq!(status, expected, "{email}: {body}");
    }
    let (status, _) = users_post(
        &app,
        "confirm-password-reset",
        Some(json!({"token": "", "password": "new-pass-123", "passwordConfirm": "new-pass-123"})),
        None,
    )
    .await;
    assert_eq!(status, 400, "the input is checked before the hooks");
    let (status, _) = users_post(
        &app,
        "request-password-reset",
        Some(json!({"email": "ann@example.com"})),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let token = crate::account::token_in_latest_mail(&app, "ann@example.com");
    let reset =
        json!({"token": token, "password": "new-pass-123", "passwordConfirm": "new-pass-123"});
    let (status, body) = users_post(&app, "confirm-password-reset", Some(reset), None).await;
    assert_eq!(status, 204, "{body}");
    users_token(&app, "ann@example.com", "new-pass-123").await; // the reset was written

    // Email changes (PocketBase, with no mailer here, refuses the request itself).
    let changed = email_change(
        &app,
        ("custom@example.com", "secret-pass-1"),
        "custom2@example.com",
    );
    assert_eq!(changed.await, 204);
    users_token(&app, "custom2@example.com", "secret-pass-1").await; // the change was written
    let frozen = email_change(
        &app,
        ("ann@example.com", "new-pass-123"),
        "frozen@example.com",
    );
    assert_eq!(frozen.await, 403, "the confirmation hook refused it");

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase_with_hooks(&bin, &[("flows.pb.js", FLOWS)]).await;
    let theirs = flow_scenario(&pb.address).await;
    assert_same(&ours, &theirs);
}
