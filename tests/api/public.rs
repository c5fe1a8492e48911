//! The app's own frontend from `--public-dir`: index files, content types, caching, 304,
//! the single-page-app fallback, and nothing outside the folder, hidden, or in the place
//! of `/api/` and `/_/`.

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, spawn_app_with};

/// A site folder beside a file that must stay out of reach.
fn site(root: &std::path::Path) -> std::path::PathBuf {
    let site = root.join("site");
    std::fs::create_dir_all(site.join("assets")).unwrap();
    std::fs::create_dir_all(site.join("about")).unwrap();
    std::fs::write(site.join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(site.join("about/index.html"), "<h1>about</h1>").unwrap();
    std::fs::write(site.join("assets/app-4f3a2b1c.js"), "console.log(1)").unwrap();
    std::fs::write(site.join("robots.txt"), "User-agent: *").unwrap();
    std::fs::write(site.join(".env"), "SECRET=1").unwrap();
    std::fs::write(root.join("outside.txt"), "outside").unwrap();
    std::os::unix::fs::symlink(root.join("outside.txt"), site.join("link-out.txt")).unwrap();
    std::os::unix::fs::symlink(site.join("robots.txt"), site.join("link-in.txt")).unwrap();
    site
}

async fn app(fallback: bool) -> (TestApp, tempfile::TempDir) {
    let holder = tempfile::tempdir().unwrap();
    let dir = site(holder.path());
    let app = spawn_app_with(move |c| {
        c.public_dir = dir;
        c.index_fallback = fallback;
    })
    .await;
    (app, holder)
}

/// A request sent as written, with no client normalising its path.
async fn raw_status(app: &TestApp, path: &str) -> u16 {
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer).await;
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn the_site_is_served_with_types_caching_and_304() {
    let (app, _dir) = app(true).await;

    let home = app.get("/").await;
    assert_eq!(home.status(), 200);
    let headers = home.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(headers["cache-control"], "no-cache");
    assert!(
        !headers.contains_key("content-security-policy"),
        "the admin UI's CSP stays off the app's pages"
    );
    assert_eq!(home.text().await.unwrap(), "<h1>home</h1>");
    assert_eq!(
        app.get("/about").await.text().await.unwrap(),
        "<h1>about</h1>"
    );
    assert_eq!(
        app.get("/about/").await.text().await.unwrap(),
        "<h1>about</h1>"
    );

    let js = app.get("/assets/app-4f3a2b1c.js").await;
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert_eq!(
        js.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let etag = js.headers()["etag"].to_str().unwrap().to_owned();
    assert!(js.headers().contains_key("last-modified"));
    let again = app
        .api
        .get(app.url("/assets/app-4f3a2b1c.js"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn client_routes_fall_back_to_the_index_and_nothing_shadows_the_api() {
    let (app, _dir) = app(true).await;

    let route = app.get("/users/42/edit").await;
    assert_eq!(route.status(), 200);
    assert_eq!(route.text().await.unwrap(), "<h1>home</h1>");
    // A missing file (it has an extension) is a 404, not the index.
    assert_eq!(app.get("/missing.js").await.status(), 404);
    // The API and the admin UI keep their own answers.
    let api = app.get("/api/nope").await;
    assert_eq!(api.status(), 404);
    assert!(
        api.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("json")
    );
    assert_eq!(app.get("/_/nope").await.status(), 404);
    let admin = app.get("/_/login").await;
    assert!(admin.headers().contains_key("content-security-policy"));
    let post = app.api.post(app.url("/")).send().await.unwrap();
    assert_eq!(post.status(), 404);

    let (strict, _dir) = self::app(false).await;
    assert_eq!(strict.get("/users/42").await.status(), 404);
    assert_eq!(strict.get("/").await.status(), 200);
}

#[tokio::test]
async fn nothing_outside_the_folder_or_hidden_is_reachable() {
    let (app, _dir) = app(true).await;

    assert_eq!(app.get("/link-in.txt").await.status(), 200);
    for path in [
        "/../outside.txt",
        "/%2e%2e/outside.txt",
        "/assets/..%2f..%2foutside.txt",
        "/assets/%2e%2e/%2e%2e/outside.txt",
        "/.env",
        "/%2eenv",
        "/link-out.txt",
        "/robots.txt%00.html",
    ] {
        let status = raw_status(&app, path).await;
        assert!(status == 404 || status == 400, "{path} answered {status}");
    }
}
