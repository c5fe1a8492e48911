//! Cross-cutting HTTP behaviour wrapped around every route: request ids (and logging of
//! server faults under them), panic containment and security headers.

use std::panic::AssertUnwindSafe;

use actix_web::HttpMessage;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use futures_util::FutureExt;

use crate::error::Error;
use crate::public::PublicFile;

/// The id of the current request, in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives each request an id, echoes it in `X-Request-Id`, and logs any server fault with
/// it: the client only ever sees a generic message, the operator sees the cause. Also
/// sets the security headers (`harden`).
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = crate::ids::request_id();
    let is_file = req.path().starts_with("/api/files/");
    req.extensions_mut().insert(RequestId(id.clone()));
    // No clone of the HttpRequest may be held across `next.call`: routing needs it unshared.
    let mut res = match next.call(req).await {
        Ok(res) => res.map_into_boxed_body(),
        Err(e) => {
            // Only a middleware (e.g. `catch_panic`) errs here; actix renders the error.
            log::error!("request {id} failed: {e}");
            return Err(e);
        }
    };
    if res.status().is_server_error() {
        match res.response().error() {
            Some(e) => log::error!("request {id} failed: {e}"),
            None => log::error!("request {id} failed with {}", res.status()),
        }
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID, value);
    }
    harden(&mut res, is_file);
    Ok(res)
}

/// Turns a panic inside a handler into a 500 for that one request; the worker and every
/// other connection carry on.
pub async fn catch_panic(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let (method, path) = (req.method().clone(), req.path().to_owned());
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(res) => res.map(ServiceResponse::map_into_boxed_body),
        // Rendered by actix through `Error`'s ResponseError: a generic JSON 500.
        Err(_) => Err(Error::internal(format!("handler panicked: {method} {path}")).into()),
    }
}

/// A known path with an unsupported method is a 404 in PocketBase's shape, as there, not
/// actix's bare 405.
pub async fn method_mismatch_as_404(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    if res.status() != StatusCode::METHOD_NOT_ALLOWED {
        return Ok(res.map_into_boxed_body());
    }
    let (req, _) = res.into_parts();
    let not_found = crate::http::not_found_response(req.method());
    Ok(ServiceResponse::new(req, not_found))
}

/// The collection of the caller a handler authenticated (`users`, `_superusers`) and its
/// id, left in the request's extensions for the request log.
#[derive(Debug, Clone)]
pub struct AuthenticatedAs {
    pub collection: String,
    pub id: String,
}

/// Longest referer or user agent kept in a log entry, as PocketBase cuts them.
const MAX_HEADER_LOGGED: usize = 2000;

fn header_text(req: &actix_web::HttpRequest, name: actix_web::http::header::HeaderName) -> String {
    let value = req
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    crate::logs::cut(value, MAX_HEADER_LOGGED)
}

/// The route a request was answered by, where actix's routing does not know it (a JS
/// hooks route): the metrics' label for it.
pub struct RouteLabel(pub String);

/// Times every request, counts it in the metrics by route template and status, and hands
/// an entry to the request log (written later, off the request path), as PocketBase logs
/// requests: `GET /api/...` with method, url, status, execTime, auth, IPs, referer, agent.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let res = next.call(req).await?.map_into_boxed_body();
    let took = started.elapsed();
    let request = res.request();
    let method = request.method().as_str();
    let status = res.status().as_u16();
    // A hooks route names itself; looking the path up again walks every built-in route.
    let label = request
        .extensions()
        .get::<RouteLabel>()
        .map(|l| l.0.clone());
    let route = label.or_else(|| request.match_pattern());
    crate::metrics::observe_request(
        method,
        route.as_deref().unwrap_or("(unmatched)"),
        status,
        took,
    );

    let Some(state) = request.app_data::<actix_web::web::Data<crate::state::AppState>>() else {
        return Ok(res);
    };
    let logs = &state.logs;
    if logs.policy.max_days() == 0 || (status < 400 && unlogged_on_success(request.path())) {
        return Ok(res);
    }
    let url = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.path().to_owned(), |p| p.as_str().to_owned());
    let auth = request.extensions().get::<AuthenticatedAs>().cloned();
    let error = if status >= 400 {
        res.response().error().map(ToString::to_string)
    } else {
        None
    };
    logs.push(crate::logs::Entry {
        created: time::OffsetDateTime::now_utc(),
        method: method.to_owned(),
        url,
        status,
        exec_time: took,
        referer: header_text(request, actix_web::http::header::REFERER),
        user_agent: header_text(request, actix_web::http::header::USER_AGENT),
        auth_id: auth
            .as_ref()
            .filter(|_| logs.policy.log_auth_id())
            .map(|a| a.id.clone()),
        auth: auth.map(|a| a.collection).unwrap_or_default(),
        ips: logs.policy.log_ip().then(|| {
            let shown = |ip: Option<std::net::IpAddr>| {
                ip.map(crate::client_ip::expanded).unwrap_or_default()
            };
            crate::logs::Ips {
                user: shown(crate::http::client_ip(request)),
                remote: shown(crate::http::peer_ip(request)),
            }
        }),
        error,
    });
    Ok(res)
}

/// Routes PocketBase keeps out of the request log when they succeed: the logs themselves
/// (reading them would fill them) and the OAuth2 redirect (its URL carries the code).
fn unlogged_on_success(path: &str) -> bool {
    path == "/api/logs" || path.starts_with("/api/logs/") || path == "/api/oauth2-redirect"
}

const X_FRAME_OPTIONS: HeaderName = HeaderName::from_static("x-frame-options");

/// The browser-facing hardening (applied by `request_id`, saving a layer: each costs every
/// request): every answer is `nosniff`, same-origin referrer and opener; hearth's own
/// pages and answers may not be framed and run only their own script and style (the admin
/// UI keeps all of both in its embedded files), except that a served stored file may be
/// framed; the app's files in `--public-dir` are the app's to secure and get neither.
fn harden<B>(res: &mut ServiceResponse<B>, is_file: bool) {
    let public = res.response().extensions().get::<PublicFile>().is_some();
    let served = res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED;
    let headers = res.headers_mut();
    let mut add = |name: HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    add(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    add(header::REFERRER_POLICY, "same-origin");
    add(CROSS_ORIGIN_OPENER_POLICY, "same-origin");
    if !public {
        add(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
             connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
             frame-ancestors 'none'",
        );
        if is_file && served {
            headers.remove(X_FRAME_OPTIONS);
        } else {
            add(X_FRAME_OPTIONS, "DENY");
        }
    }
}

const CROSS_ORIGIN_OPENER_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-opener-policy");

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};

    use super::*;

    #[actix_web::test]
    async fn a_panicking_handler_becomes_a_json_500_and_the_service_lives_on() {
        let app = test::init_service(
            App::new()
                .route(
                    "/boom",
                    web::get().to(|| async { panic!("boom") as HttpResponse }),
                )
                .route("/ok", web::get().to(HttpResponse::Ok))
                .wrap(from_fn(catch_panic))
                .wrap(from_fn(request_id)),
        )
        .await;

        let err = test::try_call_service(&app, test::TestRequest::get().uri("/boom").to_request())
            .await
            .err()
            .unwrap_or_else(|| unreachable!("the panic must surface as an error"));
        let res = err.error_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = actix_web::body::to_bytes(res.into_body())
            .await
            .unwrap_or_default();
        assert_eq!(
            &body[..],
            br#"{"data":{},"message":"Something went wrong while processing your request.","status":500}"#
        );

        let ok = test::call_service(&app, test::TestRequest::get().uri("/ok").to_request()).await;
        assert_eq!(ok.status(), StatusCode::OK);
        assert!(ok.headers().contains_key("x-request-id"));
    }
}
