//! Signing in with OAuth2 through a real OpenID Connect provider (panva's oidc-provider, run
//! by node from tests/oidc), side by side with PocketBase 0.40.6 on the same provider: the
//! code flow with PKCE as the SDK's `authWithOAuth2Code` runs it (a first sign-in creates
//! the record, the next finds it), linking to an existing account by its verified email
//! (a verified one keeps its password, an unverified one loses it), the links as their
//! owner lists them, `auth-refresh` with the token, and the refusals.

use std::process::Stdio;

use reqwest::{Client, Url};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

use crate::compat::{assert_same, pocketbase_bin, start_pocketbase};
use crate::helpers::{Tool, client, spawn_app, superuser_token_at};

pub const CLIENT_ID: &str = "hearth-test";
pub const CLIENT_SECRET: &str = "hearth-test-secret";
const REDIRECT: &str = "http://127.0.0.1:9/oauth2-callback";

/// The provider, running until dropped.
pub struct Oidc {
    pub issuer: String,
    _child: tokio::process::Child,
}

pub async fn start_oidc() -> Option<Oidc> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
    if !dir.join("node_modules/oidc-provider").exists() {
        Tool::Oidc.missing("oidc-provider is not installed in tests/oidc");
        return None;
    }
    let mut child = tokio::process::Command::new("node")
        .args(["server.mjs", "--port", "0", "--exit-on-stdin-close"])
        .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .unwrap();
    let ready: Value = serde_json::from_str(&line).expect("the provider's ready line");
    Some(Oidc {
        issuer: ready["issuer"].as_str().unwrap_or_default().to_owned(),
        _child: child,
    })
}

impl Oidc {
    /// Signs `login` in at the provider for `auth_url` (redirect URL appended): the code
    /// it sends back.
    pub async fn code(&self, auth_url: &str, login: &str) -> String {
        self.code_with(auth_url, login, &[]).await
    }

    /// `code`, with claims of this sign-in overridden (see tests/oidc/server.mjs).
    pub async fn code_with(&self, auth_url: &str, login: &str, claims: &[(&str, &str)]) -> String {
        let mut form = vec![("login", login)];
        form.extend_from_slice(claims);
        let http = Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = http.get(auth_url).send().await.unwrap();
        assert_eq!(r.status(), 303, "{:?}", r.text().await);
        let interaction = format!("{}{}", self.issuer, location(&r));
        let r = http.post(&interaction).form(&form).send().await.unwrap();
        assert_eq!(r.status(), 303);
        let resume = location(&r);
        let r = http.get(&resume).send().await.unwrap();
        assert_eq!(r.status(), 303);
        let back = Url::parse(&location(&r)).unwrap();
        back.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no code: {back}"))
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// The keys of an object, sorted.
fn keys(v: &Value) -> Value {
    let mut k: Vec<&String> = v
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    k.sort();
    json!(k)
}

/// A sign-in's answer with what differs between servers (ids, tokens, times) left out.
pub fn shown(status: u16, body: &Value) -> Value {
    if status != 200 {
        return json!([status, body]);
    }
    let m = &body["meta"];
    let r = &body["record"];
    json!([status, {
        "meta": keys(m),
        "isNew": m["isNew"], "email": m["email"], "name": m["name"], "username": m["username"],
        "rawUser.sub": m["rawUser"]["sub"], "accessToken": m["accessToken"].as_str().is_some_and(|t| !t.is_empty()),
        "record": keys(r),
        "record.email": r["email"], "record.verified": r["verified"], "record.name": r["name"],
        "token": body["token"].as_str().is_some_and(|t| !t.is_empty()),
    }])
}

async fn scenario(base: &str, oidc: &Oidc) -> Vec<(String, Value)> {
    let http = client();
    let admin = superuser_token_at(&http, base).await;
    let users = format!("{base}/api/collections/users");
    let mut out: Vec<(String, Value)> = Vec::new();

    configure(&http, base, &admin, oidc).await;
    // Two existing accounts: bob verified, carol not.
    for (email, verified) in [("bob@example.com", true), ("carol@example.com", false)] {
        let res = http
            .post(format!("{users}/records"))
            .header("Authorization", &admin)
            .json(&json!({"email": email, "password": "password123", "passwordConfirm": "password123", "verified": verified, "name": "Existing"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }

    let start_with = async |name: &str| {
        let (url, verifier) = auth_start(base, name).await;
        (url, verifier.as_str().unwrap_or_default().to_owned())
    };
    let start = async || start_with("oidc").await;
    let sign_in = async |body: Value, auth: Option<&str>| {
        let mut req = http.post(format!("{users}/auth-with-oauth2")).json(&body);
        if let Some(token) = auth {
            req = req.header("Authorization", token);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json::<Value>().await.unwrap())
    };

    let (url, verifier) = start().await;
    let code = oidc.code(&url, "alice").await;
    let first = json!({"provider": "oidc", "code": code, "codeVerifier": verifier,
        "redirectURL": REDIRECT, "createData": {"name": "Alice From CreateData", "emailVisibility": true}});
    let (status, alice) = sign_in(first.clone(), None).await;
    out.push(("first sign-in creates".into(), shown(status, &alice)));
    let (status, body) = sign_in(first, None).await;
    out.push(("the same code again".into(), json!([status, body])));

    let (url, verifier) = start().await;
    let code = oidc.code(&url, "alice").await;
    let (status, again) = sign_in(
        json!({"provider": "oidc", "code": code, "codeVerifier": verifier, "redirectURL": REDIRECT}),
        None,
    )
    .await;
    out.push(("second sign-in finds".into(), shown(status, &again)));
    out.push((
        "the same record".into(),
        json!(alice["record"]["id"] == again["record"]["id"]),
    ));

    // A record created with another email than the provider's stays unverified: each
    // sign-in drops its links and links it again, so it is found by its link every time.
    let (mut zed, mut ids) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let (url, verifier) = start().await;
        let code = oidc.code(&url, "zed").await;
        let (status, body) = sign_in(
            json!({"provider": "oidc", "code": code, "codeVerifier": verifier,
                "redirectURL": REDIRECT, "createData": {"email": "zed-other@example.com"}}),
            None,
        )
        .await;
        zed.push(json!([
            status,
            body["meta"]["isNew"],
            body["record"]["verified"]
        ]));
        ids.push(body["record"]["id"].clone());
    }
    zed.push(json!(ids.iter().all(|id| *id == ids[0])));
    out.push(("an unverified account keeps its link".into(), json!(zed)));

    let (url, _) = start().await;
    let code = oidc.code(&url, "alice").await;
    let (status, body) = sign_in(
        json!({"provider": "oidc", "code": code, "codeVerifier": "a-wrong-verifier-of-the-right-length-12345", "redirectURL": REDIRECT}),
        None,
    )
    .await;
    out.push(("wrong verifier".into(), json!([status, body])));

    for (label, body) in [
        (
            "unknown provider",
            json!({"provider": "github", "code": "x"}),
        ),
        ("no code", json!({"provider": "oidc"})),
        ("nothing", json!({})),
    ] {
        let (status, body) = sign_in(body, None).await;
        out.push((label.into(), json!([status, body])));
    }

    // bob, verified: linked as he is, his password kept.
    let (url, verifier) = start().await;
    let code = oidc.code(&url, "bob").await;
    let (status, bob) = sign_in(
        json!({"provider": "oidc", "code": code, "codeVerifier": verifier, "redirectURL": REDIRECT, "createData": {"name": "ignored"}}),
        None,
    )
    .await;
    out.push((
        "a verified account by its email".into(),
        shown(status, &bob),
    ));
    // carol, unverified: verified now, her password replaced.
    let (url, verifier) = start().await;
    let code = oidc.code(&url, "carol").await;
    let (status, carol) = sign_in(
        json!({"provider": "oidc", "code": code, "codeVerifier": verifier, "redirectURL": REDIRECT}),
        None,
    )
    .await;
    out.push((
        "an unverified account by its email".into(),
        shown(status, &carol),
    ));
    for who in ["bob", "carol"] {
        let res = http
            .post(format!("{users}/auth-with-password"))
            .json(&json!({"identity": format!("{who}@example.com"), "password": "password123"}))
            .send()
            .await
            .unwrap();
        out.push((
            format!("{who}'s old password"),
            json!(res.status().as_u16()),
        ));
    }

    let token = alice["token"].as_str().unwrap_or_default().to_owned();
    let res = http
        .post(format!("{users}/auth-refresh"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    out.push(("auth-refresh".into(), json!(res.status().as_u16())));
    let links: Value = http
        .get(format!("{base}/api/collections/_externalAuths/records"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: Vec<Value> = links["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| {
                    json!([
                        l["provider"],
                        l["providerId"],
                        l["recordRef"] == alice["record"]["id"],
                        keys(l)
                    ])
                })
                .collect()
        })
        .unwrap_or_default();
    out.push(("alice's links".into(), json!(listed)));

    let res = http
        .patch(&users)
        .header("Authorization", &admin)
        .json(&json!({"oauth2": {"enabled": false}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, body) = sign_in(json!({"provider": "oidc", "code": "x"}), None).await;
    out.push(("OAuth2 off".into(), json!([status, body])));
    out
}

/// Turns OAuth2 on for `users` with the provider as `oidc`.
pub async fn configure(http: &Client, base: &str, admin: &str, oidc: &Oidc) {
    let provider = json!({"name": "oidc", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
        "authURL": format!("{}/auth", oidc.issuer), "tokenURL": format!("{}/token", oidc.issuer),
        "userInfoURL": format!("{}/me", oidc.issuer), "displayName": "Local OIDC", "pkce": true});
    let res = http
        .patch(format!("{base}/api/collections/users"))
        .header("Authorization", admin)
        .json(&json!({"oauth2": {"enabled": true, "providers": [provider]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
}

/// The start of a sign-in through `provider` at `base`'s `users`, as the SDK reads it from
/// `auth-methods`: the provider's authorization URL with the redirect URL, and the PKCE
/// verifier.
pub async fn auth_start(base: &str, provider: &str) -> (String, Value) {
    let methods: Value = client()
        .get(format!("{base}/api/collections/users/auth-methods"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let p = methods["oauth2"]["providers"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == provider))
        .cloned()
        .unwrap_or_else(|| panic!("no {provider} in {methods}"));
    let url = format!("{}{}", p["authURL"].as_str().unwrap(), url_encode(REDIRECT));
    (url, p["codeVerifier"].clone())
}

/// Signs `login` in at `base`'s `users` through `provider` (with claims overridden), as
/// `authWithOAuth2Code` does: the status and the answer.
pub async fn sign_in_as(
    base: &str,
    oidc: &Oidc,
    provider: &str,
    login: &str,
    claims: &[(&str, &str)],
) -> (u16, Value) {
    let http = client();
    let users = format!("{base}/api/collections/users");
    let (url, verifier) = auth_start(base, provider).await;
    let code = oidc.code_with(&url, login, claims).await;
    let res = http
        .post(format!("{users}/auth-with-oauth2"))
        .json(
            &json!({"provider": provider, "code": code, "codeVerifier": verifier,
            "redirectURL": REDIRECT}),
        )
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn oauth2_sign_in_through_a_real_provider_answers_as_on_pocketbase() {
    let Some(oidc) = start_oidc().await else {
        return;
    };
    let app = spawn_app().await;
    app.create_superuser(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let ours = scenario(&app.address, &oidc).await;
    let find = |label: &str| crate::compat::outcome(&ours, label);
    assert_eq!(find("first sign-in creates")[0], 200, "{ours:?}");
    assert_eq!(find("first sign-in creates")[1]["isNew"], true);
    assert_eq!(find("second sign-in finds")[1]["isNew"], false);
    assert_eq!(find("the same record"), true);
    assert_eq!(
        find("an unverified account keeps its link"),
        json!([
            [200, true, false],
            [200, false, false],
            [200, false, false],
            true
        ])
    );
    assert_eq!(find("the same code again")[0], 400);
    assert_eq!(find("bob's old password"), 200);
    assert_eq!(find("carol's old password"), 400);
    assert_eq!(
        find("an unverified account by its email")[1]["record.verified"],
        true
    );

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase(&bin).await;
    let theirs = scenario(&pb.address, &oidc).await;
    assert_same(&ours, &theirs);
}

/// The all-in-one flow's hand-over: a realtime client subscribed to `@oauth2` gets the code
/// the provider sent the browser back with, once; the browser goes to the success or
/// failure page.
async fn redirects(base: &str) -> Vec<(String, Value)> {
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut out = Vec::new();
    let mut sse = crate::helpers::Sse::connect(base).await;
    let subscribe = async |sse: &crate::helpers::Sse| {
        let res = http
            .post(format!("{base}/api/realtime"))
            .json(&json!({"clientId": sse.client_id, "subscriptions": ["@oauth2"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
    };
    subscribe(&sse).await;
    let id = sse.client_id.clone();
    let get = async |query: String| {
        let res = http
            .get(format!("{base}/api/oauth2-redirect?{query}"))
            .send()
            .await
            .unwrap();
        json!([res.status().as_u16(), location(&res)])
    };
    out.push((
        "the code".into(),
        get(format!("code=c1&state={id}&iss=x")).await,
    ));
    let event = sse.next_within(std::time::Duration::from_secs(5)).await;
    out.push((
        "the message".into(),
        event.map_or(Value::Null, |e| json!([e.event, e.json()])),
    ));
    out.push((
        "the same again".into(),
        get(format!("code=c2&state={id}")).await,
    ));
    out.push((
        "an unknown state".into(),
        get("code=c3&state=nobody".into()).await,
    ));
    out.push(("no state".into(), get("code=c4".into()).await));
    subscribe(&sse).await;
    out.push((
        "an error".into(),
        get(format!("error=access_denied&state={id}")).await,
    ));
    let event = sse.next_within(std::time::Duration::from_secs(5)).await;
    out.push((
        "the error message".into(),
        event.map_or(Value::Null, |e| json!([e.event, e.json()])),
    ));
    subscribe(&sse).await;
    let res = http
        .post(format!("{base}/api/oauth2-redirect"))
        .form(&[("code", "c5"), ("state", id.as_str())])
        .send()
        .await
        .unwrap();
    out.push((
        "posted".into(),
        json!([res.status().as_u16(), location(&res)]),
    ));
    let event = sse.next_within(std::time::Duration::from_secs(5)).await;
    out.push((
        "the posted message".into(),
        event.map_or(Value::Null, |e| json!([e.event, e.json()])),
    ));
    // The client id is random: compare the message with it taken out.
    for (_, v) in out.iter_mut() {
        if let Some(state) = v.pointer_mut("/1/state") {
            *state = json!(state.as_str() == Some(id.as_str()));
        }
    }
    out
}

#[tokio::test]
async fn the_redirect_hands_the_code_to_the_waiting_client_as_on_pocketbase() {
    let app = spawn_app().await;
    let ours = redirects(&app.address).await;
    let find = |label: &str| crate::compat::outcome(&ours, label);
    assert_eq!(
        find("the code"),
        json!([307, "../_/#/auth/oauth2-redirect-success"])
    );
    assert_eq!(
        find("the message"),
        json!(["@oauth2", {"state": true, "code": "c1"}])
    );
    assert_eq!(
        find("the same again")[1],
        "../_/#/auth/oauth2-redirect-failure"
    );

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase(&bin).await;
    let theirs = redirects(&pb.address).await;
    assert_same(&ours, &theirs);
}

/// Runs tests/sdk/oauth2.test.mjs (the SDK's `authWithOAuth2Code`) against `base` with the
/// provider set up there; answers the keys it saw.
async fn sdk_sign_in(dir: &std::path::Path, base: &str, oidc: &Oidc) -> String {
    let http = client();
    let admin = superuser_token_at(&http, base).await;
    configure(&http, base, &admin, oidc).await;
    let mut cmd = std::process::Command::new("node");
    cmd.args(["--test", "--test-reporter=tap", "oauth2.test.mjs"])
        .current_dir(dir)
        .env("HEARTH_URL", base);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("node runs"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "oauth2.test.mjs failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find(|l| l.contains("metaKeys"))
        .map(|l| l.trim_start_matches(['#', ' ']).to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_sdks_auth_with_oauth2_code_signs_in_as_on_pocketbase() {
    let Some(dir) = crate::sdk::sdk_dir() else {
        return;
    };
    let Some(oidc) = start_oidc().await else {
        return;
    };
    let app = spawn_app().await;
    app.create_superuser(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let ours = sdk_sign_in(&dir, &app.address, &oidc).await;
    assert!(ours.contains("isNew"), "{ours}");
    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase(&bin).await;
    let theirs = sdk_sign_in(&dir, &pb.address, &oidc).await;
    assert_eq!(ours, theirs);
}
