//! CORS for `/api/`, as PocketBase answers it (`--origins`, default `*`), so a web app on
//! another origin can use the API from a browser. Every answer varies on `Origin`; an
//! `OPTIONS` request is a preflight answered here with 204, never routed; an origin
//! outside the list gets no CORS headers at all (its preflight still answers 204, so the
//! browser, not the server, refuses). The admin UI under `/_/` is outside this scope and
//! keeps its same-origin model.
//!
//! Written here rather than taken from actix-cors: that crate answers a disallowed origin
//! with an error (400) even on same-origin requests that carry an `Origin` header, where
//! PocketBase (and this) lets the request through without CORS headers.

use std::future::{Ready, ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpResponse, web};
use futures_util::TryFutureExt;
use futures_util::future::{Either, LocalBoxFuture, MapOk};

use crate::state::AppState;

/// The methods a preflight allows, as PocketBase lists them.
const METHODS: &str = "GET,HEAD,PUT,PATCH,POST,DELETE";
/// Headers a cross-origin script may read besides the CORS-safelisted ones: the ETag for
/// `If-None-Match`/`If-Match`, the request id for bug reports, how long to wait after a
/// 429/503, and a download's file name.
const EXPOSE: &str = "ETag, X-Request-Id, Retry-After, Content-Disposition";
/// How long (seconds) a browser may keep a preflight's answer.
const MAX_AGE: &str = "86400";

/// The `Access-Control-Allow-Origin` value for `origin`, or None when it is not allowed:
/// `*` allows any (answered `*`), an exact origin itself, and a pattern with `*` (any
/// run of characters) or `?` (one) such as `https://*.example.com` the origin it matches.
pub fn allowed(origins: &[String], origin: &str) -> Option<String> {
    for o in origins {
        if o == "*" {
            return Some("*".into());
        }
        if o == origin {
            return Some(origin.to_owned());
        }
    }
    // As PocketBase: patterns only for plausible origins (a domain is at most 253 bytes).
    if origin.len() > 253 + 8 || !origin.contains("://") {
        return None;
    }
    origins
        .iter()
        .filter(|o| o.contains(['*', '?']))
        .any(|o| glob(o.as_bytes(), origin.as_bytes()))
        .then(|| origin.to_owned())
}

/// `*` matches any run of bytes, `?` one byte, anything else itself.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and how much of the text it has taken so far.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

fn vary(headers: &mut HeaderMap, value: &'static str) {
    headers.append(header::VARY, HeaderValue::from_static(value));
}

/// The middleware on the `/api` scope (a hand-written `Transform`: a request without
/// `Origin`, most of them, costs one header and no allocation).
pub struct Cors;

impl<S, B> Transform<S, ServiceRequest> for Cors
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = CorsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CorsService { service }))
    }
}

pub struct CorsService<S> {
    service: S,
}

type Answer<B> = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

impl<S, B> Service<ServiceRequest> for CorsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Either<
        Either<Ready<Answer<B>>, MapOk<S::Future, fn(ServiceResponse<B>) -> Self::Response>>,
        LocalBoxFuture<'static, Answer<B>>,
    >;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let allow = match (&origin, req.app_data::<web::Data<AppState>>()) {
            (Some(o), Some(state)) => allowed(&state.config.origins, o),
            _ => None,
        };
        if req.method() == Method::OPTIONS {
            return Either::Left(Either::Left(ready(Ok(preflight(req, allow)))));
        }
        let Some(allow) = allow else {
            let plain: fn(ServiceResponse<B>) -> Self::Response = |mut res| {
                vary(res.headers_mut(), "Origin");
                res.map_into_left_body()
            };
            return Either::Left(Either::Right(self.service.call(req).map_ok(plain)));
        };
        let answer = self.service.call(req);
        Either::Right(Box::pin(async move {
            let mut res = answer.await?;
            let headers = res.headers_mut();
            vary(headers, "Origin");
            set(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN, &allow);
            set(headers, header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE);
            Ok(res.map_into_left_body())
        }))
    }
}

/// A preflight's answer, never routed: 204, with the CORS headers when `allow` is set.
fn preflight<B>(req: ServiceRequest, allow: Option<String>) -> ServiceResponse<EitherBody<B>> {
    let mut res = HttpResponse::new(StatusCode::NO_CONTENT);
    let headers = res.headers_mut();
    vary(headers, "Origin");
    if let Some(allow) = allow {
        set(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN, &allow);
        vary(headers, "Access-Control-Request-Method");
        vary(headers, "Access-Control-Request-Headers");
        set(headers, header::ACCESS_CONTROL_ALLOW_METHODS, METHODS);
        let requested = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(requested) = requested {
            set(headers, header::ACCESS_CONTROL_ALLOW_HEADERS, &requested);
        }
        set(headers, header::ACCESS_CONTROL_MAX_AGE, MAX_AGE);
    }
    req.into_response(res).map_into_right_body()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn origins_match_as_pocketbase_matches_them() {
        let any = list(&["*"]);
        assert_eq!(allowed(&any, "http://a.test").as_deref(), Some("*"));
        let some = list(&["http://127.0.0.1:5173", "https://*.example.com"]);
        assert_eq!(
            allowed(&some, "http://127.0.0.1:5173").as_deref(),
            Some("http://127.0.0.1:5173")
        );
        assert_eq!(
            allowed(&some, "https://app.example.com").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(allowed(&some, "https://example.com.evil.test"), None);
        assert_eq!(allowed(&some, "http://app.example.com"), None);
        assert_eq!(allowed(&some, "http://127.0.0.1:5174"), None);
        assert_eq!(allowed(&list(&[]), "http://a.test"), None);
    }

    #[test]
    fn glob_takes_runs_and_single_characters() {
        assert!(glob(b"a*c", b"abbbc"));
        assert!(glob(b"a*", b"a"));
        assert!(glob(b"a?c", b"abc"));
        assert!(!glob(b"a?c", b"ac"));
        assert!(!glob(b"*.x.com", b"a.x.com.evil"));
        assert!(glob(b"*b*b*", b"abab"));
    }
}
