//! Every route that takes a body takes it as PocketBase's `BindBody` does (issue #24): JSON,
//! `application/x-www-form-urlencoded` and `multipart/form-data` (with `@jsonPayload` for
//! what plain form values cannot say), side by side with the real PocketBase 0.40.6. Each
//! body is sent in all three encodings to both servers, then bodies that cannot be read
//! (broken JSON, broken escapes, a cut-off multipart body, an unsupported type) to each
//! route; statuses and normalised JSON must be the same.

use std::collections::HashMap;

use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::{Map, Value, json};

use crate::compat::{assert_same, pocketbase_bin, start_pocketbase};
use crate::compat_scenarios::normalize;
use crate::files::{Server, answer};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Sse, spawn_app};

type Outcomes = Vec<(String, Value)>;

#[derive(Clone, Copy)]
enum Who {
    Guest,
    User,
    Superuser,
}

#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    Json,
    Urlencoded,
    Multipart,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Json => "json",
            Encoding::Urlencoded => "urlencoded",
            Encoding::Multipart => "multipart",
        }
    }
}

/// One route with a body that it accepts.
struct Case {
    label: &'static str,
    method: Method,
    path: String,
    who: Who,
    /// `{enc}` in it is replaced by the encoding's name (names that must be unique).
    body: Value,
    /// Nested objects sent as `a.b` keys (PocketBase's struct binding), else as JSON.
    dotted: bool,
    /// Only these key paths of the answer are compared (None: all of it).
    keep: Option<&'static [&'static str]>,
}

/// A server ready for the cases: signed in as superuser and as a user, with a record and a
/// realtime client.
struct Ready {
    server: Server,
    user_token: String,
    user_id: String,
    record_id: String,
    realtime: Sse,
}

impl Ready {
    async fn send(
        &self,
        method: Method,
        path: &str,
        who: Who,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut req = self
            .server
            .client
            .request(method, self.server.url(path))
            .body(body);
        if let Some(kind) = content_type {
            req = req.header("Content-Type", kind);
        }
        req = match who {
            Who::Guest => req,
            Who::User => req.header("Authorization", &self.user_token),
            Who::Superuser => req.header("Authorization", &self.server.token),
        };
        answer(req.send().await.unwrap()).await
    }

    async fn send_encoded(&self, case: &Case, enc: Encoding) -> (u16, Value) {
        let text = case.body.to_string().replace("{enc}", enc.name());
        let body: Value = serde_json::from_str(&text).unwrap();
        match enc {
            Encoding::Json => {
                let bytes = serde_json::to_vec(&body).unwrap();
                self.send(
                    case.method.clone(),
                    &case.path,
                    case.who,
                    Some("application/json"),
                    bytes,
                )
                .await
            }
            Encoding::Urlencoded => {
                let text = serde_urlencoded::to_string(pairs(&body, case.dotted)).unwrap();
                let kind = "application/x-www-form-urlencoded";
                self.send(
                    case.method.clone(),
                    &case.path,
                    case.who,
                    Some(kind),
                    text.into_bytes(),
                )
                .await
            }
            Encoding::Multipart => {
                let mut form = Form::new();
                for (k, v) in pairs(&body, case.dotted) {
                    form = form.text(k, v);
                }
                let mut req = self
                    .server
                    .client
                    .request(case.method.clone(), self.server.url(&case.path))
                    .multipart(form);
                req = match case.who {
                    Who::Guest => req,
                    Who::User => req.header("Authorization", &self.user_token),
                    Who::Superuser => req.header("Authorization", &self.server.token),
                };
                answer(req.send().await.unwrap()).await
            }
        }
    }
}

/// A JSON object as form values: text, numbers and booleans as text, lists of them as a
/// repeated key, objects as `a.b` keys when `dotted`; whatever is left under `@jsonPayload`.
fn pairs(body: &Value, dotted: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut payload = Map::new();
    flatten(body, "", dotted, &mut out, &mut payload);
    if !payload.is_empty() {
        out.push(("@jsonPayload".into(), Value::Object(payload).to_string()));
    }
    out
}

fn flatten(
    value: &Value,
    prefix: &str,
    dotted: bool,
    out: &mut Vec<(String, String)>,
    payload: &mut Map<String, Value>,
) {
    let Value::Object(members) = value else {
        return;
    };
    for (k, v) in members {
        let key = format!("{prefix}{k}");
        match v {
            Value::Array(items) if items.iter().all(|i| scalar(i).is_some()) => {
                for item in items {
                    out.push((key.clone(), scalar(item).unwrap_or_default()));
                }
            }
            Value::Object(_) if dotted => flatten(v, &format!("{key}."), dotted, out, payload),
            other => match scalar(other) {
                Some(text) => out.push((key, text)),
                None => {
                    payload.insert(key, other.clone());
                }
            },
        }
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `[status, body]` normalised, only the `keep` paths of the body when given.
fn seen(status: u16, body: &Value, keep: Option<&[&str]>) -> Value {
    let body = match keep {
        Some(paths) => Value::Object(
            paths
                .iter()
                .map(|p| {
                    let pointer = format!("/{}", p.replace('.', "/"));
                    (
                        (*p).to_owned(),
                        body.pointer(&pointer).cloned().unwrap_or(Value::Null),
                    )
                })
                .collect(),
        ),
        None => body.clone(),
    };
    json!([status, normalize(&body, &HashMap::new())])
}

const USER_EMAIL: &str = "enc-user@example.com";
const USER_PASSWORD: &str = "Passw0rd!enc";

async fn ready(server: Server) -> Ready {
    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/collections",
            json!({
                "name": "enc",
                "listRule": "", "viewRule": "", "createRule": "", "updateRule": "",
                "fields": [
                    {"name": "title", "type": "text"},
                    {"name": "n", "type": "number"},
                    {"name": "flag", "type": "bool"},
                    {"name": "tags", "type": "select", "maxSelect": 3, "values": ["a", "b", "c"]},
                    {"name": "meta", "type": "json"}
                ]
            }),
            true,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .send_json(
            Method::PATCH,
            "/api/collections/users",
            json!({"otp": {"enabled": true}}),
            true,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .send_json(
            Method::PATCH,
            "/api/settings",
            json!({"batch": {"enabled": true, "maxRequests": 10}}),
            true,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, user) = server
        .send_json(
            Method::POST,
            "/api/collections/users/records",
            json!({"email": USER_EMAIL, "password": USER_PASSWORD, "passwordConfirm": USER_PASSWORD}),
            true,
        )
        .await;
    assert_eq!(status, 200, "{user}");
    let (status, signed) = server
        .send_json(
            Method::POST,
            "/api/collections/users/auth-with-password",
            json!({"identity": USER_EMAIL, "password": USER_PASSWORD}),
            false,
        )
        .await;
    assert_eq!(status, 200, "{signed}");
    let (status, record) = server
        .send_json(
            Method::POST,
            "/api/collections/enc/records",
            json!({"title": "first"}),
            false,
        )
        .await;
    assert_eq!(status, 200, "{record}");
    let realtime = Sse::connect(&server.base).await;
    Ready {
        user_token: signed["token"].as_str().unwrap_or_default().to_owned(),
        user_id: user["id"].as_str().unwrap_or_default().to_owned(),
        record_id: record["id"].as_str().unwrap_or_default().to_owned(),
        realtime,
        server,
    }
}

fn case(label: &'static str, method: Method, path: &str, who: Who, body: Value) -> Case {
    Case {
        label,
        method,
        path: path.to_owned(),
        who,
        body,
        dotted: false,
        keep: None,
    }
}

const COLLECTION_KEYS: &[&str] = &[
    "name",
    "type",
    "listRule",
    "viewRule",
    "system",
    "indexes",
    "fields.1.name",
    "fields.1.type",
];

/// Every route with a body, with a body it takes.
fn cases(r: &Ready) -> Vec<Case> {
    let users = "/api/collections/users";
    let mut all = vec![
        case(
            "auth-with-password",
            Method::POST,
            &format!("{users}/auth-with-password"),
            Who::Guest,
            json!({"identity": USER_EMAIL, "password": USER_PASSWORD}),
        ),
        case(
            "auth-with-password, wrong password",
            Method::POST,
            &format!("{users}/auth-with-password"),
            Who::Guest,
            json!({"identity": USER_EMAIL, "password": "wrong"}),
        ),
        case(
            "request-otp",
            Method::POST,
            &format!("{users}/request-otp"),
            Who::Guest,
            json!({"email": "nobody@example.com"}),
        ),
        case(
            "auth-with-otp",
            Method::POST,
            &format!("{users}/auth-with-otp"),
            Who::Guest,
            json!({"otpId": "abcdefghijklmno", "password": "123456"}),
        ),
        case(
            "request-password-reset",
            Method::POST,
            &format!("{users}/request-password-reset"),
            Who::Guest,
            json!({"email": "nobody@example.com"}),
        ),
        case(
            "confirm-password-reset",
            Method::POST,
            &format!("{users}/confirm-password-reset"),
            Who::Guest,
            json!({"token": "bad", "password": "12345678", "passwordConfirm": "12345678"}),
        ),
        case(
            "request-verification",
            Method::POST,
            &format!("{users}/request-verification"),
            Who::Guest,
            json!({"email": "nobody@example.com"}),
        ),
        case(
            "confirm-verification",
            Method::POST,
            &format!("{users}/confirm-verification"),
            Who::Guest,
            json!({"token": "bad"}),
        ),
        case(
            "request-email-change",
            Method::POST,
            &format!("{users}/request-email-change"),
            Who::User,
            json!({"newEmail": "not-an-email"}),
        ),
        case(
            "confirm-email-change",
            Method::POST,
            &format!("{users}/confirm-email-change"),
            Who::Guest,
            json!({"token": "bad", "password": "x"}),
        ),
        case(
            "auth-with-oauth2",
            Method::POST,
            &format!("{users}/auth-with-oauth2"),
            Who::Guest,
            json!({"provider": "gitlab", "code": "c", "codeVerifier": "v",
                   "redirectURL": "http://localhost/cb", "createData": {"name": "n"}}),
        ),
        case(
            "impersonate",
            Method::POST,
            &format!("{users}/impersonate/{}", r.user_id),
            Who::Superuser,
            json!({"duration": 60}),
        ),
        case(
            "record create",
            Method::POST,
            "/api/collections/enc/records",
            Who::Guest,
            json!({"title": "r {enc}", "n": 5, "flag": true, "tags": ["a", "b"],
                   "meta": {"k": [1, "x"]}}),
        ),
        case(
            "record update",
            Method::PATCH,
            &format!("/api/collections/enc/records/{}", r.record_id),
            Who::Guest,
            json!({"title": "u {enc}", "n": -1.5, "flag": false, "tags": ["c"]}),
        ),
        case(
            "batch",
            Method::POST,
            "/api/batch",
            Who::Guest,
            json!({"requests": [{"method": "POST", "url": "/api/collections/enc/records",
                                 "body": {"title": "b {enc}"}}]}),
        ),
        case(
            "realtime subscribe",
            Method::POST,
            "/api/realtime",
            Who::Guest,
            json!({"clientId": r.realtime.client_id, "subscriptions": ["enc", "enc/x"]}),
        ),
        case(
            "backup create",
            Method::POST,
            "/api/backups",
            Who::Superuser,
            json!({"name": "enc_{enc}.zip"}),
        ),
        case(
            "apple client secret",
            Method::POST,
            "/api/settings/apple/generate-client-secret",
            Who::Superuser,
            json!({"clientId": "c", "teamId": "t", "keyId": "k", "privateKey": "bad",
                   "duration": 60}),
        ),
        case(
            "collections import",
            Method::PUT,
            "/api/collections/import",
            Who::Superuser,
            json!({"deleteMissing": false, "collections": [{"name": "imp_{enc}", "type": "base",
                   "fields": [{"name": "title", "type": "text"}]}]}),
        ),
    ];
    let mut collection = case(
        "collection create",
        Method::POST,
        "/api/collections",
        Who::Superuser,
        json!({"name": "plain_{enc}", "type": "base", "listRule": "", "viewRule": "id != ''",
               "system": false, "fields": [{"name": "title", "type": "text"}]}),
    );
    collection.keep = Some(COLLECTION_KEYS);
    all.push(collection);
    let mut scalars = case(
        "collection create, plain values only",
        Method::POST,
        "/api/collections",
        Who::Superuser,
        json!({"name": "bare_{enc}", "listRule": "", "indexes": ["CREATE INDEX idx_bare_{enc} ON bare_{enc} (created)"]}),
    );
    scalars.keep = Some(COLLECTION_KEYS);
    all.push(scalars);
    let mut update = case(
        "collection update",
        Method::PATCH,
        "/api/collections/plain_{enc}",
        Who::Superuser,
        json!({"listRule": "title != ''", "viewRule": "", "indexes": ["CREATE INDEX idx_plain_{enc} ON plain_{enc} (title)"]}),
    );
    update.keep = Some(COLLECTION_KEYS);
    all.push(update);
    let mut settings = case(
        "settings",
        Method::PATCH,
        "/api/settings",
        Who::Superuser,
        json!({"meta": {"appName": "Enc {enc}", "hideControls": true},
               "logs": {"maxDays": 9},
               "trustedProxy": {"headers": ["X-Real-IP"], "useLeftmostIP": true}}),
    );
    settings.dotted = true;
    settings.keep = Some(&[
        "meta.appName",
        "meta.hideControls",
        "logs.maxDays",
        "trustedProxy",
    ]);
    all.push(settings);
    all
}

/// Bodies that cannot be bound, each sent to every route: (label, content type, body).
const UNREADABLE: &[(&str, Option<&str>, &str)] = &[
    ("broken JSON", Some("application/json"), r#"{"identity":"#),
    ("a JSON list", Some("application/json"), "[1, 2]"),
    (
        "JSON and more",
        Some("application/json"),
        r#"{"name": "x"} trailing"#,
    ),
    (
        "JSON of the wrong types",
        Some("application/json"),
        r#"{"identity": 5, "email": 5, "name": 5, "duration": "x", "clientId": 5,
            "requests": 5, "meta": 5, "token": 5, "title": [1]}"#,
    ),
    (
        "a broken escape",
        Some("application/x-www-form-urlencoded"),
        "name=%zz",
    ),
    (
        "a semicolon",
        Some("application/x-www-form-urlencoded"),
        "a=1;b=2",
    ),
    (
        "a form of the wrong types",
        Some("application/x-www-form-urlencoded"),
        "duration=x&deleteMissing=maybe&meta.hideControls=maybe&logs.maxDays=x",
    ),
    (
        "a payload that is not JSON",
        Some("application/x-www-form-urlencoded"),
        "@jsonPayload=%7Bbad",
    ),
    (
        "a cut-off multipart body",
        Some("multipart/form-data; boundary=XyZ"),
        "--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nvalue",
    ),
    ("plain text", Some("text/plain"), "hello"),
    ("no type", None, r#"{"name": "x"}"#),
    ("empty plain text", Some("text/plain"), ""),
];

async fn steps(r: &Ready) -> Outcomes {
    let mut out = Outcomes::new();
    let cases = cases(r);
    for case in &cases {
        for enc in [Encoding::Json, Encoding::Urlencoded, Encoding::Multipart] {
            let (status, body) = r.send_encoded(case, enc).await;
            out.push((
                format!("{} as {}", case.label, enc.name()),
                seen(status, &body, case.keep),
            ));
        }
    }
    for case in &cases {
        for (label, kind, text) in UNREADABLE {
            let path = case.path.replace("{enc}", "json");
            let (status, body) = r
                .send(
                    case.method.clone(),
                    &path,
                    case.who,
                    *kind,
                    text.as_bytes().to_vec(),
                )
                .await;
            out.push((
                format!("{}: {label}", case.label),
                seen(status, &body, case.keep),
            ));
        }
    }
    out
}

/// A JSON `null` binds nothing. PocketBase answers it 500 on some routes (settings, the
/// password-reset confirmation, the email-change request): hearth answers every route
/// with what an empty body gets, never a 5xx.
async fn null_bodies(r: &Ready) {
    for case in cases(r) {
        let path = case.path.replace("{enc}", "json");
        let (status, body) = r
            .send(
                case.method.clone(),
                &path,
                case.who,
                Some("application/json"),
                b"null".to_vec(),
            )
            .await;
        assert!(status < 500, "{}: {status} {body}", case.label);
        let (empty, empty_body) = r
            .send(
                case.method.clone(),
                &path,
                case.who,
                Some("application/json"),
                Vec::new(),
            )
            .await;
        // Sign-in attempts are counted: the second of the pair may be limited.
        let limited = status == 429 || empty == 429;
        if !limited && case.label != "collection create" && case.label != "backup create" {
            assert_eq!(
                seen(status, &body, case.keep),
                seen(empty, &empty_body, case.keep),
                "{}",
                case.label
            );
        }
    }
}

#[tokio::test]
async fn every_route_takes_the_bodies_pocketbase_takes() {
    let Some(bin) = pocketbase_bin() else { return };
    let pb = start_pocketbase(&bin).await;
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let theirs = ready(Server::signed_in(&pb.address).await).await;
    let ours = ready(Server::signed_in(&app.address).await).await;
    let (theirs, ours_ready) = (steps(&theirs).await, ours);
    let ours = steps(&ours_ready).await;
    null_bodies(&ours_ready).await;
    let differ: Vec<String> = ours
        .iter()
        .zip(&theirs)
        .filter(|((_, a), (_, b))| a != b)
        .map(|((label, a), (_, b))| format!("{label}:\n  hearth:     {a}\n  pocketbase: {b}"))
        .collect();
    assert!(
        differ.is_empty(),
        "{} of {} differ:\n{}",
        differ.len(),
        ours.len(),
        differ.join("\n")
    );
    assert_same(&ours, &theirs);
}
