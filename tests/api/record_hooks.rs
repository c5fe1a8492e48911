//! Record hooks (`onRecordCreate`, `onRecordValidate`, `onRecordUpdate`, `onRecordDelete`
//! and the after hooks): the same hooks file on hearth and on PocketBase 0.40.6, the same
//! writes, the same answers and the same records left behind; then what hearth promises
//! beside: a hook that throws after the insert leaves nothing written, and hooks fire for
//! batch and admin-UI writes too.

use std::time::Duration;

use serde_json::{Value, json};

use crate::compat::{assert_same, pocketbase_bin, start_pocketbase_with_hooks};
use crate::helpers::{TestApp, client, hooks_folder, spawn_app_with, superuser_token_at};

const HOOKS: &str = r#"/// <reference path="../pb_data/types.d.ts" />
onRecordCreate((e) => {
  const title = e.record.get("title");
  if (title === "forbidden") throw new ForbiddenError("Not this title.");
  if (title === "plain") throw new Error("plain failure");
  e.record.set("slug", title.toLowerCase().replace(/ /g, "-"));
  const before = e.record.id;
  e.next();
  e.app.save(new Record(e.app.findCollectionByNameOrId("audit"), {
    msg: "created " + title + " " + (before === "") + " " + (e.record.id.length > 0),
  }));
}, "posts");

onRecordValidate((e) => {
  if (e.record.get("title") === "invalid") {
    throw new BadRequestError("Invalid title.", { title: new ValidationError("bad_title", "not allowed") });
  }
  e.next();
}, "posts");

onRecordCreate((e) => {
  e.next();
  if (e.record.get("title") === "rollback") throw new BadRequestError("Rolled back after the insert.");
}, "posts");

onRecordCreate((e) => {
  e.record.set("msg", e.record.get("msg") + "!");
  e.next();
}, "audit");

onRecordUpdate((e) => {
  const before = e.record.original().getInt("views");
  e.record.set("views", e.record.getInt("views") + 100);
  e.next();
  e.app.save(new Record(e.app.findCollectionByNameOrId("audit"), {
    msg: "views " + before + " -> " + e.record.getInt("views"),
  }));
}, "posts");

onRecordDelete((e) => {
  if (e.record.get("title") === "keep") throw new ForbiddenError("Kept.");
  e.next();
}, "posts");

onRecordAfterCreateSuccess((e) => {
  $app.save(new Record($app.findCollectionByNameOrId("audit"), { msg: "after create " + e.record.get("title") }));
  e.next();
}, "posts");

onRecordAfterCreateError((e) => {
  $app.save(new Record($app.findCollectionByNameOrId("audit"), { msg: "failed " + e.record.get("title") }));
  e.next();
}, "posts");

onRecordAfterDeleteSuccess((e) => {
  $app.save(new Record($app.findCollectionByNameOrId("audit"), { msg: "after delete " + e.record.get("title") }));
  e.next();
}, "posts");
"#;

/// The answer without what differs between any two servers (ids, times, collection ids).
pub(crate) fn stable(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| {
                    !["id", "created", "updated", "collectionId"].contains(&k.as_str())
                })
                .map(|(k, v)| (k.clone(), stable(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(stable).collect()),
        other => other.clone(),
    }
}

pub(crate) async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url).header("Authorization", token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The writes, on either server: each answer, then the records left behind.
async fn scenario(base: &str) -> Vec<(String, Value)> {
    let http = client();
    let token = superuser_token_at(&http, base).await;
    for def in [
        json!({"name": "posts", "listRule": "", "fields": [
            {"name": "title", "type": "text"}, {"name": "slug", "type": "text"},
            {"name": "views", "type": "number"}]}),
        json!({"name": "audit", "fields": [{"name": "msg", "type": "text"}]}),
    ] {
        let (status, body) = send(
            &http,
            reqwest::Method::POST,
            format!("{base}/api/collections"),
            &token,
            Some(def),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let posts = format!("{base}/api/collections/posts/records");
    let mut out = Vec::new();
    let mut created = Vec::new();
    for title in [
        "Hello World",
        "forbidden",
        "plain",
        "invalid",
        "rollback",
        "keep",
    ] {
        let (status, body) = send(
            &http,
            reqwest::Method::POST,
            posts.clone(),
            &token,
            Some(json!({"title": title})),
        )
        .await;
        if status == 200 {
            created.push(body["id"].as_str().unwrap().to_owned());
        }
        out.push((format!("create {title}"), json!([status, stable(&body)])));
    }
    let (first, keep) = (&created[0], &created[1]);
    let (status, body) = send(
        &http,
        reqwest::Method::PATCH,
        format!("{posts}/{first}"),
        &token,
        Some(json!({"views": 1})),
    )
    .await;
    out.push(("update".into(), json!([status, stable(&body)])));
    let (status, body) = send(
        &http,
        reqwest::Method::DELETE,
        format!("{posts}/{keep}"),
        &token,
        None,
    )
    .await;
    out.push(("delete keep".into(), json!([status, stable(&body)])));
    let (status, body) = send(
        &http,
        reqwest::Method::DELETE,
        format!("{posts}/{first}"),
        &token,
        None,
    )
    .await;
    out.push(("delete first".into(), json!([status, stable(&body)])));
    for (label, url) in [
        ("posts left", format!("{posts}?sort=title")),
        (
            "audit left",
            format!("{base}/api/collections/audit/records?sort=msg&perPage=100"),
        ),
    ] {
        let (status, body) = send(&http, reqwest::Method::GET, url, &token, None).await;
        out.push((label.into(), json!([status, stable(&body["items"])])));
    }
    out
}

pub(crate) async fn hearth_with(dir: &std::path::Path) -> TestApp {
    let dir = dir.to_path_buf();
    spawn_app_with(move |c| {
        c.hooks.dir = dir;
        c.hooks.watch = false;
        c.hooks.limits.budget = Duration::from_secs(5);
    })
    .await
}

#[tokio::test]
async fn record_hooks_answer_and_write_as_on_pocketbase() {
    let dir = hooks_folder(&[("records.pb.js", HOOKS)]);
    let app = hearth_with(dir.path()).await;
    app.create_superuser(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let ours = scenario(&app.address).await;
    let find = |label: &str| crate::compat::outcome(&ours, label);

    assert_eq!(find("create Hello World")[1]["slug"], "hello-world");
    assert_eq!(find("create forbidden")[0], 403);
    assert_eq!(find("create rollback")[0], 400);
    assert_eq!(find("update")[1]["views"], 101);
    assert_eq!(find("delete keep")[0], 403);
    let left: Vec<Value> = find("posts left")[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["title"].clone())
        .collect();
    assert_eq!(
        left,
        vec![json!("keep")],
        "the rolled-back create left nothing"
    );

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase_with_hooks(&bin, &[("records.pb.js", HOOKS)]).await;
    let mut theirs = scenario(&pb.address).await;
    // Where hearth means to differ: PocketBase keeps the row of a create whose hook threw
    // after `e.next()` (it answers 400 all the same); hearth rolls it back.
    crate::compat::without_their_extra(
        &mut theirs,
        "posts left",
        |r| r["title"] == "rollback",
        "PocketBase kept the rolled-back row",
    );
    assert_same(&ours, &theirs);
}

const EVERY_PATH: &str = r#"
onRecordCreate((e) => {
  const title = e.record.get("title");
  if (title === "boom") throw new BadRequestError("No booms.");
  if (title === "forever") { while (true) {} }
  e.record.set("slug", "hooked-" + title);
  e.next();
}, "posts");
"#;

async fn titles_and_slugs(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let res: Value = app
        .get_with_token(
            "/api/collections/posts/records?sort=title&perPage=100",
            token,
        )
        .await
        .json()
        .await
        .unwrap();
    res["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["title"].as_str().unwrap().to_owned(),
                r["slug"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn hooks_fire_for_batch_and_admin_ui_writes_and_a_runaway_one_is_stopped() {
    let dir = hooks_folder(&[("records.pb.js", EVERY_PATH)]);
    let dir_path = dir.path().to_path_buf();
    let app = spawn_app_with(move |c| {
        c.hooks.dir = dir_path;
        c.hooks.watch = false;
        c.hooks.limits.budget = Duration::from_millis(500);
    })
    .await;
    let (browser, csrf) = app.admin_browser().await;
    let token = app
        .token_for(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let http = client();
    let (status, body) = send(
        &http,
        reqwest::Method::POST,
        app.url("/api/collections"),
        &token,
        Some(
            json!({"name": "posts", "listRule": "", "createRule": "", "fields": [
            {"name": "title", "type": "text"}, {"name": "slug", "type": "text"}]}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = send(
        &http,
        reqwest::Method::PATCH,
        app.url("/api/settings"),
        &token,
        Some(json!({"batch": {"enabled": true, "maxRequests": 10}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // A batch: each create runs the hook; one that throws rolls back the whole batch.
    let create = |title: &str| json!({"method": "POST", "url": "/api/collections/posts/records", "body": {"title": title}});
    let (status, body) = send(
        &http,
        reqwest::Method::POST,
        app.url("/api/batch"),
        &token,
        Some(json!({"requests": [create("one"), create("two")]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[1]["body"]["slug"], "hooked-two");
    let (status, body) = send(
        &http,
        reqwest::Method::POST,
        app.url("/api/batch"),
        &token,
        Some(json!({"requests": [create("three"), create("boom")]})),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    // The admin UI's record form.
    let res = crate::admin_pages::post(
        &browser,
        app.url("/_/collections/posts/records/new"),
        &[("csrf", &csrf), ("title", "form")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let res = crate::admin_pages::post(
        &browser,
        app.url("/_/collections/posts/records/new"),
        &[("csrf", &csrf), ("title", "boom")],
    )
    .await;
    assert_eq!(res.status(), 400, "the hook's refusal is shown on the form");

    // A hook that never ends is stopped at its budget; the write is not made and the
    // server goes on answering, writes included.
    let started = std::time::Instant::now();
    let (status, _) = send(
        &http,
        reqwest::Method::POST,
        app.url("/api/collections/posts/records"),
        &token,
        Some(json!({"title": "forever"})),
    )
    .await;
    assert_eq!(status, 500);
    assert!(started.elapsed() < Duration::from_secs(5));
    let (status, body) = send(
        &http,
        reqwest::Method::POST,
        app.url("/api/collections/posts/records"),
        &token,
        Some(json!({"title": "after"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    assert_eq!(
        titles_and_slugs(&app, &token).await,
        [
            ("after", "hooked-after"),
            ("form", "hooked-form"),
            ("one", "hooked-one"),
            ("two", "hooked-two")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .to_vec()
    );
}

const REQUEST_HOOKS: &str = r#"
onRecordCreateRequest((e) => {
  if (!e.auth) throw new UnauthorizedError("Sign in first.");
  e.record.set("owner", e.auth.id);
  if (e.record.get("title") === "custom") {
    return e.json(201, { custom: true, title: e.record.get("title"), collection: e.collection.name, isNew: e.record.isNew() });
  }
  e.next();
}, "notes");

onRecordUpdateRequest((e) => {
  e.record.set("title", e.record.get("title") + " (edited, was " + e.record.original().get("title") + ")");
  e.next();
}, "notes");

routerAdd("POST", "/api/mkuser", (e) => {
  const u = new Record($app.findCollectionByNameOrId("users"));
  u.set("email", "made@example.com");
  u.setPassword("password123");
  $app.save(u);
  const again = $app.findAuthRecordByEmail("users", "made@example.com");
  return e.json(200, {
    ok: again.validatePassword("password123"),
    bad: again.validatePassword("nope"),
    email: again.email(),
    hidden: Object.keys(again.hide("email").publicExport()).includes("email"),
  });
});

onRecordDeleteRequest((e) => {
  if (e.record.get("title").startsWith("locked")) throw new ForbiddenError("Locked.");
  e.next();
}, "notes");

onRecordViewRequest((e) => {
  e.record.set("title", e.record.get("title").toUpperCase());
  e.next();
}, "notes");
"#;

/// A signed-up user's token and id.
async fn signed_up(http: &reqwest::Client, base: &str, email: &str) -> (String, String) {
    let users = format!("{base}/api/collections/users");
    let body =
        json!({"email": email, "password": "secret-pass-1", "passwordConfirm": "secret-pass-1"});
    let res = http
        .post(format!("{users}/records"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let auth: Value = http
        .post(format!("{users}/auth-with-password"))
        .json(&json!({"identity": email, "password": "secret-pass-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        auth["token"].as_str().unwrap().to_owned(),
        auth["record"]["id"].as_str().unwrap().to_owned(),
    )
}

async fn requests(base: &str) -> Vec<(String, Value)> {
    let http = client();
    let token = superuser_token_at(&http, base).await;
    let users: Value = http
        .get(format!("{base}/api/collections/users"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let notes = json!({"name": "notes", "listRule": "", "viewRule": "", "createRule": "",
        "updateRule": "owner = @request.auth.id", "deleteRule": "owner = @request.auth.id",
        "fields": [{"name": "title", "type": "text", "required": true},
            {"name": "owner", "type": "relation", "collectionId": users["id"], "maxSelect": 1}]});
    let (status, body) = send(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/collections"),
        &token,
        Some(notes),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (ann, ann_id) = signed_up(&http, base, "ann@example.com").await;
    let (bob, _) = signed_up(&http, base, "bob@example.com").await;
    let records = format!("{base}/api/collections/notes/records");
    let mut out = Vec::new();
    let mut mark = |label: &str, (status, body): (u16, Value)| {
        let mine = body["owner"] == json!(ann_id);
        let mut shown = stable(&body);
        if let Some(map) = shown.as_object_mut() {
            map.remove("owner");
        }
        for item in shown.as_array_mut().into_iter().flatten() {
            if let Some(map) = item.as_object_mut() {
                map.remove("owner");
            }
        }
        out.push((label.to_owned(), json!([status, shown, mine])));
        body
    };
    mark(
        "guest create",
        send(
            &http,
            reqwest::Method::POST,
            records.clone(),
            "",
            Some(json!({"title": "a"})),
        )
        .await,
    );
    let made = mark(
        "create",
        send(
            &http,
            reqwest::Method::POST,
            records.clone(),
            &ann,
            Some(json!({"title": "a"})),
        )
        .await,
    );
    let locked = mark(
        "create locked",
        send(
            &http,
            reqwest::Method::POST,
            records.clone(),
            &ann,
            Some(json!({"title": "locked one"})),
        )
        .await,
    );
    mark(
        "create custom",
        send(
            &http,
            reqwest::Method::POST,
            records.clone(),
            &ann,
            Some(json!({"title": "custom"})),
        )
        .await,
    );
    mark(
        "create invalid",
        send(
            &http,
            reqwest::Method::POST,
            records.clone(),
            &ann,
            Some(json!({"title": ""})),
        )
        .await,
    );
    let (id, locked) = (
        made["id"].as_str().unwrap().to_owned(),
        locked["id"].as_str().unwrap().to_owned(),
    );
    mark(
        "update",
        send(
            &http,
            reqwest::Method::PATCH,
            format!("{records}/{id}"),
            &ann,
            Some(json!({"title": "b"})),
        )
        .await,
    );
    mark(
        "update by another",
        send(
            &http,
            reqwest::Method::PATCH,
            format!("{records}/{id}"),
            &bob,
            Some(json!({"title": "c"})),
        )
        .await,
    );
    mark(
        "update missing",
        send(
            &http,
            reqwest::Method::PATCH,
            format!("{records}/nope"),
            &ann,
            Some(json!({"title": "c"})),
        )
        .await,
    );
    mark(
        "view",
        send(
            &http,
            reqwest::Method::GET,
            format!("{records}/{id}"),
            "",
            None,
        )
        .await,
    );
    mark(
        "delete locked",
        send(
            &http,
            reqwest::Method::DELETE,
            format!("{records}/{locked}"),
            &ann,
            None,
        )
        .await,
    );
    mark(
        "delete by another",
        send(
            &http,
            reqwest::Method::DELETE,
            format!("{records}/{id}"),
            &bob,
            None,
        )
        .await,
    );
    mark(
        "delete",
        send(
            &http,
            reqwest::Method::DELETE,
            format!("{records}/{id}"),
            &ann,
            None,
        )
        .await,
    );
    let (status, body) = send(
        &http,
        reqwest::Method::GET,
        format!("{records}?sort=title"),
        "",
        None,
    )
    .await;
    mark("left", (status, body["items"].clone()));
    let made = send(
        &http,
        reqwest::Method::POST,
        format!("{base}/api/mkuser"),
        "",
        None,
    )
    .await;
    mark("made user", made);
    let signin = json!({"identity": "made@example.com", "password": "password123"});
    let users = format!("{base}/api/collections/users/auth-with-password");
    let (status, _) = send(&http, reqwest::Method::POST, users, "", Some(signin)).await;
    mark("made user signs in", (status, Value::Null));
    out
}

#[tokio::test]
async fn request_hooks_answer_as_on_pocketbase() {
    let dir = hooks_folder(&[("requests.pb.js", REQUEST_HOOKS)]);
    let app = hearth_with(dir.path()).await;
    app.create_superuser(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let ours = requests(&app.address).await;
    let find = |label: &str| crate::compat::outcome(&ours, label);
    assert_eq!(find("guest create")[0], 401);
    assert_eq!(find("create")[2], true, "the hook set the owner");
    assert_eq!(find("create custom")[0], 201);
    assert_eq!(find("update")[1]["title"], "b (edited, was a)");
    assert_eq!(find("view")[1]["title"], "B (EDITED, WAS A)");
    assert_eq!(
        find("made user")[1],
        json!({"ok": true, "bad": false, "email": "made@example.com", "hidden": false})
    );
    assert_eq!(find("made user signs in")[0], 200);
    assert_eq!(find("delete locked")[0], 403);
    assert_eq!(find("delete")[0], 204);

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase_with_hooks(&bin, &[("requests.pb.js", REQUEST_HOOKS)]).await;
    let theirs = requests(&pb.address).await;
    assert_same(&ours, &theirs);
}
