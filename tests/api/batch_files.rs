//! Multipart batches with files (`@jsonPayload` plus `requests.N.field` parts, as the JS
//! SDK's `createBatch()` sends them) side by side with the real PocketBase: creates,
//! appends, upserts, every kind of refused file, files for no request or no file field, and
//! another user's record. Each step compares statuses, bodies and the bytes served back,
//! and no failed or rolled-back batch leaves a file in either server's storage.

use std::path::Path;

use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::files::{Server, file, hearth, png, s};

#[tokio::test]
async fn batches_with_files_answer_like_pocketbase() {
    let Some(bin) = crate::compat::pocketbase_bin() else {
        return;
    };
    let pb = crate::compat::start_pocketbase(&bin).await;
    let (app, hearth) = hearth().await;
    let pocketbase = Server::signed_in(&pb.address).await;
    pocketbase.create_docs().await;

    let h = scenario(&hearth, &app.dir.path().join("storage")).await;
    let p = scenario(&pocketbase, &pb.dir().join("storage")).await;
    let mut mismatches = Vec::new();
    for ((name, hv), (_, pv)) in h.iter().zip(&p) {
        if hv != pv {
            mismatches.push(format!("{name}:\n  hearth     {hv}\n  pocketbase {pv}"));
        }
    }
    assert_eq!(h.len(), p.len());
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // Nothing waits in hearth's upload area either.
    let waiting = std::fs::read_dir(app.dir.path().join("storage/.uploads"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(waiting, 0, "uploads left in storage/.uploads");
}

/// Files under `storage/` (thumbnails, the upload area and PocketBase's `.attrs` sidecars
/// aside).
fn stored_count(storage: &Path) -> usize {
    fn walk(dir: &Path, out: &mut usize) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with("thumbs_") || name.ends_with(".attrs") {
                continue;
            }
            if path.is_dir() {
                walk(&path, out);
            } else {
                *out += 1;
            }
        }
    }
    let mut n = 0;
    walk(storage, &mut n);
    n
}

/// `v` with the random parts of stored file names masked: each `_` + 10-character suffix
/// (a batch's files carry two, as PocketBase re-sends them under their stored names) and
/// the 10 characters padding a stem shorter than 3.
fn masked(v: &Value) -> Value {
    let suffix = regex::Regex::new(r"_[a-z0-9]{10}([._])").unwrap();
    let padded = regex::Regex::new(r"\b([a-z0-9]{1,2})[a-z0-9]{10}_R").unwrap();
    let mut text = v.to_string();
    loop {
        let next = suffix.replace_all(&text, "_R$1").into_owned();
        if next == text {
            break;
        }
        text = next;
    }
    let text = padded.replace_all(&text, "${1}R_R");
    serde_json::from_str(&text).unwrap()
}

/// A batch form: `requests` as `@jsonPayload`, then the given file parts.
fn batch(requests: Value, files: Vec<(&str, Vec<u8>, &str)>) -> Form {
    let mut form = Form::new();
    for (key, bytes, name) in files {
        form = form.part(key.to_owned(), file(bytes, name));
    }
    form.text("@jsonPayload", json!({ "requests": requests }).to_string())
}

fn create(body: Value) -> Value {
    json!({"method": "POST", "url": "/api/collections/docs/records", "body": body})
}

fn update(id: &str, body: Value) -> Value {
    json!({"method": "PATCH", "url": format!("/api/collections/docs/records/{id}"), "body": body})
}

/// What a batch answer says, record ids and stored names left out: each result's status,
/// title and how many files each field holds; an error as it is.
fn summary(status: u16, body: &Value) -> Value {
    let Some(results) = body.as_array() else {
        return json!([status, body]);
    };
    let results: Vec<Value> = results
        .iter()
        .map(|r| {
            let b = &r["body"];
            json!({
                "status": r["status"],
                "title": b["title"],
                "image": b["image"].as_str().map(|n| !n.is_empty()),
                "files": b["files"].as_array().map(Vec::len),
                "secret": b["secret"].as_str().map(|n| !n.is_empty()),
            })
        })
        .collect();
    json!([status, results])
}

/// The bytes each of a record's files serves, in the record's order.
async fn served(server: &Server, record: &Value) -> Vec<Value> {
    let id = s(&record["id"]);
    let mut names: Vec<String> = record["files"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    names.push(s(&record["image"]));
    let mut out = Vec::new();
    for name in names.into_iter().filter(|n| !n.is_empty()) {
        let res = server.get(&format!("/api/files/docs/{id}/{name}")).await;
        let status = res.status().as_u16();
        let bytes = res.bytes().await.unwrap();
        out.push(json!([
            status,
            bytes.len(),
            bytes.iter().map(|b| *b as u64).sum::<u64>()
        ]));
    }
    out
}

async fn scenario(server: &Server, storage: &Path) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    let (status, _) = server
        .send_json(
            Method::PATCH,
            "/api/settings",
            json!({"batch": {"enabled": true, "maxRequests": 10}}),
            true,
        )
        .await;
    assert_eq!(status, 200);
    let send = async |form: Form| {
        server
            .send_form(Method::POST, "/api/batch", form, false)
            .await
    };

    // Two creates, files in both key forms, the SDK's order (files before the payload).
    let (status, body) = send(batch(
        json!([
            create(json!({"title": "one"})),
            create(json!({"title": "two"}))
        ]),
        vec![
            ("requests.0.image", png(20, 10), "pic.png"),
            ("requests.0.files", b"first\n".to_vec(), "a.txt"),
            ("requests.0.files", b"second file\n".to_vec(), "b.txt"),
            ("requests[1].files", b"bracketed\n".to_vec(), "c.txt"),
            ("requests[1].secret", b"hidden".to_vec(), "s.txt"),
        ],
    ))
    .await;
    out.push(("two creates with files", summary(status, &body)));
    let one = body[0]["body"].clone();
    let two = body[1]["body"].clone();
    out.push((
        "their bytes",
        json!([served(server, &one).await, served(server, &two).await]),
    ));
    let (one_id, two_id) = (s(&one["id"]), s(&two["id"]));
    let baseline = stored_count(storage);
    out.push(("stored after the creates", json!(baseline)));

    // Append to one, replace two's files (the body's names give way to the files), delete
    // nothing: then an upsert that creates with a file.
    let (status, body) = send(batch(
        json!([
            update(&one_id, json!({"title": "one+"})),
            update(&two_id, json!({"files": [two["files"][0]]})),
            {"method": "PUT", "url": "/api/collections/docs/records",
             "body": {"id": "upsertedrecord1", "title": "up"}},
        ]),
        vec![
            ("requests.0.files+", b"appended\n".to_vec(), "d.txt"),
            ("requests.1.files", b"replacement\n".to_vec(), "e.txt"),
            ("requests.2.image", png(8, 8), "up.png"),
        ],
    ))
    .await;
    out.push(("append, replace, upsert", summary(status, &body)));
    if let Some(results) = body.as_array() {
        let mut bytes = Vec::new();
        for r in results {
            bytes.push(json!(served(server, &r["body"]).await));
        }
        out.push(("bytes after the changes", json!(bytes)));
    }
    out.push(("stored after the changes", json!(stored_count(storage))));

    // Refused files roll the whole batch back and leave nothing stored.
    let before = stored_count(storage);
    for (name, requests, files) in [
        (
            "image past its maxSize",
            json!([
                create(json!({"title": "ok"})),
                create(json!({"title": "big"}))
            ]),
            vec![
                ("requests.0.files", b"kept?\n".to_vec(), "k.txt"),
                ("requests.1.image", png(400, 400), "big.png"),
            ],
        ),
        (
            "more files than maxSelect",
            json!([create(json!({"title": "many"}))]),
            vec![
                ("requests.0.files", b"1".to_vec(), "1.txt"),
                ("requests.0.files", b"2".to_vec(), "2.txt"),
                ("requests.0.files", b"3".to_vec(), "3.txt"),
                ("requests.0.files", b"4".to_vec(), "4.txt"),
            ],
        ),
        (
            "a mime type the field refuses",
            json!([create(json!({"title": "pdf"}))]),
            vec![("requests.0.files", b"%PDF-1.4\n%\xe2\xe3".to_vec(), "x.pdf")],
        ),
        (
            "a later request fails",
            json!([
                create(json!({"title": "first"})),
                update("missingrecord12", json!({"title": "x"})),
            ]),
            vec![("requests.0.image", png(4, 4), "p.png")],
        ),
    ] {
        let (status, body) = send(batch(requests, files)).await;
        out.push((name, json!([status, masked(&body)])));
        out.push(("nothing stored", json!(stored_count(storage) - before)));
    }

    // Files for no request, an index PocketBase does not write, a field that is no file
    // field (it replaces the body's value), and a delete: none is stored.
    let (status, body) = send(batch(
        json!([
            create(json!({"title": "kept title"})),
            create(json!({"title": "text replaced"})),
        ]),
        vec![
            ("requests.5.files", b"nobody's\n".to_vec(), "n.txt"),
            ("requests.01.files", b"leading zero\n".to_vec(), "z.txt"),
            ("requests.1.title", b"a file as title\n".to_vec(), "t.txt"),
            ("other", b"stray\n".to_vec(), "o.txt"),
        ],
    ))
    .await;
    out.push(("stray files", summary(status, &body)));
    out.push(("stray files stored", json!(stored_count(storage) - before)));

    // A JSON batch still works, and a form without files.
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/batch",
            json!({"requests": [create(json!({"title": "json"}))]}),
            false,
        )
        .await;
    out.push(("json batch", summary(status, &body)));

    // Another user's record: a guest may not update a superuser-only collection's record,
    // and its file is not stored.
    let (status, _) = server
        .send_json(
            Method::PATCH,
            "/api/collections/docs",
            json!({"updateRule": "@request.auth.id != ''"}),
            true,
        )
        .await;
    assert_eq!(status, 200);
    let before = stored_count(storage);
    let (status, body) = send(batch(
        json!([update(&one_id, json!({"title": "taken"}))]),
        vec![("requests.0.files+", b"intruder\n".to_vec(), "i.txt")],
    ))
    .await;
    out.push((
        "a guest's update of a guarded record",
        json!([status, body]),
    ));
    out.push(("guest stored", json!(stored_count(storage) - before)));
    let (_, record) = server
        .send_json(
            Method::GET,
            &format!("/api/collections/docs/records/{one_id}"),
            Value::Null,
            true,
        )
        .await;
    out.push((
        "the record after",
        json!([record["title"], record["files"].as_array().map(Vec::len)]),
    ));

    // batch.maxBodySize caps the whole body, files included.
    let (status, _) = server
        .send_json(
            Method::PATCH,
            "/api/settings",
            json!({"batch": {"maxBodySize": 2000}}),
            true,
        )
        .await;
    assert_eq!(status, 200);
    let before = stored_count(storage);
    let (status, body) = send(batch(
        json!([create(json!({"title": "too big"}))]),
        vec![("requests.0.files", vec![b'a'; 5000], "big.txt")],
    ))
    .await;
    out.push(("past batch.maxBodySize", json!([status, body])));
    let (status, body) = send(batch(
        json!([create(json!({"title": "fits"}))]),
        vec![("requests.0.files", vec![b'a'; 500], "small.txt")],
    ))
    .await;
    out.push(("within batch.maxBodySize", summary(status, &body)));
    out.push(("stored past the cap", json!(stored_count(storage) - before)));
    out
}
