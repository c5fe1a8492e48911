//! Every POST route of the admin UI refuses a form whose CSRF token is missing, empty,
//! forged, issued for another browser's session, or issued by the sign-in page before this
//! session began, and changes nothing. The routes are read from `src/ui/`, so a POST route
//! added there without a case here fails the test.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use reqwest::Client;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, csrf_token, notes, spawn_app_with, wait_for,
};
use crate::webhooks::{Receiver, webhook};

/// POST routes as `src/ui/` registers them, under the admin scope `/_`.
fn registered_post_routes() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        // Without whitespace, `.route(\n "/x",\n web::post()...` reads `.route("/x",web::post()`.
        let flat: String = text.split_whitespace().collect();
        for (at, _) in flat.match_indices(".route(\"") {
            let rest = &flat[at + ".route(\"".len()..];
            let end = rest.find('"').unwrap();
            if rest[end..].starts_with("\",web::post()") {
                routes.insert(format!("/_{}", &rest[..end]));
            }
        }
    }
    routes
}

/// One form to forge: the route as registered, the path it is sent to, its fields, and
/// whether it goes as multipart with a file (as record forms with uploads do).
struct Case {
    route: &'static str,
    path: String,
    fields: Vec<(&'static str, String)>,
    with_file: bool,
}

fn case(route: &'static str, path: String, fields: &[(&'static str, &str)]) -> Case {
    Case {
        route,
        path,
        fields: fields.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        with_file: false,
    }
}

/// What a refused form must leave as it was, read through the API and the data dir.
async fn snapshot(app: &TestApp, token: &str, hook: &str, browser: &Client) -> Value {
    let mut state = serde_json::Map::new();
    for path in [
        "/api/collections?perPage=500".to_owned(),
        "/api/collections/posts/records".to_owned(),
        "/api/collections/users/records".to_owned(),
        "/api/collections/_superusers/records".to_owned(),
        "/api/collections/notes/records".to_owned(),
        "/api/settings".to_owned(),
        "/api/webhooks".to_owned(),
        format!("/api/webhooks/{hook}/deliveries"),
        "/api/backups".to_owned(),
    ] {
        let (status, body) = app
            .call(reqwest::Method::GET, &path, None, Some(token))
            .await;
        state.insert(path, json!([status, body]));
    }
    let mails = app.db.data.read(|c| hearth::mail::outbox(c, 100)).unwrap();
    let mails: Vec<_> = mails.iter().map(|m| (&m.kind, &m.status)).collect();
    state.insert("outbox".into(), json!(mails));
    state.insert("files".into(), json!(files_under(app.dir.path())));
    let signed_in = browser.get(app.url("/_/")).send().await.unwrap().status();
    state.insert("browser signed in".into(), json!(signed_in.as_u16()));
    Value::Object(state)
}

/// Every file under `root` but the databases, with its size.
fn files_under(root: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                dirs.push(path);
                continue;
            }
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if !name.ends_with(".db") && !name.contains(".db-") && !name.ends_with(".lock") {
                out.push((name, entry.metadata().unwrap().len()));
            }
        }
    }
    out.sort();
    out
}

async fn send(
    browser: &Client,
    app: &TestApp,
    case: &Case,
    csrf: Option<&str>,
) -> reqwest::Response {
    let req = browser.post(app.url(&case.path));
    let req = if case.with_file {
        let mut form = Form::new().part("doc", Part::bytes(b"forged".to_vec()).file_name("f.txt"));
        for (k, v) in &case.fields {
            form = form.text(*k, v.clone());
        }
        if let Some(t) = csrf {
            form = form.text("csrf", t.to_owned());
        }
        req.multipart(form)
    } else {
        let mut fields = case.fields.clone();
        if let Some(t) = csrf {
            fields.push(("csrf", t.to_owned()));
        }
        req.form(&fields)
    };
    req.send().await.unwrap()
}

#[tokio::test]
async fn every_admin_post_route_refuses_a_bad_csrf_token_and_changes_nothing() {
    let app = spawn_app_with(|c| {
        // The test receiver listens on 127.0.0.1; one attempt, so its delivery is final.
        c.webhooks.allow_private = true;
        c.webhooks.max_attempts = 1;
    })
    .await;
    let token = app.superuser_token().await;
    // Taken first, so a restore that got through would take everything after it away.
    let (status, body) = app
        .call(
            reqwest::Method::POST,
            "/api/backups",
            Some(json!({"name": "keep.zip"})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = app
        .call(
            reqwest::Method::POST,
            "/api/collections",
            Some(json!({"name": "posts", "fields": [
                {"name": "title", "type": "text"},
                {"name": "doc", "type": "file", "maxSelect": 1, "maxSize": 1000},
            ]})),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, post) = app
        .call(
            reqwest::Method::POST,
            "/api/collections/posts/records",
            Some(json!({"title": "original"})),
            Some(&token),
        )
        .await;
    let post = post["id"].as_str().unwrap().to_owned();
    let (status, user) = app
        .call(
            reqwest::Method::POST,
            "/api/collections/users/records",
            Some(
                json!({"email": "ann@example.com", "password": "password123",
                "passwordConfirm": "password123"}),
            ),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{user}");
    let user = user["id"].as_str().unwrap().to_owned();
    notes(&app, &token).await;
    let receiver = Receiver::start_on(0, 500).await;
    let hook = webhook(&app, &token, &receiver.url(), json!(["create"])).await;
    let hook = hook["id"].as_str().unwrap().to_owned();
    app.call(
        reqwest::Method::POST,
        "/api/collections/notes/records",
        Some(json!({"text": "x"})),
        None,
    )
    .await;
    let delivery = wait_for(
        Duration::from_secs(10),
        "the delivery to fail",
        async || {
            let (_, list) = app
                .call(
                    reqwest::Method::GET,
                    &format!("/api/webhooks/{hook}/deliveries"),
                    None,
                    Some(&token),
                )
                .await;
            match list["items"][0]["status"].as_str() {
                Some("failed") => Ok(list["items"][0]["id"].as_str().unwrap().to_owned()),
                _ => Err(list),
            }
        },
    )
    .await;

    // The victim's browser: a token from its sign-in page, then a session.
    let victim = app.browser();
    let pre_session = app.login_csrf(&victim).await;
    let res = app.sign_in_browser(&victim, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 303);
    // Another browser signed in as the same superuser: its token is for its own session.
    let other = app.browser();
    let res = app.sign_in_browser(&other, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 303);
    let page = other.get(app.url("/_/")).send().await.unwrap();
    let other_session = csrf_token(&page.text().await.unwrap());

    let record = format!("/_/collections/posts/records/{post}");
    let account = format!("/_/collections/users/records/{user}");
    let mut cases = vec![
        case(
            "/_/login",
            "/_/login".into(),
            &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
        ),
        case("/_/logout", "/_/logout".into(), &[]),
        case("/_/sql", "/_/sql".into(), &[("query", "DELETE FROM posts")]),
        case(
            "/_/crons/{id}/run",
            "/_/crons/__pbDBOptimize__/run".into(),
            &[],
        ),
        case(
            "/_/install/{token}",
            "/_/install/some-token".into(),
            &[
                ("email", "forged@example.com"),
                ("password", "forged-password-1"),
                ("passwordConfirm", "forged-password-1"),
            ],
        ),
        case("/_/backups", "/_/backups".into(), &[("name", "forged.zip")]),
        case(
            "/_/backups/{key}/delete",
            "/_/backups/keep.zip/delete".into(),
            &[],
        ),
        case(
            "/_/backups/{key}/restore",
            "/_/backups/keep.zip/restore".into(),
            &[],
        ),
        case(
            "/_/collections/new",
            "/_/collections/new".into(),
            &[("name", "sneaky"), ("type", "base")],
        ),
        case(
            "/_/collections/{name}/edit",
            "/_/collections/posts/edit".into(),
            &[("name", "renamed"), ("type", "base")],
        ),
        case(
            "/_/collections/{name}/delete",
            "/_/collections/posts/delete".into(),
            &[],
        ),
        case(
            "/_/collections/{name}/records/new",
            "/_/collections/posts/records/new".into(),
            &[("title", "forged")],
        ),
        case(
            "/_/collections/{name}/records/{id}",
            record.clone(),
            &[("title", "forged")],
        ),
        case(
            "/_/collections/{name}/records/{id}/delete",
            format!("{record}/delete"),
            &[],
        ),
        case(
            "/_/collections/{name}/records/{id}/{action}",
            format!("{account}/verify"),
            &[],
        ),
        case(
            "/_/collections/{name}/records/{id}/{action}",
            format!("{account}/send-reset"),
            &[],
        ),
        case(
            "/_/collections/{name}/records/{id}/{action}",
            format!("{account}/send-verification"),
            &[],
        ),
        case(
            "/_/settings",
            "/_/settings".into(),
            &[("appName", "Forged")],
        ),
        case(
            "/_/webhooks",
            "/_/webhooks".into(),
            &[
                ("name", "forged"),
                ("collection", "notes"),
                ("event_create", "on"),
                ("url", "https://example.com/hook"),
                ("active", "on"),
            ],
        ),
        case(
            "/_/webhooks/{id}",
            format!("/_/webhooks/{hook}"),
            &[
                ("collection", "notes"),
                ("event_update", "on"),
                ("url", "https://example.com/x"),
            ],
        ),
        case(
            "/_/webhooks/{id}/delete",
            format!("/_/webhooks/{hook}/delete"),
            &[],
        ),
        case(
            "/_/webhooks/{id}/deliveries/{delivery}/retry",
            format!("/_/webhooks/{hook}/deliveries/{delivery}/retry"),
            &[],
        ),
    ];
    // Record forms also take uploads: a refused multipart form must leave no file behind.
    for path in [
        "/_/collections/posts/records/new".to_owned(),
        record.clone(),
    ] {
        let route = if path.ends_with("/new") {
            "/_/collections/{name}/records/new"
        } else {
            "/_/collections/{name}/records/{id}"
        };
        cases.push(Case {
            with_file: true,
            ..case(route, path, &[("title", "forged")])
        });
    }
    let covered: BTreeSet<String> = cases.iter().map(|c| c.route.to_owned()).collect();
    assert_eq!(
        covered,
        registered_post_routes(),
        "every admin POST route has a case here"
    );

    let before = snapshot(&app, &token, &hook, &victim).await;
    for case in &cases {
        for (what, csrf) in [
            ("no csrf field", None),
            ("an empty token", Some("")),
            ("a forged token", Some("forged-token")),
            ("another session's token", Some(other_session.as_str())),
            ("the sign-in page's token", Some(pre_session.as_str())),
        ] {
            let res = send(&victim, &app, case, csrf).await;
            let status = res.status();
            let html = res.text().await.unwrap();
            assert_eq!(status, 403, "{} with {what}: {html}", case.path);
            assert!(
                html.contains("This form expired or did not come from this site."),
                "{} with {what}: {html}",
                case.path
            );
        }
        let after = snapshot(&app, &token, &hook, &victim).await;
        assert_eq!(after, before, "{} changed something", case.path);
    }
    assert_eq!(
        receiver.received().len(),
        1,
        "no retry reached the receiver"
    );
}
