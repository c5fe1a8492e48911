//! One path for every write: whatever route a record or collection change takes (API,
//! batch, admin UI, account flows, imports), it has the same effects after its commit
//! (files removed, realtime published), and slow password work never holds the database.

use std::path::{Path, PathBuf};

use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::json;

use crate::files::{Server, file};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, spawn_app};

/// Every file under `storage/`, relative to it.
fn stored(app: &TestApp) -> Vec<PathBuf> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_owned());
            }
        }
    }
    let root = app.dir.path().join("storage");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out
}

async fn with_docs() -> (TestApp, Server) {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let server = Server::signed_in(&app.address).await;
    server.create_docs().await;
    (app, server)
}

#[tokio::test]
async fn an_import_that_deletes_missing_collections_deletes_their_files() {
    let (app, server) = with_docs().await;
    let (status, body) = server
        .send_form(
            Method::POST,
            "/api/collections/docs/records",
            Form::new().part("files", file(b"x".to_vec(), "x.txt")),
            false,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stored(&app).len(), 1);

    let import = json!({"deleteMissing": true, "collections": [
        {"id": "pbc_other0001", "name": "other", "fields": [{"name": "title", "type": "text"}]}
    ]});
    let (status, body) = server
        .send_json(Method::PUT, "/api/collections/import", import, true)
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = server
        .send_json(Method::GET, "/api/collections/docs", json!({}), true)
        .await;
    assert_eq!(status, 404, "the import deleted docs");
    assert_eq!(stored(&app), Vec::<PathBuf>::new(), "and its files");
}

/// The admin UI's sign-in is the API's: the `_superusers` collection's authRule applies.
#[tokio::test]
async fn the_admin_sign_in_applies_the_superusers_auth_rule() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    app.create_superuser("other@example.com", ADMIN_PASSWORD)
        .await;
    let rule = json!({"authRule": format!("email != '{ADMIN_EMAIL}'")});
    let res = app
        .api
        .patch(app.url("/api/collections/_superusers"))
        .header("Authorization", &token)
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    let api = app.auth_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(api.status(), 400, "the API refuses the excluded superuser");
    let browser = app.browser();
    let refused = app.sign_in_browser(&browser, ADMIN_PASSWORD).await;
    assert_eq!(refused.status(), 400, "and so does the sign-in form");
    assert!(
        refused
            .headers()
            .get_all("set-cookie")
            .iter()
            .next()
            .is_none()
    );

    // Anyone the rule admits still signs in.
    let page = browser.get(app.url("/_/login")).send().await.unwrap();
    let csrf = crate::helpers::csrf_token(&page.text().await.unwrap());
    let admitted = browser
        .post(app.url("/_/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "other@example.com"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(admitted.status(), 303);
}

/// Sign-ups hash a password each (argon2, slow on purpose). That work holds no database
/// connection: a plain write beside a stream of sign-ups waits for the database only, not
/// for the hashes queued ahead of it on the single writer.
#[tokio::test]
async fn password_hashing_never_holds_up_other_writes() {
    use std::time::{Duration, Instant};
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    let notes =
        json!({"name": "notes", "createRule": "", "fields": [{"name": "text", "type": "text"}]});
    let res = app
        .api
        .post(app.url("/api/collections"))
        .header("Authorization", &token)
        .json(&notes)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (client, url) = (app.api.clone(), app.url("/api/collections/users/records"));
    let sign_up = move |n: usize| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let body = json!({"email": format!("u{n}@example.com"), "password": "password-123", "passwordConfirm": "password-123"});
            let res = client.post(url).json(&body).send().await.unwrap();
            assert_eq!(res.status(), 200);
        }
    };
    let note = || async {
        let started = Instant::now();
        let res = app
            .post_json("/api/collections/notes/records", &json!({"text": "hi"}))
            .await;
        assert_eq!(res.status(), 200);
        started.elapsed()
    };
    // What one hash costs on this machine, in this build.
    let started = Instant::now();
    sign_up(0).await;
    let one_hash = started.elapsed();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut signing_up = Vec::new();
    for worker in 0..4 {
        let (stop, sign_up) = (stop.clone(), sign_up.clone());
        signing_up.push(tokio::spawn(async move {
            let mut n = 1;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                sign_up(worker * 1000 + n).await;
                n += 1;
            }
        }));
    }
    tokio::time::sleep(one_hash).await;
    let mut waits = Vec::new();
    for _ in 0..9 {
        waits.push(note().await);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in signing_up {
        task.await.unwrap();
    }
    waits.sort();
    let median = waits[waits.len() / 2];
    assert!(
        median < one_hash / 4 && median < Duration::from_secs(1),
        "a plain write took {median:?} (median) beside sign-ups; one hash takes {one_hash:?}; all: {waits:?}"
    );
}

/// An account flow's change is a record update like any other: the address an OTP sign-in
/// proves verifies the record, and subscribers see that update (as in PocketBase, which
/// saves the record).
#[tokio::test]
async fn an_otp_sign_in_that_verifies_the_address_is_published() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    app.sign_up("ann@example.com", "password123").await;
    let (status, _) = app
        .call(
            Method::PATCH,
            "/api/collections/users",
            Some(json!({"otp": {"enabled": true, "length": 6}})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    let mut sse = crate::helpers::Sse::connect(&app.address).await;
    let (status, _) = app
        .call(
            Method::POST,
            "/api/realtime",
            Some(json!({"clientId": sse.client_id, "subscriptions": ["users/*"]})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 204);

    let (_, body) = app
        .call(
            Method::POST,
            "/api/collections/users/request-otp",
            Some(json!({"email": "ann@example.com"})),
            None,
        )
        .await;
    let html = app
        .db
        .data
        .read(|c| hearth::mail::outbox(c, 50))
        .unwrap()
        .into_iter()
        .find(|m| m.kind == "otp")
        .expect("an OTP mail")
        .html;
    let start = html.find("<strong>").unwrap() + "<strong>".len();
    let code = &html[start..start + 6];
    let (status, auth) = app
        .call(
            Method::POST,
            "/api/collections/users/auth-with-otp",
            Some(json!({"otpId": body["otpId"], "password": code})),
            None,
        )
        .await;
    assert_eq!(status, 200, "{auth}");
    assert_eq!(auth["record"]["verified"], true);

    let event = sse.next().await.expect("the verification is published");
    assert_eq!(event.event, "users/*");
    let data = event.json();
    assert_eq!(data["action"], "update");
    assert_eq!(data["record"]["email"], "ann@example.com");
    assert_eq!(data["record"]["verified"], true);
}
