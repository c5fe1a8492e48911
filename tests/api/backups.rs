//! Backups through the API, the admin pages and the CLI: who may, PocketBase's names and
//! answers, an online backup under 32 writers holding every write acknowledged before it.
//! Restores are in `restore.rs`.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TestApp, csrf_token, notes, spawn_app, wait_until};

pub async fn add_note(app: &TestApp, text: &str) -> String {
    let (status, body) = app
        .call(
            Method::POST,
            "/api/collections/notes/records",
            Some(json!({ "text": text })),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

pub async fn note_texts(app: &TestApp) -> Vec<String> {
    let (status, body) = app
        .call(
            Method::GET,
            "/api/collections/notes/records?perPage=1000&sort=text",
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap().to_owned())
        .collect()
}

pub async fn backup_keys(app: &TestApp, token: &str) -> Vec<String> {
    let (status, body) = app
        .call(Method::GET, "/api/backups", None, Some(token))
        .await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|b| b["key"].as_str().unwrap().to_owned())
        .collect()
}

/// A file token (`POST /api/files/token`) for the caller of `token`.
async fn file_token(app: &TestApp, token: &str) -> String {
    let (status, body) = app
        .call(Method::POST, "/api/files/token", None, Some(token))
        .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// The ids in the `table` of the data.db inside a downloaded archive.
fn ids_in_archive(zip_bytes: &[u8], table: &str) -> Vec<String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    let mut db = Vec::new();
    zip.by_name("data.db")
        .unwrap()
        .read_to_end(&mut db)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.db");
    std::fs::write(&path, db).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut stmt = conn.prepare(&format!("SELECT id FROM {table}")).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn backups_are_for_superusers_only() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/collections/users/records",
            Some(json!({"email": "u@example.com", "password": "12345678", "passwordConfirm": "12345678"})),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let user: Value = app
        .post_json(
            "/api/collections/users/auth-with-password",
            &json!({"identity": "u@example.com", "password": "12345678"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let user = user["token"].as_str().unwrap();
    app.call(Method::POST, "/api/backups", None, Some(&token))
        .await;
    let key = backup_keys(&app, &token).await.remove(0);

    for (method, path) in [
        (Method::GET, "/api/backups".to_owned()),
        (Method::POST, "/api/backups".to_owned()),
        (Method::DELETE, format!("/api/backups/{key}")),
        (Method::POST, format!("/api/backups/{key}/restore")),
    ] {
        let (status, body) = app.call(method.clone(), &path, None, None).await;
        assert_eq!(status, 401, "{method} {path} as a guest: {body}");
        assert_eq!(body["status"], 401);
        let (status, _) = app.call(method.clone(), &path, None, Some(user)).await;
        assert_eq!(status, 403, "{method} {path} as a user");
    }
    // Downloads are links: a superuser's file token in ?token=, nothing else.
    let user_file_token = file_token(&app, user).await;
    for query in [
        String::new(),
        format!("?token={user}"),
        format!("?token={user_file_token}"),
        format!("?token={token}"),
        "?token=forged".into(),
    ] {
        let (status, body) = app
            .call(
                Method::GET,
                &format!("/api/backups/{key}{query}"),
                None,
                None,
            )
            .await;
        assert_eq!(status, 403, "{query}: {body}");
        assert_eq!(
            body["message"],
            "Insufficient permissions to access the resource."
        );
    }
    assert_eq!(backup_keys(&app, &token).await, vec![key]);
}

#[tokio::test]
async fn create_list_download_and_delete() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    notes(&app, &token).await;
    let id = add_note(&app, "kept").await;
    std::fs::create_dir_all(app.dir.path().join("storage/abc")).unwrap();
    std::fs::write(app.dir.path().join("storage/abc/file.txt"), "hello").unwrap();
    // An upload in progress is no record's file yet: never archived.
    std::fs::write(app.dir.path().join("storage/.uploads/x.part"), "half").unwrap();

    let (status, body) = app
        .call(Method::POST, "/api/backups", Some(json!({})), Some(&token))
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = app
        .call(
            Method::POST,
            "/api/backups",
            Some(json!({"name": "named-1.zip"})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 204, "{body}");

    let (_, list) = app
        .call(Method::GET, "/api/backups", None, Some(&token))
        .await;
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    let auto = &items[0];
    assert!(auto["key"].as_str().unwrap().starts_with("hearth_backup_"));
    assert_eq!(items[1]["key"], "named-1.zip");
    for item in items {
        let mut keys: Vec<_> = item.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["key", "modified", "size"]);
        assert!(item["size"].as_u64().unwrap() > 100);
        assert!(item["modified"].as_str().unwrap().ends_with('Z'));
    }

    let res = app
        .get(&format!(
            "/api/backups/named-1.zip?token={}",
            file_token(&app, &token).await
        ))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let bytes = res.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, items[1]["size"].as_u64().unwrap());
    assert_eq!(ids_in_archive(&bytes, "notes"), vec![id]);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut names: Vec<_> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["auxiliary.db", "data.db", "storage/abc/file.txt"]);
    let mut text = String::new();
    zip.by_name("storage/abc/file.txt")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "hello");

    let (status, _) = app
        .call(
            Method::DELETE,
            "/api/backups/named-1.zip",
            None,
            Some(&token),
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = app
        .call(
            Method::DELETE,
            "/api/backups/named-1.zip",
            None,
            Some(&token),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "Invalid or already deleted backup file.");
    assert_eq!(backup_keys(&app, &token).await.len(), 1);
}

#[tokio::test]
async fn names_and_keys_follow_pocketbase_rules_and_stay_in_the_folder() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    for (name, code) in [
        ("Upper.zip", "validation_match_invalid"),
        ("no-suffix", "validation_match_invalid"),
        ("../escape.zip", "validation_match_invalid"),
        ("a/b.zip", "validation_match_invalid"),
    ] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/backups",
                Some(json!({ "name": name })),
                Some(&token),
            )
            .await;
        assert_eq!(status, 400, "{name}: {body}");
        assert_eq!(
            body["message"],
            "An error occurred while validating the submitted data."
        );
        assert_eq!(body["data"]["name"]["code"], code, "{name}: {body}");
    }
    app.call(
        Method::POST,
        "/api/backups",
        Some(json!({"name": "twice.zip"})),
        Some(&token),
    )
    .await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/backups",
            Some(json!({"name": "twice.zip"})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["data"]["name"]["code"],
        "validation_backup_name_exists"
    );
    let (status, _) = app
        .call(
            Method::POST,
            "/api/backups",
            Some(json!({"name": 5})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 400);

    // Keys that would reach outside backups/ (or name nothing) find nothing.
    let ft = file_token(&app, &token).await;
    for key in [
        "..%2Fdata.db",
        "%2E%2E%2Fdata.db",
        ".lock",
        "missing.zip",
        "..%2F..%2Fetc%2Fpasswd",
    ] {
        let (status, _) = app
            .call(
                Method::GET,
                &format!("/api/backups/{key}?token={ft}"),
                None,
                None,
            )
            .await;
        assert_eq!(status, 404, "download {key}");
        let (status, body) = app
            .call(
                Method::DELETE,
                &format!("/api/backups/{key}"),
                None,
                Some(&token),
            )
            .await;
        assert_eq!(status, 400, "delete {key}: {body}");
        let (status, body) = app
            .call(
                Method::POST,
                &format!("/api/backups/{key}/restore"),
                None,
                Some(&token),
            )
            .await;
        assert_eq!(status, 400, "restore {key}: {body}");
        assert_eq!(body["message"], "Missing or invalid backup file.");
    }
    assert!(app.dir.path().join("data.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_32_writers_holds_every_write_acknowledged_before_it() {
    let app = Arc::new(spawn_app_with_filler().await);
    let token = app.superuser_token().await;
    notes(&app, &token).await;

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(std::sync::Mutex::new(Vec::<(Instant, String)>::new()));
    let errors = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..32 {
        let (app, stop, acked, errors) = (app.clone(), stop.clone(), acked.clone(), errors.clone());
        writers.push(tokio::spawn(async move {
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                k += 1;
                let res = app
                    .api
                    .post(app.url("/api/collections/notes/records"))
                    .json(&json!({ "text": format!("w{w}-{k}") }))
                    .send()
                    .await
                    .unwrap();
                if res.status().is_success() {
                    let body: Value = res.json().await.unwrap();
                    let id = body["id"].as_str().unwrap().to_owned();
                    acked.lock().unwrap().push((Instant::now(), id));
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    wait_until(
        Duration::from_secs(20),
        "the writers to get going",
        async || acked.lock().unwrap().len() >= 32,
    )
    .await;

    let started = Instant::now();
    let (status, body) = app
        .call(
            Method::POST,
            "/api/backups",
            Some(json!({"name": "busy.zip"})),
            Some(&token),
        )
        .await;
    let finished = Instant::now();
    assert_eq!(status, 204, "{body}");
    wait_until(
        Duration::from_secs(20),
        "a write after the backup",
        async || acked.lock().unwrap().iter().any(|(t, _)| *t >= finished),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }

    let acked = acked.lock().unwrap().clone();
    let before: Vec<_> = acked.iter().filter(|(t, _)| *t < started).collect();
    let during = acked
        .iter()
        .filter(|(t, _)| *t >= started && *t < finished)
        .count();
    assert!(!before.is_empty());
    assert!(
        during > 0,
        "the server kept answering writes during the backup"
    );
    assert_eq!(errors.load(Ordering::Relaxed), 0, "no write failed");
    eprintln!(
        "backup took {:?}; {} writes before it, {during} during it",
        finished - started,
        before.len()
    );

    let res = app
        .get(&format!(
            "/api/backups/busy.zip?token={}",
            file_token(&app, &token).await
        ))
        .await;
    let in_backup: std::collections::HashSet<String> =
        ids_in_archive(&res.bytes().await.unwrap(), "notes")
            .into_iter()
            .collect();
    for (_, id) in before {
        assert!(in_backup.contains(id), "acknowledged write {id} missing");
    }
}

/// A server whose data.db holds ~24 MB of filler, so a backup takes a moment.
async fn spawn_app_with_filler() -> TestApp {
    let app = spawn_app().await;
    app.db
        .data
        .write(|tx| {
            tx.execute_batch(
                "CREATE TABLE filler (b BLOB);
                 WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 12000)
                 INSERT INTO filler SELECT randomblob(2000) FROM c;",
            )?;
            Ok(())
        })
        .unwrap();
    app
}

#[tokio::test]
async fn cli_creates_lists_and_restores_but_not_under_a_running_server() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    notes(&app, &token).await;
    add_note(&app, "x").await;

    let out = app.hearth(&["backup", "create", "cli.zip"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("cli.zip"));
    let out = app.hearth(&["backup", "list"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("cli.zip"));
    assert_eq!(backup_keys(&app, &token).await, ["cli.zip"]);

    let out = app.hearth(&["backup", "restore", "cli.zip"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("in use by a running hearth server"), "{err}");

    let out = app.hearth(&["backup", "create", "Bad Name"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
}

#[tokio::test]
async fn admin_page_creates_downloads_restores_and_deletes() {
    let app = spawn_app().await;
    let (browser, _) = app.admin_browser().await;

    // Guests are sent to sign in.
    let res = app.get("/_/backups").await;
    assert_eq!(res.status(), 303);

    let page = browser.get(app.url("/_/backups")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("No backups yet"));
    // Forms carry the token of a page rendered for this session, not the sign-in page's.
    let csrf = csrf_token(&html);
    assert!(html.contains(r#"href="/_/backups" aria-current="page""#));

    // A forged token changes nothing.
    let res = browser
        .post(app.url("/_/backups"))
        .form(&[("csrf", "forged"), ("name", "x.zip")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = browser
        .post(app.url("/_/backups"))
        .form(&[("csrf", csrf.as_str()), ("name", "Bad Name")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Must be in a valid format.")
    );

    let res = browser
        .post(app.url("/_/backups"))
        .form(&[("csrf", csrf.as_str()), ("name", "ui.zip")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/_/backups");
    let html = browser
        .get(app.url("/_/backups"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Backup ui.zip created."));
    assert!(html.contains(r#"href="/_/backups/ui.zip/download""#));

    let res = browser
        .get(app.url("/_/backups/ui.zip/download"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.bytes().await.unwrap().starts_with(b"PK"));
    let res = browser
        .get(app.url("/_/backups/nope.zip/download"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    for action in ["restore", "delete"] {
        let page = browser
            .get(app.url(&format!("/_/backups/ui.zip/{action}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains(&format!(r#"action="/_/backups/ui.zip/{action}""#)));
        let res = browser
            .post(app.url(&format!("/_/backups/ui.zip/{action}")))
            .form(&[("csrf", "forged")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{action} with a forged token");
    }
    let res = browser
        .post(app.url("/_/backups/ui.zip/restore"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "restore");
    let res = browser
        .post(app.url("/_/backups/ui.zip/delete"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "delete");
    assert!(!app.dir.path().join("backups/ui.zip").exists());
}

#[tokio::test]
async fn the_schedule_setting_takes_five_field_cron_expressions() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    for bad in ["nope", "0 0 3 * * *", "61 * * * *"] {
        let (status, body) = app
            .call(
                Method::PATCH,
                "/api/settings",
                Some(json!({"backups": {"cron": bad}})),
                Some(&token),
            )
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(
            body["data"]["backups"]["cron"]["code"],
            "validation_invalid_cron"
        );
    }
    let (status, body) = app
        .call(
            Method::PATCH,
            "/api/settings",
            Some(json!({"backups": {"cron": "0 3 * * *", "cronMaxKeep": 0}})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["data"]["backups"]["cronMaxKeep"].is_object());
    let (status, body) = app
        .call(
            Method::PATCH,
            "/api/settings",
            Some(json!({"backups": {"cron": "0 3 * * *", "cronMaxKeep": 2}})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["backups"]["cron"], "0 3 * * *");
    let html = {
        let browser = app.browser();
        app.sign_in_browser(&browser, ADMIN_PASSWORD).await;
        browser
            .get(app.url("/_/backups"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert!(html.contains("Scheduled: <code>0 3 * * *</code> (UTC), keeping the newest 2."));
}
