//! `hearth import pocketbase`: an app built on the real PocketBase 0.40.6 through its HTTP
//! API, PocketBase stopped, its data dir imported, hearth started on the result, and both
//! (PocketBase restarted on its own data) compared over HTTP. Also the refusals: a
//! non-empty target, a broken PocketBase dir, and `hearth serve` on PocketBase's dir. The
//! official JS SDK then runs one script (tests/sdk/moved.test.mjs) against both.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::Client;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::compat::{pocketbase_bin, run, start_pocketbase};
use crate::files::png;
use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, client, free_port, hearth_cli, superuser_token_at, wait_for,
};

const USER_PASSWORD: &str = "user-password-1";

async fn send(req: reqwest::RequestBuilder) -> Value {
    let res = req.send().await.unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// The app: users (some verified), `posts` with every field type, owner rules and a
/// unique index, a view with COUNT(), records with files, an OAuth2 link, one thumbnail
/// made.
struct Built {
    users: Vec<String>,
    posts: Vec<Value>,
    user_token: String,
}

async fn build_app(api: &Client, base: &str, su: &str) -> Built {
    let mut users = Vec::new();
    for (i, verified) in [true, false, true].into_iter().enumerate() {
        let user = send(
            api.post(format!("{base}/api/collections/users/records"))
                .header("Authorization", su)
                .json(&json!({
                    "email": format!("user{i}@example.com"), "password": USER_PASSWORD,
                    "passwordConfirm": USER_PASSWORD, "name": format!("User {i}"),
                    "emailVisibility": i == 0, "verified": verified,
                })),
        )
        .await;
        users.push(user["id"].as_str().unwrap().to_owned());
    }
    let owner_rule = "owner = @request.auth.id";
    send(
        api.post(format!("{base}/api/collections"))
            .header("Authorization", su)
            .json(&json!({
                "name": "posts", "type": "base",
                "listRule": owner_rule, "viewRule": owner_rule,
                "createRule": "@request.auth.id != ''", "updateRule": owner_rule,
                "deleteRule": owner_rule,
                "fields": [
                    {"name": "title", "type": "text", "required": true, "max": 200},
                    {"name": "body", "type": "editor"},
                    {"name": "views", "type": "number", "min": 0},
                    {"name": "published", "type": "bool"},
                    {"name": "contact", "type": "email"},
                    {"name": "link", "type": "url"},
                    {"name": "due", "type": "date"},
                    {"name": "status", "type": "select", "values": ["draft", "live"], "maxSelect": 1},
                    {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
                    {"name": "meta", "type": "json"},
                    {"name": "cover", "type": "file", "maxSelect": 1, "thumbs": ["50x50"]},
                    {"name": "attachments", "type": "file", "maxSelect": 5},
                    {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
                    {"name": "readers", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 5},
                    {"name": "place", "type": "geoPoint"},
                    {"name": "created", "type": "autodate", "onCreate": true},
                    {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true},
                ],
                "indexes": ["CREATE UNIQUE INDEX `idx_posts_title` ON `posts` (`title`)"],
            })),
    )
    .await;
    send(
        api.post(format!("{base}/api/collections"))
            .header("Authorization", su)
            .json(&json!({
                "name": "post_counts", "type": "view", "listRule": "", "viewRule": "",
                "viewQuery": "SELECT owner AS id, COUNT(*) AS total FROM posts GROUP BY owner",
            })),
    )
    .await;
    let mut posts = Vec::new();
    for (i, owner) in [&users[0], &users[0], &users[1]].into_iter().enumerate() {
        let form = Form::new()
            .text("title", format!("Post {i}"))
            .text("body", "<p>Hello <b>there</b></p>")
            .text("views", (i * 7).to_string())
            .text("published", (i % 2 == 0).to_string())
            .text("contact", "someone@example.com")
            .text("link", "https://example.com/x")
            .text("due", "2030-01-02 03:04:05.678Z")
            .text("status", "live")
            .text("tags", "a")
            .text("tags", "c")
            .text("meta", json!({"n": i, "list": [1, 2.5, "x"]}).to_string())
            .text("owner", owner.clone())
            .text("readers", users[1].clone())
            .text("readers", users[2].clone())
            .text("place", json!({"lon": 10.5, "lat": -3.25}).to_string())
            .part(
                "cover",
                Part::bytes(png(80 + i as u32, 60))
                    .file_name("cover.png")
                    .mime_str("image/png")
                    .unwrap(),
            )
            .part(
                "attachments",
                Part::bytes(format!("notes {i}").into_bytes())
                    .file_name("notes.txt")
                    .mime_str("text/plain")
                    .unwrap(),
            )
            .part(
                "attachments",
                Part::bytes(vec![i as u8; 3000])
                    .file_name("data.bin")
                    .mime_str("application/octet-stream")
                    .unwrap(),
            );
        posts.push(
            send(
                api.post(format!("{base}/api/collections/posts/records"))
                    .header("Authorization", su)
                    .multipart(form),
            )
            .await,
        );
    }
    // An OAuth2 link of the first user, as a sign-in with Google would have made it.
    send(
        api.post(format!("{base}/api/collections/_externalAuths/records"))
            .header("Authorization", su)
            .json(
                &json!({"collectionRef": "_pb_users_auth_", "recordRef": users[0],
                "provider": "google", "providerId": "google-user-0"}),
            ),
    )
    .await;
    // One thumbnail, made by PocketBase on first request and kept in its storage/.
    let cover = posts[0]["cover"].as_str().unwrap();
    let thumb = api
        .get(format!(
            "{base}/api/files/posts/{}/{cover}?thumb=50x50",
            posts[0]["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status(), 200);
    let signed_in = send(
        api.post(format!("{base}/api/collections/users/auth-with-password"))
            .json(&json!({"identity": "user0@example.com", "password": USER_PASSWORD})),
    )
    .await;
    Built {
        users,
        posts,
        user_token: signed_in["token"].as_str().unwrap().to_owned(),
    }
}

async fn get_json(api: &Client, url: String, token: &str) -> Value {
    send(api.get(url).header("Authorization", token)).await
}

async fn get_bytes(api: &Client, url: String) -> (u16, Vec<u8>) {
    let res = api.get(url).send().await.unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

/// Collections by id.
fn collections_by_id(list: &Value) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_owned(), c.clone()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The real `hearth serve`, killed when dropped (also when an assertion fails first).
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_hearth(dir: &Path) -> (Serving, String) {
    let port = free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("--dir")
        .arg(dir)
        .args(["serve", "--http", &format!("127.0.0.1:{port}")])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let child = Serving(child);
    let address = format!("http://127.0.0.1:{port}");
    wait_for(Duration::from_secs(20), "hearth to answer", async || {
        crate::helpers::http_get(format!("{address}/api/health")).await
    })
    .await;
    (child, address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pocketbase_app_moves_to_hearth_unchanged() {
    let Some(bin) = pocketbase_bin() else { return };
    // Arrange: the app on PocketBase, then PocketBase stopped.
    let mut pb = start_pocketbase(&bin).await;
    let api = client();
    let su = superuser_token_at(&api, &pb.address).await;
    let built = build_app(&api, &pb.address, &su).await;
    pb.stop();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("hearth_data");

    // Act
    let started = Instant::now();
    let import = hearth_cli(
        &target,
        &["import", "pocketbase", pb.dir().to_str().unwrap()],
    );
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&import.stderr);
    assert!(import.status.success(), "import failed: {stderr}");
    eprintln!("import took {took:?}\n{stderr}");
    assert!(stderr.contains("posts"), "{stderr}");
    assert!(
        !stderr.contains("geoPoint"),
        "a geoPoint field moves as it is: {stderr}"
    );
    assert!(stderr.contains("Files: 9 (1 thumbnails)"), "{stderr}");
    let hashes = |db: &Path| {
        let conn = rusqlite::Connection::open(db).unwrap();
        let mut out = Vec::new();
        for table in ["_superusers", "users"] {
            let sql = format!("SELECT id, password, tokenKey FROM {table} ORDER BY id");
            let mut stmt = conn.prepare(&sql).unwrap();
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .unwrap();
            out.extend(rows.map(Result::unwrap));
        }
        out
    };
    let theirs_hashes = hashes(&pb.dir().join("data.db"));
    assert_eq!(theirs_hashes.len(), 4);
    assert!(theirs_hashes.iter().all(|(_, h, _)| h.starts_with("$2a$")));
    assert_eq!(
        hashes(&target.join("data.db")),
        theirs_hashes,
        "hashes and token keys as stored"
    );
    let check = hearth_cli(&target, &["check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    let (_hearth, ours) = start_hearth(&target).await;
    pb.restart(&bin).await;
    let theirs = pb.address.clone();
    let su_ours = superuser_token_at(&api, &ours).await;
    let su_theirs = superuser_token_at(&api, &theirs).await;

    // Assert: collections, every record, files, the view, a PocketBase session.
    let list = "/api/collections?perPage=200";
    let a = get_json(&api, format!("{ours}{list}"), &su_ours).await;
    let b = get_json(&api, format!("{theirs}{list}"), &su_theirs).await;
    let (a, b) = (collections_by_id(&a), collections_by_id(&b));
    assert_eq!(a.len(), b.len());
    for ((_, ca), (_, cb)) in a.iter().zip(&b) {
        assert_eq!(ca, cb, "collection: hearth (left) vs PocketBase (right)");
    }
    for name in [
        "users",
        "posts",
        "_superusers",
        "post_counts",
        "_externalAuths",
    ] {
        let path = format!("/api/collections/{name}/records?perPage=500&sort=id");
        let a = get_json(&api, format!("{ours}{path}"), &su_ours).await;
        let b = get_json(&api, format!("{theirs}{path}"), &su_theirs).await;
        assert_eq!(a, b, "{name}: hearth (left) vs PocketBase (right)");
    }
    // The points moved as points: geoDistance finds the same posts on both.
    for filter in [
        "geoDistance(place.lon, place.lat, 10, -3) < 60",
        "geoDistance(place.lon, place.lat, 0, 0) < 60",
    ] {
        let path = format!(
            "/api/collections/posts/records?sort=id&fields=id&filter={}",
            crate::helpers::url_encode(filter)
        );
        let a = get_json(&api, format!("{ours}{path}"), &su_ours).await;
        let b = get_json(&api, format!("{theirs}{path}"), &su_theirs).await;
        assert_eq!(a, b, "{filter}: hearth (left) vs PocketBase (right)");
    }
    assert_eq!(built.users.len(), 3);
    for post in &built.posts {
        let id = post["id"].as_str().unwrap();
        let mut names: Vec<String> = vec![post["cover"].as_str().unwrap().to_owned()];
        for a in post["attachments"].as_array().unwrap() {
            names.push(a.as_str().unwrap().to_owned());
        }
        for name in names {
            let path = format!("/api/files/posts/{id}/{name}");
            let (sa, a) = get_bytes(&api, format!("{ours}{path}")).await;
            let (sb, b) = get_bytes(&api, format!("{theirs}{path}")).await;
            assert_eq!((sa, sb), (200, 200), "{path}");
            assert_eq!(a, b, "{path}");
        }
    }
    let thumb = format!(
        "/api/files/posts/{}/{}?thumb=50x50",
        built.posts[0]["id"].as_str().unwrap(),
        built.posts[0]["cover"].as_str().unwrap()
    );
    assert_eq!(
        get_bytes(&api, format!("{ours}{thumb}")).await,
        get_bytes(&api, format!("{theirs}{thumb}")).await
    );
    let thumb_file = target
        .join("storage")
        .join(post_collection_id(&a))
        .join(built.posts[0]["id"].as_str().unwrap())
        .join(format!(
            "thumbs_{}",
            built.posts[0]["cover"].as_str().unwrap()
        ));
    assert!(thumb_file.is_dir(), "PocketBase's thumbnail is carried");
    let refresh = api
        .post(format!("{ours}/api/collections/users/auth-refresh"))
        .header("Authorization", &built.user_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), 200, "PocketBase's token works on hearth");
    // The owner rule still holds on the carried records.
    let own = get_json(
        &api,
        format!("{ours}/api/collections/posts/records"),
        &built.user_token,
    )
    .await;
    assert_eq!(own["totalItems"], 2);
    // PocketBase's bcrypt hashes sign in on hearth (main's bcrypt verification).
    let signed_in = api
        .post(format!("{ours}/api/collections/users/auth-with-password"))
        .json(&json!({"identity": "user1@example.com", "password": USER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200, "a user's PocketBase password");

    // The official JS SDK, one script against both: what the app's users see.
    let Some(sdk) = crate::sdk::sdk_dir() else {
        return;
    };
    let mut seen = Vec::new();
    for base in [&ours, &theirs] {
        let file = out.path().join(format!("seen-{}.json", seen.len()));
        let env = [
            ("HEARTH_URL", base.as_str()),
            ("OLD_TOKEN", built.user_token.as_str()),
            ("USER_PASSWORD", USER_PASSWORD),
            ("ADMIN_EMAIL", ADMIN_EMAIL),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("OUT", file.to_str().unwrap()),
        ];
        crate::sdk::node(&sdk, "moved.test.mjs", &env).await;
        let text = std::fs::read_to_string(&file).unwrap();
        seen.push(serde_json::from_str::<Value>(&text).unwrap());
    }
    let (a, b) = (&seen[0], &seen[1]);
    assert_eq!(a["users"].as_array().map(Vec::len), Some(3));
    assert_eq!(a["users"][0]["links"][0]["providerId"], "google-user-0");
    assert_eq!(a["filtered"]["totalItems"], 2, "{}", a["filtered"]);
    for key in [
        "refreshed",
        "users",
        "view",
        "superuser",
        "filtered",
        "thumb",
    ] {
        assert_eq!(
            a[key], b[key],
            "SDK {key}: hearth (left) vs PocketBase (right)"
        );
    }
}

fn post_collection_id(collections: &[(String, Value)]) -> String {
    collections
        .iter()
        .find(|(_, c)| c["name"] == "posts")
        .map(|(id, _)| id.clone())
        .unwrap()
}

/// A PocketBase data dir made by its CLI alone (no server): migrations and a superuser.
fn pocketbase_dir(bin: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    run(
        bin,
        dir.path(),
        &["superuser", "upsert", ADMIN_EMAIL, ADMIN_PASSWORD],
    );
    dir
}

/// Everything under `dir` (relative path, bytes), to show nothing changed.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn siblings(parent: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_non_empty_target_or_a_broken_pocketbase_dir_is_refused_and_nothing_is_written() {
    let Some(bin) = pocketbase_bin() else { return };
    let pb = pocketbase_dir(&bin);
    let out = tempfile::tempdir().unwrap();

    // A non-empty target: refused, left as it was.
    let target = out.path().join("taken");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep.txt"), "mine").unwrap();
    let before = tree(&target);
    let res = hearth_cli(
        &target,
        &["import", "pocketbase", pb.path().to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success());
    assert!(err.contains("is not empty"), "{err}");
    assert!(tree(&target) == before, "the target changed");
    assert_eq!(siblings(out.path()), ["taken"]);

    // A broken PocketBase dir: a clear message, no target made.
    let broken = tempfile::tempdir().unwrap();
    std::fs::write(broken.path().join("data.db"), b"this is not a database").unwrap();
    let target = out.path().join("fresh");
    let res = hearth_cli(
        &target,
        &["import", "pocketbase", broken.path().to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success());
    assert!(err.lines().last().unwrap().starts_with("error: "), "{err}");
    assert!(
        err.contains(
            "is not a PocketBase data dir hearth can import: data.db: file is not a database"
        ),
        "{err}"
    );
    assert_eq!(siblings(out.path()), ["taken"]);

    // Not a data dir at all, and a hearth dir: each named.
    let res = hearth_cli(&target, &["import", "pocketbase", "/nonexistent/pb_data"]);
    assert!(String::from_utf8_lossy(&res.stderr).contains("no such folder"));
    let hearth_dir = out.path().join("taken2");
    assert!(hearth_cli(&hearth_dir, &["check"]).status.success());
    let res = hearth_cli(
        &target,
        &["import", "pocketbase", hearth_dir.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("it is a hearth data dir already"), "{err}");
    assert!(!target.exists());
}

#[test]
fn encrypted_settings_need_the_key_and_are_carried_with_it() {
    let Some(bin) = pocketbase_bin() else { return };
    let key = "0123456789abcdef0123456789abcdef";
    let pb = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(&bin)
        .args(["superuser", "upsert", ADMIN_EMAIL, ADMIN_PASSWORD, "--dir"])
        .arg(pb.path())
        .args(["--encryptionEnv", "PB_TEST_KEY"])
        .env("PB_TEST_KEY", key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let dirs = tempfile::tempdir().unwrap();
    let target = dirs.path().join("data");

    let without = hearth_cli(
        &target,
        &["import", "pocketbase", pb.path().to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&without.stderr);
    assert!(!without.status.success());
    assert!(err.contains("--encryption-env"), "{err}");
    assert!(!target.exists());

    let with = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("--dir")
        .arg(&target)
        .args(["import", "pocketbase", pb.path().to_str().unwrap()])
        .args(["--encryption-env", "PB_TEST_KEY"])
        .env("PB_TEST_KEY", key)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&with.stderr);
    assert!(with.status.success(), "{err}");
    assert!(err.contains("stored them encrypted"), "{err}");
    let conn = rusqlite::Connection::open(target.join("data.db")).unwrap();
    let app_name: String = conn
        .query_row(
            "SELECT json_extract(value, '$.meta.appName') FROM _params WHERE id = 'settings'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(app_name, "Acme");
}

#[test]
fn serve_on_a_pocketbase_dir_names_the_import_command_and_changes_nothing() {
    let Some(bin) = pocketbase_bin() else { return };
    let pb = pocketbase_dir(&bin);
    let before = tree(pb.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("--dir")
        .arg(pb.path())
        .args(["serve", "--http", "127.0.0.1:0"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(lines[0].contains("is PocketBase data"), "{err}");
    assert!(lines[0].contains("hearth import pocketbase"), "{err}");
    let after = tree(pb.path());
    let names = |t: &[(String, Vec<u8>)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&after),
        names(&before),
        "PocketBase's dir has the same files"
    );
    assert!(after == before, "PocketBase's files are unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pocketbase_backup_restores_on_hearth_through_the_api_and_the_cli() {
    let Some(bin) = pocketbase_bin() else { return };
    // Arrange: a PocketBase backup (its own POST /api/backups) of a record with a file.
    let mut pb = start_pocketbase(&bin).await;
    let api = client();
    let su = superuser_token_at(&api, &pb.address).await;
    send(
        api.post(format!("{}/api/collections", pb.address))
            .header("Authorization", &su)
            .json(&json!({
                "name": "docs", "listRule": "", "viewRule": "",
                "fields": [{"name": "title", "type": "text"},
                           {"name": "doc", "type": "file", "maxSelect": 1}],
            })),
    )
    .await;
    let form = Form::new().text("title", "kept").part(
        "doc",
        Part::bytes(b"the document".to_vec())
            .file_name("doc.txt")
            .mime_str("text/plain")
            .unwrap(),
    );
    let record = send(
        api.post(format!("{}/api/collections/docs/records", pb.address))
            .header("Authorization", &su)
            .multipart(form),
    )
    .await;
    send(
        api.post(format!("{}/api/backups", pb.address))
            .header("Authorization", &su)
            .json(&json!({"name": "pb_backup.zip"})),
    )
    .await;
    pb.stop();
    let zip = std::fs::read(pb.dir().join("backups").join("pb_backup.zip")).unwrap();
    let file_path = format!(
        "/api/files/docs/{}/{}",
        record["id"].as_str().unwrap(),
        record["doc"].as_str().unwrap()
    );

    // Act: uploaded to hearth and restored through the API.
    let app = crate::helpers::spawn_app().await;
    let token = app.superuser_token().await;
    let form = Form::new().part(
        "file",
        Part::bytes(zip.clone())
            .file_name("pb_backup.zip")
            .mime_str("application/zip")
            .unwrap(),
    );
    send(
        api.post(app.url("/api/backups/upload"))
            .header("Authorization", &token)
            .multipart(form),
    )
    .await;
    let restored = api
        .post(app.url("/api/backups/pb_backup.zip/restore"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    let status = restored.status();
    assert_eq!(status, 204, "{}", restored.text().await.unwrap());

    // Assert: PocketBase's superuser, record and file are hearth's now.
    let su_ours = superuser_token_at(&api, &app.address).await;
    let list = get_json(&api, app.url("/api/collections/docs/records"), &su_ours).await;
    assert_eq!(list["items"][0]["title"], "kept");
    assert_eq!(list["items"][0]["id"], record["id"]);
    let (status, bytes) = get_bytes(&api, app.url(&file_path)).await;
    assert_eq!(
        (status, bytes.as_slice()),
        (200, b"the document".as_slice())
    );

    // And through the CLI, without a server.
    let dir = tempfile::tempdir().unwrap();
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(hearth_cli(
        dir.path(),
        &["superuser", "upsert", "other@example.com", ADMIN_PASSWORD],
    ));
    std::fs::write(dir.path().join("backups").join("pb_backup.zip"), &zip).unwrap();
    ok(hearth_cli(
        dir.path(),
        &["backup", "restore", "pb_backup.zip"],
    ));
    ok(hearth_cli(dir.path(), &["check"]));
    let conn = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
    let title: String = conn
        .query_row("SELECT title FROM docs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(title, "kept");
}
