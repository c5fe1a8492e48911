//! `--encryption-env NAME` (issue #19): the settings are sealed in data.db with the key in
//! that environment variable, as PocketBase's `--encryptionEnv`: unreadable with sqlite3,
//! read back with the key, and a start without it or with a wrong one stops with one clear
//! line instead of resetting them.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, client, free_port, hearth_cli, superuser_token_at,
};

const KEY: &str = "0123456789abcdefghijklmnopqrstuv";

/// `hearth serve` with `--encryption-env HEARTH_TEST_KEY` when `key` is given.
fn serve(dir: &Path, key: Option<&str>) -> (Child, String) {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
    cmd.arg("--dir")
        .arg(dir)
        .args(["serve", "--http", &format!("127.0.0.1:{port}")])
        .env_remove("HEARTH_ENCRYPTION_ENV")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(key) = key {
        cmd.env("HEARTH_TEST_KEY", key)
            .args(["--encryption-env", "HEARTH_TEST_KEY"]);
    }
    (cmd.spawn().unwrap(), format!("http://127.0.0.1:{port}"))
}

/// Waits for the server to answer; panics with its stderr when it exits instead.
async fn up(child: &mut Child, base: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if crate::helpers::http_get(format!("{base}/api/health"))
            .await
            .is_ok()
        {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("hearth exited ({status})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("hearth did not answer");
}

/// The start fails: its exit and the last line it wrote.
fn refused(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.lines().last().unwrap_or_default().to_owned()
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn stored_settings(dir: &Path) -> String {
    let conn = rusqlite::Connection::open(dir.join("data.db")).unwrap();
    conn.query_row("SELECT value FROM _params WHERE id = 'settings'", [], |r| {
        r.get(0)
    })
    .unwrap()
}

#[tokio::test]
async fn sealed_settings_need_their_key_and_are_never_reset() {
    let dir = tempfile::tempdir().unwrap();
    let out = hearth_cli(
        dir.path(),
        &["superuser", "upsert", ADMIN_EMAIL, ADMIN_PASSWORD],
    );
    assert!(out.status.success());
    let http = client();

    // Written in the clear first; the first start with the key seals them.
    let (mut child, base) = serve(dir.path(), None);
    up(&mut child, &base).await;
    let token = superuser_token_at(&http, &base).await;
    let res = http
        .patch(format!("{base}/api/settings"))
        .header("Authorization", &token)
        .json(&json!({"meta": {"appName": "Sealed app"},
                      "smtp": {"host": "smtp.example.com", "port": 587, "password": "s3cret-smtp-pw"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    stop(child);
    assert!(stored_settings(dir.path()).contains("s3cret-smtp-pw"));

    let (mut child, base) = serve(dir.path(), Some(KEY));
    up(&mut child, &base).await;
    let stored = stored_settings(dir.path());
    for secret in ["s3cret-smtp-pw", "Sealed app", "smtp", "{"] {
        assert!(!stored.contains(secret), "{secret} readable in {stored}");
    }
    // Changed while sealed, read back through the API.
    let token = superuser_token_at(&http, &base).await;
    let res = http
        .patch(format!("{base}/api/settings"))
        .header("Authorization", &token)
        .json(&json!({"meta": {"appName": "Sealed again"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    stop(child);
    assert!(!stored_settings(dir.path()).contains("Sealed again"));

    let (child, _) = serve(dir.path(), None);
    let line = refused(child);
    assert!(line.contains("--encryption-env"), "{line}");
    let (child, _) = serve(dir.path(), Some("abcdefghijklmnopqrstuvwxyz012345"));
    let line = refused(child);
    assert!(line.contains("wrong key"), "{line}");
    let (child, _) = serve(dir.path(), Some("short"));
    let line = refused(child);
    assert!(line.contains("32 characters"), "{line}");

    let (mut child, base) = serve(dir.path(), Some(KEY));
    up(&mut child, &base).await;
    let token = superuser_token_at(&http, &base).await;
    let settings: Value = http
        .get(format!("{base}/api/settings"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settings["meta"]["appName"], "Sealed again");
    assert_eq!(settings["smtp"]["host"], "smtp.example.com");

    // A backup holds the sealed settings; restoring it reads them with the same key.
    let res = http
        .post(format!("{base}/api/backups"))
        .header("Authorization", &token)
        .json(&json!({"name": "sealed.zip"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = http
        .post(format!("{base}/api/backups/sealed.zip/restore"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        204,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let token = superuser_token_at(&http, &base).await;
    let settings: Value = http
        .get(format!("{base}/api/settings"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settings["meta"]["appName"], "Sealed again");
    stop(child);
}
