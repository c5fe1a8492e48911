//! The first run (issue #19): `hearth serve` on a data dir without a superuser prints a
//! one-time installer link whose page creates the first superuser, in plain HTTP and in
//! headless Chromium; and `hearth superuser otp EMAIL`, side by side with PocketBase's.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{browser_with, chromedriver, click, fill, screenshot, text_of, wait_url};
use crate::compat::{pocketbase_bin, start_pocketbase};
use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, csrf_token, free_port, hearth_cli, superuser_token_at,
};

/// `hearth serve` on `dir` and the installer link it printed.
struct FirstRun {
    child: Child,
    base: String,
    link: String,
}

impl Drop for FirstRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn first_run(dir: &Path) -> FirstRun {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("--dir")
        .arg(dir)
        .args(["serve", "--http", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("http://") {
                let url = line[at..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                if url.contains("/_/install/") {
                    let _ = tx.send(url);
                }
            }
        }
    });
    let link = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("serve prints an installer link");
    FirstRun {
        child,
        base: format!("http://127.0.0.1:{port}"),
        link,
    }
}

#[tokio::test]
async fn the_first_start_prints_a_link_that_creates_the_first_superuser_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = first_run(dir.path());
    assert!(run.link.starts_with(&run.base), "{}", run.link);
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // A forged token shows no form.
    let forged = format!("{}/_/install/forged", run.base);
    let res = browser.get(&forged).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(!res.text().await.unwrap().contains("name=\"password\""));

    let page = browser.get(&run.link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_token(&page.text().await.unwrap());
    let post = |fields: Vec<(&'static str, String)>| {
        let (browser, link) = (browser.clone(), run.link.clone());
        async move { browser.post(&link).form(&fields).send().await.unwrap() }
    };
    let fields = |csrf: &str, confirm: &str| {
        vec![
            ("csrf", csrf.to_owned()),
            ("email", ADMIN_EMAIL.to_owned()),
            ("password", ADMIN_PASSWORD.to_owned()),
            ("passwordConfirm", confirm.to_owned()),
        ]
    };
    assert_eq!(
        post(fields("forged", ADMIN_PASSWORD)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(fields(&csrf, "something else")).await.status(),
        StatusCode::BAD_REQUEST
    );
    let client = crate::helpers::client();
    let (status, _) = sign_in(&client, &run.base).await;
    assert_eq!(status, 400, "no superuser yet");

    let done = post(fields(&csrf, ADMIN_PASSWORD)).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(done.headers()["location"], "/_/");
    let dashboard = browser
        .get(format!("{}/_/", run.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        dashboard.status(),
        StatusCode::OK,
        "signed in by the installer"
    );
    let (status, body) = sign_in(&client, &run.base).await;
    assert_eq!(status, 200, "{body}");

    // Spent: the link shows no form, and a second post creates nobody.
    let again = browser.get(&run.link).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::GONE);
    let page = browser
        .get(format!("{}/_/", run.base))
        .send()
        .await
        .unwrap();
    let csrf = csrf_token(&page.text().await.unwrap());
    let mut second = fields(&csrf, "another-password-1");
    second[1].1 = "second@example.com".into();
    second[3].1 = "another-password-1".into();
    second[2].1 = "another-password-1".into();
    assert_eq!(post(second).await.status(), StatusCode::GONE);
    let token = superuser_token_at(&client, &run.base).await;
    let list: Value = client
        .get(format!("{}/api/collections/_superusers/records", run.base))
        .header("Authorization", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["totalItems"], 1, "{list}");
}

#[tokio::test]
async fn a_start_with_a_superuser_prints_no_link() {
    let dir = tempfile::tempdir().unwrap();
    let out = hearth_cli(
        dir.path(),
        &["superuser", "upsert", ADMIN_EMAIL, ADMIN_PASSWORD],
    );
    assert!(out.status.success());
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("--dir")
        .arg(dir.path())
        .args(["serve", "--http", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref().map_while(Result::ok) {
        let listening = line.contains("listening on");
        seen.push(line);
        if listening {
            break;
        }
    }
    // The link would be printed right after the "listening" line; give it a moment.
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    seen.extend(lines.map_while(Result::ok));
    let _ = child.wait();
    assert!(!seen.iter().any(|l| l.contains("/_/install/")), "{seen:#?}");
}

async fn sign_in(client: &reqwest::Client, base: &str) -> (u16, Value) {
    let res = client
        .post(format!(
            "{base}/api/collections/_superusers/auth-with-password"
        ))
        .json(&json!({"identity": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_installer_in_a_browser_without_javascript() {
    let Some(bin) = chromedriver() else { return };
    let dir = tempfile::tempdir().unwrap();
    let run = first_run(dir.path());
    let (_driver, c) = browser_with(&bin, false, false).await;
    c.goto(&run.link).await.unwrap();
    assert_eq!(text_of(&c, "h1").await, "Create the first superuser");
    screenshot(&c, "installer").await;
    fill(&c, "#email", ADMIN_EMAIL).await;
    fill(&c, "#password", ADMIN_PASSWORD).await;
    fill(&c, "#passwordConfirm", ADMIN_PASSWORD).await;
    click(&c, "button[type=submit]").await;
    assert_eq!(text_of(&c, ".page-head h1").await, "Dashboard");
    // The link is spent: opening it again offers the sign-in page instead.
    c.goto(&run.link).await.unwrap();
    assert!(text_of(&c, ".alert").await.contains("expired or was used"));
    click(&c, "a[href='/_/login']").await;
    wait_url(&c, "/_/").await;
    c.close().await.unwrap();
}

/// `superuser otp EMAIL` on both servers: each prints an id and a code that sign the
/// superuser in once through `auth-with-otp`.
#[tokio::test]
async fn superuser_otp_signs_in_as_on_pocketbase() {
    let Some(bin) = pocketbase_bin() else { return };
    let pb = start_pocketbase(&bin).await;
    let app = crate::helpers::spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let client = crate::helpers::client();
    let mut outcomes = Vec::new();
    for (base, run) in [
        (
            pb.address.clone(),
            Box::new(|args: &[&str]| {
                output(Command::new(&bin).arg("--dir").arg(pb.dir()).args(args))
            }) as Box<dyn Fn(&[&str]) -> String>,
        ),
        (
            app.address.clone(),
            Box::new(|args: &[&str]| {
                let out = app.hearth(args);
                String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr)
            }),
        ),
    ] {
        let refused = run(&["superuser", "otp", ADMIN_EMAIL]);
        assert!(refused.contains("OTP auth is not enabled"), "{refused}");
        let token = superuser_token_at(&client, &base).await;
        let res = client
            .patch(format!("{base}/api/collections/_superusers"))
            .header("Authorization", &token)
            .json(&json!({"otp": {"enabled": true}}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let printed = strip_ansi(&run(&["superuser", "otp", ADMIN_EMAIL]));
        let field = |name: &str| {
            printed
                .lines()
                .find_map(|l| {
                    l.split_once(&format!("{name}:"))
                        .map(|(_, v)| v.trim().to_owned())
                })
                .unwrap_or_else(|| panic!("no {name} in {printed}"))
        };
        let (id, pass) = (field("Id"), field("Pass"));
        // As PocketBase forces MFA on superusers with OTP: the code is the first factor,
        // the password the second; the code works once.
        let otp = |id: String, pass: String| {
            let (client, base) = (client.clone(), base.clone());
            async move {
                let res = client
                    .post(format!("{base}/api/collections/_superusers/auth-with-otp"))
                    .json(&json!({"otpId": id, "password": pass}))
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                (status, res.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let (first, body) = otp(id.clone(), pass.clone()).await;
        let mfa_id = body["mfaId"].as_str().unwrap_or_default().to_owned();
        let second = client
            .post(format!(
                "{base}/api/collections/_superusers/auth-with-password"
            ))
            .json(&json!({"identity": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "mfaId": mfa_id}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        let (again, _) = otp(id, pass).await;
        let answers = vec![first, second, again];
        let unknown = run(&["superuser", "otp", "nobody@example.com"]);
        outcomes.push((
            answers,
            unknown.to_lowercase().contains("nobody@example.com"),
        ));
    }
    assert_eq!(outcomes[0].0, vec![401, 200, 400], "PocketBase: MFA, once");
    assert_eq!(outcomes[1], outcomes[0]);
}

/// What a command printed, both streams.
fn output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
