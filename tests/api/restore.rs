//! Restores: bringing back exactly the backup's data (through the API, an uploaded archive
//! and the CLI), and bad archives (garbage, corrupt, links, devices, absolute paths)
//! refused with nothing swapped in.

use std::io::Write;

use reqwest::Method;
use serde_json::{Value, json};

use crate::backups::{add_note, backup_keys, note_texts};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, hearth_cli, notes, spawn_app};

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
