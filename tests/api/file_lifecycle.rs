//! Stored files follow their record: replaced and removed files go after the commit, deleting
//! a record or its collection deletes its files, a change refused by a rule (or a failed batch)
//! leaves the disk as it was.

use std::path::PathBuf;

use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::json;

use crate::files::{Server, file, hearth, png, s, stored};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, spawn_app};

#[tokio::test]
async fn files_follow_their_record_through_updates_and_deletion() {
    let (app, server) = hearth().await;
    let (_, rec) = server
        .send_form(
            Method::POST,
            "/api/collections/docs/records",
            Form::new()
                .part("files", file(png(2, 2), "a.png"))
                .part("files", file(b"b".to_vec(), "b.txt"))
                .part("image", file(png(8, 8), "img.png")),
            false,
        )
        .await;
    let id = s(&rec["id"]);
    let record = format!("/api/collections/docs/records/{id}");
    let dir = app
        .dir
        .path()
        .join("storage")
        .join(s(&rec["collectionId"]))
        .join(&id);
    let (a, b) = (s(&rec["files"][0]), s(&rec["files"][1]));
    let old_image = s(&rec["image"]);
    // A thumbnail, which must go with its file.
    server
        .get(&format!("/api/files/docs/{id}/{old_image}?thumb=50x50"))
        .await;
    assert!(dir.join(format!("thumbs_{old_image}")).exists());

    // Append.
    let (status, rec) = server
        .send_form(
            Method::PATCH,
            &record,
            Form::new().part("files+", file(b"c".to_vec(), "c.txt")),
            false,
        )
        .await;
    assert_eq!(status, 200, "{rec}");
    let c = s(&rec["files"][2]);
    assert_eq!(rec["files"], json!([a, b, c]));
    // Remove by name.
    let (_, rec) = server
        .send_json(Method::PATCH, &record, json!({"files-": [a]}), false)
        .await;
    assert_eq!(rec["files"], json!([b, c]));
    assert!(!dir.join(&a).exists());
    // Keep one, add one, under the plain key.
    let (_, rec) = server
        .send_form(
            Method::PATCH,
            &record,
            Form::new()
                .text("files", b.clone())
                .part("files", file(b"d".to_vec(), "d.txt")),
            false,
        )
        .await;
    let d = s(&rec["files"][1]);
    assert_eq!(rec["files"], json!([b, d]));
    assert!(!dir.join(&c).exists());
    // Replace the single image: the old one and its thumbnails go.
    let (_, rec) = server
        .send_form(
            Method::PATCH,
            &record,
            Form::new().part("image", file(png(8, 8), "new.png")),
            false,
        )
        .await;
    assert_ne!(s(&rec["image"]), old_image);
    assert!(!dir.join(&old_image).exists());
    assert!(!dir.join(format!("thumbs_{old_image}")).exists());
    // A failed update keeps the old files and leaves no new one.
    let before = stored(&app);
    let (status, _) = server
        .send_form(
            Method::PATCH,
            &record,
            Form::new()
                .part("files", file(png(2, 2), "e.png"))
                .part("image", file(vec![b'x'; 5000], "huge.png")),
            false,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(stored(&app), before);
    // Clearing with an empty list.
    let (_, rec) = server
        .send_json(Method::PATCH, &record, json!({"files": []}), false)
        .await;
    assert_eq!(rec["files"], json!([]));
    assert!(!dir.join(&b).exists() && !dir.join(&d).exists());
    // Deleting the record deletes its folder.
    let (status, _) = server
        .send_json(Method::DELETE, &record, json!({}), false)
        .await;
    assert_eq!(status, 204);
    assert!(!dir.exists());
    assert_eq!(stored(&app), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn deleting_a_collection_deletes_its_files() {
    let (app, server) = hearth().await;
    server
        .send_form(
            Method::POST,
            "/api/collections/docs/records",
            Form::new().part("files", file(b"x".to_vec(), "x.txt")),
            false,
        )
        .await;
    assert_eq!(stored(&app).len(), 1);
    let (status, _) = server
        .send_json(Method::DELETE, "/api/collections/docs", json!({}), true)
        .await;
    assert_eq!(status, 204);
    assert_eq!(stored(&app), Vec::<PathBuf>::new());
}

/// Files are moved into place inside the write transaction; a create rule that fails after
/// the insert rolls the record back, and the files with it.
#[tokio::test]
async fn a_failed_rule_rolls_back_the_files_too() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let server = Server::signed_in(&app.address).await;
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/collections",
            json!({"name": "guarded", "createRule": "title = 'ok'", "updateRule": "title = 'ok'",
                   "viewRule": "", "fields": [
                {"name": "title", "type": "text"},
                {"name": "files", "type": "file", "maxSelect": 5},
            ]}),
            true,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let create = "/api/collections/guarded/records";
    let (status, body) = server
        .send_form(
            Method::POST,
            create,
            Form::new()
                .text("title", "no")
                .part("files", file(b"x".to_vec(), "x.txt")),
            false,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], "Failed to create record.");
    assert_eq!(stored(&app), Vec::<PathBuf>::new());

    let (status, rec) = server
        .send_form(
            Method::POST,
            create,
            Form::new()
                .text("title", "ok")
                .part("files", file(b"x".to_vec(), "x.txt")),
            false,
        )
        .await;
    assert_eq!(status, 200, "{rec}");
    let before = stored(&app);
    // Once the stored title fails the update rule, an update with files is a 404 that
    // leaves storage as it was.
    let record = format!("{create}/{}", s(&rec["id"]));
    server
        .send_json(Method::PATCH, &record, json!({"title": "changed"}), true)
        .await;
    let (status, _) = server
        .send_form(
            Method::PATCH,
            &record,
            Form::new().part("files+", file(b"y".to_vec(), "y.txt")),
            false,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(stored(&app), before);
}

/// A batch that clears a file field and deletes a record leaves none of their files.
#[tokio::test]
async fn batch_changes_remove_files_after_the_commit() {
    let (app, server) = hearth().await;
    let (status, body) = server
        .send_json(
            Method::PATCH,
            "/api/settings",
            json!({"batch": {"enabled": true, "maxRequests": 10}}),
            true,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let form = Form::new().part("files", file(b"x".to_vec(), "x.txt"));
        let (_, rec) = server
            .send_form(Method::POST, "/api/collections/docs/records", form, false)
            .await;
        ids.push(s(&rec["id"]));
    }
    assert_eq!(stored(&app).len(), 2);
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/batch",
            json!({"requests": [
                {"method": "PATCH", "url": format!("/api/collections/docs/records/{}", ids[0]),
                 "body": {"files": []}},
                {"method": "DELETE", "url": format!("/api/collections/docs/records/{}", ids[1])},
            ]}),
            false,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stored(&app), Vec::<PathBuf>::new());
}
