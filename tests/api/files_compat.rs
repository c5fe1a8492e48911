//! The files routes side by side with the real PocketBase: the same uploads and downloads get
//! the same statuses, the headers that matter, and the same error bodies.

use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::files::{Server, file, hearth, png, s};

/// The same uploads and downloads against hearth and PocketBase: same statuses, the
/// headers that matter, and the same error bodies.
#[tokio::test]
async fn files_routes_answer_like_pocketbase() {
    let Some(bin) = crate::compat::pocketbase_bin() else {
        return;
    };
    let pb = crate::compat::start_pocketbase(&bin).await;
    let (_app, hearth) = hearth().await;
    let pocketbase = Server::signed_in(&pb.address).await;
    pocketbase.create_docs().await;

    let mut seen = Vec::new();
    for server in [&hearth, &pocketbase] {
        seen.push(scenario(server).await);
    }
    let (h, p) = (&seen[0], &seen[1]);
    let mut mismatches = Vec::new();
    for ((name, hv), (_, pv)) in h.iter().zip(p) {
        if hv != pv {
            mismatches.push(format!("{name}:\n  hearth     {hv}\n  pocketbase {pv}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Runs the comparison scenario against one server; each step gives what must match.
async fn scenario(server: &Server) -> Vec<(&'static str, Value)> {
    let create = "/api/collections/docs/records";
    let mut out = Vec::new();
    let form = Form::new()
        .text("title", "t")
        .part("image", file(png(80, 40), "Photo.png"))
        .part("files", file(b"hello\n".to_vec(), "notes.txt"))
        .part("secret", file(b"s".to_vec(), "s.txt"));
    let (status, rec) = server.send_form(Method::POST, create, form, false).await;
    out.push((
        "create",
        json!([status, rec["title"], rec["files"].as_array().map(Vec::len)]),
    ));
    let id = s(&rec["id"]);
    let file_path = |name: &Value, query: &str| format!("/api/files/docs/{id}/{}{query}", s(name));

    for (step, path) in [
        ("image", file_path(&rec["image"], "")),
        ("image download", file_path(&rec["image"], "?download=1")),
        ("image thumb", file_path(&rec["image"], "?thumb=50x50")),
        (
            "image unlisted thumb",
            file_path(&rec["image"], "?thumb=33x33"),
        ),
        ("text", file_path(&rec["files"][0], "")),
        ("protected without token", file_path(&rec["secret"], "")),
        ("unknown file", format!("/api/files/docs/{id}/nope.txt")),
        (
            "unknown record",
            format!("/api/files/docs/nope/{}", s(&rec["image"])),
        ),
        ("unknown collection", format!("/api/files/nope/{id}/x.txt")),
    ] {
        let res = server.get(&path).await;
        let status = res.status().as_u16();
        let header = |k: &str| {
            res.headers().get(k).map(|v| {
                v.to_str()
                    .unwrap()
                    .replace(&s(&rec["image"]), "IMG")
                    .replace(&s(&rec["files"][0]), "TXT")
            })
        };
        let seen = json!({
            "status": status,
            "type": header("content-type"),
            // Encoders differ: thumbnails match in type and dimensions, not in bytes.
            "length": if step == "image thumb" { None } else { header("content-length") },
            "disposition": header("content-disposition"),
            "cache": header("cache-control"),
            "csp": if status == 200 { header("content-security-policy") } else { None },
            "frame": if status == 200 { header("x-frame-options") } else { None },
            "ranges": header("accept-ranges"),
        });
        let body = if status == 200 {
            Value::Null
        } else {
            res.json::<Value>().await.unwrap_or(Value::Null)
        };
        out.push((step, json!([seen, body])));
    }
    let token = server.file_token().await;
    let res = server
        .get(&file_path(&rec["secret"], &format!("?token={token}")))
        .await;
    out.push(("protected with token", json!(res.status().as_u16())));
    let (status, body) = server
        .send_json(Method::POST, "/api/files/token", json!({}), false)
        .await;
    out.push(("token as guest", json!([status, body])));

    for (step, form) in [
        (
            "oversize",
            Form::new().part("image", file(vec![b'x'; 5000], "big.txt")),
        ),
        (
            "wrong type",
            Form::new().part("files", file(vec![0, 1, 2, 200, 255], "x.png")),
        ),
        (
            "too many",
            (0..4).fold(Form::new(), |f, i| {
                f.part("files", file(png(2, 2), &format!("{i}.png")))
            }),
        ),
        ("unknown name", Form::new().text("files", "nope.png")),
    ] {
        let (status, mut body) = server.send_form(Method::POST, create, form, false).await;
        // The mime message names the stored (random) file name.
        if let Some(m) = body.pointer_mut("/data/files/message")
            && step == "wrong type"
        {
            *m = json!(
                m.as_str()
                    .unwrap_or_default()
                    .split_once(" mime")
                    .map(|(_, r)| r)
            );
        }
        out.push((step, json!([status, body])));
    }
    let truncated =
        "--XX\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\r\nhel";
    let res = server
        .client
        .post(server.url(create))
        .header("Content-Type", "multipart/form-data; boundary=XX")
        .body(truncated)
        .send()
        .await
        .unwrap();
    out.push((
        "truncated",
        json!([res.status().as_u16(), res.json::<Value>().await.ok()]),
    ));

    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/collections",
            json!({"name": "badthumbs", "fields": [
                {"name": "title", "type": "text"},
                {"name": "f", "type": "file", "thumbs": ["100x100", "0x0", "abc", "10x10z"]},
            ]}),
            true,
        )
        .await;
    out.push(("invalid thumb sizes", json!([status, body])));

    let record = format!("{create}/{id}");
    let (status, rec2) = server
        .send_form(
            Method::PATCH,
            &record,
            Form::new().part("files+", file(png(2, 2), "more.png")),
            false,
        )
        .await;
    out.push((
        "append",
        json!([status, rec2["files"].as_array().map(Vec::len)]),
    ));
    let (status, rec3) = server
        .send_json(
            Method::PATCH,
            &record,
            json!({"files-": [rec2["files"][0]]}),
            false,
        )
        .await;
    out.push((
        "remove",
        json!([status, rec3["files"].as_array().map(Vec::len)]),
    ));
    let res = server.get(&file_path(&rec2["files"][0], "")).await;
    out.push(("removed file", json!(res.status().as_u16())));
    out
}

/// A photo-like `w`x`h` image: smooth gradients with some fine detail, as thumbnails are
/// mostly made of (flat test colours would compress to nothing on both sides).
fn photo(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let ripple = ((x as f32 / 7.0).sin() * (y as f32 / 11.0).cos() * 24.0) as i32;
        let c = |v: f32| (v * 200.0) as i32 + ripple;
        image::Rgb([
            c(fx).clamp(0, 255) as u8,
            c(fy).clamp(0, 255) as u8,
            c(1.0 - fx * fy).clamp(0, 255) as u8,
        ])
    })
}

fn encoded(img: &image::RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// Thumbnails of the same PNG, JPEG, GIF and WebP at every size kind: the same type and dimensions
/// as PocketBase's, and bytes within 1.5x of its (its encoders: PNG at the default zlib
/// level, JPEG at quality 95; WebP becomes PNG).
#[tokio::test]
async fn thumbnails_are_as_small_as_pocketbases() {
    let Some(bin) = crate::compat::pocketbase_bin() else {
        return;
    };
    let pb = crate::compat::start_pocketbase(&bin).await;
    let (_app, hearth) = hearth().await;
    let pocketbase = Server::signed_in(&pb.address).await;
    let sizes = [
        "100x100", "100x100t", "100x100b", "100x100f", "0x80", "120x0",
    ];
    let picture = photo(300, 400);
    let originals = [
        ("photo.png", encoded(&picture, image::ImageFormat::Png)),
        ("photo.jpg", encoded(&picture, image::ImageFormat::Jpeg)),
        ("photo.gif", encoded(&picture, image::ImageFormat::Gif)),
        ("photo.webp", encoded(&picture, image::ImageFormat::WebP)),
    ];

    let mut measured = Vec::new();
    for server in [&hearth, &pocketbase] {
        let (status, body) = server
            .send_json(
                Method::POST,
                "/api/collections",
                json!({"name": "pics", "listRule": "", "viewRule": "", "createRule": "",
                    "fields": [{"name": "img", "type": "file", "maxSelect": 1,
                        "maxSize": 10_000_000, "thumbs": sizes}]}),
                true,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let mut seen = Vec::new();
        for (name, bytes) in &originals {
            let form = Form::new().part("img", file(bytes.clone(), name));
            let (status, rec) = server
                .send_form(Method::POST, "/api/collections/pics/records", form, false)
                .await;
            assert_eq!(status, 200, "{rec}");
            for size in sizes {
                let path = format!(
                    "/api/files/pics/{}/{}?thumb={size}",
                    s(&rec["id"]),
                    s(&rec["img"])
                );
                let res = server.get(&path).await;
                let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
                let bytes = res.bytes().await.unwrap();
                let img = image::load_from_memory(&bytes).unwrap();
                seen.push((
                    format!("{name} {size}"),
                    kind,
                    img.width(),
                    img.height(),
                    bytes.len(),
                ));
            }
        }
        measured.push(seen);
    }

    let mut problems = Vec::new();
    for (ours, theirs) in measured[0].iter().zip(&measured[1]) {
        let (label, kind, w, h, bytes) = ours;
        eprintln!(
            "{label}: hearth {bytes} bytes, PocketBase {} bytes",
            theirs.4
        );
        if (kind, w, h) != (&theirs.1, &theirs.2, &theirs.3) {
            problems.push(format!("{label}: hearth {ours:?}, PocketBase {theirs:?}"));
        }
        if *bytes as f64 > theirs.4 as f64 * 1.5 {
            problems.push(format!(
                "{label}: hearth {bytes} bytes, PocketBase {}",
                theirs.4
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
