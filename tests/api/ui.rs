use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, csrf_token, location, spawn_app};

#[tokio::test]
async fn the_dashboard_needs_a_session() {
    let app = spawn_app().await;

    let res = app.get("/_/").await;
    let bare = app.get("/_").await;

    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/_/login");
    assert_eq!(bare.status(), 303);
    assert_eq!(location(&bare), "/_/");
}

#[tokio::test]
async fn the_login_page_is_a_plain_form_with_a_csrf_cookie() {
    let app = spawn_app().await;

    let res = app.get("/_/login").await;

    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("hearth_csrf="));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"<form method="post" action="/_/login""#));
    assert!(html.contains(r#"<label for="email">"#) && html.contains(r#"<label for="password">"#));
    assert!(
        !html.contains("<script"),
        "the page must work without JavaScript"
    );
    assert!(!csrf_token(&html).is_empty());
}

#[tokio::test]
async fn signing_in_sets_a_strict_session_cookie_and_shows_the_dashboard() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let browser = app.browser();

    let res = app.sign_in_browser(&browser, ADMIN_PASSWORD).await;

    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/_/");
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("hearth_session="));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(!cookie.contains("Secure"), "plain http on loopback");
    let dashboard = browser.get(app.url("/_/")).send().await.unwrap();
    assert_eq!(dashboard.status(), 200);
    let html = dashboard.text().await.unwrap();
    assert!(html.contains("Dashboard") && html.contains(ADMIN_EMAIL));
    assert!(html.contains(r#"action="/_/logout""#));
    // Signed in, the login page sends you on.
    let again = browser.get(app.url("/_/login")).send().await.unwrap();
    assert_eq!(again.status(), 303);
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again_with_an_error() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let browser = app.browser();

    let res = app.sign_in_browser(&browser, "wrong-password").await;

    assert_eq!(res.status(), 400);
    assert!(
        res.headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().contains("hearth_session"))
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("Invalid email or password."));
    assert!(
        html.contains(&format!(r#"value="{ADMIN_EMAIL}""#)),
        "email is kept"
    );
    assert_eq!(
        browser.get(app.url("/_/")).send().await.unwrap().status(),
        303
    );
}

#[tokio::test]
async fn a_login_without_a_valid_csrf_token_is_refused() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let browser = app.browser();
    let _ = app.login_csrf(&browser).await;

    let forged = browser
        .post(app.url("/_/login"))
        .form(&[
            ("csrf", "forged"),
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    // A token from another browser (another nonce cookie) is no good either.
    let other = app.login_csrf(&app.browser()).await;
    let foreign = browser
        .post(app.url("/_/login"))
        .form(&[
            ("csrf", other.as_str()),
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    // No cookie at all, as from a cross-site form.
    let cookieless = app
        .api
        .post(app.url("/_/login"))
        .form(&[
            ("csrf", other.as_str()),
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();

    for res in [forged, foreign, cookieless] {
        assert_eq!(res.status(), 403);
        assert!(res.text().await.unwrap().contains("This form expired"));
    }
    assert_eq!(
        browser.get(app.url("/_/")).send().await.unwrap().status(),
        303
    );
}

#[tokio::test]
async fn signing_out_needs_csrf_and_ends_the_session() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let browser = app.browser();
    app.sign_in_browser(&browser, ADMIN_PASSWORD).await;
    let dashboard = browser
        .get(app.url("/_/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_token(&dashboard);

    let forged = browser
        .post(app.url("/_/logout"))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(
        browser.get(app.url("/_/")).send().await.unwrap().status(),
        200
    );

    let res = browser
        .post(app.url("/_/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/_/login");
    assert_eq!(
        browser.get(app.url("/_/")).send().await.unwrap().status(),
        303
    );
}

#[tokio::test]
async fn a_password_change_ends_browser_sessions() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let browser = app.browser();
    app.sign_in_browser(&browser, ADMIN_PASSWORD).await;
    assert_eq!(
        browser.get(app.url("/_/")).send().await.unwrap().status(),
        200
    );

    app.create_superuser(ADMIN_EMAIL, "another-password-1")
        .await;

    assert_eq!(
        browser.get(app.url("/_/")).send().await.unwrap().status(),
        303
    );
}

#[tokio::test]
async fn reflected_input_is_escaped() {
    let app = spawn_app().await;
    let browser = app.browser();
    let csrf = app.login_csrf(&browser).await;
    let evil = r#""><script>alert(1)</script>"#;

    let res = browser
        .post(app.url("/_/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", evil),
            ("password", "whatever1"),
        ])
        .send()
        .await
        .unwrap();

    let html = res.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"));
}

#[tokio::test]
async fn assets_are_embedded_with_the_right_type_and_cache_headers() {
    let app = spawn_app().await;
    let html = app.get("/_/login").await.text().await.unwrap();
    let start = html
        .find("/_/static/app.css?v=")
        .expect("versioned css link");
    let href = &html[start..html[start..].find('"').unwrap() + start];

    let versioned = app.get(href).await;
    let plain = app.get("/_/static/app.css").await;
    let icon = app.get("/_/static/favicon.svg").await;
    let missing = app.get("/_/static/nope.css").await;

    assert_eq!(versioned.status(), 200);
    assert_eq!(versioned.headers()["content-type"], "text/css");
    assert!(
        versioned.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(plain.headers()["cache-control"], "no-cache");
    let etag = plain.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    assert_eq!(missing.status(), 404);
    let revalidated = app
        .api
        .get(app.url("/_/static/app.css"))
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited() {
    let app =
        crate::helpers::spawn_app_with(|c| c.auth_limits.per_identity_per_15_minutes = 2).await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let browser = app.browser();

    let first = app
        .sign_in_browser(&browser, "wrong-password")
        .await
        .status();
    let second = app
        .sign_in_browser(&browser, "wrong-password")
        .await
        .status();
    let third = app.sign_in_browser(&browser, ADMIN_PASSWORD).await;

    assert_eq!((first.as_u16(), second.as_u16()), (400, 400));
    assert_eq!(third.status(), 429);
    assert!(
        third
            .text()
            .await
            .unwrap()
            .contains("Too many sign-in attempts")
    );
}

#[tokio::test]
async fn the_mail_outbox_lists_mails_and_shows_them_escaped() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    app.call(reqwest::Method::POST, "/api/collections/users/records",
        Some(serde_json::json!({"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"})), None)
        .await;
    app.call(
        reqwest::Method::POST,
        "/api/collections/users/request-verification",
        Some(serde_json::json!({"email": "u@example.com"})),
        None,
    )
    .await;
    let browser = app.browser();
    assert_eq!(
        browser
            .get(app.url("/_/mail"))
            .send()
            .await
            .unwrap()
            .status(),
        303,
        "sign-in first"
    );
    app.sign_in_browser(&browser, ADMIN_PASSWORD).await;

    let list = browser
        .get(app.url("/_/mail"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert!(
        list.contains("Verify your Acme email") && list.contains("u@example.com"),
        "{list}"
    );
    let start = list.find("/_/mail/").unwrap();
    let href = &list[start..start + list[start..].find('"').unwrap()];
    let detail = browser
        .get(app.url(href))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let escaped = detail.contains("&lt;p&gt;Hello,") || detail.contains("&#60;p&#62;Hello,");
    assert!(escaped, "the body is shown as escaped source: {detail}");
    assert!(!detail.contains("<p>Hello,</p>"));
}

#[tokio::test]
async fn a_planted_session_cookie_is_replaced_at_sign_in() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let browser = app.browser();
    let csrf = app.login_csrf(&browser).await;

    // An attacker-chosen session value, as a fixation attempt would plant it.
    let res = browser
        .post(app.url("/_/login"))
        .header(
            "Cookie",
            format!(
                "hearth_session=attacker-chosen; hearth_csrf={}",
                "x".repeat(32)
            ),
        )
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        403,
        "the planted CSRF nonce does not match the form"
    );

    let res = app.sign_in_browser(&browser, ADMIN_PASSWORD).await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("hearth_session=") && !cookie.contains("attacker-chosen"));
    let planted = app
        .api
        .get(app.url("/_/"))
        .header("Cookie", "hearth_session=attacker-chosen")
        .send()
        .await
        .unwrap();
    assert_eq!(
        planted.status(),
        303,
        "a session value the server did not sign is no session"
    );
}

#[tokio::test]
async fn the_collections_page_lists_every_collection_with_its_records() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    let posts = serde_json::json!({"name": "posts", "listRule": "", "fields": [{"name": "title", "type": "text"}]});
    app.call(
        reqwest::Method::POST,
        "/api/collections",
        Some(posts),
        Some(&token),
    )
    .await;
    for title in ["a", "b", "<b>c</b>"] {
        let body = serde_json::json!({"title": title});
        app.call(
            reqwest::Method::POST,
            "/api/collections/posts/records",
            Some(body),
            Some(&token),
        )
        .await;
    }
    let browser = app.browser();
    assert_eq!(
        browser
            .get(app.url("/_/collections"))
            .send()
            .await
            .unwrap()
            .status(),
        303,
        "sign-in first"
    );
    app.sign_in_browser(&browser, ADMIN_PASSWORD).await;

    let html = browser
        .get(app.url("/_/collections"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    let row = &html[html
        .find("<strong>posts</strong>")
        .expect("posts is listed")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains(r#"<td class="num">3</td>"#), "{row}");
    assert!(
        row.contains("title (text)") && row.contains("<code>public</code>"),
        "{row}"
    );
    assert!(html.contains("<strong>_superusers</strong></a> <span class=\"badge\">system</span>"));
    assert!(
        html.find("<strong>posts</strong>") < html.find("<strong>_superusers</strong>"),
        "user collections first"
    );
}

/// The value a response sets for cookie `name`.
fn set_cookie(res: &reqwest::Response, name: &str) -> String {
    let prefix = format!("{name}=");
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&prefix))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie set"))
        .to_owned()
}

/// A browser as an attacker sees it: its cookies by value, sent by hand.
struct Cookies {
    nonce: String,
    session: String,
}

impl Cookies {
    fn header(&self) -> String {
        format!(
            "hearth_csrf={}; hearth_session={}",
            self.nonce, self.session
        )
    }
}

/// Signs `email` in from a fresh cookie-less client; returns its cookies and the CSRF token
/// of a page rendered for its session.
async fn signed_in(app: &TestApp, email: &str) -> (Cookies, String) {
    let page = app.get("/_/login").await;
    let nonce = set_cookie(&page, "hearth_csrf");
    let csrf = csrf_token(&page.text().await.unwrap());
    let res = app
        .api
        .post(app.url("/_/login"))
        .header("Cookie", format!("hearth_csrf={nonce}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{email} signs in");
    let cookies = Cookies {
        nonce,
        session: set_cookie(&res, "hearth_session"),
    };
    let page = app
        .api
        .get(app.url("/_/collections/new"))
        .header("Cookie", cookies.header())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csrf = csrf_token(&page.text().await.unwrap());
    (cookies, csrf)
}

#[tokio::test]
async fn a_csrf_token_works_only_with_the_session_it_was_issued_for() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    app.create_superuser("other@example.com", ADMIN_PASSWORD)
        .await;
    let (attacker, attacker_csrf) = signed_in(&app, "other@example.com").await;
    let (victim, victim_csrf) = signed_in(&app, ADMIN_EMAIL).await;
    // A pair from the sign-in page, taken before any session existed.
    let login = app.get("/_/login").await;
    let login_nonce = set_cookie(&login, "hearth_csrf");
    let login_csrf = csrf_token(&login.text().await.unwrap());
    let create = |cookie: String, csrf: String, name: &'static str| {
        app.api
            .post(app.url("/_/collections/new"))
            .header("Cookie", cookie)
            .form(&[
                ("csrf", csrf),
                ("name", name.into()),
                ("type", "base".into()),
            ])
            .send()
    };

    // The attacker's own nonce and token, planted beside the victim's session cookie.
    let foreign = create(
        format!(
            "hearth_csrf={}; hearth_session={}",
            attacker.nonce, victim.session
        ),
        attacker_csrf,
        "forged_by_session",
    )
    .await
    .unwrap();
    let pre_session = create(
        format!(
            "hearth_csrf={login_nonce}; hearth_session={}",
            victim.session
        ),
        login_csrf,
        "forged_by_login_page",
    )
    .await
    .unwrap();
    let own = create(victim.header(), victim_csrf, "made_by_victim")
        .await
        .unwrap();

    for res in [foreign, pre_session] {
        assert_eq!(res.status(), 403);
        assert!(res.text().await.unwrap().contains("Nothing was changed"));
    }
    assert_eq!(
        own.status(),
        303,
        "the token of the victim's own page works"
    );
    let body: serde_json::Value = app
        .auth_superuser("other@example.com", ADMIN_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let token = body["token"].as_str().unwrap();
    for (name, status) in [
        ("forged_by_session", 404),
        ("forged_by_login_page", 404),
        ("made_by_victim", 200),
    ] {
        let res = app
            .get_with_token(&format!("/api/collections/{name}"), token)
            .await;
        assert_eq!(res.status(), status, "{name}");
    }
}
