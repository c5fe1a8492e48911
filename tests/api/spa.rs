//! A real single-page app, built with Vite from `tests/spa` (vanilla JS, the official SDK,
//! client routes through the History API), served by `--public-dir`: deep links load the
//! app, links change routes without a reload, back and reload work, and the hashed assets
//! are cached for a year.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::{browser_with, chromedriver};
use crate::helpers::spawn_app_with;

/// Builds the app into a temp folder with the project's pinned Vite, or None when
/// `tests/spa` has no `node_modules` and `HEARTH_SKIP` names `spa` (else the test fails).
fn build_spa() -> Option<tempfile::TempDir> {
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spa");
    let vite = project.join("node_modules/.bin/vite");
    if !vite.exists() {
        crate::helpers::Tool::Spa.missing("Vite is not installed in tests/spa");
        return None;
    }
    let out = tempfile::tempdir().unwrap();
    let built = std::process::Command::new(vite)
        .current_dir(&project)
        .args(["build", "--emptyOutDir", "--logLevel", "warn", "--outDir"])
        .arg(out.path())
        .output()
        .expect("vite runs");
    assert!(
        built.status.success(),
        "vite build failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    Some(out)
}

async fn wait_title(c: &Client, want: &str) {
    let started = Instant::now();
    loop {
        let title = c.title().await.unwrap();
        if title == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "title {title:?}, waiting for {want:?} at {}",
            c.current_url().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn page_loads(c: &Client) -> Value {
    c.execute("return window.pageLoads;", vec![]).await.unwrap()
}

#[tokio::test]
async fn a_built_single_page_app_is_served_with_working_client_routes() {
    let Some(bin) = chromedriver() else {
        return;
    };
    let Some(site) = build_spa() else {
        return;
    };
    let public: PathBuf = site.path().to_path_buf();
    let app = spawn_app_with(move |c| c.public_dir = public).await;
    let token = app.superuser_token().await;
    let (status, _) = app
        .call(
            Method::POST,
            "/api/collections",
            Some(json!({"name": "posts", "listRule": "", "viewRule": "",
                "fields": [{"name": "title", "type": "text"}]})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    let mut ids = Vec::new();
    for title in ["first post", "second post"] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/collections/posts/records",
                Some(json!({"title": title})),
                Some(&token),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }

    // Over HTTP: a client route gets the app's index.html; the hashed bundle is immutable.
    let res = app.get(&format!("/posts/{}", ids[1])).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-cache");
    let html = res.text().await.unwrap();
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the built page names its bundle")
        .to_owned();
    assert!(script.starts_with("/assets/index-"), "{script}");
    let res = app.get(&script).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );

    // In the browser: a deep link, a click, back, and a reload.
    let (_driver, c) = browser_with(&bin, false, true).await;
    c.goto(&app.url(&format!("/posts/{}", ids[1])))
        .await
        .unwrap();
    wait_title(&c, "post: second post").await;
    assert_eq!(page_loads(&c).await, json!(1));

    c.find(Locator::Id("about-link"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_title(&c, "about").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/about");
    assert_eq!(page_loads(&c).await, json!(1), "a client route, no reload");

    c.back().await.unwrap();
    wait_title(&c, "post: second post").await;

    c.goto(&app.url("/")).await.unwrap();
    wait_title(&c, "posts: 2").await;
    c.find(Locator::LinkText("first post"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_title(&c, "post: first post").await;

    c.refresh().await.unwrap();
    wait_title(&c, "post: first post").await;
    assert_eq!(
        c.current_url().await.unwrap().path(),
        format!("/posts/{}", ids[0])
    );

    c.goto(&app.url("/posts/nosuchrecord1234")).await.unwrap();
    wait_title(&c, "post: 404").await;
    c.close().await.unwrap();
}
