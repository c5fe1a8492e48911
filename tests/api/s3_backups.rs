//! Backups in an S3 bucket (SeaweedFS, started by the test), side by side with PocketBase on
//! the same `backups.s3` settings (a bucket each): create, list, download, upload, delete,
//! restore from the bucket, the S3 connection test, the errors, and scheduled backups pruned
//! to `cronMaxKeep` in the bucket. After every step hearth's data dir holds no archive and
//! no work in progress.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::files::{Server, answer, file, s};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, spawn_app};
use crate::s3_server::{S3Server, start_s3, weed_bin};

#[tokio::test]
async fn backups_in_a_bucket_behave_as_in_pocketbase() {
    let Some(weed) = weed_bin() else { return };
    let Some(bin) = crate::compat::pocketbase_bin() else {
        return;
    };
    let s3 = start_s3(&weed).await;
    s3.create_bucket("pb-backups").await;
    let pb = crate::compat::start_pocketbase(&bin).await;
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let hearth = Server::signed_in(&app.address).await;
    let pocketbase = Server::signed_in(&pb.address).await;

    let h = scenario(&hearth, &s3, &s3.bucket, Some(app.dir.path())).await;
    let p = scenario(&pocketbase, &s3, "pb-backups", None).await;
    let mut mismatches = Vec::new();
    for ((name, hv), (_, pv)) in h.iter().zip(&p) {
        if hv != pv {
            mismatches.push(format!("{name}:\n  hearth     {hv}\n  pocketbase {pv}"));
        }
    }
    assert_eq!(h.len(), p.len());
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// The steps to compare, each normalised to what both servers must agree on. With `dir`
/// (hearth's data dir), every step is also checked to leave no archive or scratch folder
/// in it.
async fn scenario(
    server: &Server,
    s3: &S3Server,
    bucket: &str,
    dir: Option<&Path>,
) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    let clean = async |step: &str| {
        if let Some(dir) = dir {
            assert_no_local_archives(dir, step).await;
        }
    };
    let (status, body) = server
        .send_json(
            Method::PATCH,
            "/api/settings",
            json!({"backups": {"s3": s3.settings(bucket)}}),
            true,
        )
        .await;
    out.push((
        "enable backups.s3",
        json!([
            status,
            body["backups"]["s3"]["enabled"],
            body["backups"]["s3"]["secret"]
        ]),
    ));
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/settings/test/s3",
            json!({"filesystem": "backups"}),
            true,
        )
        .await;
    out.push(("test s3 backups", json!([status, body])));
    create_notes(server).await;
    let before = add_note(server, "before").await;

    // Create.
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/backups",
            json!({"name": "first.zip"}),
            true,
        )
        .await;
    out.push(("create", json!([status, body])));
    clean("create").await;
    out.push(("bucket after create", json!(s3.keys(bucket).await)));
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/backups",
            json!({"name": "first.zip"}),
            true,
        )
        .await;
    out.push(("create a taken name", json!([status, body])));

    // List.
    let (status, listed) = server
        .send_json(Method::GET, "/api/backups", Value::Null, true)
        .await;
    out.push(("list", json!([status, shape(&listed)])));
    let size = listed[0]["size"].as_u64().unwrap_or_default();

    // Download.
    let token = server.file_token().await;
    let res = server
        .get(&format!("/api/backups/first.zip?token={token}"))
        .await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let zip = res.bytes().await.unwrap().to_vec();
    out.push((
        "download",
        json!([
            status,
            headers.get("content-type").map(|v| v.to_str().unwrap()),
            headers
                .get("content-disposition")
                .map(|v| v.to_str().unwrap()),
            zip.len() as u64 == size,
            note_ids_in_archive(&zip).contains(&before),
        ]),
    ));
    clean("download").await;
    let res = server
        .client
        .get(server.url(&format!("/api/backups/first.zip?token={token}")))
        .header("Range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let head = res.bytes().await.unwrap().to_vec();
    out.push(("download a range", json!([status, head == b"PK\x03\x04"])));
    let (status, body) = answer(
        server
            .get(&format!("/api/backups/nope.zip?token={token}"))
            .await,
    )
    .await;
    out.push(("download a missing key", json!([status, body])));
    let res = server.get("/api/backups/first.zip").await;
    out.push(("download without a token", json!(answer(res).await.0)));

    // Upload.
    let upload = |name: &str, bytes: Vec<u8>| Form::new().part("file", file(bytes, name));
    let (status, body) = server
        .send_form(
            Method::POST,
            "/api/backups/upload",
            upload("uploaded.zip", zip.clone()),
            true,
        )
        .await;
    out.push(("upload", json!([status, body])));
    clean("upload").await;
    out.push(("bucket after upload", json!(s3.keys(bucket).await)));
    let (status, body) = server
        .send_form(
            Method::POST,
            "/api/backups/upload",
            upload("uploaded.zip", zip.clone()),
            true,
        )
        .await;
    out.push(("upload a taken name", json!([status, error_codes(&body)])));
    let (status, body) = server
        .send_form(
            Method::POST,
            "/api/backups/upload",
            upload("text.zip", b"not a zip at all".to_vec()),
            true,
        )
        .await;
    out.push(("upload a non-zip", json!([status, error_codes(&body)])));
    clean("refused uploads").await;
    let (_, listed) = server
        .send_json(Method::GET, "/api/backups", Value::Null, true)
        .await;
    out.push(("list after uploads", shape(&listed)));

    // Delete.
    let (status, body) = server
        .send_json(
            Method::DELETE,
            "/api/backups/uploaded.zip",
            Value::Null,
            true,
        )
        .await;
    out.push(("delete", json!([status, body])));
    out.push(("bucket after delete", json!(s3.keys(bucket).await)));
    let (status, body) = server
        .send_json(Method::DELETE, "/api/backups/nope.zip", Value::Null, true)
        .await;
    out.push(("delete a missing key", json!([status, body])));

    // Restore.
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/backups/nope.zip/restore",
            Value::Null,
            true,
        )
        .await;
    out.push(("restore a missing key", json!([status, body])));
    add_note(server, "after").await;
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/backups/first.zip/restore",
            Value::Null,
            true,
        )
        .await;
    out.push(("restore", json!([status, body])));
    // PocketBase answers first and restarts itself on the data; hearth answers once done.
    let notes = wait_for_notes(server, &["before"]).await;
    out.push(("notes after restore", json!(notes)));
    let health = server.get("/api/health").await.status().as_u16();
    out.push(("serves after restore", json!(health)));
    clean("restore").await;
    out.push(("bucket after restore", json!(s3.keys(bucket).await)));

    // Scheduled backups, pruned to cronMaxKeep in the bucket.
    let (status, _) = server
        .send_json(
            Method::PATCH,
            "/api/settings",
            json!({"backups": {"cron": "0 0 1 1 *", "cronMaxKeep": 2}}),
            true,
        )
        .await;
    out.push(("schedule", json!(status)));
    let mut made = Vec::new();
    for _ in 0..3 {
        made.push(run_scheduled(server, s3, bucket).await);
        clean("scheduled backup").await;
    }
    let auto = auto_keys(s3, bucket).await;
    out.push((
        "scheduled archives kept",
        json!([auto.len(), auto == made[1..]]),
    ));
    out.push((
        "manual archives untouched",
        json!(
            s3.keys(bucket)
                .await
                .iter()
                .filter(|k| !k.starts_with('@'))
                .collect::<Vec<_>>()
        ),
    ));
    out
}

/// The backups folder of hearth's data dir holds no archive and no work in progress (only
/// its lock file and the data a restore set aside, `.before_restore_*`), and the upload
/// area no file. Waits a few seconds for work that ends after its answer (a scheduled
/// backup removes its scratch folder once its archive is in the bucket).
async fn assert_no_local_archives(dir: &Path, step: &str) {
    let names = |folder: &Path| -> Vec<String> {
        std::fs::read_dir(folder)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != ".lock" && !n.starts_with(".before_restore_"))
            .collect()
    };
    let mut left = Vec::new();
    for _ in 0..50 {
        left = names(&dir.join("backups"));
        left.extend(names(&dir.join("storage").join(".uploads")));
        if left.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("after {step}, the data dir holds {left:?}");
}

/// A listing as both servers must give it: the keys in order, each with a size and a time
/// in PocketBase's format.
fn shape(listed: &Value) -> Value {
    let items = listed.as_array().cloned().unwrap_or_default();
    json!(
        items
            .iter()
            .map(|b| {
                let modified = s(&b["modified"]);
                json!({
                    "key": b["key"],
                    "sized": b["size"].as_u64().is_some_and(|n| n > 0),
                    "modified": modified.len() == 24 && modified.ends_with('Z'),
                    "fields": b.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()),
                })
            })
            .collect::<Vec<_>>()
    )
}

/// The status and the error codes of each field of a refused request.
fn error_codes(body: &Value) -> Value {
    let data = body["data"].as_object().cloned().unwrap_or_default();
    json!(
        data.iter()
            .map(|(k, v)| (k.clone(), v["code"].clone()))
            .collect::<serde_json::Map<_, _>>()
    )
}

async fn create_notes(server: &Server) {
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/collections",
            json!({
                "name": "notes",
                "type": "base",
                "listRule": "",
                "viewRule": "",
                "createRule": "",
                "fields": [{"name": "text", "type": "text"}],
            }),
            true,
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn add_note(server: &Server, text: &str) -> String {
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/collections/notes/records",
            json!({ "text": text }),
            false,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    s(&body["id"])
}

/// The texts of the notes once they are `want` (30 s at most: PocketBase restarts after a
/// restore, refusing connections meanwhile); what they last were otherwise.
async fn wait_for_notes(server: &Server, want: &[&str]) -> Vec<String> {
    let mut last = Vec::new();
    for _ in 0..300 {
        let res = server
            .client
            .get(server.url("/api/collections/notes/records?sort=text"))
            .send()
            .await;
        if let Ok(res) = res
            && res.status() == 200
            && let Ok(body) = res.json::<Value>().await
        {
            last = body["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| s(&i["text"]))
                .collect();
            if last == want {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

/// The record ids of `notes` in the data.db of an archive (empty when it is no archive).
fn note_ids_in_archive(zip_bytes: &[u8]) -> Vec<String> {
    let Ok(mut zip) = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)) else {
        return Vec::new();
    };
    let mut db = Vec::new();
    let Ok(mut entry) = zip.by_name("data.db") else {
        return Vec::new();
    };
    entry.read_to_end(&mut db).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.db");
    std::fs::write(&path, db).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut stmt = conn.prepare("SELECT id FROM notes").unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

async fn auto_keys(s3: &S3Server, bucket: &str) -> Vec<String> {
    let mut keys: Vec<String> = s3
        .keys(bucket)
        .await
        .into_iter()
        .filter(|k| k.starts_with("@auto_"))
        .collect();
    keys.sort();
    keys
}

/// Runs the scheduled backup job now (once the server has it: hearth follows the settings
/// every two seconds) and waits until its archive is in the bucket; returns its key. The
/// names hold the second they were made in: runs are a second apart.
async fn run_scheduled(server: &Server, s3: &S3Server, bucket: &str) -> String {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = auto_keys(s3, bucket).await;
    let mut started = false;
    for _ in 0..100 {
        let (status, body) = server
            .send_json(
                Method::POST,
                "/api/crons/__pbAutoBackup__",
                Value::Null,
                true,
            )
            .await;
        if status == 204 {
            started = true;
            break;
        }
        assert_eq!(status, 404, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(started, "the scheduled backup job never appeared");
    for _ in 0..300 {
        let now = auto_keys(s3, bucket).await;
        if let Some(new) = now.iter().find(|k| !before.contains(k))
            && now.len() <= 2
        {
            return new.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no new scheduled archive in {bucket}: {:?}",
        s3.keys(bucket).await
    );
}

/// A bucket that is away (nothing listens at its endpoint): every operation answers as
/// PocketBase words it, and nothing of the attempts stays in the data dir.
#[tokio::test]
async fn a_bucket_that_is_away_fails_cleanly() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let server = Server::signed_in(&app.address).await;
    let away = json!({
        "enabled": true,
        "bucket": "away",
        "region": "us-east-1",
        "endpoint": format!("http://127.0.0.1:{}", crate::helpers::free_port()),
        "accessKey": "k",
        "secret": "s",
        "forcePathStyle": true,
    });
    let (status, body) = server
        .send_json(
            Method::PATCH,
            "/api/settings",
            json!({"backups": {"s3": away}}),
            true,
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = server
        .send_json(Method::POST, "/api/backups", json!({}), true)
        .await;
    assert_eq!(
        (status, s(&body["message"])),
        (400, "Failed to create backup.".into())
    );
    let (status, body) = server
        .send_json(Method::GET, "/api/backups", Value::Null, true)
        .await;
    assert_eq!(status, 400);
    assert!(
        s(&body["message"]).starts_with("Failed to retrieve backup items. Raw error: \n"),
        "{body}"
    );
    let form = Form::new().part("file", file(b"PK\x03\x04rest".to_vec(), "up.zip"));
    let (status, body) = server
        .send_form(Method::POST, "/api/backups/upload", form, true)
        .await;
    assert_eq!(
        (status, s(&body["message"])),
        (400, "Failed to upload backup.".into())
    );
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/backups/up.zip/restore",
            Value::Null,
            true,
        )
        .await;
    assert_eq!(
        (status, s(&body["message"])),
        (400, "Missing or invalid backup file.".into())
    );
    assert_no_local_archives(app.dir.path(), "the failed attempts").await;
    // The server goes on serving.
    assert_eq!(server.get("/api/health").await.status(), 200);
}
