//! The auth collection page's sign-in section: OAuth2 providers added, changed and removed
//! through the form (the client secret never shown, a blank one keeping the stored secret),
//! their validation errors next to the provider, and MFA's settings; what the page saves is
//! what the collections API answers.

use regex::Regex;
use serde_json::Value;

use crate::admin_pages::post;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, spawn_app};

/// The values a browser would submit for the page's form: inputs (checkboxes only when
/// checked), selects' selected options, textareas.
fn form_values(html: &str) -> Vec<(String, String)> {
    let attr = |tag: &str, name: &str| {
        Regex::new(&format!(r#"\b{name}="([^"]*)""#))
            .ok()
            .and_then(|r| r.captures(tag).map(|c| c[1].to_owned()))
    };
    let numeric = Regex::new(r"&#(x?)([0-9a-fA-F]+);").unwrap();
    let unescape = |s: String| {
        let s = numeric.replace_all(&s, |c: &regex::Captures| {
            let radix = if c[1].is_empty() { 10 } else { 16 };
            u32::from_str_radix(&c[2], radix)
                .ok()
                .and_then(char::from_u32)
                .map(String::from)
                .unwrap_or_default()
        });
        s.replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let mut out = Vec::new();
    let input = Regex::new(r"<input\b[^>]*>").unwrap();
    for m in input.find_iter(html) {
        let tag = m.as_str();
        let Some(name) = attr(tag, "name") else {
            continue;
        };
        let kind = attr(tag, "type").unwrap_or_default();
        if kind == "checkbox" && !tag.contains(" checked") {
            continue;
        }
        out.push((name, unescape(attr(tag, "value").unwrap_or_default())));
    }
    let select = Regex::new(r#"(?s)<select\b[^>]*name="([^"]*)"[^>]*>(.*?)</select>"#).unwrap();
    let selected = Regex::new(r#"<option value="([^"]*)"[^>]* selected"#).unwrap();
    for c in select.captures_iter(html) {
        let value = selected
            .captures(&c[2])
            .map(|s| s[1].to_owned())
            .unwrap_or_default();
        out.push((c[1].to_owned(), unescape(value)));
    }
    let textarea =
        Regex::new(r#"(?s)<textarea\b[^>]*name="([^"]*)"[^>]*>(.*?)</textarea>"#).unwrap();
    for c in textarea.captures_iter(html) {
        out.push((c[1].to_owned(), unescape(c[2].to_owned())));
    }
    out
}

/// The edit page's form with `changes` applied, posted; the answer's status and page.
async fn submit(
    app: &TestApp,
    browser: &reqwest::Client,
    changes: &[(&str, &str)],
) -> (u16, String) {
    let page = admin_page(app, browser, "/_/collections/users/edit").await;
    let mut values = form_values(&page);
    for (k, v) in changes {
        values.retain(|(name, _)| name != k);
        if !v.is_empty() || !k.ends_with(".enabled") {
            values.push(((*k).to_owned(), (*v).to_owned()));
        }
    }
    let pairs: Vec<(&str, &str)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = post(browser, app.url("/_/collections/users/edit"), &pairs).await;
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// The admin page at `path`, as text.
async fn admin_page(app: &TestApp, browser: &reqwest::Client, path: &str) -> String {
    let res = browser.get(app.url(path)).send().await.unwrap();
    res.text().await.unwrap()
}

async fn users(app: &TestApp) -> Value {
    let token = app.token_for(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (status, body) = app
        .call(
            reqwest::Method::GET,
            "/api/collections/users",
            None,
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    body
}

#[tokio::test]
async fn the_auth_collection_page_sets_up_oauth2_providers_and_mfa() {
    let app = spawn_app().await;
    let (browser, _) = app.admin_browser().await;

    // A provider without its secret: the error is shown on its row, nothing saved.
    let (status, html) = submit(
        &app,
        &browser,
        &[
            ("oauth2.enabled", "true"),
            ("p0.name", "github"),
            ("p0.clientId", "gh-id"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    let row = &html[html.find(r#"name="p0.clientId""#).unwrap()..];
    let row = &row[..row.find("</fieldset>").unwrap()];
    assert!(row.contains("Cannot be blank."), "{row}");
    assert_eq!(users(&app).await["oauth2"]["enabled"], false);

    // With its secret: saved, the secret never shown again.
    let (status, html) = submit(
        &app,
        &browser,
        &[
            ("oauth2.enabled", "true"),
            ("p0.name", "github"),
            ("p0.clientId", "gh-id"),
            ("p0.clientSecret", "gh-secret-value"),
            ("p0.pkce", "false"),
        ],
    )
    .await;
    let shown = html
        .find("class=\"alert")
        .map(|at| &html[at..(at + 600).min(html.len())]);
    assert_eq!(status, 303, "{shown:?}");
    let c = users(&app).await;
    assert_eq!(c["oauth2"]["enabled"], true);
    assert_eq!(c["oauth2"]["providers"][0]["name"], "github");
    assert_eq!(c["oauth2"]["providers"][0]["pkce"], false);
    let page = admin_page(&app, &browser, "/_/collections/users/edit").await;
    assert!(!page.contains("gh-secret-value"));
    assert!(page.contains("stored; leave blank to keep it"));

    // Edited with the secret left blank: it is kept (auth-methods still lists github).
    let (status, _) = submit(&app, &browser, &[("p0.displayName", "Our GitHub")]).await;
    assert_eq!(status, 303);
    let (_, methods) = app
        .call(
            reqwest::Method::GET,
            "/api/collections/users/auth-methods",
            None,
            None,
        )
        .await;
    assert_eq!(
        methods["oauth2"]["providers"][0]["displayName"],
        "Our GitHub"
    );

    // MFA needs two methods: with OTP off and OAuth2 on it may be turned on.
    let (status, _) = submit(
        &app,
        &browser,
        &[("mfa.enabled", "true"), ("mfa.duration", "900")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(users(&app).await["mfa"]["duration"], 900);

    // Removing the provider; MFA then lacks a second method, and says so.
    let (status, html) = submit(
        &app,
        &browser,
        &[("p0.remove", "true"), ("oauth2.enabled", "")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        html.contains("MFA requires at least 2 auth methods"),
        "{html}"
    );
    let (status, _) = submit(
        &app,
        &browser,
        &[
            ("p0.remove", "true"),
            ("oauth2.enabled", ""),
            ("mfa.enabled", ""),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let c = users(&app).await;
    assert_eq!(c["oauth2"]["providers"], serde_json::json!([]));
    assert_eq!(c["mfa"]["enabled"], false);
}

#[tokio::test]
async fn a_user_page_lists_the_accounts_links_and_unlinks_one() {
    let app = spawn_app().await;
    let (browser, csrf) = app.admin_browser().await;
    let token = app.token_for(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let ann = app.sign_up("ann@example.com", "password123").await;
    let bob = app.sign_up("bob@example.com", "password123").await;
    let mut links = Vec::new();
    for (who, provider, id) in [(&ann, "github", "ann-gh"), (&bob, "gitlab", "bob-gl")] {
        let (status, link) = app
            .call(
                reqwest::Method::POST,
                "/api/collections/_externalAuths/records",
                Some(
                    serde_json::json!({"collectionRef": "_pb_users_auth_", "recordRef": who,
                    "provider": provider, "providerId": id}),
                ),
                Some(&token),
            )
            .await;
        assert_eq!(status, 200, "{link}");
        links.push(link["id"].as_str().unwrap().to_owned());
    }
    let page = admin_page(
        &app,
        &browser,
        &format!("/_/collections/users/records/{ann}"),
    )
    .await;
    assert!(
        page.contains("Signs in with") && page.contains("ann-gh"),
        "{page}"
    );
    assert!(!page.contains("bob-gl"));

    // Bob's link cannot be removed through Ann's page.
    let unlink = format!("/_/collections/users/records/{ann}/unlink");
    let res = post(
        &browser,
        app.url(&unlink),
        &[("csrf", &csrf), ("link", &links[1])],
    )
    .await;
    assert_eq!(res.status(), 404);
    let res = post(
        &browser,
        app.url(&unlink),
        &[("csrf", &csrf), ("link", &links[0])],
    )
    .await;
    assert_eq!(res.status(), 303);
    let (_, left) = app
        .call(
            reqwest::Method::GET,
            "/api/collections/_externalAuths/records",
            None,
            Some(&token),
        )
        .await;
    let ids: Vec<&str> = left["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["providerId"].as_str())
        .collect();
    assert_eq!(ids, ["bob-gl"]);
}
