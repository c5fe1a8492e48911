//! Compression as the client accepts it: JSON, HTML, CSS and JS come brotli-, zstd- or
//! gzip-encoded; images, archives and fonts that are compressed already do not, and the
//! realtime stream is never encoded (an encoder would hold its events back).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn answers_are_encoded_as_the_client_accepts() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(
        site.path().join("app.js"),
        "console.log('x');\n".repeat(200),
    )
    .unwrap();
    std::fs::write(site.path().join("logo.png"), vec![0x89u8; 4096]).unwrap();
    std::fs::write(site.path().join("bundle.zip"), vec![0x50u8; 4096]).unwrap();
    std::fs::write(site.path().join("font.woff2"), vec![0x77u8; 4096]).unwrap();
    std::fs::write(site.path().join("tiny.js"), "console.log(1);\n").unwrap();
    let public = site.path().to_path_buf();
    let app = spawn_app_with(move |c| c.public_dir = public).await;
    let token = app.superuser_token().await;

    for (path, accept, want) in [
        ("/api/collections", "br", Some("br")),
        ("/api/collections", "gzip", Some("gzip")),
        ("/api/collections", "identity", None),
        ("/_/login", "gzip", Some("gzip")),
        ("/app.js", "br, gzip", Some("br")),
        ("/app.js", "zstd", Some("zstd")),
        ("/logo.png", "gzip", None),
        ("/bundle.zip", "gzip, br", None),
        ("/font.woff2", "br", None),
        // Under 1 KiB: not worth an encoder.
        ("/tiny.js", "br, gzip", None),
        ("/api/health", "br, gzip", None),
    ] {
        let res = app
            .api
            .get(app.url(path))
            .header("Authorization", &token)
            .header("Accept-Encoding", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let got = res
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_owned());
        if want.is_some() {
            let vary: Vec<String> = res
                .headers()
                .get_all("vary")
                .iter()
                .map(|v| v.to_str().unwrap().to_lowercase())
                .collect();
            assert!(
                vary.iter().any(|v| v.contains("accept-encoding")),
                "{path}: {vary:?}"
            );
        }
        assert_eq!(
            got.as_deref(),
            want,
            "{path} with Accept-Encoding: {accept}"
        );
    }
}

#[tokio::test]
async fn the_realtime_stream_is_never_encoded() {
    let app = spawn_app_with(|_| {}).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let request =
        format!("GET /api/realtime HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: gzip, br\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // The first event must arrive by itself, unencoded, while the stream stays open.
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while !String::from_utf8_lossy(&seen).contains("PB_CONNECT") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the stream ended");
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    let text = String::from_utf8_lossy(&seen).to_lowercase();
    assert!(read.is_ok(), "no readable PB_CONNECT: {text}");
    assert!(!text.contains("content-encoding"), "{text}");
}
