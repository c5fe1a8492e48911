//! Request-level tests of the admin pages beyond sign-in: every page renders for a
//! superuser (and sends guests to sign in), every form refuses a bad CSRF token and shows
//! validation errors next to its fields, and what the forms save is what the API sees.
//! Record forms: `admin_record_forms.rs`; every POST route's CSRF check: `csrf.rs`.

use reqwest::{Client, Method, Response};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, location, logs_when, spawn_app, wait_for,
};

pub(crate) async fn post(browser: &Client, url: String, form: &[(&str, &str)]) -> Response {
    browser.post(url).form(form).send().await.unwrap()
}

/// A `posts` collection (title, views, published, tags, meta, author -> users) with one
/// record; returns the record id.
pub(crate) async fn posts(app: &TestApp) -> String {
    let token = app.token_for(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let users = app
        .call(Method::GET, "/api/collections/users", None, Some(&token))
        .await
        .1;
    let schema = json!({
        "name": "posts", "type": "base", "listRule": "", "viewRule": "",
        "fields": [
            {"name": "title", "type": "text", "required": true, "max": 100},
            {"name": "views", "type": "number", "onlyInt": true},
            {"name": "published", "type": "bool"},
            {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
            {"name": "meta", "type": "json"},
            {"name": "when", "type": "date"},
            {"name": "author", "type": "relation", "collectionId": users["id"], "maxSelect": 1},
            {"name": "created", "type": "autodate", "onCreate": true},
        ]
    });
    let res = app
        .call(Method::POST, "/api/collections", Some(schema), Some(&token))
        .await;
    assert_eq!(res.0, 200, "{}", res.1);
    let res = app
        .call(
            Method::POST,
            "/api/collections/posts/records",
            Some(json!({"title": "<script>alert(1)</script>", "views": 3})),
            Some(&token),
        )
        .await;
    res.1["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn api_record(app: &TestApp, collection: &str, id: &str) -> Value {
    let token = app.token_for(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    app.call(
        Method::GET,
        &format!("/api/collections/{collection}/records/{id}"),
        None,
        Some(&token),
    )
    .await
    .1
}

/// Every visible form control has a label: `<label for=id>` or a wrapping `<label>`.
fn assert_labelled(html: &str, path: &str) {
    let mut rest = html;
    while let Some(at) = ["<input", "<select", "<textarea"]
        .iter()
        .filter_map(|t| rest.find(t))
        .min()
    {
        let tag = &rest[at..at + rest[at..].find('>').unwrap()];
        rest = &rest[at + tag.len()..];
        if tag.contains(r#"type="hidden""#) || tag.contains("aria-hidden") {
            continue;
        }
        let wrapped = html[..html.len() - rest.len()]
            .rfind("<label")
            .is_some_and(|l| !html[l..html.len() - rest.len()].contains("</label>"));
        let labelled = tag
            .split(r#"id=""#)
            .nth(1)
            .and_then(|s| s.split('"').next())
            .is_some_and(|id| html.contains(&format!(r#"for="{id}""#)));
        assert!(
            wrapped || labelled,
            "{path}: control without a label: {tag}"
        );
    }
}

#[tokio::test]
async fn every_page_renders_for_a_superuser_and_sends_guests_to_sign_in() {
    let app = spawn_app().await;
    let (browser, _) = app.admin_browser().await;
    let id = posts(&app).await;
    let pages = [
        "/_/".to_owned(),
        "/_/collections".into(),
        "/_/collections/new".into(),
        "/_/collections/posts/edit".into(),
        "/_/collections/posts/delete".into(),
        "/_/collections/posts/records".into(),
        "/_/collections/posts/records?filter=views%3E1&sort=-views&perPage=50&page=1".into(),
        "/_/collections/posts/records/new".into(),
        format!("/_/collections/posts/records/{id}"),
        format!("/_/collections/posts/records/{id}/delete"),
        "/_/collections/users/records".into(),
        "/_/collections/users/records/new".into(),
        "/_/collections/_superusers/records".into(),
        "/_/collections/users/edit".into(),
        "/_/settings".into(),
        "/_/mail".into(),
        "/_/backups".into(),
        "/_/logs".into(),
        "/_/logs?status=4xx&method=GET&path=%2Fapi%27%22&span=24h&page=2".into(),
        "/_/logs?status=bogus&method=BREW&span=forever".into(),
    ];
    for path in &pages {
        let res = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
        assert!(
            res.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
        let html = res.text().await.unwrap();
        assert!(
            html.matches("<script").count() == html.matches("<script src=\"/_/static/").count(),
            "{path}: no inline script"
        );
        assert!(!html.contains("<script>alert(1)"), "{path}: output escaped");
        assert_labelled(&html, path);

        let guest = app.get(path).await;
        assert_eq!(guest.status(), 303, "{path}");
        assert_eq!(location(&guest), "/_/login", "{path}");
    }
    for (path, to) in [
        ("/_/users", "/_/collections/users/records"),
        ("/_/superusers", "/_/collections/_superusers/records"),
        ("/_/collections/posts", "/_/collections/posts/records"),
    ] {
        let res = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), to);
    }
    let table = browser
        .get(app.url("/_/collections/posts/records"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        table.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || table.contains("&lt;script&gt;")
    );
}

#[tokio::test]
async fn the_log_viewer_filters_and_shows_entries() {
    let app = spawn_app().await;
    let (browser, _) = app.admin_browser().await;
    app.get("/api/health?viewer=1").await;
    app.get("/api/collections/nope/records?viewer=2").await;
    let token = app.token_for(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    // Entries are written by a background thread: wait for both.
    let items = logs_when(&app, &token, "data.url~'viewer'", 2).await["items"].clone();
    let page = |q: &'static str| {
        let browser = browser.clone();
        let url = app.url(&format!("/_/logs?{q}"));
        async move { browser.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let errors = page("status=4xx&path=viewer").await;
    assert!(errors.contains("nope/records?viewer=2") && !errors.contains("health?viewer=1"));
    assert!(errors.contains("<svg class=\"chart\""));
    let health = page("status=2xx&method=GET&path=health%3Fviewer").await;
    assert!(health.contains("health?viewer=1") && !health.contains("viewer=2"));
    let id = items[0]["id"].as_str().unwrap();
    let res = browser
        .get(app.url(&format!("/_/logs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("&#34;type&#34;: &#34;request&#34;")
    );
    let res = browser
        .get(app.url("/_/logs/nosuchentry"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // The dashboard counts the failed requests of the last day: the API 404 and the log
    // page's 404 just above (logged by a background thread, hence the wait).
    wait_for(
        std::time::Duration::from_secs(5),
        "the dashboard to count 2 failed requests",
        async || {
            let dashboard = browser
                .get(app.url("/_/"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let at = dashboard.find("Failed requests").unwrap();
            if dashboard[at..].contains(">2</a>") {
                Ok(())
            } else {
                Err(dashboard[at..at + 200].to_owned())
            }
        },
    )
    .await;
}

#[tokio::test]
async fn missing_collections_and_records_are_404_pages() {
    let app = spawn_app().await;
    let (browser, csrf) = app.admin_browser().await;
    posts(&app).await;
    for path in [
        "/_/collections/nope/records",
        "/_/collections/nope/edit",
        "/_/collections/nope/records/new",
        "/_/collections/posts/records/doesnotexist1234",
    ] {
        let res = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert!(res.text().await.unwrap().contains("Not found"));
    }
    let res = post(
        &browser,
        app.url("/_/collections/posts/records/doesnotexist1234"),
        &[("csrf", &csrf), ("title", "x")],
    )
    .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn every_form_refuses_a_bad_csrf_token_and_changes_nothing() {
    let app = spawn_app().await;
    let (browser, _) = app.admin_browser().await;
    let id = posts(&app).await;
    let forms = [
        (
            "/_/collections/new".to_owned(),
            vec![("name", "sneaky"), ("type", "base")],
        ),
        (
            "/_/collections/posts/edit".into(),
            vec![("name", "renamed")],
        ),
        ("/_/collections/posts/delete".into(), vec![]),
        (
            "/_/collections/posts/records/new".into(),
            vec![("title", "forged")],
        ),
        (
            format!("/_/collections/posts/records/{id}"),
            vec![("title", "forged")],
        ),
        (format!("/_/collections/posts/records/{id}/delete"), vec![]),
        ("/_/settings".into(), vec![("appName", "Forged")]),
        ("/_/backups".into(), vec![("name", "forged.zip")]),
    ];
    for (path, fields) in &forms {
        for token in ["", "forged-token"] {
            let mut form = fields.clone();
            form.push(("csrf", token));
            let res = post(&browser, app.url(path), &form).await;
            assert_eq!(res.status(), 403, "{path} with csrf {token:?}");
            assert!(res.text().await.unwrap().contains("Nothing was changed"));
        }
    }
    let record = api_record(&app, "posts", &id).await;
    assert_eq!(record["title"], "<script>alert(1)</script>");
    let token = app.token_for(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let sneaky = app
        .call(Method::GET, "/api/collections/sneaky", None, Some(&token))
        .await;
    assert_eq!(sneaky.0, 404);
    let settings: Value = app
        .call(Method::GET, "/api/settings", None, Some(&token))
        .await
        .1;
    assert_ne!(settings["meta"]["appName"], "Forged");
}

#[tokio::test]
async fn a_bad_filter_or_sort_is_explained_on_the_page() {
    let app = spawn_app().await;
    let (browser, _) = app.admin_browser().await;
    posts(&app).await;
    for query in [
        "filter=title%20~",
        "filter=nosuchfield%3D1",
        "sort=-nosuchfield",
        "page=99999999&perPage=7",
    ] {
        let res = browser
            .get(app.url(&format!("/_/collections/posts/records?{query}")))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let html = res.text().await.unwrap();
        if query.starts_with("page") {
            // Out-of-range pages and odd page sizes are an empty page, not an error.
            assert_eq!(status, 200);
            assert!(html.contains("Page 99999999"));
        } else {
            assert_eq!(status, 400, "{query}");
            assert!(html.contains("The filter could not be used."), "{query}");
        }
    }
}

#[tokio::test]
async fn the_collection_form_creates_edits_and_deletes_collections() {
    let app = spawn_app().await;
    let (browser, csrf) = app.admin_browser().await;

    // A bad field name and a bad rule: errors next to the row and the rule.
    let res = post(
        &browser,
        app.url("/_/collections/new"),
        &[
            ("csrf", &csrf),
            ("name", "notes"),
            ("type", "base"),
            ("field_count", "2"),
            ("f0.name", "body"),
            ("f0.type", "editor"),
            ("f1.name", "bad name!"),
            ("f1.type", "text"),
            ("rule.listRule", "nosuch = 1"),
        ],
    )
    .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    let row = &html[html.find(r#"value="bad name!""#).expect("row kept")..];
    let row = &row[..row.find("</fieldset>").unwrap()];
    assert!(row.contains(r#"class="field-error""#), "{row}");
    let rule = &html[html.find(r#"id="rule-listRule""#).unwrap()..];
    assert!(rule[..rule.find("</div>").unwrap()].contains("field-error"));

    // "Add another field" saves nothing and adds a row.
    let res = post(
        &browser,
        app.url("/_/collections/new"),
        &[
            ("csrf", &csrf),
            ("name", "notes"),
            ("field_count", "1"),
            ("f0.name", "body"),
            ("op", "add"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains(r#"name="f1.name""#));

    // Created with options of several types.
    let res = post(
        &browser,
        app.url("/_/collections/new"),
        &[
            ("csrf", &csrf),
            ("name", "notes"),
            ("type", "base"),
            ("field_count", "3"),
            ("f0.name", "body"),
            ("f0.type", "editor"),
            ("f0.editor.maxSize", "2048"),
            ("f1.name", "level"),
            ("f1.type", "select"),
            ("f1.select.values", "low, high"),
            ("f1.select.maxSelect", "1"),
            ("f1.required", "true"),
            ("f2.name", ""),
            ("rule.listRule", "level = 'high'"),
            ("lock.viewRule", "true"),
            ("indexes", "CREATE INDEX idx_notes_level ON notes (level)"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/_/collections/notes/records");
    let token = app.token_for(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let notes: Value = app
        .call(Method::GET, "/api/collections/notes", None, Some(&token))
        .await
        .1;
    let fields = notes["fields"].as_array().unwrap();
    let level = fields.iter().find(|f| f["name"] == "level").unwrap();
    assert_eq!(level["values"], json!(["low", "high"]));
    assert_eq!(level["required"], true);
    let body = fields.iter().find(|f| f["name"] == "body").unwrap();
    assert_eq!(body["maxSize"], 2048);
    assert_eq!(notes["listRule"], "level = 'high'");
    assert_eq!(notes["viewRule"], Value::Null);
    assert_eq!(notes["createRule"], Value::Null);
    assert_eq!(
        notes["indexes"],
        json!(["CREATE INDEX idx_notes_level ON notes (level)"])
    );

    // Edit: the page lists the stored fields; renaming one keeps its id (and data).
    let edit = browser
        .get(app.url("/_/collections/notes/edit"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(edit.contains(r#"value="level""#) && edit.contains(r#"value="low, high""#));
    let body_id = body["id"].as_str().unwrap();
    let level_id = level["id"].as_str().unwrap();
    let id_field = fields[0]["id"].as_str().unwrap();
    let res = post(
        &browser,
        app.url("/_/collections/notes/edit"),
        &[
            ("csrf", &csrf),
            ("name", "notes"),
            ("field_count", "3"),
            ("f0.id", id_field),
            ("f0.name", "id"),
            ("f0.type", "text"),
            ("f0.text.pattern", "^[a-z0-9]+$"),
            ("f0.text.min", "15"),
            ("f0.text.max", "15"),
            ("f0.required", "true"),
            ("f1.id", body_id),
            ("f1.name", "text"),
            ("f1.type", "editor"),
            ("f2.id", level_id),
            ("f2.name", "level"),
            ("f2.type", "select"),
            ("f2.remove", "true"),
            ("lock.listRule", "true"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let notes: Value = app
        .call(Method::GET, "/api/collections/notes", None, Some(&token))
        .await
        .1;
    let names: Vec<&str> = notes["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["id", "text"]);
    assert_eq!(notes["fields"][1]["id"], body_id);
    assert_eq!(notes["listRule"], Value::Null);

    // Delete.
    let res = post(
        &browser,
        app.url("/_/collections/notes/delete"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 303);
    let gone = app
        .call(Method::GET, "/api/collections/notes", None, Some(&token))
        .await;
    assert_eq!(gone.0, 404);
}

#[tokio::test]
async fn settings_are_saved_and_validated_through_the_page() {
    let app = spawn_app().await;
    let (browser, csrf) = app.admin_browser().await;
    let base = [
        ("csrf", csrf.as_str()),
        ("appName", "Bookshop"),
        ("appURL", "https://books.example.com"),
        ("senderName", "Books"),
        ("senderAddress", "hello@books.example.com"),
        ("smtpHost", "smtp.example.com"),
        ("smtpPort", "587"),
        ("smtpPassword", "s3cret"),
    ];
    let mut bad = base.to_vec();
    bad[4] = ("senderAddress", "not-an-email");
    bad.push(("smtpEnabled", "true"));
    bad[5] = ("smtpHost", "");
    let res = post(&browser, app.url("/_/settings"), &bad).await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"value="not-an-email""#));
    assert_eq!(
        html.matches(r#"class="field-error""#).count(),
        2,
        "sender and host"
    );

    let res = post(&browser, app.url("/_/settings"), &base).await;
    assert_eq!(res.status(), 303);
    let token = app.token_for(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let settings: Value = app
        .call(Method::GET, "/api/settings", None, Some(&token))
        .await
        .1;
    assert_eq!(settings["meta"]["appName"], "Bookshop");
    assert_eq!(settings["smtp"]["port"], 587);
    let page = browser
        .get(app.url("/_/settings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Settings saved.") && !page.contains("s3cret"));
    assert!(page.contains("stored — leave blank to keep"));
}

#[tokio::test]
async fn account_actions_verify_and_queue_mails() {
    let app = spawn_app().await;
    let (browser, csrf) = app.admin_browser().await;
    let token = app.token_for(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let ann = app
        .call(
            Method::POST,
            "/api/collections/users/records",
            Some(json!({"email": "ann@example.com", "password": "password123", "passwordConfirm": "password123"})),
            Some(&token),
        )
        .await
        .1;
    let id = ann["id"].as_str().unwrap();
    let base = format!("/_/collections/users/records/{id}");
    for action in ["send-verification", "send-reset", "verify"] {
        let res = post(
            &browser,
            app.url(&format!("{base}/{action}")),
            &[("csrf", &csrf)],
        )
        .await;
        assert_eq!(res.status(), 303, "{action}");
        assert_eq!(location(&res), base);
    }
    assert_eq!(api_record(&app, "users", id).await["verified"], true);
    let outbox = browser
        .get(app.url("/_/mail"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        outbox.matches("ann@example.com").count(),
        2,
        "verification and reset"
    );
    let res = post(
        &browser,
        app.url(&format!("{base}/explode")),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 404);

    // A new account from the form needs matching passwords.
    let res = post(
        &browser,
        app.url("/_/collections/users/records/new"),
        &[
            ("csrf", &csrf),
            ("email", "bob@example.com"),
            ("password", "password123"),
            ("passwordConfirm", "different1"),
        ],
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains(r#"id="e-passwordConfirm""#)
    );
    let res = post(
        &browser,
        app.url("/_/collections/users/records/new"),
        &[
            ("csrf", &csrf),
            ("email", "bob@example.com"),
            ("password", "password123"),
            ("passwordConfirm", "password123"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
}

/// "Preview fields" on a view's form: the dry run's fields and first records, or its
/// error, shown on the form; nothing is created.
#[tokio::test]
async fn a_view_query_is_previewed_before_it_is_saved() {
    let app = spawn_app().await;
    let (browser, csrf) = app.admin_browser().await;
    posts(&app).await;
    let preview = async |query: &str| {
        let res = post(
            &browser,
            app.url("/_/collections/new"),
            &[
                ("csrf", &csrf),
                ("name", "post_views"),
                ("type", "view"),
                ("field_count", "0"),
                ("viewQuery", query),
                ("op", "preview"),
            ],
        )
        .await;
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    };
    let html = preview("SELECT id, title, (views * 2) AS double FROM posts").await;
    let shown = &html[html.find(r#"id="view-preview""#).expect("a preview")..];
    assert!(
        shown.contains(r#"<code>title</code> <span class="badge">text</span>"#),
        "{shown}"
    );
    assert!(shown.contains(r#"<code>double</code> <span class="badge">json</span>"#));
    assert!(
        shown.contains("<td>&#60;script&#62;alert(1)&#60;/script&#62;</td>"),
        "the record, escaped: {shown}"
    );
    assert!(shown.contains("<td>6</td>"));
    let html = preview("SELECT title FROM posts").await;
    assert!(
        html.contains("Invalid view query: missing required id column"),
        "{html}"
    );
    let token = app.token_for(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (status, _) = app
        .call(
            Method::GET,
            "/api/collections/post_views",
            None,
            Some(&token),
        )
        .await;
    assert_eq!(status, 404, "a preview saves nothing");
}
