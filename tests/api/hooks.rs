//! JS hooks (`--hooks-dir`, PocketBase's `pb_hooks`): the same hooks file on hearth and on
//! PocketBase 0.40.6, driven by the same requests, with the same statuses, types and
//! bodies; then what only hearth promises: runaway hooks stopped while others go on, and
//! the folder reloaded on change, a broken version leaving the previous one running.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::compat::{assert_same, pocketbase_bin, start_pocketbase_with_hooks};
use crate::helpers::{TestApp, client, hooks_folder, spawn_app_with, superuser_token_at};

const ROUTES: &str = r#"/// <reference path="../pb_data/types.d.ts" />
const notVisibleInHandlers = 1;

routerUse((e) => {
  e.response.header().set("X-Global", "yes");
  return e.next();
});

routerAdd("GET", "/api/hello/{name}", (e) => {
  return e.json(200, {
    name: e.request.pathValue("name"),
    q: e.request.url.query().get("q"),
    missing: e.request.url.query().get("nope"),
    method: e.request.method,
    outer: typeof notVisibleInHandlers,
  });
});

routerAdd("POST", "/api/echo", (e) => {
  const info = e.requestInfo();
  return e.json(201, { body: info.body, token: info.headers["x_token"] || "", q: info.query.a || "", method: info.method });
});

routerAdd("GET", "/api/errors/{kind}", (e) => {
  switch (e.request.pathValue("kind")) {
    case "bad": throw new BadRequestError("invalid title", { title: { code: "invalid", message: "no" } });
    case "bad-default": throw new BadRequestError();
    case "notfound": throw new NotFoundError();
    case "forbidden": throw new ForbiddenError("not yours");
    case "unauthorized": throw new UnauthorizedError();
    case "toomany": throw new TooManyRequestsError();
    case "api": throw new ApiError(418, "i am a teapot");
    case "plain": throw new Error("something broke");
    case "string": throw "a string";
    case "event": throw e.badRequestError("from the event", {});
  }
  return e.noContent(204);
});

routerAdd("GET", "/api/kinds/{kind}", (e) => {
  switch (e.request.pathValue("kind")) {
    case "string": return e.string(200, "plain text");
    case "html": return e.html(200, "<p>hi</p>");
    case "redirect": return e.redirect(302, "/somewhere?x=1");
    case "created": return e.json(201, [1, "two", { three: 3 }, null]);
  }
  return e.noContent(204);
});

routerAdd("GET", "/api/chain", (e) => {
  return e.json(200, { seen: e.request.header.get("X-Seen") || "none" });
}, (e) => {
  e.response.header().set("X-Route-Middleware", "ran");
  return e.next();
});

routerAdd("GET", "/api/guarded/user", (e) => e.json(200, { id: e.auth.id, email: e.auth.email() }), $apis.requireAuth("users"));
routerAdd("GET", "/api/guarded/any", (e) => e.json(200, { superuser: e.hasSuperuserAuth() }), $apis.requireAuth());
routerAdd("GET", "/api/guarded/superuser", (e) => e.json(200, { ok: true }), $apis.requireSuperuserAuth());
routerAdd("GET", "/api/guarded/guest", (e) => e.json(200, { guest: true }), $apis.requireGuestOnly());
routerAdd("GET", "/api/guarded/owner/{id}", (e) => e.json(200, { ok: true }), $apis.requireSuperuserOrOwnerAuth("id"));

routerAdd("GET", "/api/security", (e) => {
  const r = $security.randomString(12);
  const a = $security.randomStringWithAlphabet(20, "ab");
  return e.json(200, {
    md5: $security.md5("hearth"),
    sha256: $security.sha256("hearth"),
    sha512: $security.sha512("hearth"),
    hs256: $security.hs256("hearth", "secret"),
    hs512: $security.hs512("hearth", "secret"),
    equal: [$security.equal("a", "a"), $security.equal("a", "b")],
    random: r.length === 12 && /^[A-Za-z0-9]+$/.test(r),
    alphabet: a.length === 20 && /^[ab]+$/.test(a),
    str: toString([104, 105]),
    env: $os.getenv("HEARTH_HOOKS_TEST_NEVER_SET"),
  });
});

routerAdd("GET", "/custom/page", (e) => e.html(200, "<h1>outside /api</h1>"));

routerAdd("GET", "/api/required", (e) => {
  const utils = require(`${__hooks}/utils.js`);
  return e.json(200, { greeting: utils.greet("ann"), again: require(`${__hooks}/utils.js`) === utils });
});
"#;

// Calls the test's own HTTP server (its address in `?to=`).
const HTTP_ROUTE: &str = r#"
routerAdd("POST", "/api/http", (e) => {
  const to = e.request.url.query().get("to");
  const res = $http.send({
    url: to + "/echo?x=1",
    method: "PUT",
    body: JSON.stringify({ hello: "there" }),
    headers: { "content-type": "application/json", "X-Custom": "abc" },
    timeout: 5,
  });
  const text = $http.send({ url: to + "/text" });
  return e.json(200, {
    status: res.statusCode,
    json: res.json,
    type: res.headers["Content-Type"],
    custom: res.headers["X-Reply"],
    cookie: res.cookies["sid"] ? [res.cookies["sid"].value, res.cookies["sid"].path] : null,
    rawLength: res.raw.length,
    bodyLength: res.body.length,
    textStatus: text.statusCode,
    textJson: text.json,
    textRaw: text.raw,
  });
});
"#;

const UTILS: &str = r#"module.exports = {
  greet: (name) => "hello " + name,
};
"#;

/// One request's comparable outcome: status, content type (without parameters), the
/// headers hooks set, and the body (JSON parsed).
async fn outcome(
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, String)>,
) -> Value {
    let mut req = client_no_redirect()
        .request(method, format!("{base}{path}"))
        .header("X-Token", "tok")
        .header("X-Seen", "seen");
    if let Some(token) = token {
        req = req.header("Authorization", token);
    }
    if let Some((kind, text)) = body {
        req = req.header("Content-Type", kind).body(text);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let kind = header("content-type");
    let kind = kind.split(';').next().unwrap_or("").trim().to_owned();
    let (global, route_mw, location) = (
        header("x-global"),
        header("x-route-middleware"),
        header("location"),
    );
    let text = res.text().await.unwrap();
    let body = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
    json!({"status": status, "type": kind, "global": global, "routeMiddleware": route_mw,
        "location": location, "body": body})
}

fn client_no_redirect() -> reqwest::Client {
    crate::helpers::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A user on either server, signed in: (id, token).
async fn user(base: &str) -> (String, String) {
    let http = client();
    let res: Value = http
        .post(format!("{base}/api/collections/users/records"))
        .json(&json!({"email": "ann@example.com", "password": "correct-horse-1", "passwordConfirm": "correct-horse-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = res["id"].as_str().expect("user created").to_owned();
    let res: Value = http
        .post(format!("{base}/api/collections/users/auth-with-password"))
        .json(&json!({"identity": "ann@example.com", "password": "correct-horse-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (id, res["token"].as_str().unwrap().to_owned())
}

/// A tiny HTTP server for `$http.send`: `/echo` answers the request it got as JSON, with
/// a header and a cookie; `/text` answers plain text. Its base URL.
async fn echo_server() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_string();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let head = &text[..end];
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if seen.len() < end + 4 + length {
                        continue;
                    }
                    let body =
                        String::from_utf8_lossy(&seen[end + 4..end + 4 + length]).to_string();
                    let first = head.lines().next().unwrap_or("").to_owned();
                    let custom = head
                        .lines()
                        .find_map(|l| {
                            l.to_lowercase()
                                .strip_prefix("x-custom:")
                                .map(|v| v.trim().to_owned())
                        })
                        .unwrap_or_default();
                    let (kind, reply) = if first.contains("/text") {
                        ("text/plain", "just text".to_owned())
                    } else {
                        let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                        (
                            "application/json",
                            json!({"line": first, "custom": custom, "body": body}).to_string(),
                        )
                    };
                    let answer = format!(
                        "HTTP/1.1 201 Created\r\nContent-Type: {kind}\r\nX-Reply: yes\r\nSet-Cookie: sid=abc123; Path=/\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                        reply.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                    return;
                }
            });
        }
    });
    base
}

/// Every request of the scenario against `base`, in order.
async fn scenario(base: &str) -> Vec<(String, Value)> {
    let superuser = superuser_token_at(&client(), base).await;
    let (user_id, user_token) = user(base).await;
    let mut out = Vec::new();
    let mut get = Vec::new();
    for path in [
        "/api/hello/ann?q=1",
        "/api/hello/a%20b",
        "/api/hello/ann?q=1&fields=name,q",
        "/api/kinds/created?fields=three",
        "/api/errors/bad",
        "/api/errors/bad-default",
        "/api/errors/notfound",
        "/api/errors/forbidden",
        "/api/errors/unauthorized",
        "/api/errors/toomany",
        "/api/errors/api",
        "/api/errors/plain",
        "/api/errors/string",
        "/api/errors/event",
        "/api/errors/none",
        "/api/kinds/string",
        "/api/kinds/html",
        "/api/kinds/redirect",
        "/api/kinds/created",
        "/api/kinds/none",
        "/api/chain",
        "/api/security",
        "/custom/page",
        "/api/required",
    ] {
        get.push((path.to_owned(), None));
    }
    for (who, token) in [
        ("guest", None),
        ("user", Some(user_token.as_str())),
        ("superuser", Some(superuser.as_str())),
    ] {
        for path in [
            "/api/guarded/user".to_owned(),
            "/api/guarded/any".to_owned(),
            "/api/guarded/superuser".to_owned(),
            "/api/guarded/guest".to_owned(),
            format!("/api/guarded/owner/{user_id}"),
            "/api/guarded/owner/someoneelse123".to_owned(),
        ] {
            let got = outcome(base, Method::GET, &path, token, None).await;
            // Ids differ between the servers.
            let got = serde_json::from_str(&got.to_string().replace(&user_id, "{user}")).unwrap();
            out.push((
                format!("{who} GET {}", path.replace(&user_id, "{user}")),
                got,
            ));
        }
    }
    for (path, token) in get {
        let got = outcome(base, Method::GET, &path, token, None).await;
        out.push((format!("GET {path}"), got));
    }
    for (label, kind, text) in [
        (
            "json",
            "application/json",
            r#"{"title":"x","n":2,"nested":{"a":[1,2]}}"#.to_owned(),
        ),
        (
            "form",
            "application/x-www-form-urlencoded",
            "title=x&n=2".to_owned(),
        ),
        ("empty", "application/json", String::new()),
        (
            "form typed",
            "application/x-www-form-urlencoded",
            "t=true&f=false&n=-1.5&s=2.50&r=1&r=x&e=".to_owned(),
        ),
        (
            "form payload",
            "application/x-www-form-urlencoded",
            "title=x&%40jsonPayload=%7B%22n%22%3A%5B1%2C2%5D%7D".to_owned(),
        ),
        ("bad json", "application/json", "{nope".to_owned()),
        ("array json", "application/json", "[1,2]".to_owned()),
        ("text", "text/plain", "hello".to_owned()),
    ] {
        let got = outcome(
            base,
            Method::POST,
            "/api/echo?a=b",
            None,
            Some((kind, text)),
        )
        .await;
        out.push((format!("POST /api/echo {label}"), got));
    }
    let echo = echo_server().await;
    let path = format!("/api/http?to={echo}");
    let got = outcome(base, Method::POST, &path, None, None).await;
    out.push(("POST /api/http".into(), got));
    out
}

async fn hearth_with_hooks(dir: &std::path::Path, watch: bool) -> TestApp {
    let dir = dir.to_path_buf();
    spawn_app_with(move |c| {
        c.hooks.dir = dir;
        c.hooks.watch = watch;
        c.hooks.limits.budget = Duration::from_secs(2);
    })
    .await
}

#[tokio::test]
async fn routes_answer_as_on_pocketbase() {
    let dir = hooks_folder(&[
        ("routes.pb.js", ROUTES),
        ("utils.js", UTILS),
        ("http.pb.js", HTTP_ROUTE),
    ]);
    let app = hearth_with_hooks(dir.path(), false).await;
    app.create_superuser(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let ours = scenario(&app.address).await;

    // What must hold whatever PocketBase says.
    let find = |label: &str| crate::compat::outcome(&ours, label);
    assert_eq!(find("GET /api/hello/ann?q=1")["body"]["name"], "ann");
    assert_eq!(find("GET /api/hello/ann?q=1")["body"]["outer"], "undefined");
    assert_eq!(find("GET /api/errors/plain")["status"], 400);
    assert_eq!(find("GET /custom/page")["body"], "<h1>outside /api</h1>");
    assert_eq!(find("GET /api/required")["body"]["greeting"], "hello ann");
    assert_eq!(
        find("POST /api/http")["body"]["json"]["body"]["hello"],
        "there"
    );
    assert!(
        dir.path().join("types.d.ts").is_file(),
        "types.d.ts written"
    );

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase_with_hooks(
        &bin,
        &[
            ("routes.pb.js", ROUTES),
            ("utils.js", UTILS),
            ("http.pb.js", HTTP_ROUTE),
        ],
    )
    .await;
    let theirs = scenario(&pb.address).await;
    assert_same(&ours, &theirs);
}

#[tokio::test]
async fn runaway_hooks_are_stopped_while_other_requests_go_on() {
    let dir = hooks_folder(&[(
        "runaway.pb.js",
        r#"
routerAdd("GET", "/api/loop", (e) => { while (true) {} });
routerAdd("GET", "/api/hog", (e) => { const a = []; while (true) a.push("x".repeat(1 << 20)); });
routerAdd("GET", "/api/quick", (e) => e.json(200, { ok: true }));
"#,
    )]);
    let app = hearth_with_hooks(dir.path(), false).await;

    let looping = tokio::spawn({
        let url = app.url("/api/loop");
        async move {
            let started = Instant::now();
            let res = client().get(url).send().await.unwrap();
            (res.status().as_u16(), started.elapsed())
        }
    });
    // While one executor spins, the others answer, and so does the rest of the API.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let quick = app.get("/api/quick").await;
    assert_eq!(quick.status(), 200);
    assert_eq!(app.get("/api/health").await.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    let (status, took) = looping.await.unwrap();
    assert_eq!(status, 500);
    assert!(
        took < Duration::from_secs(4),
        "stopped by the 2 s budget, took {took:?}"
    );

    let hog = app.get("/api/hog").await;
    assert_eq!(hog.status(), 500);
    // The runtime that hit the cap is replaced; hooks keep answering.
    for _ in 0..4 {
        assert_eq!(app.get("/api/quick").await.status(), 200);
    }
}

#[tokio::test]
async fn hooks_waiting_outside_js_let_the_pool_grow_for_others() {
    // Two executors start; three requests each wait a second and a half outside JS (as a
    // slow `$http` call would). A quick request sent at the same time is answered by an
    // executor started for it once the waiting ones count as blocked, not after them.
    let dir = hooks_folder(&[(
        "slow.pb.js",
        r#"
routerAdd("GET", "/api/slow", (e) => { sleep(1500); return e.json(200, { slept: true }); });
routerAdd("GET", "/api/quick", (e) => e.json(200, { ok: true }));
"#,
    )]);
    let path = dir.path().to_path_buf();
    let app = spawn_app_with(move |c| {
        c.hooks.dir = path;
        c.hooks.pool = 8;
    })
    .await;
    let slow: Vec<_> = (0..3)
        .map(|_| {
            let url = app.url("/api/slow");
            tokio::spawn(async move { client().get(url).send().await.unwrap().status() })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    assert_eq!(app.get("/api/quick").await.status(), 200);
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(700),
        "waited {took:?} behind sleeping hooks"
    );
    for slow in slow {
        assert_eq!(slow.await.unwrap(), 200);
    }
}

#[tokio::test]
async fn a_changed_folder_is_reloaded_and_a_broken_one_keeps_the_last_good() {
    let dir = hooks_folder(&[(
        "a.pb.js",
        r#"routerAdd("GET", "/api/version", (e) => e.json(200, { v: 1 }));"#,
    )]);
    let app = hearth_with_hooks(dir.path(), true).await;
    let version = |app: &TestApp| {
        let url = app.url("/api/version");
        async move {
            let res = client().get(url).send().await.unwrap();
            res.json::<Value>().await.unwrap_or(Value::Null)["v"].clone()
        }
    };
    assert_eq!(version(&app).await, json!(1));

    std::fs::write(
        dir.path().join("a.pb.js"),
        r#"routerAdd("GET", "/api/version", (e) => e.json(200, { v: 2 }));"#,
    )
    .unwrap();
    let started = Instant::now();
    while version(&app).await != json!(2) {
        assert!(started.elapsed() < Duration::from_secs(10), "not reloaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A syntax error: version 2 keeps answering.
    std::fs::write(
        dir.path().join("a.pb.js"),
        r#"routerAdd("GET", "/api/version", (e) => e.json(200, { v: 3 }); oops"#,
    )
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await; // two watch periods: time is the subject
    assert_eq!(version(&app).await, json!(2));

    // A new file adds its routes; removing all of them leaves the JSON 404.
    std::fs::write(
        dir.path().join("a.pb.js"),
        r#"routerAdd("GET", "/api/version", (e) => e.json(200, { v: 4 }));"#,
    )
    .unwrap();
    let started = Instant::now();
    while version(&app).await != json!(4) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not reloaded after the fix"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::remove_file(dir.path().join("a.pb.js")).unwrap();
    let started = Instant::now();
    while app.get("/api/version").await.status() != 404 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the route stayed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_hooks_file_that_fails_to_load_stops_the_start_with_its_location() {
    let dir = hooks_folder(&[(
        "bad.pb.js",
        "routerAdd('GET', 'no-slash', (e) => e.noContent(204));",
    )]);
    let data = tempfile::tempdir().unwrap();
    let mut config = hearth::config::Config::for_dir(data.path(), "127.0.0.1:0");
    config.hooks.dir = dir.path().to_path_buf();
    let err = hearth::App::build(config)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("bad.pb.js") && err.contains("must start with /"),
        "{err}"
    );
}

const APP_READS: &str = r#"
routerAdd("GET", "/api/app/{kind}", (e) => {
  const q = e.request.url.query();
  switch (e.request.pathValue("kind")) {
    case "byid": {
      const r = $app.findRecordById("posts", q.get("id"));
      return e.json(200, { title: r.get("title"), views: r.getInt("views"), coll: r.collection().name, same: r.id === q.get("id") });
    }
    case "missing":
      $app.findRecordById("posts", "nope1234567890a");
      return e.noContent(204);
    case "filter": {
      const found = $app.findRecordsByFilter("posts", "views >= {:min} && title != {:t}", "-views", 2, 1, { min: 2, t: "x\" || 1=1 || \"" });
      return e.json(200, found.map((r) => r.get("title")));
    }
    case "injection": {
      const found = $app.findRecordsByFilter("posts", "title = {:t}", "", 0, 0, { t: "a\" || title != \"" });
      return e.json(200, { n: found.length });
    }
    case "first":
      return e.json(200, { views: $app.findFirstRecordByFilter("posts", "title = {:t}", { t: "b" }).getInt("views") });
    case "data":
      return e.json(200, { views: $app.findFirstRecordByData("posts", "title", "c").get("views") });
    case "count":
      return e.json(200, { n: $app.countRecords("posts") });
    case "email": {
      const u = $app.findAuthRecordByEmail("users", "ann@example.com");
      return e.json(200, { email: u.email(), coll: u.collection().name });
    }
    case "collection": {
      const c = $app.findCollectionByNameOrId("posts");
      return e.json(200, { name: c.name, type: c.type });
    }
    case "write": {
      const posts = $app.findCollectionByNameOrId("posts");
      const r = new Record(posts, { title: "new", views: 9 });
      const wasNew = r.isNew();
      $app.save(r);
      const again = $app.findRecordById("posts", r.id);
      again.set("views", 10);
      $app.save(again);
      const updated = $app.findRecordById("posts", r.id).getInt("views");
      $app.delete(again);
      let gone = false;
      try { $app.findRecordById("posts", r.id); } catch (err) { gone = true; }
      return e.json(200, { title: r.get("title"), wasNew, isNew: r.isNew(), idLength: r.id.length, updated, gone, count: $app.countRecords("posts") });
    }
    case "invalid": {
      $app.save(new Record($app.findCollectionByNameOrId("posts"), { title: "bad", views: -5 }));
      return e.noContent(204);
    }
    case "tx": {
      const posts = $app.findCollectionByNameOrId("posts");
      try {
        $app.runInTransaction((txApp) => {
          txApp.save(new Record(posts, { title: "in tx", views: 1 }));
          throw new BadRequestError("undo");
        });
      } catch (err) {}
      const kept = $app.findRecordsByFilter("posts", "title = 'in tx'").length;
      $app.runInTransaction((txApp) => {
        txApp.save(new Record(posts, { title: "committed", views: 2 }));
        const seen = txApp.findFirstRecordByFilter("posts", "title = 'committed'");
        txApp.save(new Record(posts, { title: "committed too", views: seen.getInt("views") + 1 }));
      });
      const committed = $app.findRecordsByFilter("posts", "title ~ 'committed'", "views").map((r) => r.getInt("views"));
      return e.json(200, { kept, committed });
    }
    case "crypto": {
      const key = "0123456789abcdef0123456789abcdef";
      const sealed = $security.encrypt("a secret", key);
      let tampered = false;
      try { $security.decrypt(sealed, "fedcba9876543210fedcba9876543210"); } catch (err) { tampered = true; }
      return e.json(200, { back: $security.decrypt(sealed, key), differs: sealed !== $security.encrypt("a secret", key), tampered });
    }
    case "countdbx": {
      return e.json(200, {
        hash: $app.countRecords("posts", $dbx.hashExp({ title: "a" })),
        exp: $app.countRecords("posts", $dbx.exp("views >= {:min}", { min: 3 })),
        both: $app.countRecords("posts", $dbx.exp("views >= {:min}", { min: 2 }), $dbx.not($dbx.hashExp({ title: "e" }))),
      });
    }
    case "jwt": {
      const token = $security.createJWT({ sub: "abc", n: 1 }, "secret-key", 60);
      const claims = $security.parseJWT(token, "secret-key");
      const loose = $security.parseUnverifiedJWT(token);
      let bad = false;
      try { $security.parseJWT(token, "other"); } catch (err) { bad = true; }
      return e.json(200, { sub: claims.sub, n: claims.n, loose: loose.sub, bad, hasExp: claims.exp > 0 });
    }
  }
  return e.noContent(204);
});
"#;

/// The same posts (a..e, views 1..5) and user on either server; the id of post `a`.
async fn seed_posts(base: &str) -> String {
    let http = client();
    let token = superuser_token_at(&http, base).await;
    let res = http
        .post(format!("{base}/api/collections"))
        .header("Authorization", &token)
        .json(&json!({"name": "posts", "fields": [
            {"name": "title", "type": "text"}, {"name": "views", "type": "number", "min": 0}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let mut first = String::new();
    for (i, title) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        let res: Value = http
            .post(format!("{base}/api/collections/posts/records"))
            .header("Authorization", &token)
            .json(&json!({"title": title, "views": i + 1}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if first.is_empty() {
            first = res["id"].as_str().unwrap().to_owned();
        }
    }
    user(base).await;
    first
}

async fn app_reads(base: &str) -> Vec<(String, Value)> {
    let id = seed_posts(base).await;
    let mut out = Vec::new();
    for kind in [
        "byid",
        "missing",
        "filter",
        "injection",
        "first",
        "data",
        "count",
        "email",
        "collection",
        "write",
        "invalid",
        "tx",
        "jwt",
        "crypto",
        "countdbx",
        "count",
    ] {
        let path = format!("/api/app/{kind}?id={id}");
        out.push((
            kind.to_owned(),
            outcome(base, Method::GET, &path, None, None).await,
        ));
    }
    out
}

#[tokio::test]
async fn app_reads_answer_as_on_pocketbase() {
    let dir = hooks_folder(&[("app.pb.js", APP_READS)]);
    let app = hearth_with_hooks(dir.path(), false).await;
    app.create_superuser(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let ours = app_reads(&app.address).await;
    let find = |label: &str| crate::compat::outcome(&ours, label);

    assert_eq!(find("byid")["body"]["title"], "a");
    assert_eq!(find("filter")["body"], json!(["d", "c"]));
    assert_eq!(
        find("injection")["body"]["n"],
        0,
        "a parameter is a value, never syntax"
    );
    assert_eq!(find("count")["body"]["n"], 5);
    assert_eq!(find("write")["body"]["updated"], 10);
    assert_eq!(find("write")["body"]["gone"], true);
    assert_eq!(find("tx")["body"], json!({"kept": 0, "committed": [2, 3]}));
    assert_eq!(find("jwt")["body"]["bad"], true);
    assert_eq!(
        find("crypto")["body"],
        json!({"back": "a secret", "differs": true, "tampered": true})
    );
    assert_eq!(
        find("countdbx")["body"],
        json!({"hash": 1, "exp": 4, "both": 5})
    );

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase_with_hooks(&bin, &[("app.pb.js", APP_READS)]).await;
    let theirs = app_reads(&pb.address).await;
    assert_same(&ours, &theirs);
}
