//! Routes of the JS hooks (`routerAdd`), answered where no built-in route matched: under
//! `/api/` before its JSON 404, elsewhere before the public folder. The request goes to
//! a hooks executor as JSON, the chain of middlewares and the handler run there, and the
//! answer (or the thrown error, as PocketBase turns it into one) comes back.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use serde_json::{Value, json};

use super::request_auth::RequestAuth;
use crate::error::{Error, Result};
use crate::hooks::{Arg, Failure, Lookup, Middleware, Registry};
use crate::http::Sent;
use crate::http::body::UNSUPPORTED;
use crate::middleware::RouteLabel;
use crate::state::AppState;

/// `/api/...` that no built-in route answers: a hooks route, or the JSON 404.
pub async fn or_not_found(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    match dispatch(&req, payload, &state).await {
        Some(answer) => answer,
        None => crate::http::not_found_response(req.method()),
    }
}

/// Any other path no route answers: a hooks route, or the public folder.
pub async fn or_public(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    match dispatch(&req, payload, &state).await {
        Some(answer) => answer,
        None => crate::public::serve(req, state).await,
    }
}

/// What a request runs: the `routerUse` middlewares, the route's, then its handler.
fn steps(registry: &Registry, route: &crate::hooks::Route) -> (Vec<Value>, Vec<usize>) {
    let (mut steps, mut handlers) = middleware_steps(&registry.global, &route.middlewares);
    handlers.push(route.handler);
    steps.push(json!(["js", route.handler]));
    (steps, handlers)
}

/// The `global` (`routerUse`) middlewares, then `own`, each by priority, as the prelude's
/// steps, with the JS handlers they name.
pub(super) fn middleware_steps(
    global: &[Middleware],
    own: &[Middleware],
) -> (Vec<Value>, Vec<usize>) {
    let mut global: Vec<&Middleware> = global.iter().collect();
    let mut own: Vec<&Middleware> = own.iter().collect();
    let priority = |m: &&Middleware| match m {
        Middleware::Js { priority, .. } => *priority,
        _ => 0,
    };
    global.sort_by_key(priority);
    own.sort_by_key(priority);
    let mut steps = Vec::new();
    let mut handlers = Vec::new();
    for m in global.into_iter().chain(own) {
        steps.push(match m {
            Middleware::Js { handler, .. } => {
                handlers.push(*handler);
                json!(["js", handler])
            }
            Middleware::RequireAuth(c) => json!(["builtin", "requireAuth", c]),
            Middleware::RequireSuperuserAuth => json!(["builtin", "requireSuperuserAuth"]),
            Middleware::RequireGuestOnly => json!(["builtin", "requireGuestOnly"]),
            Middleware::RequireSuperuserOrOwnerAuth(p) => {
                json!(["builtin", "requireSuperuserOrOwnerAuth", [p]])
            }
            Middleware::BodyLimit(_) => json!(["builtin", "bodyLimit"]),
        });
    }
    (steps, handlers)
}

/// Answers `req` with a hooks route, or None when no route has its path.
pub async fn dispatch(
    req: &HttpRequest,
    payload: web::Payload,
    state: &web::Data<AppState>,
) -> Option<HttpResponse> {
    let loaded = state.hooks.current();
    let pool = loaded.pool.as_ref()?;
    let (steps, handlers, params) = match loaded.registry.find(req.method().as_str(), req.path()) {
        Lookup::Found(m) => {
            req.extensions_mut()
                .insert(RouteLabel(m.route.pattern.text.clone()));
            let (steps, handlers) = steps(&loaded.registry, m.route);
            (steps, handlers, m.params)
        }
        Lookup::WrongMethod | Lookup::None => return None,
    };
    let answered = async {
        let auth = RequestAuth::extract(req).await?;
        let body = read_body(req, payload).await?;
        let values = serde_json::to_string(&params).unwrap_or_else(|_| "{}".into());
        let request = request_json(req, &auth, params, body.as_ref().map_err(String::as_str))?;
        let steps = Value::Array(steps).to_string();
        // The request is parsed in JS only if a handler reads more than its path values.
        let ran = pool
            .run(move |executor| {
                let args = [Arg::Text(&request), Arg::Text(&steps), Arg::Json(&values)];
                executor.call("__route", &handlers, &args)
            })
            .await?;
        Ok::<_, Error>(ran)
    }
    .await;
    Some(match answered {
        Ok(Ok(answer)) => respond(req, &answer),
        Ok(Err(failure)) => failed(req, failure),
        Err(e) => e.error_response(),
    })
}

/// The request as the prelude's `RequestEvent` reads it.
pub(super) fn request_json<B: serde::Serialize>(
    req: &HttpRequest,
    auth: &RequestAuth,
    params: std::collections::HashMap<String, String>,
    body: std::result::Result<&B, &str>,
) -> Result<String> {
    /// Written straight to text: no tree of values is built for it.
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Text<'a, B> {
        method: &'a str,
        path: &'a str,
        raw_query: &'a str,
        query: Vec<(String, String)>,
        headers: Vec<(&'a str, &'a str)>,
        params: std::collections::HashMap<String, String>,
        body: Option<&'a B>,
        body_error: Option<&'a str>,
        auth: Value,
        host: &'a str,
        remote_addr: String,
        #[serde(rename = "remoteIP")]
        remote_ip: String,
        #[serde(rename = "realIP")]
        real_ip: String,
        tls: bool,
    }
    let info = req.connection_info();
    let auth = match auth {
        RequestAuth::Guest => Value::Null,
        RequestAuth::Superuser(user) => {
            let mut record = user.to_json();
            record["email"] = json!(user.email);
            json!({"collection": {"id": crate::auth::superusers::COLLECTION_ID,
                "name": "_superusers", "type": "auth"}, "record": record})
        }
        RequestAuth::Record(a) => json!({
            "collection": {"id": a.collection.id, "name": a.collection.name, "type": "auth"},
            "record": a.record,
        }),
    };
    let text = Text {
        method: req.method().as_str(),
        path: req.path(),
        raw_query: req.query_string(),
        query: serde_urlencoded::from_str(req.query_string()).unwrap_or_default(),
        headers: req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect(),
        params,
        body: body.ok(),
        body_error: body.err(),
        auth,
        host: info.host(),
        remote_addr: req.peer_addr().map(|a| a.to_string()).unwrap_or_default(),
        remote_ip: crate::http::peer_ip(req)
            .map(crate::client_ip::expanded)
            .unwrap_or_default(),
        real_ip: crate::http::client_ip(req)
            .map(crate::client_ip::expanded)
            .unwrap_or_default(),
        tls: info.scheme() == "https",
    };
    serde_json::to_string(&text).map_err(|e| Error::internal(format!("request as JSON: {e}")))
}

/// The body as `requestInfo().body`, bound as PocketBase's `BindBody` binds it to a map
/// (see `http::Sent::to_map`). A body that cannot be bound is `Err(reason)`:
/// `requestInfo()` then throws, as there ("api:" marks PocketBase's `ApiError`).
async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<std::result::Result<Value, String>> {
    let sent = Sent::read(req, payload).await?;
    Ok(match sent.to_map() {
        Ok(map) => Ok(Value::Object(map)),
        Err(UNSUPPORTED) => Err(format!("api:{UNSUPPORTED}")),
        Err(reason) => Err(reason.to_owned()),
    })
}

/// The answer a hook wrote itself (`e.json(...)` and the like) in a hook's `outcome`
/// (`{answer, headers, ...}`), with the headers it set; None when it wrote none.
pub(super) fn written(req: &HttpRequest, outcome: &Value) -> Option<HttpResponse> {
    if outcome["answer"].is_null() {
        return None;
    }
    let mut answer = outcome["answer"].clone();
    answer["headers"] = outcome["headers"].clone();
    Some(respond(req, &answer.to_string()))
}

/// A header a hook set, when it is a valid one.
fn header(name: &str, value: &str) -> Option<(HeaderName, HeaderValue)> {
    Some((
        HeaderName::from_bytes(name.as_bytes()).ok()?,
        HeaderValue::from_str(value).ok()?,
    ))
}

/// The valid headers of a hook's `[[name, value], ...]`.
pub(super) fn header_pairs(list: &Value) -> impl Iterator<Item = (HeaderName, HeaderValue)> + '_ {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|pair| header(pair[0].as_str()?, pair[1].as_str()?))
}

/// The executor's `{status, type, body, headers}` as an HTTP answer.
pub(super) fn respond(req: &HttpRequest, answer: &str) -> HttpResponse {
    let Ok(answer) = serde_json::from_str::<Value>(answer) else {
        return Error::internal("a hooks route gave no answer").error_response();
    };
    let status = answer["status"]
        .as_u64()
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    if let Some(kind) = answer["type"].as_str().filter(|t| !t.is_empty())
        && let Ok(value) = HeaderValue::from_str(kind)
    {
        res.insert_header((header::CONTENT_TYPE, value));
    }
    for pair in header_pairs(&answer["headers"]) {
        res.append_header(pair);
    }
    if req.method() == Method::HEAD {
        return res.finish();
    }
    match &answer["body"] {
        Value::String(text) if status.is_success() && answer["type"] == "application/json" => {
            res.body(picked(req, text))
        }
        Value::String(text) => res.body(text.clone()),
        Value::Object(blob) => {
            let bytes: Vec<u8> = blob["bytes"]
                .as_array()
                .map(|a| a.iter().map(|b| b.as_u64().unwrap_or(0) as u8).collect())
                .unwrap_or_default();
            res.body(bytes)
        }
        _ => res.finish(),
    }
}

/// A JSON answer with only the keys `?fields=` names, as PocketBase's `e.json` picks them
/// (in an object, or in each object of an array).
fn picked(req: &HttpRequest, text: &str) -> String {
    let wanted = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .ok()
        .and_then(|q| q.into_iter().find(|(k, _)| k == "fields"))
        .and_then(|(_, fields)| crate::records::fields::Projection::parse(&fields));
    let Some(projection) = wanted else {
        return text.to_owned();
    };
    let Ok(mut value) = serde_json::from_str::<Value>(text) else {
        return text.to_owned();
    };
    match &mut value {
        Value::Object(map) => projection.apply(map),
        Value::Array(items) => {
            for item in items {
                if let Value::Object(map) = item {
                    projection.apply(map);
                }
            }
        }
        _ => {}
    }
    value.to_string()
}

/// A failed call: an `ApiError` answers as itself, anything else thrown as PocketBase's
/// generic 400; a hook stopped for time or memory is a server fault (500), logged.
pub(super) fn failed(req: &HttpRequest, failure: Failure) -> HttpResponse {
    let mut res = match &failure {
        Failure::Thrown {
            answer: Some(answer),
            ..
        } => {
            let status = answer["status"]
                .as_u64()
                .and_then(|s| StatusCode::from_u16(s as u16).ok())
                .unwrap_or(StatusCode::BAD_REQUEST);
            HttpResponse::build(status).json(answer)
        }
        Failure::Thrown {
            answer: None,
            message,
            location,
            ..
        } => {
            log::warn!(
                "hooks: {} {} threw: {message} (at {location})",
                req.method(),
                req.path()
            );
            Error::bad_request("Something went wrong while processing your request.")
                .error_response()
        }
        other => {
            log::error!(
                "hooks: {} {}: {}",
                req.method(),
                req.path(),
                other.describe()
            );
            Error::internal("a hook was stopped").error_response()
        }
    };
    if let Failure::Thrown { headers, .. } = &failure {
        for (name, value) in headers {
            if let Some((name, value)) = header(name, value) {
                res.headers_mut().append(name, value);
            }
        }
    }
    res
}
