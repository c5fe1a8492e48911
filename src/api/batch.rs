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
use crate::http::{Sent, blocking, writing};
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
    }
}

/// One sub-request: method, URL (path and query), extra headers and JSON body.
struct Sub {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Map<String, Value>,
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
        })
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
    Ok(match method {
        "POST" => {
            let record = tx.create(&c, &ctx, &sub.body, secrets, None)?;
            (200, shaped(tx.conn(), &c, &ctx, record, &shape)?)
        }
        "PATCH" => {
            let record = tx.update(&c, &ctx, &target, &sub.body, secrets, None)?;
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

/// Reads the batch body. Files inside a batch are not taken yet.
async fn batch_body(req: &HttpRequest, payload: web::Payload) -> Result<Value> {
    let sent = Sent::read(req, payload).await?;
    if let Sent::Form(form) = &sent
        && !form.files.is_empty()
    {
        return Err(Error::bad_request(
            "File uploads inside batch requests are not supported; upload files with a record's own create or update request.",
        ));
    }
    let form: BatchForm = sent.bind_or("Failed to read the submitted batch data.")?;
    Ok(form.requests)
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
    let items = match batch_body(&req, payload).await? {
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
    let writer = state.clone();
    let ip = crate::http::client_ip(&req);
    let results = writing(&writer, None, move |hooks| {
        // Password hashing first, with no connection held; the transaction's time limit
        // starts after it.
        let subs: Vec<_> = items
            .iter()
            .map(|item| {
                let sub = Sub::parse(item).ok_or_else(unknown_action)?;
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
