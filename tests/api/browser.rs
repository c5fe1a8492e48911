//! End-to-end in headless Chromium, mostly with JavaScript switched off: the admin UI must
//! work with plain forms and links (and with JavaScript on as well). Without chromedriver these
//! tests fail, unless `HEARTH_SKIP=browser` (see `helpers::Tool`). Screenshots go to
//! target/screenshots/.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Tool, free_port, spawn_app, wait_for};

/// chromedriver and the Chromium it starts (found by its own profile dir), ended when
/// dropped, even after a failed assertion.
pub struct Driver {
    child: Child,
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let profile = self.profile.path().to_string_lossy().into_owned();
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", &profile])
            .status();
    }
}

/// chromedriver (`HEARTH_CHROMEDRIVER`, default `chromedriver`); None only when `HEARTH_SKIP`
/// names the browser.
pub fn chromedriver() -> Option<String> {
    let bin = std::env::var("HEARTH_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    if Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some(bin);
    }
    Tool::Browser.missing(&format!("`{bin} --version` does not run"));
    None
}

/// A desktop-sized browser, or with `phone` a 390x844 phone screen (mobile emulation: desktop
/// Chromium will not shrink a window below 500px).
async fn browser(bin: &str, phone: bool) -> (Driver, Client) {
    browser_with(bin, phone, false).await
}

/// As `browser`, with JavaScript switched on when `js` is true.
pub async fn browser_with(bin: &str, phone: bool, js: bool) -> (Driver, Client) {
    browser_with_args(bin, phone, js, &[]).await
}

/// As `browser_with`, with more Chromium command-line switches.
pub async fn browser_with_args(
    bin: &str,
    phone: bool,
    js: bool,
    switches: &[String],
) -> (Driver, Client) {
    let port = free_port();
    let driver = Driver {
        child: Command::new(bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        profile: tempfile::tempdir().unwrap(),
    };
    let mut options = json!({
        "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,800",
            format!("--user-data-dir={}", driver.profile.path().display()),
        ],
        "prefs": {"profile.managed_default_content_settings.javascript": if js { 1 } else { 2 }},
    });
    if let Some(args) = options["args"].as_array_mut() {
        args.extend(switches.iter().map(|s| json!(s)));
    }
    if phone {
        options["mobileEmulation"] =
            json!({"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 1}});
    }
    let caps = json!({ "goog:chromeOptions": options });
    let caps: fantoccini::wd::Capabilities = caps.as_object().unwrap().clone();
    let client = wait_for(
        Duration::from_secs(20),
        "chromedriver to start",
        async || {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
                .map_err(|e| e.to_string())
        },
    )
    .await;
    (driver, client)
}

pub(crate) async fn screenshot(client: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

#[tokio::test]
async fn sign_in_and_out_with_javascript_off() {
    let Some(bin) = chromedriver() else { return };
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    // Something for the outbox page to show.
    let user = json!({"email": "ann@example.com", "password": "password123", "passwordConfirm": "password123"});
    app.call(
        reqwest::Method::POST,
        "/api/collections/users/records",
        Some(user),
        None,
    )
    .await;
    let ask = json!({"email": "ann@example.com"});
    app.call(
        reqwest::Method::POST,
        "/api/collections/users/request-verification",
        Some(ask),
        None,
    )
    .await;
    let (_driver, c) = browser(&bin, false).await;

    c.goto(&app.url("/_/")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/_/login");
    screenshot(&c, "login").await;

    c.find(Locator::Id("email"))
        .await
        .unwrap()
        .send_keys(ADMIN_EMAIL)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys("wrong-password")
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let alert = c
        .wait()
        .for_element(Locator::Css("[role=alert]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(alert, "Invalid email or password.");
    screenshot(&c, "login-error").await;

    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(ADMIN_PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let heading = c
        .wait()
        .for_element(Locator::Css(".page-head h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/_/");
    assert_eq!(heading, "Dashboard");
    screenshot(&c, "dashboard").await;
    c.find(Locator::LinkText("Mail"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css(".page-head h1"))
        .await
        .unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/_/mail");
    screenshot(&c, "mail").await;
    c.find(Locator::LinkText("Collections"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Css(".table")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/_/collections");
    screenshot(&c, "collections").await;
    c.find(Locator::LinkText("Webhooks"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("url")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/_/webhooks");
    screenshot(&c, "webhooks").await;
    // The auth collection's sign-in section: OAuth2 providers and MFA.
    c.goto(&app.url("/_/collections/users/edit")).await.unwrap();
    c.wait()
        .for_element(Locator::Id("signin-title"))
        .await
        .unwrap();
    c.execute(
        "document.getElementById('signin-title').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    screenshot(&c, "collection-signin").await;

    c.find(Locator::Css("form.signout button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Id("signin-title"))
        .await
        .unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/_/login");
    c.goto(&app.url("/_/")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/_/login");

    c.close().await.unwrap();
}

#[tokio::test]
async fn pages_fit_a_phone_screen() {
    let Some(bin) = chromedriver() else { return };
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (_driver, c) = browser(&bin, true).await;

    c.goto(&app.url("/_/login")).await.unwrap();
    screenshot(&c, "login-phone").await;
    let form = c
        .find(Locator::Css(".auth-card"))
        .await
        .unwrap()
        .rectangle()
        .await
        .unwrap();
    assert!(
        form.0 >= 0.0 && form.0 + form.2 <= 390.0,
        "sign-in card fits: {form:?}"
    );
    // Taps under mobile emulation hang without JavaScript; Enter submits the form instead.
    c.find(Locator::Id("email"))
        .await
        .unwrap()
        .send_keys(ADMIN_EMAIL)
        .await
        .unwrap();
    let password = c.find(Locator::Id("password")).await.unwrap();
    password
        .send_keys(&format!("{ADMIN_PASSWORD}\u{E007}"))
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css(".page-head h1"))
        .await
        .unwrap();
    screenshot(&c, "dashboard-phone").await;

    // No horizontal scrolling: the page is no wider than the viewport. JavaScript is off
    // for the page, so measure through the element rectangles WebDriver reports.
    let body = c
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .rectangle()
        .await
        .unwrap();
    let main = c
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .rectangle()
        .await
        .unwrap();
    assert!(
        body.2 <= 390.0 && main.2 <= 390.0,
        "body {body:?} main {main:?}"
    );
    let button = c
        .find(Locator::Css("form.signout button"))
        .await
        .unwrap()
        .rectangle()
        .await
        .unwrap();
    assert!(
        button.0 + button.2 <= 390.0,
        "sign-out button visible: {button:?}"
    );

    // Every other page fits too: wide tables scroll inside their card, not the page.
    for (path, name) in [
        ("/_/collections", "collections-phone"),
        ("/_/collections/new", "collection-new-phone"),
        ("/_/collections/users/records", "records-phone"),
        ("/_/collections/users/records/new", "record-new-phone"),
        ("/_/settings", "settings-phone"),
        ("/_/backups", "backups-phone"),
    ] {
        c.goto(&app.url(path)).await.unwrap();
        let main = c
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .rectangle()
            .await
            .unwrap();
        let body = c
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .rectangle()
            .await
            .unwrap();
        assert!(
            body.2 <= 390.0 && main.2 <= 390.0,
            "{path}: {body:?} {main:?}"
        );
        screenshot(&c, name).await;
    }

    c.close().await.unwrap();
}

pub(crate) async fn fill(c: &Client, css: &str, text: &str) {
    let input = c.find(Locator::Css(css)).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

pub(crate) async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

pub(crate) async fn text_of(c: &Client, css: &str) -> String {
    c.wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits until the browser is on a URL containing `needle` (a click on a submit button can
/// return before the next page has replaced this one).
pub(crate) async fn wait_url(c: &Client, needle: &str) {
    wait_for(Duration::from_secs(10), needle, async || {
        let url = c.current_url().await.unwrap();
        if url.as_str().contains(needle) {
            Ok(())
        } else {
            Err(url)
        }
    })
    .await;
}

async fn sign_in(c: &Client, app: &crate::helpers::TestApp) {
    c.goto(&app.url("/_/login")).await.unwrap();
    fill(c, "#email", ADMIN_EMAIL).await;
    fill(c, "#password", ADMIN_PASSWORD).await;
    click(c, "button[type=submit]").await;
    assert_eq!(text_of(c, ".page-head h1").await, "Dashboard");
}

/// The "done when": sign in, build a collection, fill it, find a record by filter,
/// edit and delete records, using only the pages.
async fn build_fill_and_filter(js: bool) {
    let Some(bin) = chromedriver() else { return };
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (_driver, c) = browser_with(&bin, false, js).await;
    let shot = |name: &str| format!("{name}-js-{}", if js { "on" } else { "off" });
    sign_in(&c, &app).await;

    // Build a collection: a title and, on a row added with the button, a number.
    click(&c, "nav a[href='/_/collections']").await;
    click(&c, "a[href='/_/collections/new']").await;
    fill(&c, "#name", "books").await;
    fill(&c, "#f2-name", "title").await;
    click(&c, "input[name='f2.required']").await;
    click(&c, "input[name='f2.presentable']").await;
    click(&c, "button[value=add]").await;
    c.wait().for_element(Locator::Id("f3-name")).await.unwrap();
    assert_eq!(
        c.find(Locator::Id("f2-name"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("title"),
        "adding a row keeps what was typed"
    );
    fill(&c, "#f3-name", "pages").await;
    click(&c, "#f3-type option[value=number]").await;
    // The number's options show once it is picked (CSS only, no script needed).
    let only_int = c
        .find(Locator::Css("input[name='f3.number.onlyInt']"))
        .await
        .unwrap();
    assert!(only_int.is_displayed().await.unwrap());
    only_int.click().await.unwrap();
    click(&c, "input[name='lock.listRule']").await; // unlock: public list
    screenshot(&c, &shot("collection-new")).await;
    click(&c, ".form-actions button[value=save]").await;
    assert_eq!(
        text_of(&c, "[role=status]").await,
        "Collection books created."
    );
    assert_eq!(
        c.current_url().await.unwrap().path(),
        "/_/collections/books/records"
    );
    assert_eq!(
        text_of(&c, ".empty h2").await.to_lowercase(),
        "no records yet"
    );

    // Fill it: a validation error first, shown next to its field, then three records.
    for (title, pages) in [
        ("", "10"),
        ("Dune", "412"),
        ("Emma", "474"),
        ("Ulysses", "730"),
    ] {
        click(&c, "a[href='/_/collections/books/records/new']").await;
        fill(&c, "#f-title", title).await;
        fill(&c, "#f-pages", pages).await;
        click(&c, ".form-actions button[type=submit]").await;
        if title.is_empty() {
            assert_eq!(text_of(&c, "#e-title").await, "Cannot be blank.");
            screenshot(&c, &shot("record-error")).await;
            click(&c, ".form-actions a").await; // Cancel
            continue;
        }
        assert!(text_of(&c, "[role=status]").await.ends_with("created."));
    }
    assert_eq!(
        c.find_all(Locator::Css("table.records tbody tr"))
            .await
            .unwrap()
            .len(),
        3
    );
    screenshot(&c, &shot("records")).await;

    // Find one by filter.
    fill(&c, "#filter", "title ~ 'mm' && pages > 400").await;
    click(&c, ".toolbar button[type=submit]").await;
    wait_url(&c, "filter=title").await;
    c.wait()
        .for_element(Locator::Css("table.records"))
        .await
        .unwrap();
    let rows = c
        .find_all(Locator::Css("table.records tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].text().await.unwrap().contains("Emma"));
    screenshot(&c, &shot("records-filtered")).await;

    // A broken filter is explained, not a crash.
    fill(&c, "#filter", "title ~").await;
    click(&c, ".toolbar button[type=submit]").await;
    wait_url(&c, "filter=title+%7E&").await;
    assert!(
        text_of(&c, "[role=alert]")
            .await
            .contains("could not be used")
    );

    // Edit Emma: open it from the table, change the title.
    fill(&c, "#filter", "title = 'Emma'").await;
    click(&c, ".toolbar button[type=submit]").await;
    wait_url(&c, "filter=title+%3D").await;
    click(&c, "table.records tbody tr td a").await;
    fill(&c, "#f-title", "Emma (1815)").await;
    screenshot(&c, &shot("record-edit")).await;
    click(&c, ".form-actions button[type=submit]").await;
    assert!(text_of(&c, "[role=status]").await.ends_with("saved."));

    // Sort by pages, descending: Ulysses first.
    c.goto(&app.url("/_/collections/books/records?sort=-pages"))
        .await
        .unwrap();
    let first = text_of(&c, "table.records tbody tr").await;
    assert!(first.contains("Ulysses"), "{first}");

    // Delete Ulysses through the confirmation page.
    click(&c, "table.records tbody tr td a").await;
    click(&c, ".actions a.btn-danger-quiet").await;
    screenshot(&c, &shot("record-delete")).await;
    click(&c, "form button.btn-danger").await;
    assert!(text_of(&c, "[role=status]").await.ends_with("deleted."));
    let titles = c
        .find(Locator::Css("table.records"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        titles.contains("Emma (1815)") && titles.contains("Dune") && !titles.contains("Ulysses")
    );

    // The log viewer shows what was just done, with its chart.
    click(&c, "nav a[href='/_/logs']").await;
    c.wait()
        .for_element(Locator::Css("svg.chart"))
        .await
        .unwrap();
    screenshot(&c, &shot("logs")).await;

    // What the pages did is what the API sees.
    let listed = app.get("/api/collections/books/records?sort=title").await;
    let body: serde_json::Value = listed.json().await.unwrap();
    assert_eq!(body["totalItems"], 2);
    assert_eq!(body["items"][0]["title"], "Dune");
    assert_eq!(body["items"][1]["pages"], 474);
    c.close().await.unwrap();
}

#[tokio::test]
async fn build_fill_and_filter_with_javascript_off() {
    build_fill_and_filter(false).await;
}

#[tokio::test]
async fn build_fill_and_filter_with_javascript_on() {
    build_fill_and_filter(true).await;
}
