//! File fields end to end: multipart uploads, serving (headers, ranges, thumbnails),
//! protected files with file tokens, and every kind of bad upload (with nothing left on
//! disk). Files following their record: `file_lifecycle.rs`; the same requests side by side
//! with PocketBase: `files_compat.rs`.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use reqwest::multipart::{Form, Part};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, spawn_app, spawn_app_with, superuser_token_at,
};

/// A server under test: hearth or PocketBase, with a superuser token.
pub struct Server {
    pub base: String,
    pub token: String,
    pub client: Client,
}

impl Server {
    pub async fn signed_in(base: &str) -> Self {
        let client = crate::helpers::client();
        Self {
            base: base.to_owned(),
            token: superuser_token_at(&client, base).await,
            client,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A multipart request, as superuser when `admin`.
    pub async fn send_form(
        &self,
        method: Method,
        path: &str,
        form: Form,
        admin: bool,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, self.url(path)).multipart(form);
        if admin {
            req = req.header("Authorization", &self.token);
        }
        answer(req.send().await.unwrap()).await
    }

    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        body: Value,
        admin: bool,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, self.url(path)).json(&body);
        if admin {
            req = req.header("Authorization", &self.token);
        }
        answer(req.send().await.unwrap()).await
    }

    /// Points the server's file storage at the bucket `settings` describe (its `s3`).
    pub async fn use_s3(&self, settings: Value) {
        let (status, body) = self
            .send_json(
                Method::PATCH,
                "/api/settings",
                json!({ "s3": settings }),
                true,
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// The `docs` collection: a single image field with thumbs and a 1000-byte limit, a
    /// multi-file field limited to PNG and text, and a protected field; rules: anyone
    /// creates, updates and deletes, only superusers list and view.
    pub async fn create_docs(&self) {
        let (status, body) = self
            .send_json(
                Method::POST,
                "/api/collections",
                json!({
                    "name": "docs",
                    "type": "base",
                    "listRule": null,
                    "viewRule": null,
                    "createRule": "",
                    "updateRule": "",
                    "deleteRule": "",
                    "fields": [
                        {"name": "title", "type": "text"},
                        {"name": "image", "type": "file", "maxSelect": 1, "maxSize": 1000,
                         "thumbs": ["50x50", "50x50t", "50x50b", "50x50f", "20x0", "0x20"]},
                        {"name": "files", "type": "file", "maxSelect": 3, "maxSize": 1_000_000,
                         "mimeTypes": ["image/png", "text/plain"]},
                        {"name": "secret", "type": "file", "maxSelect": 1, "protected": true},
                    ],
                }),
                true,
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// A file token for the superuser.
    pub async fn file_token(&self) -> String {
        let res: Value = self
            .client
            .post(self.url("/api/files/token"))
            .header("Authorization", &self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        res["token"].as_str().unwrap().to_owned()
    }
}

pub(crate) async fn answer(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A `w`x`h` PNG, red on top and blue below, so crops from top and bottom differ.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |_, y| {
        if y < h / 2 {
            image::Rgb([255, 0, 0])
        } else {
            image::Rgb([0, 0, 255])
        }
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

pub fn file(bytes: Vec<u8>, name: &str) -> Part {
    Part::bytes(bytes).file_name(name.to_owned())
}

/// Every file under `storage/` (the upload area included), relative to it.
pub(crate) fn stored(app: &TestApp) -> Vec<PathBuf> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_owned());
            }
        }
    }
    let root = app.dir.path().join("storage");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

pub(crate) async fn hearth() -> (TestApp, Server) {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let server = Server::signed_in(&app.address).await;
    server.create_docs().await;
    (app, server)
}

pub(crate) fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn uploads_are_stored_under_their_record_and_served_back() {
    let (app, server) = hearth().await;
    let form = Form::new()
        .text("title", "hello")
        .part("image", file(png(80, 40), "My Photo.png"))
        .part("files", file(b"hello world\n".to_vec(), "../../notes.txt"))
        .part("files", file(png(4, 4), "dot.png"));
    let (status, rec) = server
        .send_form(Method::POST, "/api/collections/docs/records", form, false)
        .await;
    assert_eq!(status, 200, "{rec}");
    let id = s(&rec["id"]);
    let image = s(&rec["image"]);
    assert!(
        image.starts_with("my_photo_") && image.ends_with(".png"),
        "{image}"
    );
    let names: Vec<String> = rec["files"].as_array().unwrap().iter().map(s).collect();
    assert_eq!(names.len(), 2);
    assert!(
        names[0].starts_with("notes_") && names[0].ends_with(".txt"),
        "{names:?}"
    );

    let collection_id = s(&rec["collectionId"]);
    let on_disk = stored(&app);
    for name in [&image, &names[0], &names[1]] {
        assert!(
            on_disk.contains(&Path::new(&collection_id).join(&id).join(name)),
            "{on_disk:?}"
        );
    }

    let res = server
        .get(&format!("/api/files/docs/{id}/{}", names[0]))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers();
    assert_eq!(h["content-type"], "text/plain; charset=utf-8");
    assert_eq!(h["content-length"], "12");
    assert_eq!(
        h["content-disposition"],
        format!("attachment; filename=\"{}\"", names[0]).as_str()
    );
    assert_eq!(
        h["cache-control"],
        "max-age=2592000, stale-while-revalidate=86400"
    );
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert!(h.get("x-frame-options").is_none(), "files may be embedded");
    assert_eq!(res.bytes().await.unwrap(), &b"hello world\n"[..]);

    let res = server.get(&format!("/api/files/docs/{id}/{image}")).await;
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(
        res.headers()["content-disposition"],
        format!("inline; filename=\"{image}\"").as_str()
    );
    let res = server
        .get(&format!("/api/files/docs/{id}/{image}?download=1"))
        .await;
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
}

#[tokio::test]
async fn files_answer_ranges_and_conditional_requests() {
    let (_app, server) = hearth().await;
    let form = Form::new().part("files", file(b"0123456789".to_vec(), "digits.txt"));
    let (_, rec) = server
        .send_form(Method::POST, "/api/collections/docs/records", form, false)
        .await;
    let path = format!("/api/files/docs/{}/{}", s(&rec["id"]), s(&rec["files"][0]));

    let res = server
        .client
        .get(server.url(&path))
        .header("Range", "bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.headers()["content-range"], "bytes 2-5/10");
    assert_eq!(res.bytes().await.unwrap(), &b"2345"[..]);

    let res = server.get(&path).await;
    let etag = res.headers()["etag"].clone();
    assert!(res.headers().contains_key("last-modified"));
    let res = server
        .client
        .get(server.url(&path))
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    let res = server.client.head(server.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-length"], "10");
}

#[tokio::test]
async fn thumbnails_are_made_once_in_the_listed_sizes_only() {
    let (app, server) = hearth().await;
    let form = Form::new().part("image", file(png(80, 40), "wide.png"));
    let (_, rec) = server
        .send_form(Method::POST, "/api/collections/docs/records", form, false)
        .await;
    let (id, image) = (s(&rec["id"]), s(&rec["image"]));
    let thumb = |size: &str| {
        let path = format!("/api/files/docs/{id}/{image}?thumb={size}");
        let server = &server;
        async move {
            let res = server.get(&path).await;
            assert_eq!(res.status(), StatusCode::OK);
            let disposition = res.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .to_owned();
            let img = image::load_from_memory(&res.bytes().await.unwrap())
                .unwrap()
                .to_rgb8();
            (img, disposition)
        }
    };
    for (size, dims) in [
        ("100x100", (100, 100)),
        ("50x50", (50, 50)),
        ("50x50f", (50, 25)),
        ("20x0", (20, 10)),
        ("0x20", (40, 20)),
        ("33x33", (80, 40)), // not listed: the original
    ] {
        let (img, disposition) = thumb(size).await;
        assert_eq!(img.dimensions(), dims, "{size}");
        if size != "33x33" {
            assert!(
                disposition.contains(&format!("{size}_{image}")),
                "{disposition}"
            );
        }
    }
    let (top, _) = thumb("50x50t").await;
    let (bottom, _) = thumb("50x50b").await;
    assert_eq!(top.get_pixel(25, 0).0, [255, 0, 0]);
    assert_eq!(bottom.get_pixel(25, 49).0, [0, 0, 255]);

    let thumbs_dir = app
        .dir
        .path()
        .join("storage")
        .join(s(&rec["collectionId"]))
        .join(&id)
        .join(format!("thumbs_{image}"));
    assert!(thumbs_dir.join(format!("50x50_{image}")).exists());
    assert!(!thumbs_dir.join(format!("33x33_{image}")).exists());

    // A text file asked for as a thumbnail comes back as it is.
    let form = Form::new().part("files", file(b"text".to_vec(), "a.txt"));
    let (_, rec) = server
        .send_form(Method::POST, "/api/collections/docs/records", form, false)
        .await;
    let res = server
        .get(&format!(
            "/api/files/docs/{}/{}?thumb=100x100",
            s(&rec["id"]),
            s(&rec["files"][0])
        ))
        .await;
    assert_eq!(res.bytes().await.unwrap(), &b"text"[..]);
}

#[tokio::test]
async fn protected_files_need_a_file_token_that_passes_the_view_rule() {
    let (_app, server) = hearth().await;
    let form = Form::new().part("secret", file(b"top secret".to_vec(), "plan.txt"));
    let (_, rec) = server
        .send_form(Method::POST, "/api/collections/docs/records", form, false)
        .await;
    let path = format!("/api/files/docs/{}/{}", s(&rec["id"]), s(&rec["secret"]));

    let res = server.get(&path).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = server.get(&format!("{path}?token={}", server.token)).await;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "an auth token is no file token"
    );
    let res = server
        .get(&format!("{path}?token={}", server.file_token().await))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap(), &b"top secret"[..]);

    // A user's file token is checked against the view rule (superusers only here).
    server
        .send_json(
            Method::POST,
            "/api/collections/users/records",
            json!({"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"}),
            false,
        )
        .await;
    let (_, auth) = server
        .send_json(
            Method::POST,
            "/api/collections/users/auth-with-password",
            json!({"identity": "u@example.com", "password": "password123"}),
            false,
        )
        .await;
    let user_token: Value = server
        .client
        .post(server.url("/api/files/token"))
        .header("Authorization", s(&auth["token"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = server
        .get(&format!("{path}?token={}", s(&user_token["token"])))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let (status, body) = server
        .send_json(Method::POST, "/api/files/token", json!({}), false)
        .await;
    assert_eq!(status, 401, "{body}");
}

/// Every rejected upload: a 400 in PocketBase's shape, and nothing left in storage.
#[tokio::test]
async fn bad_uploads_are_refused_and_leave_no_file_behind() {
    let (app, server) = hearth().await;
    let create = "/api/collections/docs/records";
    let cases: Vec<(&str, Form, &str, &str)> = vec![
        (
            "oversized",
            Form::new().part("image", file(vec![b'x'; 5000], "big.txt")),
            "image",
            "validation_file_size_limit",
        ),
        (
            "wrong type, sniffed from content",
            Form::new().part("files", file(vec![0, 1, 2, 3, 200, 255], "fake.png")),
            "files",
            "validation_invalid_mime_type",
        ),
        (
            "too many files",
            (0..4).fold(Form::new(), |f, i| {
                f.part("files", file(png(2, 2), &format!("{i}.png")))
            }),
            "files",
            "validation_too_many_files",
        ),
        (
            "a name that is no upload",
            Form::new().text("files", "../../../etc/passwd"),
            "files",
            "validation_invalid_file",
        ),
        (
            "good file beside a bad one",
            Form::new()
                .part("files", file(png(2, 2), "ok.png"))
                .part("image", file(vec![b'x'; 5000], "big.png")),
            "image",
            "validation_file_size_limit",
        ),
    ];
    for (name, form, field, code) in cases {
        let (status, body) = server.send_form(Method::POST, create, form, false).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert_eq!(body["status"], 400, "{name}");
        assert_eq!(body["message"], "Failed to create record.", "{name}");
        assert_eq!(body["data"][field]["code"], code, "{name}: {body}");
        assert_eq!(stored(&app), Vec::<PathBuf>::new(), "{name}");
    }
    let (_, body) = server
        .send_form(
            Method::POST,
            create,
            Form::new().part("image", file(vec![b'x'; 5000], "big.txt")),
            false,
        )
        .await;
    assert_eq!(
        body["data"]["image"],
        json!({"code": "validation_file_size_limit",
               "message": "Failed to upload big.txt - the maximum allowed file size is 1000 bytes.",
               "params": {"file": "big.txt", "maxSize": 1000}})
    );

    // A body cut off in the middle of a file.
    let truncated = "--XX\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\
                     Content-Type: text/plain\r\n\r\nhello wor";
    let res = server
        .client
        .post(server.url(create))
        .header("Content-Type", "multipart/form-data; boundary=XX")
        .body(truncated)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["message"],
        "Something went wrong while processing your request."
    );
    assert_eq!(stored(&app), Vec::<PathBuf>::new(), "truncated");

    // A path in the URL never reaches outside the record's folder.
    let (_, rec) = server
        .send_form(
            Method::POST,
            create,
            Form::new().part("files", file(b"x".to_vec(), "a.txt")),
            false,
        )
        .await;
    for path in [
        format!("/api/files/docs/{}/..%2F..%2Fdata.db", s(&rec["id"])),
        format!("/api/files/docs/..%2F..%2F/{}", s(&rec["files"][0])),
        "/api/files/docs/x/.uploads".to_owned(),
    ] {
        let res = server.get(&path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn a_body_past_what_the_fields_can_hold_is_refused_with_413() {
    let app = spawn_app_with(|c| c.body_limit = 64 * 1024).await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let server = Server::signed_in(&app.address).await;
    server.create_docs().await;
    // Cap: 64 KiB + 1000 (image) + 3 x 1 MB (files) + 5 MiB (secret).
    let form = Form::new().part(
        "title",
        Part::bytes(vec![b'a'; 10 << 20]).file_name("x.bin"),
    );
    let (status, body) = server
        .send_form(Method::POST, "/api/collections/docs/records", form, false)
        .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(stored(&app), Vec::<PathBuf>::new());
}

/// Multipart values mean what the same JSON would: a numeric password is still a password.
#[tokio::test]
async fn multipart_sign_up_with_a_numeric_password_and_an_avatar() {
    let (_app, server) = hearth().await;
    let form = Form::new()
        .text("email", "n@example.com")
        .text("password", "12345678")
        .text("passwordConfirm", "12345678")
        .text("emailVisibility", "true")
        .part("avatar", file(png(16, 16), "me.png"));
    let (status, body) = server
        .send_form(Method::POST, "/api/collections/users/records", form, false)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["emailVisibility"], true);
    let avatar = format!(
        "/api/files/users/{}/{}?thumb=100x100",
        s(&body["id"]),
        s(&body["avatar"])
    );
    let res = server.get(&avatar).await;
    assert_eq!(res.status(), StatusCode::OK);
    let img = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (100, 100));
    let (status, auth) = server
        .send_json(
            Method::POST,
            "/api/collections/users/auth-with-password",
            json!({"identity": "n@example.com", "password": "12345678"}),
            false,
        )
        .await;
    assert_eq!(status, 200, "{auth}");
}
