//! Passwords hashed by PocketBase (bcrypt, as an imported account carries them) sign in on
//! hearth, and the first sign-in replaces the hash by argon2id without ending the sessions
//! the account had: a user and a superuser, each with a hash the real PocketBase 0.40.6
//! wrote.

use serde_json::{Value, json};

use crate::compat::{pocketbase_bin, run};
use crate::helpers::{TestApp, spawn_app};

const PASSWORD: &str = "pocketbase-pass-1";

/// A bcrypt hash of `PASSWORD` as PocketBase writes it, from a superuser it creates.
fn pocketbase_hash(bin: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    run(
        bin,
        dir.path(),
        &["superuser", "upsert", "a@example.com", PASSWORD],
    );
    let db = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
    db.query_row("SELECT password FROM _superusers", [], |r| r.get(0))
        .unwrap()
}

fn stored_hash(app: &TestApp, table: &str, email: &str) -> String {
    let sql = format!("SELECT password FROM \"{table}\" WHERE email = ?1");
    let email = email.to_owned();
    app.db
        .data
        .read(move |c| Ok(c.query_row(&sql, [email], |r| r.get::<_, String>(0))?))
        .unwrap()
}

fn set_hash(app: &TestApp, table: &str, email: &str, hash: &str) {
    let sql = format!("UPDATE \"{table}\" SET password = ?1 WHERE email = ?2");
    let (hash, email) = (hash.to_owned(), email.to_owned());
    let changed = app
        .db
        .data
        .write(move |c| Ok(c.execute(&sql, (hash, email))?))
        .unwrap();
    assert_eq!(changed, 1);
}

async fn sign_in(app: &TestApp, collection: &str, email: &str, password: &str) -> (u16, Value) {
    let res = app
        .api
        .post(format!(
            "{}/api/collections/{collection}/auth-with-password",
            app.address
        ))
        .json(&json!({"identity": email, "password": password}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn refresh(app: &TestApp, collection: &str, token: &str) -> u16 {
    app.api
        .post(format!(
            "{}/api/collections/{collection}/auth-refresh",
            app.address
        ))
        .header("Authorization", token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn pocketbase_bcrypt_hashes_sign_in_and_become_argon2id() {
    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let bcrypt = pocketbase_hash(&bin);
    assert!(bcrypt.starts_with("$2a$"), "{bcrypt}");
    let app = spawn_app().await;
    app.create_superuser("root@example.com", "hearth-password-1")
        .await;
    let su = app.superuser_token().await;
    let res = app
        .api
        .post(format!("{}/api/collections/users/records", app.address))
        .header("Authorization", &su)
        .json(
            &json!({"email": "ann@example.com", "password": "whatever-1",
            "passwordConfirm": "whatever-1", "verified": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    for (collection, email) in [
        ("users", "ann@example.com"),
        ("_superusers", "root@example.com"),
    ] {
        set_hash(&app, collection, email, &bcrypt);
        let (status, body) = sign_in(&app, collection, email, "not-the-password").await;
        assert_eq!(status, 400, "{collection}: a wrong password fails: {body}");
        assert_eq!(stored_hash(&app, collection, email), bcrypt);

        let (status, first) = sign_in(&app, collection, email, PASSWORD).await;
        assert_eq!(status, 200, "{collection}: {first}");
        let rehashed = stored_hash(&app, collection, email);
        assert!(
            rehashed.starts_with("$argon2id$"),
            "{collection}: {rehashed}"
        );

        let (status, again) = sign_in(&app, collection, email, PASSWORD).await;
        assert_eq!(status, 200, "{collection}: {again}");
        assert_eq!(stored_hash(&app, collection, email), rehashed);
        let (status, _) = sign_in(&app, collection, email, "not-the-password").await;
        assert_eq!(status, 400);
        // The token of the sign-in that rehashed still works: the token key was kept.
        let token = first["token"].as_str().unwrap();
        assert_eq!(refresh(&app, collection, token).await, 200, "{collection}");
    }
}
