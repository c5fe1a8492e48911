//! The settings' `rateLimits` rules applied to requests, as PocketBase's rate-limit
//! middleware applies them. Most routes are labelled `METHOD /path` and `/path`, and count
//! in one window per rule. Record CRUD, the auth routes and file downloads are labelled by
//! their collection first (`posts:create`, `*:create`, then the path labels) and count in a
//! window per collection and route, as PocketBase's collection-level checks do; batch
//! sub-requests are checked the same way by `batch.rs` (`check_sub_request`). Superusers,
//! excluded addresses and requests no rule matches pass. A refusal is PocketBase's 429.
//!
//! Placed twice (see `app.rs`): inside the `/api` scope, under CORS (preflights are never
//! counted, a 429 carries the CORS headers), and around the other routes (admin UI,
//! public files). What it decided stays in the request's extensions (`http::RuleCovered`),
//! so the sign-in flag limits know whether a rule took over (`http::sign_in_ip`).

use std::net::IpAddr;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError, web};
use percent_encoding::percent_decode_str;

use super::RequestAuth;
use crate::auth::superusers::{self, SESSION_COOKIE};
use crate::auth::token::KIND_ADMIN_SESSION;
use crate::error::{Error, Result};
use crate::ratelimit::{Audience, RateLimits, Verdict};
use crate::schema::Collection;
use crate::state::AppState;

/// The `/api` scope's guard.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    match refusal(&req).await {
        Some(e) => Ok(req.into_response(e.error_response())),
        None => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}

/// The guard around everything outside `/api` (the scope has its own, under CORS).
pub async fn guard_outside_api(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = req.path();
    if path == "/api" || path.starts_with("/api/") {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    guard(req, next).await
}

/// A route PocketBase limits by collection: where its name is and which tags it adds.
struct CollectionRoute<'a> {
    collection: &'a str,
    /// PocketBase's route pattern, part of the window's id.
    pattern: &'static str,
    tags: &'static [&'static str],
    /// A record write: a view collection answers 400 before any limit.
    writes: bool,
}

/// The collection-limited route `method path` is, if any (`segments` of the decoded path).
fn collection_route<'a>(method: &str, segments: &[&'a str]) -> Option<CollectionRoute<'a>> {
    // Go's router serves HEAD with a route's GET.
    let method = if method == "HEAD" { "GET" } else { method };
    let route = |collection, pattern, tags, writes| {
        Some(CollectionRoute {
            collection,
            pattern,
            tags,
            writes,
        })
    };
    let nonempty = |s: &&str| !s.is_empty();
    match (method, segments) {
        ("GET", ["", "api", "collections", c, "records"]) if nonempty(c) => route(
            c,
            "GET /api/collections/{collection}/records",
            &["list"],
            false,
        ),
        ("POST", ["", "api", "collections", c, "records"]) if nonempty(c) => route(
            c,
            "POST /api/collections/{collection}/records",
            &["create"],
            true,
        ),
        (_, ["", "api", "collections", c, "records", id]) if nonempty(c) && nonempty(id) => {
            match method {
                "GET" => route(
                    c,
                    "GET /api/collections/{collection}/records/{id}",
                    &["view"],
                    false,
                ),
                "PATCH" => route(
                    c,
                    "PATCH /api/collections/{collection}/records/{id}",
                    &["update"],
                    true,
                ),
                "DELETE" => route(
                    c,
                    "DELETE /api/collections/{collection}/records/{id}",
                    &["delete"],
                    true,
                ),
                _ => None,
            }
        }
        ("GET", ["", "api", "collections", c, "auth-methods"]) if nonempty(c) => route(
            c,
            "GET /api/collections/{collection}/auth-methods",
            &["listAuthMethods"],
            false,
        ),
        ("POST", ["", "api", "collections", c, action]) if nonempty(c) => {
            let (pattern, tags): (&'static str, &'static [&'static str]) = match *action {
                "auth-refresh" => (
                    "POST /api/collections/{collection}/auth-refresh",
                    &["authRefresh"],
                ),
                "auth-with-password" => (
                    "POST /api/collections/{collection}/auth-with-password",
                    &["authWithPassword", "auth"],
                ),
                "auth-with-oauth2" => (
                    "POST /api/collections/{collection}/auth-with-oauth2",
                    &["authWithOAuth2", "auth"],
                ),
                "request-otp" => (
                    "POST /api/collections/{collection}/request-otp",
                    &["requestOTP"],
                ),
                "auth-with-otp" => (
                    "POST /api/collections/{collection}/auth-with-otp",
                    &["authWithOTP", "auth"],
                ),
                "request-password-reset" => (
                    "POST /api/collections/{collection}/request-password-reset",
                    &["requestPasswordReset"],
                ),
                "confirm-password-reset" => (
                    "POST /api/collections/{collection}/confirm-password-reset",
                    &["confirmPasswordReset"],
                ),
                "request-verification" => (
                    "POST /api/collections/{collection}/request-verification",
                    &["requestVerification"],
                ),
                "confirm-verification" => (
                    "POST /api/collections/{collection}/confirm-verification",
                    &["confirmVerification"],
                ),
                "request-email-change" => (
                    "POST /api/collections/{collection}/request-email-change",
                    &["requestEmailChange"],
                ),
                "confirm-email-change" => (
                    "POST /api/collections/{collection}/confirm-email-change",
                    &["confirmEmailChange"],
                ),
                _ => return None,
            };
            route(c, pattern, tags, false)
        }
        ("GET", ["", "api", "files", c, record, file])
            if nonempty(c) && nonempty(record) && nonempty(file) =>
        {
            route(
                c,
                "GET /api/files/{collection}/{recordId}/{filename}",
                &["file"],
                false,
            )
        }
        _ => None,
    }
}

/// `METHOD /path` and `/path`, the labels every request has.
fn path_labels(method: &str, path: &str) -> Vec<String> {
    vec![format!("{method} {path}"), path.to_owned()]
}

/// The labels of a collection route: `name:tag` for each tag, `*:tag` for each, then the
/// path labels; and its window id (collection id, pattern and tags).
fn collection_labels(
    c: &Collection,
    pattern: &str,
    tags: &[&str],
    method: &str,
    path: &str,
) -> (Vec<String>, String) {
    let mut labels: Vec<String> = tags.iter().map(|t| format!("{}:{t}", c.name)).collect();
    labels.extend(tags.iter().map(|t| format!("*:{t}")));
    labels.extend(path_labels(method, path));
    (labels, format!("{}{pattern}{}", c.id, tags.concat()))
}

/// The 429 for `req`, if a rule refuses it; leaves `RuleCovered` in its extensions when
/// one covered it.
async fn refusal(req: &ServiceRequest) -> Option<Error> {
    let state = req.app_data::<web::Data<AppState>>()?.clone();
    let limits = state.rate_limits.current();
    if !limits.enabled {
        return None;
    }
    let path = percent_decode_str(req.path())
        .decode_utf8_lossy()
        .into_owned();
    let method = req.method().as_str();
    let segments: Vec<&str> = path.split('/').collect();
    let (labels, counter) = match collection_route(method, &segments) {
        Some(route) => {
            // A missing collection (404) or a write to a view (400) is answered first.
            let c = state
                .schema
                .snapshot()
                .find(route.collection)
                .filter(|c| !(route.writes && c.is_view()))?;
            let (labels, id) = collection_labels(&c, route.pattern, route.tags, method, &path);
            (labels, Some(id))
        }
        None => (path_labels(method, &path), None),
    };
    let verdict = decide(req.request(), &state, &limits, &labels, counter.as_deref()).await;
    match verdict {
        Verdict::Uncovered => None,
        Verdict::Allowed => {
            req.extensions_mut().insert(crate::http::RuleCovered);
            None
        }
        Verdict::Refused(rule) => Some(Error::RateLimited(rule)),
    }
}

/// What the rules say about `req` with `labels`, counting it when one applies.
async fn decide(
    req: &HttpRequest,
    state: &AppState,
    limits: &RateLimits,
    labels: &[String],
    counter: Option<&str>,
) -> Verdict {
    // No rule for anyone: nothing to count, and no need to know the caller.
    let anyone = [
        crate::ratelimit::rules::AUDIENCE_ALL,
        crate::ratelimit::rules::AUDIENCE_GUEST,
        crate::ratelimit::rules::AUDIENCE_AUTH,
    ];
    if limits.find(labels, &anyone).is_none() {
        return Verdict::Uncovered;
    }
    let Some(ip) = crate::http::client_ip(req) else {
        return Verdict::Uncovered;
    };
    if limits.excludes(ip) {
        return Verdict::Allowed;
    }
    let audience = match caller(req).await {
        Caller::Superuser => return Verdict::Uncovered,
        Caller::Record => Audience::Auth,
        Caller::Guest => Audience::Guest,
    };
    state
        .rate_limits
        .check(limits, labels, audience, ip, counter)
}

enum Caller {
    Guest,
    Record,
    Superuser,
}

/// Who is calling: the `Authorization` token's owner (remembered for the route), or on the
/// admin UI's pages the superuser of the session cookie.
async fn caller(req: &HttpRequest) -> Caller {
    if req.path().starts_with("/_/") && ui_superuser(req).await {
        return Caller::Superuser;
    }
    match RequestAuth::extract(req).await {
        Ok(RequestAuth::Superuser(_)) => Caller::Superuser,
        Ok(RequestAuth::Record(_)) => Caller::Record,
        Ok(RequestAuth::Guest) | Err(_) => Caller::Guest,
    }
}

async fn ui_superuser(req: &HttpRequest) -> bool {
    let Some(token) = req
        .cookie(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|t| !t.is_empty())
    else {
        return false;
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return false;
    };
    crate::http::blocking(move || {
        let schema = state.schema.snapshot();
        state
            .db
            .data
            .read(|c| superusers::from_token(c, &schema, &token, KIND_ADMIN_SESSION))
    })
    .await
    .is_ok_and(|user| user.is_some())
}

/// The rules for one record sub-request of a batch, as PocketBase checks them: labelled by
/// its collection and action and its own method and path, counted in a window of its own
/// (a batch's sub-requests have no route pattern). `ip` and `auth` are the batch's.
pub fn check_sub_request(
    state: &AppState,
    ip: Option<IpAddr>,
    auth: &RequestAuth,
    c: &Collection,
    action: &str,
    method: &str,
    path: &str,
) -> Result<()> {
    let limits = state.rate_limits.current();
    let audience = match auth {
        RequestAuth::Superuser(_) => return Ok(()),
        RequestAuth::Record(_) => Audience::Auth,
        RequestAuth::Guest => Audience::Guest,
    };
    let Some(ip) = ip.filter(|ip| limits.enabled && !limits.excludes(*ip)) else {
        return Ok(());
    };
    let path = percent_decode_str(path).decode_utf8_lossy().into_owned();
    let (labels, counter) = collection_labels(c, "", &[action], method, &path);
    match state
        .rate_limits
        .check(&limits, &labels, audience, ip, Some(&counter))
    {
        Verdict::Refused(rule) => Err(Error::RateLimited(rule)),
        Verdict::Uncovered | Verdict::Allowed => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Option<(String, &'static str, String)> {
        let segments: Vec<&str> = path.split('/').collect();
        collection_route(method, &segments)
            .map(|r| (r.collection.to_owned(), r.pattern, r.tags.join(",")))
    }

    #[test]
    fn collection_routes_are_told_apart_by_method_and_shape() {
        assert_eq!(
            route("HEAD", "/api/collections/posts/records").map(|r| r.2),
            Some("list".into())
        );
        assert_eq!(
            route("POST", "/api/collections/users/auth-with-password").map(|r| r.2),
            Some("authWithPassword,auth".into())
        );
        assert_eq!(
            route("DELETE", "/api/collections/posts/records/abc").map(|r| r.1),
            Some("DELETE /api/collections/{collection}/records/{id}")
        );
        assert!(route("POST", "/api/collections/posts/records/abc").is_none());
        assert!(route("GET", "/api/collections/posts/records/").is_none());
        assert!(route("GET", "/api/collections/users/auth-with-password").is_none());
        assert!(route("POST", "/api/collections/users/impersonate/x").is_none());
        assert_eq!(
            route("GET", "/api/files/posts/abc/a.png").map(|r| r.0),
            Some("posts".into())
        );
    }
}
