//! `POST /api/batch`: record creates, updates, upserts and deletes run in one transaction,
//! as PocketBase's batch API. Each sub-request passes its collection's rules for the caller;
//! the first failure rolls every change back and is reported under `requests.N`.

use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use percent_encoding::percent_decode_str;
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value, json};

use super::RequestAuth;
use super::records::{collection, context_of, shaped};
use crate::error::{Error, ErrorTree, FieldError, FieldErrors, Result};
use crate::files::Staging;
use crate::http::body::Keep;
use crate::http::{Sent, blocking, multipart, writing};
use crate::records::write::Tx;
use crate::records::{Ctx, Secrets, Shape};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/batch", web::post().to(batch));
}

/// The `batch` settings in force.
struct Limits {
    enabled: bool,
    max_requests: usize,
    timeout: Duration,
    /// The whole body, files included.
    max_body: usize,
}

fn limits(settings: &Map<String, Value>) -> Limits {
    let batch = settings.get("batch");
    let num = |k: &str| {
        batch
            .and_then(|b| b.get(k))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    Limits {
        enabled: batch
            .and_then(|b| b.get("enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        max_requests: num("maxRequests") as usize,
        // PocketBase always limits the transaction, to 3 s when unset.
        timeout: Duration::from_secs(match num("timeout") {
            0 => 3,
            n => n,
        }),
        // PocketBase's default when unset: 128 MiB.
        max_body: match num("maxBodySize") {
            0 => 128 << 20,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        },
    }
}

/// One sub-request: method, URL (path and query), extra headers, body, and the files sent
/// for it.
struct Sub {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Map<String, Value>,
    files: Option<Staging>,
}

impl Sub {
    fn parse(item: &Value) -> Option<Self> {
        let url = item.get("url")?.as_str()?;
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        Some(Self {
            method: item.get("method")?.as_str()?.to_ascii_uppercase(),
            path: path.to_owned(),
            query: serde_urlencoded::from_str(query).unwrap_or_default(),
            headers: item
                .get("headers")
                .and_then(Value::as_object)
                .map(|h| {
                    h.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                        .collect()
                })
                .unwrap_or_default(),
            body: item
                .get("body")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            files: None,
        })
    }

    /// Takes the files sent for sub-request `index` out of `uploads`, checked against its
    /// collection's file fields and named in its body. A sub-request that is no record
    /// write takes none (they go when the batch ends).
    fn attach(&mut self, state: &AppState, index: usize, uploads: &mut Staging) {
        let mine = uploads.take(|f| upload_index(&f.key).is_some_and(|(i, _)| i == index));
        if mine.is_empty() || self.method == "DELETE" {
            return;
        }
        let Some(c) = self
            .target()
            .and_then(|(name, _)| collection(state, &name).ok())
        else {
            return;
        };
        let mine = mine
            .into_iter()
            .map(|mut f| {
                f.key = upload_index(&f.key).map_or_else(String::new, |(_, key)| key.to_owned());
                f.pass_on();
                f
            })
            .collect();
        self.files = Some(multipart::assign(mine, &c, &state.files, &mut self.body));
    }

    /// (collection, record id) of `/api/collections/{c}/records[/{id}]`.
    fn target(&self) -> Option<(String, Option<String>)> {
        let parts: Vec<String> = self
            .path
            .trim_start_matches('/')
            .split('/')
            .map(|p| percent_decode_str(p).decode_utf8_lossy().into_owned())
            .collect();
        match parts.as_slice() {
            [api, cols, c, recs] if api == "api" && cols == "collections" && recs == "records" => {
                Some((c.clone(), None))
            }
            [api, cols, c, recs, id]
                if api == "api" && cols == "collections" && recs == "records" && !id.is_empty() =>
            {
                Some((c.clone(), Some(id.clone())))
            }
            _ => None,
        }
    }

    /// What rules may read about this sub-request, sent as `method`.
    fn context(&self, state: &AppState, auth: &RequestAuth, method: &str) -> Ctx {
        context_of(
            state,
            auth,
            method,
            self.query.clone(),
            self.headers.clone(),
            self.body.clone(),
        )
    }

    fn shape(&self) -> Shape {
        let get = |k: &str| {
            self.query
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Shape {
            expand: get("expand"),
            fields: get("fields"),
        }
    }
}

/// Sends each sub-request's files ahead (see `api::records::send_ahead`): an update's to
/// its record, a create's or an upsert's to the id its body names or one chosen now. A
/// request whose files the bucket does not take fails at its turn, as PocketBase's would.
async fn send_ahead(state: &AppState, subs: Vec<Result<Sub>>) -> Result<Vec<Result<Sub>>> {
    if state.files.bucket().is_none() || !subs.iter().flatten().any(|s| s.files.is_some()) {
        return Ok(subs);
    }
    let mut out = Vec::with_capacity(subs.len());
    for sub in subs {
        let mut sub = match sub {
            Ok(sub) => sub,
            Err(e) => {
                out.push(Err(e));
                continue;
            }
        };
        let (Some(files), Some((name, id))) = (sub.files.take(), sub.target()) else {
            out.push(Ok(sub));
            continue;
        };
        let Ok(c) = collection(state, &name) else {
            out.push(Ok(sub));
            continue;
        };
        let update = id.filter(|_| sub.method == "PATCH");
        let sent = super::records::send_ahead(state, &c, update.as_deref(), &sub.body, files).await;
        out.push(sent.map(|files| {
            sub.files = Some(files);
            sub
        }));
    }
    Ok(out)
}

/// The sub-request a batch file part is for, and its key there: `requests.N.key` or
/// `requests[N].key`, N written as PocketBase writes an index (no sign, no leading zero).
fn upload_index(key: &str) -> Option<(usize, &str)> {
    let (index, rest) = if let Some(rest) = key.strip_prefix("requests.") {
        rest.split_once('.')?
    } else {
        key.strip_prefix("requests[")?.split_once("].")?
    };
    let i: usize = index.parse().ok()?;
    (i.to_string() == index).then_some((i, rest))
}

/// PocketBase answers an unsupported sub-request with its generic message.
fn unknown_action() -> Error {
    Error::bad_request("Something went wrong while processing your request.")
}

fn exists(conn: &Connection, table: &str, id: &str) -> Result<bool> {
    let sql = format!("SELECT 1 FROM \"{table}\" WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The password work of a sub-request (see `records::Secrets`), done before the batch's
/// transaction; a sub-request that is no record write needs none.
fn secrets(state: &AppState, auth: &RequestAuth, sub: &Sub) -> Result<Secrets> {
    let Some((name, id)) = sub.target() else {
        return Ok(Secrets::default());
    };
    let Ok(c) = collection(state, &name) else {
        return Ok(Secrets::default());
    };
    if sub.method == "DELETE" {
        return Ok(Secrets::default());
    }
    // An upsert names its record in the body, and is a create when it does not exist.
    let id = match (id, named(sub)) {
        (Some(id), _) => Some(id),
        (None, Some(named))
            if sub.method == "PUT"
                && state.db.data.read(|conn| exists(conn, &c.name, named))? =>
        {
            Some(named.to_owned())
        }
        _ => None,
    };
    let method = if id.is_some() { "PATCH" } else { "POST" };
    let ctx = sub.context(state, auth, method);
    Secrets::prepare(&state.db.data, &c, &ctx, id.as_deref(), &sub.body)
}

/// The record an upsert's body names, if any.
fn named(sub: &Sub) -> Option<&str> {
    sub.body
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
}

/// Runs one sub-request in the batch's transaction: (status, body).
fn run(
    tx: &mut Tx,
    state: &AppState,
    auth: &RequestAuth,
    ip: Option<std::net::IpAddr>,
    sub: Sub,
    secrets: &Secrets,
) -> Result<(u16, Value)> {
    let (name, id) = sub.target().ok_or_else(unknown_action)?;
    let c = collection(state, &name)?;
    let shape = sub.shape();
    let method = match (sub.method.as_str(), &id) {
        ("PUT", None) => {
            // Upsert: an update when the body names a record that exists, else a create.
            let named = named(&sub).unwrap_or_default();
            if !named.is_empty() && exists(tx.conn(), &c.name, named)? {
                "PATCH"
            } else {
                "POST"
            }
        }
        ("POST", None) => "POST",
        ("PATCH" | "DELETE", Some(_)) => sub.method.as_str(),
        _ => return Err(unknown_action()),
    };
    let target = match (method, &id) {
        ("PATCH", None) => sub
            .body
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => id.clone().unwrap_or_default(),
    };
    // The rate-limit rules, after the checks of the collection (a view answers 400), with
    // the method and path an upsert turned into, as PocketBase rewrites them.
    if !c.is_view() {
        let (action, path) = match (method, sub.method.as_str()) {
            ("POST", _) => ("create", sub.path.clone()),
            ("PATCH", "PUT") => ("update", format!("{}/{target}", sub.path)),
            ("PATCH", _) => ("update", sub.path.clone()),
            _ => ("delete", sub.path.clone()),
        };
        super::rate_limits::check_sub_request(state, ip, auth, &c, action, method, &path)?;
    }
    let ctx = sub.context(state, auth, method);
    let files = sub.files;
    Ok(match method {
        "POST" => {
            let record = tx.create(&c, &ctx, &sub.body, secrets, files)?;
            (200, shaped(tx.conn(), &c, &ctx, record, &shape)?)
        }
        "PATCH" => {
            let record = tx.update(&c, &ctx, &target, &sub.body, secrets, files)?;
            (200, shaped(tx.conn(), &c, &ctx, record, &shape)?)
        }
        "DELETE" => {
            tx.delete(&c, &ctx, &target)?;
            (204, Value::Null)
        }
        _ => return Err(unknown_action()),
    })
}

/// PocketBase's answer when sub-request `index` failed with `e`.
fn failed_at(index: usize, e: &Error) -> Error {
    let mut item = FieldError::new("batch_request_failed", "Batch request failed.");
    item.response = Some(e.body());
    let mut by_index = FieldErrors::new();
    by_index.insert(index.to_string(), ErrorTree::Leaf(item));
    let mut data = FieldErrors::new();
    data.insert("requests".into(), ErrorTree::Branch(by_index));
    Error::invalid("Batch transaction failed.", data)
}

fn invalid_requests(error: FieldError) -> Error {
    let mut data = FieldErrors::new();
    data.insert("requests".into(), error.into());
    Error::invalid("Invalid batch request data.", data)
}

/// The batch body, as PocketBase binds it (JSON, or a form with the JSON under
/// `@jsonPayload`, as the JS SDK's `createBatch()` always sends it).
#[derive(serde::Deserialize)]
struct BatchForm {
    #[serde(default)]
    requests: Value,
}

/// Reads the batch body, at most `limit` bytes: the requests, and the files of a multipart
/// body (`requests.N.field`, streamed to disk) in a staging that removes them unless a
/// sub-request's record takes them.
async fn batch_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    limit: usize,
) -> Result<(Value, Staging)> {
    let mut uploads = Staging::new(&state.files);
    let wanted = |key: &str| upload_index(key).is_some();
    let keep = Keep {
        staging: &mut uploads,
        wanted: &wanted,
    };
    let sent = Sent::read_keeping(req, payload, limit, keep).await?;
    let form: BatchForm = sent.bind_or("Failed to read the submitted batch data.")?;
    Ok((form.requests, uploads))
}

async fn batch(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: RequestAuth,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let shared = state.clone();
    let settings = blocking(move || shared.db.data.read(crate::settings::load)).await?;
    let limits = limits(&settings);
    if !limits.enabled || limits.max_requests == 0 {
        return Err(Error::Forbidden("Batch requests are not allowed.".into()));
    }
    let (requests, mut uploads) = batch_body(&req, payload, &state, limits.max_body).await?;
    let items = match requests {
        Value::Array(items) if !items.is_empty() => items,
        Value::Array(_) | Value::Null => {
            return Err(invalid_requests(FieldError::required()));
        }
        _ => {
            return Err(Error::bad_request(
                "Failed to read the submitted batch data.",
            ));
        }
    };
    if items.len() > limits.max_requests {
        return Err(invalid_requests(
            FieldError::new(
                "validation_length_too_long",
                &format!("The length must be no more than {}.", limits.max_requests),
            )
            .with_params(json!({"max": limits.max_requests, "min": 0})),
        ));
    }
    // Each request with its files, sent to the bucket ahead of the transaction (when
    // files go to one), so the batch holds the only writer for no upload. Files no request
    // took go when `uploads` drops.
    let parsed: Vec<Result<Sub>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let mut sub = Sub::parse(item).ok_or_else(unknown_action)?;
            sub.attach(&state, i, &mut uploads);
            Ok(sub)
        })
        .collect();
    drop(uploads);
    let parsed = send_ahead(&state, parsed).await?;
    let writer = state.clone();
    let ip = crate::http::client_ip(&req);
    let results = writing(&writer, None, move |hooks| {
        // Password hashing first, with no connection held; the transaction's time limit
        // starts after it.
        let subs: Vec<_> = parsed
            .into_iter()
            .map(|sub| {
                let sub = sub?;
                let secrets = secrets(&state, &auth, &sub)?;
                Ok((sub, secrets))
            })
            .collect();
        let started = Instant::now();
        state.records_with(hooks).run(|tx| {
            let mut results = Vec::with_capacity(subs.len());
            for (i, sub) in subs.into_iter().enumerate() {
                if started.elapsed() > limits.timeout {
                    return Err(Error::bad_request("Batch transaction failed."));
                }
                let outcome =
                    sub.and_then(|(sub, secrets)| run(tx, &state, &auth, ip, sub, &secrets));
                match outcome {
                    Ok((status, body)) => results.push(json!({"status": status, "body": body})),
                    Err(e) => return Err(failed_at(i, &e)),
                }
            }
            Ok(results)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(results))
}
