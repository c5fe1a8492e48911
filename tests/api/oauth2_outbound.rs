//! OAuth2 sign-ins wait on another server; that wait must cost nobody else anything. A
//! provider whose token endpoint accepts connections and never answers holds 60 sign-ins
//! at once, and meanwhile reads answer as fast as ever (the exchanges run on threads of
//! their own, not on the blocking pool the database work shares). And sign-in attempts are
//! limited per address, never per provider: many users of one provider all sign in.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::TcpListener;

use crate::helpers::{client, spawn_app_with, superuser_token_at};
use crate::oauth2_signin::{CLIENT_ID, CLIENT_SECRET, configure, sign_in_as, start_oidc};

/// A server that accepts connections and never answers; counts them.
async fn hanging_server() -> (u16, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (port, accepted, task)
}

#[tokio::test]
async fn a_provider_that_never_answers_starves_no_other_request() {
    let app = spawn_app_with(|c| c.auth_limits.per_ip_per_minute = 10_000).await;
    app.create_superuser(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let http = client();
    let admin = superuser_token_at(&http, &app.address).await;
    let (port, accepted, server) = hanging_server().await;
    let hang = format!("http://127.0.0.1:{port}");
    let provider = json!({"name": "oidc", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
        "authURL": format!("{hang}/auth"), "tokenURL": format!("{hang}/token"),
        "userInfoURL": format!("{hang}/me"), "pkce": false});
    let res = http
        .patch(format!("{}/api/collections/users", app.address))
        .header("Authorization", &admin)
        .json(&json!({"oauth2": {"enabled": true, "providers": [provider]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    const HANGING: usize = 60;
    let url = format!("{}/api/collections/users/auth-with-oauth2", app.address);
    let mut waiting = Vec::new();
    for i in 0..HANGING {
        let (http, url) = (client(), url.clone());
        waiting.push(tokio::spawn(async move {
            let body = json!({"provider": "oidc", "code": format!("code-{i}"),
                "redirectURL": "http://127.0.0.1:9/cb"});
            let _ = http.post(url).json(&body).send().await;
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while accepted.load(Ordering::SeqCst) < HANGING && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        HANGING,
        "every exchange reached the provider"
    );

    let list = format!("{}/api/collections/users/records?perPage=5", app.address);
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let asked = Instant::now();
        let res = http
            .get(&list)
            .header("Authorization", &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        slowest = slowest.max(asked.elapsed());
    }
    assert!(
        slowest < Duration::from_secs(1),
        "a read took {slowest:?} while {HANGING} sign-ins waited on the provider"
    );
    server.abort();
    for w in waiting {
        w.abort();
    }
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_address_not_per_provider() {
    let Some(oidc) = start_oidc().await else {
        return;
    };
    let app = spawn_app_with(|c| c.auth_limits.per_identity_per_15_minutes = 3).await;
    app.create_superuser(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let http = client();
    let admin = superuser_token_at(&http, &app.address).await;
    configure(&http, &app.address, &admin, &oidc).await;
    // More users of one provider than the per-identity limit allows attempts.
    for login in ["ann", "ben", "cid", "dee", "eve", "fay"] {
        let (status, body) = sign_in_as(&app.address, &oidc, "oidc", login, &[]).await;
        assert_eq!(status, 200, "{login}: {body}");
    }
}
