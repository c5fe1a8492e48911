//! Files past one upload part (8 MiB) go to the bucket in parts, several at once: they
//! come back byte for byte, ranges across a part boundary included; a bucket lost while
//! the parts go up fails the save and leaves nothing behind.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::files::{Server, file, s};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, spawn_app};
use crate::s3_files::link;
use crate::s3_server::{S3Server, start_s3, weed_bin};

const PART: usize = 8 * 1024 * 1024;

/// hearth with a `big` collection (one file field up to 64 MiB) whose files go to `endpoint`.
async fn hearth_on(s3: &S3Server, endpoint: &str) -> (TestApp, Server) {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let server = Server::signed_in(&app.address).await;
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/collections",
            json!({"name": "big", "listRule": "", "viewRule": "", "createRule": "",
                "fields": [{"name": "file", "type": "file", "maxSelect": 1,
                    "maxSize": 64 * 1024 * 1024}]}),
            true,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut settings = s3.settings(&s3.bucket);
    settings["endpoint"] = json!(endpoint);
    server.use_s3(settings).await;
    (app, server)
}

/// Bytes whose every part differs from the others, so parts joined in the wrong order or
/// one sent twice show.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / PART) as u8)
        .collect()
}

#[tokio::test]
async fn a_file_past_one_part_goes_up_in_parts_and_comes_back_whole() {
    let Some(weed) = weed_bin() else { return };
    let s3 = start_s3(&weed).await;
    let (_app, server) = hearth_on(&s3, &s3.endpoint).await;
    let bytes = pattern(3 * PART + 1234);
    let form = Form::new().part("file", file(bytes.clone(), "big.bin"));
    let (status, rec) = server
        .send_form(Method::POST, "/api/collections/big/records", form, false)
        .await;
    assert_eq!(status, 200, "{rec}");
    let keys = s3.keys(&s3.bucket).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].ends_with(&s(&rec["file"])), "{keys:?}");

    let url = format!("/api/files/big/{}/{}", s(&rec["id"]), s(&rec["file"]));
    let res = server.get(&url).await;
    assert_eq!(res.status(), 200);
    let back = res.bytes().await.unwrap();
    assert_eq!(back.len(), bytes.len());
    assert!(back[..] == bytes[..], "the file comes back as it went up");

    // A range across the boundary of the first and second part.
    let (from, to) = (PART - 5, PART + 4);
    let res = server
        .client
        .get(server.url(&url))
        .header("Range", format!("bytes={from}-{to}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.bytes().await.unwrap()[..], bytes[from..=to]);
}

#[tokio::test]
async fn a_bucket_lost_while_parts_go_up_leaves_nothing() {
    let Some(weed) = weed_bin() else { return };
    let s3 = start_s3(&weed).await;
    // Every connection is cut after 3 MiB went up: each part is lost mid-way.
    let cut = link(
        &s3.endpoint,
        64 * 1024 * 1024,
        3 * 1024 * 1024,
        Arc::new(AtomicBool::new(true)),
    )
    .await;
    let (app, server) = hearth_on(&s3, &cut).await;
    let form = Form::new().part("file", file(pattern(2 * PART + 1), "big.bin"));
    let (status, body) = server
        .send_form(Method::POST, "/api/collections/big/records", form, false)
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["message"], "Failed to create record.");
    let (_, list) = server
        .send_json(
            Method::GET,
            "/api/collections/big/records",
            Value::Null,
            false,
        )
        .await;
    assert_eq!(list["totalItems"], 0);
    let mut keys = s3.keys(&s3.bucket).await;
    for _ in 0..50 {
        if keys.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        keys = s3.keys(&s3.bucket).await;
    }
    assert!(keys.is_empty(), "left in the bucket: {keys:?}");
    let waiting = std::fs::read_dir(app.dir.path().join("storage/.uploads"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(waiting, 0, "uploads left in storage/.uploads");
}
