//! Request bodies, read as PocketBase's `BindBody` reads them whatever the route: JSON,
//! `application/x-www-form-urlencoded`, or `multipart/form-data` (plain values and
//! `@jsonPayload`; files are for record bodies, see `http::multipart`, and for those a caller
//! asks to keep, as the batch route does). The body is bounded
//! by the configured limit while it streams in: an oversized one is refused before it is
//! buffered whole.
//!
//! [`Sent`] is the body as it came; [`Body<T>`] binds it to `T` and answers PocketBase's
//! 400s for a body that cannot be bound. A route whose PocketBase handler words that 400
//! its own way takes `Sent` and calls [`Sent::bind_or`].

mod bind;
pub mod form;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::files::Staging;
use crate::state::AppState;
use form::Form;

const FALLBACK_LIMIT: usize = 32 * 1024 * 1024;

/// PocketBase's answer to a body of a type it does not read.
pub const UNSUPPORTED: &str = "Unsupported Content-Type.";

/// How a body is encoded, by its `Content-Type` (matched as PocketBase matches it: by a
/// case-sensitive prefix).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Encoding {
    Json,
    Urlencoded,
    Multipart,
    Other,
}

impl Encoding {
    pub fn of(headers: &HeaderMap) -> Self {
        let kind = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if kind.starts_with("application/json") {
            Encoding::Json
        } else if kind.starts_with("multipart/form-data") {
            Encoding::Multipart
        } else if kind.starts_with("application/x-www-form-urlencoded") {
            Encoding::Urlencoded
        } else {
            Encoding::Other
        }
    }
}

/// A request body as sent.
#[derive(Debug)]
pub enum Sent {
    /// No body: nothing is bound, every member keeps its default.
    Empty,
    Json(web::Bytes),
    Form(Form),
    /// A body of a type PocketBase does not read.
    Unsupported,
    /// A form that does not parse (a broken escape, a cut-off multipart body).
    Unreadable,
}

/// A body bound to `T`; a body that cannot be is answered 400 as PocketBase answers it on
/// most routes (`Unsupported Content-Type`, else "An error occurred while loading the
/// submitted data.").
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let sent = Sent::from_request(req, payload);
        Box::pin(async move { sent.await?.bind().map(Body) })
    }
}

impl FromRequest for Sent {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(FALLBACK_LIMIT, |s| s.config.body_limit);
        let head = Head::of(req);
        let payload = payload.take();
        Box::pin(async move { receive(head, payload, limit, None).await })
    }
}

/// What reading a body needs of its request.
struct Head {
    declared: Option<usize>,
    encoding: Encoding,
    headers: HeaderMap,
    query: String,
}

impl Head {
    fn of(req: &HttpRequest) -> Self {
        Self {
            declared: req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok()),
            encoding: Encoding::of(req.headers()),
            headers: req.headers().clone(),
            query: req.query_string().to_owned(),
        }
    }
}

/// Multipart file parts a caller keeps: those under a key `wanted` accepts are streamed
/// into the staging (their field is not known yet: `field` is left empty).
pub struct Keep<'a> {
    pub staging: &'a mut Staging,
    pub wanted: &'a dyn Fn(&str) -> bool,
}

async fn receive(
    head: Head,
    payload: Payload,
    limit: usize,
    keep: Option<Keep<'_>>,
) -> Result<Sent> {
    if head.declared.is_some_and(|n| n > limit) {
        return Err(Error::PayloadTooLarge);
    }
    if head.declared == Some(0) {
        return Ok(Sent::Empty);
    }
    if head.encoding == Encoding::Multipart {
        let Some(mut form) = read_multipart(&head.headers, payload, limit, keep).await? else {
            return Ok(Sent::Unreadable);
        };
        return Ok(
            with_query(&mut form, &head.query).map_or(Sent::Unreadable, |()| Sent::Form(form))
        );
    }
    let bytes = read_all(payload, limit).await?;
    if bytes.is_empty() {
        return Ok(Sent::Empty);
    }
    Ok(match head.encoding {
        Encoding::Json => Sent::Json(bytes.freeze()),
        Encoding::Urlencoded => match form::parse_urlencoded(&bytes) {
            Some(pairs) => {
                let mut form = Form::new(pairs, Vec::new());
                with_query(&mut form, &head.query).map_or(Sent::Unreadable, |()| Sent::Form(form))
            }
            None => Sent::Unreadable,
        },
        _ => Sent::Unsupported,
    })
}

impl Sent {
    /// Reads the body of a handler that took the payload itself.
    pub async fn read(req: &HttpRequest, payload: web::Payload) -> Result<Self> {
        Self::from_request(req, &mut payload.into_inner()).await
    }

    /// Reads a body of at most `limit` bytes, keeping the multipart files `keep` asks for
    /// (the batch route's `requests.N.field` parts).
    pub async fn read_keeping(
        req: &HttpRequest,
        payload: web::Payload,
        limit: usize,
        keep: Keep<'_>,
    ) -> Result<Self> {
        receive(Head::of(req), payload.into_inner(), limit, Some(keep)).await
    }

    /// The body bound to `T`, answering a body that cannot be as most PocketBase routes
    /// do (they pass `Unsupported Content-Type` on).
    pub fn bind<T: DeserializeOwned>(&self) -> Result<T> {
        match self {
            Sent::Unsupported => Err(Error::bad_request(UNSUPPORTED)),
            sent => sent.bind_or("An error occurred while loading the submitted data."),
        }
    }

    /// The body bound to `T`, answering `message` for any body that cannot be.
    pub fn bind_or<T: DeserializeOwned>(&self, message: &str) -> Result<T> {
        let refused = || Error::bad_request(message);
        match self {
            // Nothing to bind: every member at its default (an empty list of pairs).
            Sent::Empty => T::deserialize(bind::FormBody(&Form::default())).map_err(|_| refused()),
            Sent::Json(bytes) => {
                let value = first_json(bytes).ok_or_else(refused)?;
                T::deserialize(bind::JsonBody(value)).map_err(|_| refused())
            }
            Sent::Form(form) => T::deserialize(bind::FormBody(form)).map_err(|_| refused()),
            Sent::Unsupported | Sent::Unreadable => Err(refused()),
        }
    }

    /// The body with only the members named `keys`, for a route whose PocketBase form has
    /// only those: what else is sent is not looked at, even when of a wrong type.
    pub fn only(&self, keys: &[&str]) -> Sent {
        match self {
            Sent::Json(bytes) => match first_json(bytes) {
                Some(Value::Object(mut members)) => {
                    members.retain(|k, _| keys.contains(&k.as_str()));
                    let text = Value::Object(members).to_string();
                    Sent::Json(web::Bytes::from(text))
                }
                _ => Sent::Json(bytes.clone()),
            },
            Sent::Form(form) => Sent::Form(form.only(keys)),
            Sent::Empty => Sent::Empty,
            Sent::Unsupported => Sent::Unsupported,
            Sent::Unreadable => Sent::Unreadable,
        }
    }

    /// The body as a JSON object, as PocketBase binds one to a `map[string]any` (a record's
    /// body, `requestInfo().body`); Err with what is wrong otherwise.
    pub fn to_map(&self) -> std::result::Result<Map<String, Value>, &'static str> {
        match self {
            Sent::Empty => Ok(Map::new()),
            Sent::Json(bytes) => match first_json(bytes) {
                Some(Value::Object(map)) => Ok(map),
                Some(_) => Err("the JSON body is not an object"),
                None => Err("invalid JSON body"),
            },
            Sent::Form(form) => form.to_map().map_err(|_| "invalid @jsonPayload"),
            Sent::Unsupported => Err(UNSUPPORTED),
            Sent::Unreadable => Err("the form body cannot be read"),
        }
    }

    /// The body as a JSON object shaped as `template` (see `Form::shaped`), for the routes
    /// PocketBase binds to a Go struct that hearth keeps as JSON (settings, collections);
    /// a JSON body must fit the template's types (`form::fits`). Errors are worded
    /// `message`.
    pub fn shaped(&self, template: impl FnOnce() -> Value, message: &str) -> Result<Value> {
        let refused = || Error::bad_request(message);
        match self {
            Sent::Form(form) => form
                .shaped(&template())
                .map(Value::Object)
                .map_err(|_| refused()),
            sent => {
                let value: Value = sent.bind_or(message)?;
                if !value.is_object() || !form::fits(&value, &template()) {
                    return Err(refused());
                }
                Ok(value)
            }
        }
    }
}

/// PocketBase's answer to a body `Sent::to_map` refused, where its handler passes the
/// binding error on (record bodies).
pub fn refused(reason: &str) -> Error {
    match reason {
        UNSUPPORTED => Error::bad_request(UNSUPPORTED),
        _ => Error::bad_request("Something went wrong while processing your request."),
    }
}

/// The first JSON value of `bytes`, as Go's decoder reads a body (what follows it is not
/// looked at); `null` binds nothing.
fn first_json(bytes: &[u8]) -> Option<Value> {
    let value = serde_json::Deserializer::from_slice(bytes)
        .into_iter::<Value>()
        .next()?
        .ok()?;
    Some(match value {
        Value::Null => Value::Object(Map::new()),
        v => v,
    })
}

/// Go's `Request.Form` holds the URL query's values after the body's.
fn with_query(form: &mut Form, query: &str) -> Option<()> {
    let pairs = form::parse_urlencoded(query.as_bytes())?;
    form.extend(pairs);
    Some(())
}

async fn read_all(mut payload: Payload, limit: usize) -> Result<web::BytesMut> {
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| Error::invalid_body())?;
        if buf.len() + chunk.len() > limit {
            return Err(Error::PayloadTooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// A multipart body's plain values (files are drained and only their keys kept, but for
/// those `keep` wants, which are staged); None when it does not parse.
async fn read_multipart(
    headers: &HeaderMap,
    payload: Payload,
    limit: usize,
    mut keep: Option<Keep<'_>>,
) -> Result<Option<Form>> {
    let mut parts = actix_multipart::Multipart::new(headers, payload);
    let mut pairs = Vec::new();
    let mut files = Vec::new();
    let mut read = 0usize;
    while let Some(part) = parts.next().await {
        let Ok(mut part) = part else {
            return Ok(None);
        };
        let (key, filename) = match part.content_disposition() {
            Some(cd) => (
                cd.get_name().unwrap_or_default().to_owned(),
                cd.get_filename()
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned),
            ),
            None => (String::new(), None),
        };
        let mut incoming = match (&keep, &filename) {
            (Some(k), Some(name)) if (k.wanted)(&key) => {
                Some(k.staging.begin(&key, "", name, limit as u64)?)
            }
            _ => None,
        };
        let mut text = Vec::new();
        while let Some(chunk) = part.next().await {
            let Ok(chunk) = chunk else {
                return Ok(None);
            };
            read += chunk.len();
            if read > limit {
                return Err(Error::PayloadTooLarge);
            }
            match (&mut incoming, &filename) {
                (Some(f), _) => f.write(&chunk)?,
                (None, None) => text.extend_from_slice(&chunk),
                (None, Some(_)) => {}
            }
        }
        if let (Some(f), Some(k)) = (incoming, keep.as_mut()) {
            let staged = web::block(move || f.finish()).await??;
            k.staging.push(staged);
        }
        if key.is_empty() {
            continue;
        }
        if filename.is_some() {
            files.push(key);
        } else {
            pairs.push((key, String::from_utf8_lossy(&text).into_owned()));
        }
    }
    Ok(Some(Form::new(pairs, files)))
}
