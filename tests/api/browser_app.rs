//! A web app on another origin, in headless Chromium: a page served from its own port loads
//! the official JS SDK's browser build (`pocketbase.umd.js`, npm `pocketbase@0.28.1`) and
//! uses hearth across origins: sign in, subscribe to realtime, create with a file through
//! `FormData`, list with a filter, download the file, send a batch carrying a file. The same page runs against PocketBase
//! 0.40.6 side by side, and against a hearth that does not list the page's origin, where
//! the browser must refuse.

use std::time::Duration;

use fantoccini::Locator;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::browser::{browser_with_args, chromedriver};
use crate::compat::{pocketbase_bin, start_pocketbase};
use crate::helpers::{spawn_app, spawn_app_with, superuser_token_at, wait_until};
use crate::sdk::sdk_dir;

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>running</title>
<script src="/pocketbase.umd.js"></script></head>
<body><pre id="out"></pre>
<script>
(async () => {
  const api = new URLSearchParams(location.search).get("api");
  const pb = new PocketBase(api);
  const r = {};
  try {
    await pb.collection("users").authWithPassword("ann@example.com", "correct-horse-1");
    r.signedIn = pb.authStore.isValid;
    await pb.collection("posts").subscribe("*", (e) => { r.event = e.action + ":" + e.record.title; });
    const form = new FormData();
    form.append("title", "hello");
    form.append("owner", pb.authStore.record.id);
    form.append("doc", new Blob(["file body"], { type: "text/plain" }), "note.txt");
    const created = await pb.collection("posts").create(form);
    r.created = created.title;
    const list = await pb.collection("posts").getList(1, 10, { filter: 'title = "hello"' });
    r.listed = list.totalItems;
    const res = await fetch(pb.files.getURL(created, created.doc));
    r.download = await res.text();
    for (let i = 0; i < 50 && !r.event; i++) await new Promise((s) => setTimeout(s, 100));
    pb.realtime.unsubscribe();
    // A batch with a file: the SDK sends it as multipart, the file under requests.0.doc.
    const batch = pb.createBatch();
    batch.collection("posts").create({ title: "batched", owner: pb.authStore.record.id,
      doc: new File(["batched body"], "b.txt", { type: "text/plain" }) });
    const [one] = await batch.send();
    r.batched = one.status + ":" + (await (await fetch(pb.files.getURL(one.body, one.body.doc))).text());
  } catch (e) {
    r.error = String((e && e.message) || e);
    r.status = e && e.status;
  }
  document.getElementById("out").textContent = JSON.stringify(r);
  document.title = "done";
})();
</script></body></html>"#;

/// Serves the page and the SDK on a port of its own (another origin than the API's).
async fn serve_page() -> String {
    serve(PAGE).await
}

/// Serves `page` at `/` and the SDK's browser build beside it on a port of its own.
pub async fn serve(page: &'static str) -> String {
    let sdk = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/sdk/node_modules/pocketbase/dist/pocketbase.umd.js"),
    )
    .expect("the JS SDK is installed: cd tests/sdk && npm ci");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let sdk = sdk.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = stream.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let path = request.split_whitespace().nth(1).unwrap_or("/");
                let (kind, body) = if path.starts_with("/pocketbase.umd.js") {
                    ("text/javascript", sdk)
                } else if path == "/" || path.starts_with("/?") {
                    ("text/html", page.as_bytes().to_vec())
                } else {
                    ("text/plain", b"not found".to_vec())
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
            });
        }
    });
    address
}

/// A folder with the page as `index.html` and the SDK beside it, for `--public-dir`.
pub fn page_site() -> tempfile::TempDir {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), PAGE).unwrap();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/sdk/node_modules/pocketbase/dist/pocketbase.umd.js"),
        site.path().join("pocketbase.umd.js"),
    )
    .expect("the JS SDK is installed: cd tests/sdk && npm ci");
    site
}

/// The same schema and user on either server, through its superuser API.
async fn prepare(base: &str, token: &str) {
    prepare_with(&crate::helpers::client(), base, token).await;
}

/// As `prepare`, through `http`.
pub async fn prepare_with(http: &reqwest::Client, base: &str, token: &str) {
    let call = |method: Method, path: &str, body: Value| {
        http.request(method, format!("{base}{path}"))
            .header("Authorization", token)
            .json(&body)
            .send()
    };
    let res = call(
        Method::POST,
        "/api/collections",
        json!({"name": "posts", "listRule": "", "viewRule": "",
            "createRule": "@request.auth.id != ''",
            "fields": [{"name": "title", "type": "text"},
                {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
                {"name": "doc", "type": "file", "maxSelect": 1, "maxSize": 1000000}]}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = call(
        Method::PATCH,
        "/api/settings",
        json!({"batch": {"enabled": true, "maxRequests": 5}}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = call(
        Method::POST,
        "/api/collections/users/records",
        json!({"email": "ann@example.com", "password": "correct-horse-1",
            "passwordConfirm": "correct-horse-1"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

/// What the page reports when everything worked.
pub fn expected() -> Value {
    json!({"signedIn": true, "created": "hello", "listed": 1,
        "download": "file body", "event": "create:hello", "batched": "200:batched body"})
}

/// Opens the page against `api` and returns what its script reported.
async fn run_page(bin: &str, page: &str, api: &str) -> Value {
    run_page_with(bin, page, api, &[]).await
}

/// As `run_page`, in a Chromium started with `switches`.
pub async fn run_page_with(bin: &str, page: &str, api: &str, switches: &[String]) -> Value {
    let (_driver, client) = browser_with_args(bin, false, true, switches).await;
    client.goto(&format!("{page}/?api={api}")).await.unwrap();
    reported(&client).await
}

/// What the page's script reported in `#out` once it set its title to "done"; closes the
/// browser.
pub async fn reported(client: &fantoccini::Client) -> Value {
    wait_until(Duration::from_secs(30), "the page to finish", async || {
        client.title().await.unwrap() == "done"
    })
    .await;
    let text = client
        .find(Locator::Css("#out"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    client.clone().close().await.unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn a_page_on_another_origin_uses_hearth_as_it_uses_pocketbase() {
    let Some(bin) = chromedriver() else { return };
    let Some(_) = sdk_dir() else { return };
    let page = serve_page().await;
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    prepare(&app.address, &token).await;

    let ours = run_page(&bin, &page, &app.address).await;

    assert_eq!(ours, expected());
    if let Some(pb_bin) = pocketbase_bin() {
        let pb = start_pocketbase(&pb_bin).await;
        let token = superuser_token_at(&crate::helpers::client(), &pb.address).await;
        prepare(&pb.address, &token).await;
        let theirs = run_page(&bin, &page, &pb.address).await;
        assert_eq!(ours, theirs, "hearth vs pocketbase");
    }
}

#[tokio::test]
async fn the_browser_refuses_an_origin_hearth_does_not_list() {
    let Some(bin) = chromedriver() else { return };
    let Some(_) = sdk_dir() else { return };
    let page = serve_page().await;
    let app = spawn_app_with(|c| c.origins = vec!["https://app.example.com".into()]).await;
    let token = app.superuser_token().await;
    prepare(&app.address, &token).await;

    let got = run_page(&bin, &page, &app.address).await;

    assert!(got.get("signedIn").is_none(), "{got}");
    assert!(got["error"].is_string(), "{got}");
}

#[tokio::test]
async fn the_same_page_served_from_the_public_dir_works_on_hearths_own_origin() {
    let Some(bin) = chromedriver() else { return };
    let Some(_) = sdk_dir() else { return };
    let site = page_site();
    let public = site.path().to_path_buf();
    // Only its own origin: the page needs no CORS at all.
    let app = spawn_app_with(move |c| {
        c.public_dir = public;
        c.origins = vec!["https://elsewhere.example.com".into()];
    })
    .await;
    let token = app.superuser_token().await;
    prepare(&app.address, &token).await;

    let got = run_page(&bin, &app.address, &app.address).await;

    assert_eq!(got, expected());
}
