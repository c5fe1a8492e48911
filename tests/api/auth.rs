use reqwest::Method;
use serde_json::{Value, json};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::helpers::{claims, spawn_app, wait_until};

#[tokio::test]
async fn auth_refresh_renews_the_callers_token() {
    let app = spawn_app().await;
    let (id, token) = app.sign_up_and_in("ann@example.com", "password123").await;

    let (status, body) = app
        .call(
            Method::POST,
            "/api/collections/users/auth-refresh",
            None,
            Some(&token),
        )
        .await;
    let (wrong, _) = app
        .call(
            Method::POST,
            "/api/collections/_superusers/auth-refresh",
            None,
            Some(&token),
        )
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["record"]["id"], id);
    assert_eq!(body["record"]["email"], "ann@example.com");
    let fresh = claims(body["token"].as_str().unwrap());
    assert_eq!(fresh["id"], id);
    assert_eq!(fresh["collectionId"], "_pb_users_auth_");
    assert_eq!(fresh["refreshable"], true);
    assert_eq!(wrong, 403);
}

#[tokio::test]
async fn impersonation_tokens_are_short_and_not_refreshable() {
    let app = spawn_app().await;
    let su = app.superuser_token().await;
    let (id, user_token) = app.sign_up_and_in("ann@example.com", "password123").await;

    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/collections/users/impersonate/{id}"),
            Some(json!({"duration": 60})),
            Some(&su),
        )
        .await;
    let (forbidden, _) = app
        .call(
            Method::POST,
            &format!("/api/collections/users/impersonate/{id}"),
            None,
            Some(&user_token),
        )
        .await;

    assert_eq!(status, 200, "{body}");
    let c = claims(body["token"].as_str().unwrap());
    assert_eq!(c["refreshable"], false);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(c["exp"].as_u64().unwrap() <= now + 60);
    assert_eq!(forbidden, 403);
    let (whoami, me) = app
        .call(
            Method::GET,
            &format!("/api/collections/users/records/{id}"),
            None,
            body["token"].as_str(),
        )
        .await;
    assert_eq!(whoami, 200);
    assert_eq!(
        me["email"], "ann@example.com",
        "the impersonation token acts as the user"
    );

    // Refreshing it answers the same token, as PocketBase does: a fresh, refreshable one
    // would outlive the duration the superuser chose.
    let (refreshed, again) = app
        .call(
            Method::POST,
            "/api/collections/users/auth-refresh",
            None,
            body["token"].as_str(),
        )
        .await;
    assert_eq!(refreshed, 200, "{again}");
    assert_eq!(again["token"], body["token"]);
    assert_eq!(again["record"]["id"], id);
}

#[tokio::test]
async fn only_auth_tokens_carry_the_refreshable_claim() {
    let app = spawn_app().await;
    let (_, token) = app.sign_up_and_in("ann@example.com", "password123").await;

    let (status, file) = app
        .call(Method::POST, "/api/files/token", None, Some(&token))
        .await;

    assert_eq!(status, 200, "{file}");
    let c = claims(file["token"].as_str().unwrap());
    assert_eq!(c["type"], "file");
    assert!(c.get("refreshable").is_none(), "{c}");
    assert_eq!(claims(&token)["refreshable"], true);
}

#[tokio::test]
async fn a_password_change_needs_the_old_one_and_revokes_every_token() {
    let app = spawn_app().await;
    let (id, token) = app.sign_up_and_in("ann@example.com", "password123").await;
    let path = format!("/api/collections/users/records/{id}");

    let (without_old, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(json!({"password": "new-password-1", "passwordConfirm": "new-password-1"})),
            Some(&token),
        )
        .await;
    assert_eq!(without_old, 400);
    assert_eq!(
        body["data"]["oldPassword"]["code"],
        "validation_invalid_old_password"
    );

    let (changed, _) = app
        .call(Method::PATCH, &path,
            Some(json!({"oldPassword": "password123", "password": "new-password-1", "passwordConfirm": "new-password-1"})), Some(&token))
        .await;
    assert_eq!(changed, 200);

    let (refresh, _) = app
        .call(
            Method::POST,
            "/api/collections/users/auth-refresh",
            None,
            Some(&token),
        )
        .await;
    assert_eq!(refresh, 401, "the old token no longer authenticates");
    let (old_login, _) = app
        .call(
            Method::POST,
            "/api/collections/users/auth-with-password",
            Some(json!({"identity": "ann@example.com", "password": "password123"})),
            None,
        )
        .await;
    let (new_login, _) = app
        .call(
            Method::POST,
            "/api/collections/users/auth-with-password",
            Some(json!({"identity": "ann@example.com", "password": "new-password-1"})),
            None,
        )
        .await;
    assert_eq!((old_login, new_login), (400, 200));
}

#[tokio::test]
async fn expired_and_forged_tokens_authenticate_nobody() {
    let app = spawn_app().await;
    let (_, token) = app.sign_up_and_in("ann@example.com", "password123").await;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut c = claims(&token);
    c["exp"] = json!(1);
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap());
    let expired_claims = parts.join(".");

    for bad in [expired_claims.as_str(), "not-a-token", "a.b.c"] {
        let (status, _) = app
            .call(
                Method::POST,
                "/api/collections/users/auth-refresh",
                None,
                Some(bad),
            )
            .await;
        assert_eq!(status, 401, "{bad}");
    }
}

#[tokio::test]
async fn a_hundred_wrong_passwords_in_a_row_are_throttled() {
    // The default per-identity limit alone (the per-IP one would also stop a single client).
    let app = crate::helpers::spawn_app_with(|c| c.auth_limits.per_ip_per_minute = 0).await;
    app.sign_up_and_in("ann@example.com", "password123").await;
    let wrong = json!({"identity": "ann@example.com", "password": "wrong-password"});

    let mut statuses = Vec::new();
    for _ in 0..100 {
        let (status, _) = app
            .call(
                Method::POST,
                "/api/collections/users/auth-with-password",
                Some(wrong.clone()),
                None,
            )
            .await;
        statuses.push(status);
    }
    let res = app
        .api
        .post(app.url("/api/collections/users/auth-with-password"))
        .json(&json!({"identity": "ANN@example.com", "password": "password123"}))
        .send()
        .await
        .unwrap();

    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        statuses[..19].iter().all(|s| *s == 400),
        "the first attempts are judged: {statuses:?}"
    );
    assert!(throttled >= 75, "most of the 100 are refused: {throttled}");
    assert_eq!(
        res.status(),
        429,
        "even the right password waits, whatever the case of the email"
    );
    assert_eq!(res.headers()["retry-after"], "60");
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"data": {}, "message": "Too Many Requests.", "status": 429})
    );
    let (other, _) = app
        .call(
            Method::POST,
            "/api/collections/users/auth-with-password",
            Some(json!({"identity": "bob@example.com", "password": "whatever1"})),
            None,
        )
        .await;
    assert_eq!(other, 400, "other accounts are not locked out");
}

#[tokio::test]
async fn per_ip_limits_are_configurable() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.auth_limits = hearth::ratelimit::AuthLimits {
            per_ip_per_minute: 5,
            per_identity_per_15_minutes: 0,
        };
    })
    .await;

    // All at once: one at a time, the wrong-password checks of a loaded machine can take
    // long enough for the minute's budget to give one more (5 a minute: one per 12 s).
    let tries = (0..8).map(|i| {
        let body = json!({"identity": format!("user{i}@example.com"), "password": "whatever1"});
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/api/collections/users/auth-with-password",
                Some(body),
                None,
            )
            .await
            .0
        }
    });
    let mut statuses = futures_util::future::join_all(tries).await;
    statuses.sort_unstable();

    assert_eq!(statuses, [400, 400, 400, 400, 400, 429, 429, 429]);
}

#[tokio::test]
async fn managers_change_other_accounts_without_the_old_password() {
    let app = spawn_app().await;
    let su = app.superuser_token().await;
    let (status, body) = app
        .call(Method::POST, "/api/collections", Some(json!({
            "name": "staff", "type": "auth",
            "listRule": "", "viewRule": "", "createRule": "",
            "updateRule": "@request.auth.id != ''",
            "manageRule": "@request.auth.role = 'admin'",
            "fields": [{"name": "role", "type": "select", "values": ["admin", "member"], "maxSelect": 1}]
        })), Some(&su))
        .await;
    assert_eq!(status, 200, "{body}");
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    for (email, role) in [("boss@example.com", "admin"), ("pat@example.com", "member")] {
        let (_, user) = app
            .call(Method::POST, "/api/collections/staff/records", Some(json!({"email": email, "password": "password123", "passwordConfirm": "password123"})), None)
            .await;
        let id = user["id"].as_str().unwrap().to_owned();
        app.call(
            Method::PATCH,
            &format!("/api/collections/staff/records/{id}"),
            Some(json!({"role": role})),
            Some(&su),
        )
        .await;
        let (_, auth) = app
            .call(
                Method::POST,
                "/api/collections/staff/auth-with-password",
                Some(json!({"identity": email, "password": "password123"})),
                None,
            )
            .await;
        ids.push(id);
        tokens.push(auth["token"].as_str().unwrap().to_owned());
    }
    let change =
        json!({"password": "changed-by-x1", "passwordConfirm": "changed-by-x1", "verified": true});

    let (by_member, body) = app
        .call(
            Method::PATCH,
            &format!("/api/collections/staff/records/{}", ids[0]),
            Some(change.clone()),
            Some(&tokens[1]),
        )
        .await;
    assert_eq!(by_member, 400, "a member needs the old password: {body}");
    assert_eq!(
        body["data"]["oldPassword"]["code"],
        "validation_invalid_old_password"
    );

    let (by_admin, body) = app
        .call(
            Method::PATCH,
            &format!("/api/collections/staff/records/{}", ids[1]),
            Some(change),
            Some(&tokens[0]),
        )
        .await;
    assert_eq!(by_admin, 200, "{body}");
    assert_eq!(body["verified"], true, "a manager may verify");
    let (login, _) = app
        .call(
            Method::POST,
            "/api/collections/staff/auth-with-password",
            Some(json!({"identity": "pat@example.com", "password": "changed-by-x1"})),
            None,
        )
        .await;
    assert_eq!(login, 200);
}

#[tokio::test]
async fn tokens_of_deleted_records_authenticate_nobody() {
    let app = spawn_app().await;
    let su = app.superuser_token().await;
    let (id, token) = app.sign_up_and_in("ann@example.com", "password123").await;

    let (deleted, _) = app
        .call(
            Method::DELETE,
            &format!("/api/collections/users/records/{id}"),
            None,
            Some(&su),
        )
        .await;
    let (refresh, _) = app
        .call(
            Method::POST,
            "/api/collections/users/auth-refresh",
            None,
            Some(&token),
        )
        .await;
    // Signing up again with the same email makes a new record: the old token stays dead.
    app.sign_up_and_in("ann@example.com", "password123").await;
    let (again, _) = app
        .call(
            Method::POST,
            "/api/collections/users/auth-refresh",
            None,
            Some(&token),
        )
        .await;

    assert_eq!(deleted, 204);
    assert_eq!(refresh, 401);
    assert_eq!(again, 401);
}

/// Sign-ins wait for the password-hashing threads without holding the blocking threads
/// every database read needs: with more sign-ins in flight than the pool has threads (16
/// on one worker), a read is still answered before more than a few of them finish.
#[tokio::test]
async fn a_burst_of_sign_ins_leaves_reads_free() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.workers = Some(1);
        c.auth_limits.per_ip_per_minute = 0;
        c.auth_limits.per_identity_per_15_minutes = 0;
    })
    .await;
    let account = serde_json::json!({
        "email": "burst@example.com",
        "password": "burst-password-1",
        "passwordConfirm": "burst-password-1",
    });
    let res = app
        .post_json("/api/collections/users/records", &account)
        .await;
    assert_eq!(res.status(), 200);

    let burst = 24;
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut sign_ins = Vec::new();
    for _ in 0..burst {
        let (client, url, finished) = (
            app.api.clone(),
            app.url("/api/collections/users/auth-with-password"),
            finished.clone(),
        );
        sign_ins.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .json(&serde_json::json!({
                    "identity": "burst@example.com",
                    "password": "burst-password-1",
                }))
                .send()
                .await
                .expect("sign-in answered");
            finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            res.status().as_u16()
        }));
    }
    // Read once the burst is being served (its first sign-in has finished).
    wait_until(
        std::time::Duration::from_secs(30),
        "the first sign-in of the burst",
        async || finished.load(std::sync::atomic::Ordering::SeqCst) > 0,
    )
    .await;
    let res = app.get("/api/collections/users/records").await;
    assert_eq!(res.status(), 200);
    let done_at_read = finished.load(std::sync::atomic::Ordering::SeqCst);
    // Through the blocking pool, the read would queue behind the 8 sign-ins past its 16
    // threads, and answer only after those.
    assert!(
        done_at_read < burst - 16,
        "the read waited for {done_at_read} of {burst} sign-ins"
    );
    for s in sign_ins {
        assert_eq!(s.await.expect("sign-in task"), 200);
    }
}
