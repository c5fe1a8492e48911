//! Backups through the API, the admin pages and the CLI: who may, PocketBase's names and
//! answers, an online backup under 32 writers holding every write acknowledged before it,
//! restore bringing back exactly the backup's data, and bad archives refused untouched.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, csrf_token, hearth_cli, spawn_app};

/// A public `notes` collection (anyone may list and create).
async fn notes(app: &TestApp, token: &str) {
    let (status, body) = app
        .call(
            Method::POST,
            "/api/collections",
            Some(json!({
                "name": "notes", "listRule": "", "viewRule": "", "createRule": "",
                "fields": [{"name": "text", "type": "text"}]
            })),
            Some(token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn add_note(app: &TestApp, text: &str) -> String {
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

async fn note_texts(app: &TestApp) -> Vec<String> {
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

async fn backup_keys(app: &TestApp, token: &str) -> Vec<String> {
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
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

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
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
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
async fn restore_brings_back_exactly_the_backups_data() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    notes(&app, &token).await;
    add_note(&app, "a").await;
    add_note(&app, "b").await;
    std::fs::write(app.dir.path().join("storage/old.txt"), "old").unwrap();
    app.call(
        Method::POST,
        "/api/backups",
        Some(json!({"name": "snap.zip"})),
        Some(&token),
    )
    .await;

    add_note(&app, "c").await;
    std::fs::write(app.dir.path().join("storage/new.txt"), "new").unwrap();
    // A collection made after the backup disappears with the restore.
    let (status, _) = app
        .call(
            Method::POST,
            "/api/collections",
            Some(json!({"name": "later", "listRule": ""})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(note_texts(&app).await, ["a", "b", "c"]);

    let (status, body) = app
        .call(
            Method::POST,
            "/api/backups/snap.zip/restore",
            None,
            Some(&token),
        )
        .await;
    assert_eq!(status, 204, "{body}");

    assert_eq!(note_texts(&app).await, ["a", "b"]);
    let (status, _) = app
        .call(Method::GET, "/api/collections/later/records", None, None)
        .await;
    assert_eq!(status, 404, "the collection made after the backup is gone");
    assert!(app.dir.path().join("storage/old.txt").exists());
    assert!(!app.dir.path().join("storage/new.txt").exists());
    assert!(
        app.dir.path().join("storage/.uploads").is_dir(),
        "uploads still have their folder"
    );
    // Writes go on against the restored data.
    add_note(&app, "d").await;
    assert_eq!(note_texts(&app).await, ["a", "b", "d"]);
    // What was there before is kept aside, never listed.
    let kept: Vec<_> = std::fs::read_dir(app.dir.path().join("backups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".before_restore_"))
        .collect();
    assert_eq!(kept.len(), 1);
    let kept = app.dir.path().join("backups").join(&kept[0]);
    assert!(kept.join("data.db").is_file());
    assert!(kept.join("storage/new.txt").is_file());
    assert_eq!(backup_keys(&app, &token).await, ["snap.zip"]);
    let check = app.hearth(&["check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[tokio::test]
async fn a_bad_archive_is_refused_and_nothing_is_swapped() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    notes(&app, &token).await;
    add_note(&app, "stays").await;
    let backups = app.dir.path().join("backups");
    std::fs::write(backups.join("garbage.zip"), b"this is not a zip").unwrap();
    // A real zip without the databases.
    let mut zip = zip::ZipWriter::new(std::fs::File::create(backups.join("empty.zip")).unwrap());
    zip.start_file("readme.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"hi").unwrap();
    zip.finish().unwrap();
    // A zip whose data.db is not a database.
    let mut zip = zip::ZipWriter::new(std::fs::File::create(backups.join("corrupt.zip")).unwrap());
    for name in ["data.db", "auxiliary.db"] {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(&[7u8; 8192]).unwrap();
    }
    zip.finish().unwrap();
    // A valid archive whose data.db was truncated half-way.
    app.call(
        Method::POST,
        "/api/backups",
        Some(json!({"name": "good.zip"})),
        Some(&token),
    )
    .await;
    let good = std::fs::read(backups.join("good.zip")).unwrap();
    std::fs::write(backups.join("cut.zip"), &good[..good.len() / 2]).unwrap();

    for key in ["garbage.zip", "empty.zip", "corrupt.zip", "cut.zip"] {
        let (status, body) = app
            .call(
                Method::POST,
                &format!("/api/backups/{key}/restore"),
                None,
                Some(&token),
            )
            .await;
        assert_eq!(status, 400, "{key}: {body}");
        assert_eq!(body["status"], 400);
        assert_eq!(note_texts(&app).await, ["stays"], "{key} changed the data");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n != ".lock")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
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
async fn cli_restore_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = hearth_cli(dir.path(), args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    run(&["superuser", "upsert", ADMIN_EMAIL, ADMIN_PASSWORD]);
    run(&["backup", "create", "one.zip"]);
    run(&["superuser", "upsert", "second@example.com", ADMIN_PASSWORD]);
    let out = run(&["backup", "restore", "one.zip"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Restored one.zip"));
    run(&["check"]);
    let out = hearth_cli(dir.path(), &["superuser", "delete", "second@example.com"]);
    assert!(
        !out.status.success(),
        "the superuser added after the backup is gone"
    );
    let out = hearth_cli(dir.path(), &["backup", "restore", "nope.zip"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Missing or invalid backup file."));
}

#[tokio::test]
async fn admin_page_creates_downloads_restores_and_deletes() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let browser = app.browser();
    let page = browser.get(app.url("/_/login")).send().await.unwrap();
    let csrf = csrf_token(&page.text().await.unwrap());
    let res = browser
        .post(app.url("/_/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);

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
        let (browser, _) = (app.browser(), ());
        let page = browser.get(app.url("/_/login")).send().await.unwrap();
        let csrf = csrf_token(&page.text().await.unwrap());
        browser
            .post(app.url("/_/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
            ])
            .send()
            .await
            .unwrap();
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

/// A multipart body with one file field.
fn multipart(field: &str, filename: &str, bytes: &[u8]) -> (Vec<u8>, String) {
    let boundary = "hearthboundary7d3f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: application/zip\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

async fn upload(
    app: &TestApp,
    token: Option<&str>,
    field: &str,
    name: &str,
    bytes: &[u8],
) -> (u16, Value) {
    let (body, content_type) = multipart(field, name, bytes);
    let mut req = app
        .api
        .post(app.url("/api/backups/upload"))
        .header("Content-Type", content_type)
        .body(body);
    if let Some(t) = token {
        req = req.header("Authorization", t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_uploaded_archive_is_listed_and_restores() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    notes(&app, &token).await;
    add_note(&app, "one").await;
    app.call(
        Method::POST,
        "/api/backups",
        Some(json!({"name": "orig.zip"})),
        Some(&token),
    )
    .await;
    let bytes = std::fs::read(app.dir.path().join("backups/orig.zip")).unwrap();
    add_note(&app, "two").await;

    assert_eq!(upload(&app, None, "file", "up.zip", &bytes).await.0, 401);
    let (status, body) = upload(&app, Some(&token), "file", "up.zip", &bytes).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(backup_keys(&app, &token).await, ["orig.zip", "up.zip"]);

    let (status, body) = upload(&app, Some(&token), "file", "up.zip", &bytes).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["data"]["file"]["code"],
        "validation_backup_name_exists"
    );
    let (status, body) = upload(&app, Some(&token), "file", "text.zip", b"plain text").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["data"]["file"]["code"], "validation_invalid_mime_type");
    let (status, body) = upload(&app, Some(&token), "other", "x.zip", &bytes).await;
    assert_eq!(status, 400);
    assert_eq!(body["data"]["file"]["code"], "validation_required");
    for name in ["../escape.zip", ".hidden.zip", "a/b.zip", "not-a-zip.txt"] {
        let (status, body) = upload(&app, Some(&token), "file", name, &bytes).await;
        assert_eq!(status, 400, "{name}: {body}");
    }
    assert!(!app.dir.path().join("escape.zip").exists());
    assert_eq!(backup_keys(&app, &token).await, ["orig.zip", "up.zip"]);

    let (status, _) = app
        .call(
            Method::POST,
            "/api/backups/up.zip/restore",
            None,
            Some(&token),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(note_texts(&app).await, ["one"]);
}

/// The entries of the zip `good`, copied as they are, then whatever `extra` adds.
fn archive_with(
    good: &[u8],
    extra: impl FnOnce(&mut zip::ZipWriter<std::io::Cursor<Vec<u8>>>),
) -> Vec<u8> {
    let mut src = zip::ZipArchive::new(std::io::Cursor::new(good)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..src.len() {
        out.raw_copy_file(src.by_index_raw(i).unwrap()).unwrap();
    }
    extra(&mut out);
    out.finish().unwrap().into_inner()
}

/// Sets the unix file type and mode of entry `name` in the central directory (what the zip
/// writer will not do for devices and fifos), as a crafted archive would carry it.
fn set_unix_mode(zip_bytes: &mut [u8], name: &str, mode: u32) {
    let mut at = 0;
    while let Some(i) = zip_bytes[at..].windows(4).position(|w| w == b"PK\x01\x02") {
        let h = at + i;
        let name_len = u16::from_le_bytes([zip_bytes[h + 28], zip_bytes[h + 29]]) as usize;
        if &zip_bytes[h + 46..h + 46 + name_len] == name.as_bytes() {
            zip_bytes[h + 5] = 3; // made by: Unix
            zip_bytes[h + 38..h + 42].copy_from_slice(&(mode << 16).to_le_bytes());
            return;
        }
        at = h + 4;
    }
    panic!("no central directory entry {name}");
}

#[tokio::test]
async fn an_archive_with_links_devices_or_absolute_paths_is_refused_untouched() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    notes(&app, &token).await;
    add_note(&app, "stays").await;
    let backups = app.dir.path().join("backups");
    app.call(
        Method::POST,
        "/api/backups",
        Some(json!({"name": "good.zip"})),
        Some(&token),
    )
    .await;
    let good = std::fs::read(backups.join("good.zip")).unwrap();
    let file = zip::write::SimpleFileOptions::default();
    let plain = |name: &'static str| {
        move |z: &mut zip::ZipWriter<std::io::Cursor<Vec<u8>>>| {
            z.start_file(name, file.unix_permissions(0o644)).unwrap();
            z.write_all(b"x").unwrap();
        }
    };
    let mut crafted: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "link-in-storage.zip",
            archive_with(&good, |z| {
                z.add_symlink("storage/passwd", "/etc/passwd", file)
                    .unwrap()
            }),
            "symbolic link",
        ),
        (
            "link-as-storage.zip",
            archive_with(&good, |z| {
                z.add_symlink("storage", "/tmp", file).unwrap();
                z.start_file("storage/x.txt", file).unwrap();
                z.write_all(b"x").unwrap();
            }),
            "symbolic link",
        ),
        (
            "link-elsewhere.zip",
            archive_with(&good, |z| {
                z.add_symlink("notes.txt", "/etc/shadow", file).unwrap()
            }),
            "symbolic link",
        ),
        (
            "absolute.zip",
            archive_with(&good, plain("/storage/abs.txt")),
            "path",
        ),
        (
            "dotdot.zip",
            archive_with(&good, plain("storage/../../escape.txt")),
            "path",
        ),
        (
            "backslash.zip",
            archive_with(&good, plain("storage\\..\\..\\escape.txt")),
            "path",
        ),
        (
            "file-and-folder.zip",
            archive_with(&good, |z| {
                plain("storage/a")(z);
                plain("storage/a/b")(z);
            }),
            "both a file and a folder",
        ),
    ];
    for (key, mode, what) in [
        ("chardev.zip", 0o020644, "device"),
        ("blockdev.zip", 0o060644, "device"),
        ("fifo.zip", 0o010644, "fifo"),
        ("socket.zip", 0o140644, "socket"),
    ] {
        let mut bytes = archive_with(&good, plain("storage/special"));
        set_unix_mode(&mut bytes, "storage/special", mode);
        crafted.push((key, bytes, what));
    }
    for (key, bytes, _) in &crafted {
        std::fs::write(backups.join(key), bytes).unwrap();
    }
    add_note(&app, "after the backup").await;

    for (key, _, what) in &crafted {
        let (status, body) = app
            .call(
                Method::POST,
                &format!("/api/backups/{key}/restore"),
                None,
                Some(&token),
            )
            .await;
        assert_eq!(status, 400, "{key}: {body}");
        assert_eq!(body["status"], 400);
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("The backup is not a valid hearth backup")
                && message.contains(what),
            "{key}: {message}"
        );
        let mut notes = note_texts(&app).await;
        notes.sort();
        assert_eq!(
            notes,
            ["after the backup", "stays"],
            "{key} changed the data"
        );
    }
    let storage = app.dir.path().join("storage");
    for gone in ["passwd", "x.txt", "abs.txt", "special", "a"] {
        assert!(!storage.join(gone).exists(), "{gone} was unpacked");
    }
    assert!(!storage.is_symlink());
    assert!(!app.dir.path().join("escape.txt").exists());
    let leftovers: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n != ".lock")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The genuine archive still restores.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/backups/good.zip/restore",
            None,
            Some(&token),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(note_texts(&app).await, ["stays"]);
}
