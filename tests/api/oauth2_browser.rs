//! The JS SDK's all-in-one `authWithOAuth2({provider})` in headless Chromium, from a page on
//! another origin: the SDK subscribes to `@oauth2`, opens the provider (a real OpenID
//! Connect provider run by node) in a popup, where the user signs in; the provider sends
//! the popup to `/api/oauth2-redirect`, which hands the code to the page over realtime, and
//! the SDK signs in with it. The same page against PocketBase 0.40.6 gives the same result.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::Value;

use crate::browser::{browser_with_args, chromedriver};
use crate::compat::{pocketbase_bin, start_pocketbase};
use crate::helpers::{client, spawn_app, superuser_token_at, wait_until};
use crate::oauth2_signin::{Oidc, configure, start_oidc};
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
    const auth = await pb.collection("users").authWithOAuth2({
      provider: "oidc",
      createData: { name: "Popup Pat" },
      urlCallback: (url) => { window.open(url, "oauth2"); },
    });
    r.signedIn = pb.authStore.isValid;
    r.isNew = auth.meta.isNew;
    r.metaKeys = Object.keys(auth.meta).sort();
    r.email = auth.record.email;
    r.name = auth.record.name;
    r.verified = auth.record.verified;
  } catch (e) {
    r.error = String((e && e.message) || e);
  }
  document.getElementById("out").textContent = JSON.stringify(r);
  document.title = "done";
})();
</script></body></html>"#;

/// Opens the page against `api`, signs `login` in at the provider in the popup it opens,
/// and returns what the page reported.
async fn run(bin: &str, page: &str, api: &str, login: &str) -> Value {
    let switches = ["--disable-popup-blocking".to_owned()];
    let (_driver, browser) = browser_with_args(bin, false, true, &switches).await;
    browser.goto(&format!("{page}/?api={api}")).await.unwrap();
    let main = browser.window().await.unwrap();
    wait_until(
        Duration::from_secs(20),
        "the provider's popup",
        async || browser.windows().await.unwrap().len() > 1,
    )
    .await;
    let popup = browser
        .windows()
        .await
        .unwrap()
        .into_iter()
        .find(|w| *w != main)
        .unwrap();
    browser.switch_to_window(popup).await.unwrap();
    let field = browser
        .wait()
        .for_element(Locator::Css("#login"))
        .await
        .unwrap();
    field.send_keys(login).await.unwrap();
    browser
        .find(Locator::Css("#submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.switch_to_window(main).await.unwrap();
    crate::browser_app::reported(&browser).await
}

async fn prepare(base: &str, oidc: &Oidc) {
    let http = client();
    let admin = superuser_token_at(&http, base).await;
    configure(&http, base, &admin, oidc).await;
}

#[tokio::test]
async fn the_sdks_popup_flow_signs_in_from_another_origin_as_on_pocketbase() {
    let Some(bin) = chromedriver() else { return };
    let Some(_) = sdk_dir() else { return };
    let Some(oidc) = start_oidc().await else {
        return;
    };
    let page = crate::browser_app::serve(PAGE).await;
    let app = spawn_app().await;
    app.create_superuser(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    prepare(&app.address, &oidc).await;

    let ours = run(&bin, &page, &app.address, "pat").await;
    assert_eq!(ours["signedIn"], true, "{ours}");
    assert_eq!(ours["isNew"], true);
    assert_eq!(ours["email"], "pat@example.com");
    assert_eq!(ours["name"], "Popup Pat");

    if let Some(pb_bin) = pocketbase_bin() {
        let pb = start_pocketbase(&pb_bin).await;
        prepare(&pb.address, &oidc).await;
        let theirs = run(&bin, &page, &pb.address, "pat").await;
        assert_eq!(ours, theirs, "hearth vs pocketbase");
    }
}
