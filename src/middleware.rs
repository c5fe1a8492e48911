//! Cross-cutting HTTP behaviour wrapped around every route: request ids (and logging of
//! server faults under them), panic containment and security headers.

use std::panic::AssertUnwindSafe;

use actix_web::HttpMessage;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};
use futures_util::FutureExt;

use crate::error::Error;

/// The id of the current request, in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives each request an id, echoes it in `X-Request-Id`, and logs any server fault with
/// it: the client only ever sees a generic message, the operator sees the cause.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = crate::ids::request_id();
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

/// The browser-facing hardening every response carries. The CSP forbids inline script and
/// style, so the admin UI keeps all of both in its embedded files.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
             connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
             frame-ancestors 'none'",
        ))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
}
