//! Files in an S3 bucket (SeaweedFS, started by the test), side by side with PocketBase on
//! the same settings (a bucket each): the keys each server writes, downloads with ranges and
//! conditional requests, thumbnails, protected files, replaced and deleted files leaving
//! the bucket, and the S3 connection test.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::files::{Server, file, hearth, png, s};
use crate::s3_server::{S3Server, start_s3, weed_bin};

#[tokio::test]
async fn files_in_a_bucket_behave_as_in_pocketbase() {
    let Some(weed) = weed_bin() else { return };
    let Some(bin) = crate::compat::pocketbase_bin() else {
        return;
    };
    let s3 = start_s3(&weed).await;
    s3.create_bucket("pb-files").await;
    let pb = crate::compat::start_pocketbase(&bin).await;
    let (app, hearth) = hearth().await;
    let pocketbase = Server::signed_in(&pb.address).await;
    pocketbase.create_docs().await;

    let (h, revalidated) = scenario(&hearth, &s3, &s3.bucket).await;
    let (p, _) = scenario(&pocketbase, &s3, "pb-files").await;
    let mut mismatches = Vec::new();
    for ((name, hv), (_, pv)) in h.iter().zip(&p) {
        if hv != pv {
            mismatches.push(format!("{name}:\n  hearth     {hv}\n  pocketbase {pv}"));
        }
    }
    assert_eq!(h.len(), p.len());
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(
        revalidated,
        Some(304),
        "an unchanged file revalidates by its ETag"
    );
    // Nothing of it went to hearth's disk.
    let on_disk = crate::files::stored(&app);
    assert!(on_disk.is_empty(), "files on disk: {on_disk:?}");
}

/// The bucket's keys with the collection id, record id and stored names replaced by what
/// they stand for.
fn named(keys: Vec<String>, names: &[(&str, String)]) -> Vec<String> {
    let mut out: Vec<String> = keys
        .into_iter()
        .map(|mut k| {
            for (label, value) in names {
                if !value.is_empty() {
                    k = k.replace(value.as_str(), label);
                }
            }
            k
        })
        .collect();
    out.sort();
    out
}

/// Waits (a few seconds at most) until `keys` of `bucket` hold none with `gone` in them:
/// removals after a commit run in the background.
async fn settled(s3: &S3Server, bucket: &str, gone: &str) -> Vec<String> {
    for _ in 0..50 {
        let keys = s3.keys(bucket).await;
        if !keys.iter().any(|k| k.contains(gone)) {
            return keys;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s3.keys(bucket).await
}

/// The steps to compare, and the status of a request revalidating the image by its ETag
/// (None without an ETag).
async fn scenario(
    server: &Server,
    s3: &S3Server,
    bucket: &str,
) -> (Vec<(&'static str, Value)>, Option<u16>) {
    let mut out = Vec::new();
    let (status, body) = server
        .send_json(
            Method::PATCH,
            "/api/settings",
            json!({"s3": s3.settings(bucket)}),
            true,
        )
        .await;
    out.push(("enable s3", json!([status, body["s3"]["secret"]])));
    for filesystem in ["storage", "backups", "nope"] {
        let (status, body) = server
            .send_json(
                Method::POST,
                "/api/settings/test/s3",
                json!({ "filesystem": filesystem }),
                true,
            )
            .await;
        out.push(("test s3", json!([filesystem, status, body])));
    }

    let original = png(80, 40);
    let form = Form::new()
        .text("title", "t")
        .part("image", file(original.clone(), "Photo.png"))
        .part(
            "files",
            file(b"hello from a bucket\n".to_vec(), "notes.txt"),
        )
        .part("secret", file(b"s3cret".to_vec(), "s.txt"));
    let (status, rec) = server
        .send_form(Method::POST, "/api/collections/docs/records", form, false)
        .await;
    out.push(("create", json!(status)));
    let (_, docs) = server
        .send_json(Method::GET, "/api/collections/docs", Value::Null, true)
        .await;
    let id = s(&rec["id"]);
    let names = [
        ("COLLECTION", s(&docs["id"])),
        ("RECORD", id.clone()),
        ("IMG", s(&rec["image"])),
        ("TXT", s(&rec["files"][0])),
        ("SECRET", s(&rec["secret"])),
    ];
    out.push(("keys", json!(named(s3.keys(bucket).await, &names))));

    let url = |name: &Value, query: &str| format!("/api/files/docs/{id}/{}{query}", s(name));
    let headers = |res: &reqwest::Response| {
        let h = |k: &str| {
            res.headers()
                .get(k)
                .map(|v| named(vec![v.to_str().unwrap().to_owned()], &names))
        };
        json!({
            "status": res.status().as_u16(),
            "type": h("content-type"),
            "length": h("content-length"),
            "disposition": h("content-disposition"),
            "range": h("content-range"),
        })
    };
    let res = server.get(&url(&rec["image"], "")).await;
    let etag = res
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    out.push(("image", headers(&res)));
    out.push(("image bytes", json!(res.bytes().await.unwrap() == original)));

    let res = server
        .client
        .get(server.url(&url(&rec["files"][0], "")))
        .header("Range", "bytes=6-9")
        .send()
        .await
        .unwrap();
    out.push(("range", headers(&res)));
    out.push(("range bytes", json!(res.text().await.unwrap())));
    // PocketBase sends no ETag for a file in a bucket; hearth passes the bucket's on, and
    // the bucket answers a conditional request.
    let revalidated = match etag {
        Some(etag) => {
            let res = server
                .client
                .get(server.url(&url(&rec["image"], "")))
                .header("If-None-Match", etag)
                .send()
                .await
                .unwrap();
            Some(res.status().as_u16())
        }
        None => None,
    };

    let res = server.get(&url(&rec["image"], "?thumb=50x50")).await;
    let head = headers(&res);
    let bytes = res.bytes().await.unwrap();
    let size = image::load_from_memory(&bytes)
        .map(|i| [i.width(), i.height()])
        .ok();
    out.push(("thumb", json!([head["status"], head["type"], size])));
    out.push((
        "keys with a thumb",
        json!(named(s3.keys(bucket).await, &names)),
    ));

    let res = server.get(&url(&rec["secret"], "")).await;
    out.push(("protected without a token", json!(res.status().as_u16())));
    let token = server.file_token().await;
    let res = server
        .get(&url(&rec["secret"], &format!("?token={token}")))
        .await;
    out.push((
        "protected with a token",
        json!([res.status().as_u16(), res.text().await.unwrap()]),
    ));

    // A replaced file leaves the bucket with its thumbnails; the others stay.
    let form = Form::new().part("image", file(png(10, 10), "new.png"));
    let (status, updated) = server
        .send_form(
            Method::PATCH,
            &format!("/api/collections/docs/records/{id}"),
            form,
            false,
        )
        .await;
    out.push(("replace", json!(status)));
    let mut names = names.to_vec();
    names.push(("NEWIMG", s(&updated["image"])));
    let keys = settled(s3, bucket, &s(&rec["image"])).await;
    out.push(("keys after the replace", json!(named(keys, &names))));

    // A deleted record leaves nothing.
    let res = server
        .client
        .delete(server.url(&format!("/api/collections/docs/records/{id}")))
        .send()
        .await
        .unwrap();
    out.push(("delete", json!(res.status().as_u16())));
    let keys = settled(s3, bucket, &id).await;
    out.push(("keys after the delete", json!(named(keys, &names))));

    // A batch's files go to the bucket too, and a failed batch leaves none there.
    let (status, _) = server
        .send_json(
            Method::PATCH,
            "/api/settings",
            json!({"batch": {"enabled": true, "maxRequests": 5}}),
            true,
        )
        .await;
    assert_eq!(status, 200);
    let batch = |requests: Value, files: Vec<(&str, &str)>| {
        let mut form = Form::new();
        for (key, text) in files {
            form = form.part(key.to_owned(), file(text.as_bytes().to_vec(), "b.txt"));
        }
        form.text("@jsonPayload", json!({ "requests": requests }).to_string())
    };
    let create = json!({"method": "POST", "url": "/api/collections/docs/records",
        "body": {"title": "batched"}});
    let (status, results) = server
        .send_form(
            Method::POST,
            "/api/batch",
            batch(json!([create]), vec![("requests.0.files", "from a batch")]),
            false,
        )
        .await;
    let made = &results[0]["body"];
    names.push(("BATCHED", s(&made["id"])));
    names.push(("BATCHTXT", s(&made["files"][0])));
    out.push(("batch", json!([status, made["title"]])));
    out.push((
        "keys after the batch",
        json!(named(s3.keys(bucket).await, &names)),
    ));
    let missing = json!({"method": "PATCH",
        "url": "/api/collections/docs/records/missingrecord12", "body": {}});
    let (status, _) = server
        .send_form(
            Method::POST,
            "/api/batch",
            batch(
                json!([create, missing]),
                vec![("requests.0.files", "rolled back")],
            ),
            false,
        )
        .await;
    out.push(("failed batch", json!(status)));
    let mut keys = s3.keys(bucket).await;
    for _ in 0..50 {
        if keys.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        keys = s3.keys(bucket).await;
    }
    out.push(("keys after the failed batch", json!(named(keys, &names))));
    (out, revalidated)
}

/// A bucket that is away: a create with a file is refused as PocketBase refuses it, and
/// leaves no record (and nothing in hearth's upload area); a create without a file works.
#[tokio::test]
async fn a_bucket_that_is_away_leaves_no_half_record() {
    let Some(weed) = weed_bin() else { return };
    let Some(bin) = crate::compat::pocketbase_bin() else {
        return;
    };
    let s3 = start_s3(&weed).await;
    s3.create_bucket("pb-files").await;
    let pb = crate::compat::start_pocketbase(&bin).await;
    let (app, hearth) = hearth().await;
    let pocketbase = Server::signed_in(&pb.address).await;
    pocketbase.create_docs().await;
    for (server, bucket) in [(&hearth, s3.bucket.as_str()), (&pocketbase, "pb-files")] {
        server.use_s3(s3.settings(bucket)).await;
    }
    drop(s3);

    let mut seen = Vec::new();
    for server in [&hearth, &pocketbase] {
        let form = Form::new()
            .text("title", "lost")
            .part("files", file(b"nowhere to go\n".to_vec(), "a.txt"));
        let (status, body) = server
            .send_form(Method::POST, "/api/collections/docs/records", form, false)
            .await;
        let (_, list) = server
            .send_json(
                Method::GET,
                "/api/collections/docs/records",
                Value::Null,
                true,
            )
            .await;
        let (plain, _) = server
            .send_json(
                Method::POST,
                "/api/collections/docs/records",
                json!({"title": "no file"}),
                false,
            )
            .await;
        seen.push(json!([status, body["message"], list["totalItems"], plain]));
    }
    assert_eq!(seen[0], seen[1], "hearth vs pocketbase");
    let waiting = std::fs::read_dir(app.dir.path().join("storage/.uploads"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(waiting, 0, "uploads left in storage/.uploads");
}

/// A TCP relay to `target` whose uploads (client to server) trickle at `per_second` bytes:
/// a slow link to a real bucket. Answers flow back at full speed.
async fn slow_link(target: &str, per_second: usize) -> String {
    link(
        target,
        per_second,
        usize::MAX,
        Arc::new(AtomicBool::new(true)),
    )
    .await
}

/// As `slow_link`, cutting each connection once `cut_after` bytes went up (a bucket that
/// goes away mid-upload), and closing every connection at once while `up` is false (a
/// bucket that is away).
pub(crate) async fn link(
    target: &str,
    per_second: usize,
    cut_after: usize,
    up: Arc<AtomicBool>,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let target = target.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            if !up.load(Ordering::SeqCst) {
                drop(client);
                continue;
            }
            let alive = up.clone();
            let target = target.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let (mut client_r, mut client_w) = client.into_split();
                let (mut server_r, mut server_w) = server.into_split();
                let (cut_tx, mut cut_rx) = tokio::sync::oneshot::channel::<()>();
                let up = async move {
                    let mut buf = vec![0u8; per_second / 10];
                    let mut sent = 0;
                    while let Ok(n) = client_r.read(&mut buf).await {
                        if n == 0 || server_w.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        sent += n;
                        if sent > cut_after {
                            // Gone: neither side hears from the other again.
                            let _ = cut_tx.send(());
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    let _ = server_w.shutdown().await;
                };
                let down = async move {
                    tokio::select! {
                        _ = tokio::io::copy(&mut server_r, &mut client_w) => {}
                        _ = &mut cut_rx => {}
                    }
                };
                let alive = alive.clone();
                let went_away = async move {
                    while alive.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                };
                // Down: open connections drop too, as a bucket that is away drops them.
                tokio::select! {
                    _ = async { tokio::join!(up, down) } => {}
                    _ = went_away => {}
                }
            });
        }
    });
    format!("http://{address}")
}

/// An upload on its way to the bucket holds no writer: while a file trickles over a slow
/// link for seconds, other writes go through at once. A create its rule refuses takes
/// back what it sent ahead.
#[tokio::test]
async fn uploads_to_a_slow_bucket_do_not_hold_up_other_writes() {
    let Some(weed) = weed_bin() else { return };
    let s3 = start_s3(&weed).await;
    let (_app, hearth) = hearth().await;
    let mut settings = s3.settings(&s3.bucket);
    settings["endpoint"] = json!(slow_link(&s3.endpoint, 256 * 1024).await);
    hearth.use_s3(settings).await;

    // Under the field's 1 MB limit: about 3.5 s over the link.
    let big = vec![b'a'; 900 * 1024];
    let upload = {
        let form = Form::new()
            .text("title", "big")
            .part("files", file(big.clone(), "big.txt"));
        let request = hearth
            .client
            .post(hearth.url("/api/collections/docs/records"))
            .multipart(form);
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let res = request.send().await.unwrap();
            let status = res.status().as_u16();
            let took = started.elapsed();
            (status, took, res.text().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut slowest = Duration::ZERO;
    for i in 0..5 {
        let started = std::time::Instant::now();
        let (status, _) = hearth
            .send_json(
                Method::POST,
                "/api/collections/docs/records",
                json!({ "title": format!("small {i}") }),
                false,
            )
            .await;
        assert_eq!(status, 200);
        slowest = slowest.max(started.elapsed());
    }
    let (status, took, body) = upload.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        took > Duration::from_secs(2),
        "the link was not slow: the upload took {took:?}"
    );
    assert!(
        slowest < took / 3,
        "a write waited on the upload: {slowest:?} (upload {took:?})"
    );

    // Refused by its rule after the files went ahead: they leave the bucket again.
    let before = s3.keys(&s3.bucket).await;
    let (status, _) = hearth
        .send_json(
            Method::PATCH,
            "/api/collections/docs",
            json!({"createRule": "title = 'allowed'"}),
            true,
        )
        .await;
    assert_eq!(status, 200);
    let form = Form::new()
        .text("title", "refused")
        .part("files", file(b"should not stay".to_vec(), "no.txt"));
    let (status, _) = hearth
        .send_form(Method::POST, "/api/collections/docs/records", form, false)
        .await;
    assert_eq!(status, 400);
    let mut after = s3.keys(&s3.bucket).await;
    for _ in 0..50 {
        if after == before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = s3.keys(&s3.bucket).await;
    }
    assert_eq!(after, before, "a refused create left files in the bucket");
}

/// The admin page turns the bucket on and off: files go where it says, the secret is
/// never shown, and switching moves nothing (files stored before are not served from the
/// new place, as in PocketBase).
#[tokio::test]
async fn the_settings_page_switches_storage_without_moving_files() {
    let Some(weed) = weed_bin() else { return };
    let s3 = start_s3(&weed).await;
    let (app, hearth) = hearth().await;
    let (browser, csrf) = app.admin_browser().await;
    let save = async |enabled: bool, secret: &str| {
        let mut fields = vec![
            ("csrf", csrf.clone()),
            ("appName", "Acme".to_owned()),
            ("appURL", "http://localhost:8090".to_owned()),
            ("senderName", "Support".to_owned()),
            ("senderAddress", "support@example.com".to_owned()),
            ("s3Bucket", s3.bucket.clone()),
            ("s3Region", s3.region.clone()),
            ("s3Endpoint", s3.endpoint.clone()),
            ("s3AccessKey", s3.access_key.clone()),
            ("s3Secret", secret.to_owned()),
            ("s3PathStyle", "true".to_owned()),
        ];
        if enabled {
            fields.push(("s3Enabled", "true".to_owned()));
        }
        let res = browser
            .post(app.url("/_/settings"))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        browser
            .get(app.url("/_/settings"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let upload = async |text: &str| {
        let form = Form::new().part("files", file(text.as_bytes().to_vec(), "f.txt"));
        let (status, rec) = hearth
            .send_form(Method::POST, "/api/collections/docs/records", form, false)
            .await;
        assert_eq!(status, 200, "{rec}");
        rec
    };
    let served = async |rec: &Value| {
        let url = format!("/api/files/docs/{}/{}", s(&rec["id"]), s(&rec["files"][0]));
        hearth.get(&url).await.status().as_u16()
    };

    let page = save(true, &s3.secret).await;
    assert!(page.contains(&format!("the S3 bucket <strong>{}</strong>", s3.bucket)));
    assert!(!page.contains(&s3.secret), "the secret is never shown");
    assert!(page.contains("stored — leave blank to keep"));
    let in_bucket = upload("in the bucket").await;
    assert_eq!(s3.keys(&s3.bucket).await.len(), 1);
    assert!(crate::files::stored(&app).is_empty());
    assert_eq!(served(&in_bucket).await, 200);

    // Off: new files go to disk; the one in the bucket stays there, unserved.
    let page = save(false, "").await;
    assert!(page.contains("<code>storage/</code> in the data directory"));
    let on_disk = upload("on disk").await;
    assert_eq!(crate::files::stored(&app).len(), 1);
    assert_eq!(served(&on_disk).await, 200);
    assert_eq!(served(&in_bucket).await, 404);
    assert_eq!(s3.keys(&s3.bucket).await.len(), 1);

    // On again (the blank secret kept the stored one): the bucket's file is served again.
    save(true, "").await;
    assert_eq!(served(&in_bucket).await, 200);
    assert_eq!(served(&on_disk).await, 404);
}

/// A bucket that goes away mid-upload (the link is cut after 200 KB of a 900 KB file): the
/// create fails as PocketBase's does and leaves no record, nothing in the bucket and
/// nothing in hearth's upload area.
#[tokio::test]
async fn a_bucket_lost_mid_upload_leaves_no_half_record() {
    let Some(weed) = weed_bin() else { return };
    let Some(bin) = crate::compat::pocketbase_bin() else {
        return;
    };
    let s3 = start_s3(&weed).await;
    s3.create_bucket("pb-files").await;
    let pb = crate::compat::start_pocketbase(&bin).await;
    let (app, hearth) = hearth().await;
    let pocketbase = Server::signed_in(&pb.address).await;
    pocketbase.create_docs().await;
    let always = Arc::new(AtomicBool::new(true));
    let cut = link(&s3.endpoint, 1024 * 1024, 200 * 1024, always).await;
    let mut seen = Vec::new();
    for (server, bucket) in [
        (&hearth, s3.bucket.clone()),
        (&pocketbase, "pb-files".into()),
    ] {
        let mut settings = s3.settings(&bucket);
        settings["endpoint"] = json!(cut);
        server.use_s3(settings).await;
        let form = Form::new()
            .text("title", "cut off")
            .part("files", file(vec![b'a'; 900 * 1024], "big.txt"));
        let (status, body) = server
            .send_form(Method::POST, "/api/collections/docs/records", form, false)
            .await;
        let (_, list) = server
            .send_json(
                Method::GET,
                "/api/collections/docs/records",
                Value::Null,
                true,
            )
            .await;
        let mut keys = s3.keys(&bucket).await;
        for _ in 0..50 {
            if keys.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            keys = s3.keys(&bucket).await;
        }
        seen.push(json!([status, body["message"], list["totalItems"], keys]));
    }
    assert_eq!(seen[0], seen[1], "hearth vs pocketbase");
    assert_eq!(seen[0][0], 400);
    let waiting = std::fs::read_dir(app.dir.path().join("storage/.uploads"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(waiting, 0, "uploads left in storage/.uploads");
}

/// Truncating a collection, then deleting one, empties their part of the bucket.
#[tokio::test]
async fn truncating_and_deleting_a_collection_empty_the_bucket() {
    let Some(weed) = weed_bin() else { return };
    let s3 = start_s3(&weed).await;
    let (_app, hearth) = hearth().await;
    hearth.use_s3(s3.settings(&s3.bucket)).await;
    let upload = async || {
        let form = Form::new()
            .part("image", file(png(8, 8), "p.png"))
            .part("files", file(b"text".to_vec(), "t.txt"));
        let (status, rec) = hearth
            .send_form(Method::POST, "/api/collections/docs/records", form, false)
            .await;
        assert_eq!(status, 200, "{rec}");
    };
    upload().await;
    upload().await;
    assert_eq!(s3.keys(&s3.bucket).await.len(), 4);
    let emptied = async || {
        for _ in 0..50 {
            if s3.keys(&s3.bucket).await.is_empty() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    let res = hearth
        .client
        .delete(hearth.url("/api/collections/docs/truncate"))
        .header("Authorization", &hearth.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(
        emptied().await,
        "truncate left {:?}",
        s3.keys(&s3.bucket).await
    );
    upload().await;
    let res = hearth
        .client
        .delete(hearth.url("/api/collections/docs"))
        .header("Authorization", &hearth.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(
        emptied().await,
        "delete left {:?}",
        s3.keys(&s3.bucket).await
    );
}

/// What a committed change drops is removed once a bucket that was away is back: the
/// removal is retried, not lost.
#[tokio::test]
async fn removals_wait_for_a_bucket_that_was_away() {
    let Some(weed) = weed_bin() else { return };
    let s3 = start_s3(&weed).await;
    let (_app, hearth) = hearth().await;
    let up = Arc::new(AtomicBool::new(true));
    let mut settings = s3.settings(&s3.bucket);
    settings["endpoint"] = json!(link(&s3.endpoint, 64 << 20, usize::MAX, up.clone()).await);
    hearth.use_s3(settings).await;
    let form = Form::new().part("files", file(b"to be removed".to_vec(), "t.txt"));
    let (status, rec) = hearth
        .send_form(Method::POST, "/api/collections/docs/records", form, false)
        .await;
    assert_eq!(status, 200, "{rec}");
    assert_eq!(s3.keys(&s3.bucket).await.len(), 1);

    up.store(false, Ordering::SeqCst);
    let res = hearth
        .client
        .delete(hearth.url(&format!("/api/collections/docs/records/{}", s(&rec["id"]))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204, "the delete commits with the bucket away");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        s3.keys(&s3.bucket).await.len(),
        1,
        "nothing removed while away"
    );

    up.store(true, Ordering::SeqCst);
    let mut keys = s3.keys(&s3.bucket).await;
    for _ in 0..100 {
        if keys.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        keys = s3.keys(&s3.bucket).await;
    }
    assert!(keys.is_empty(), "still in the bucket: {keys:?}");
}
