//! End-to-end in headless Chromium with JavaScript switched off: the admin UI must work with
//! plain forms and links. Skipped when chromedriver is missing, unless
//! HEARTH_REQUIRE_BROWSER is set (as in CI). Screenshots go to target/screenshots/.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, spawn_app};

/// chromedriver and the Chromium it starts (found by its own profile dir), ended when
/// dropped, even after a failed assertion.
struct Driver {
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

fn chromedriver() -> Option<String> {
    let bin = std::env::var("HEARTH_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    if Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some(bin);
    }
    assert!(
        std::env::var_os("HEARTH_REQUIRE_BROWSER").is_none(),
        "HEARTH_REQUIRE_BROWSER is set but `{bin}` does not run"
    );
    eprintln!("skipping: chromedriver is not installed (apt-get install chromium chromium-driver)");
    None
}

/// A desktop-sized browser, or with `phone` a 390x844 phone screen (mobile emulation: desktop
/// Chromium will not shrink a window below 500px).
async fn browser(bin: &str, phone: bool) -> (Driver, Client) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
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
        "prefs": {"profile.managed_default_content_settings.javascript": 2},
    });
    if phone {
        options["mobileEmulation"] =
            json!({"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 1}});
    }
    let caps = json!({ "goog:chromeOptions": options });
    let caps: fantoccini::wd::Capabilities = caps.as_object().unwrap().clone();
    let started = Instant::now();
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) if started.elapsed() > Duration::from_secs(20) => panic!("chromedriver: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn screenshot(client: &Client, name: &str) {
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

    c.close().await.unwrap();
}
