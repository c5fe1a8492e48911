//! `GET /api/health`, answered exactly as PocketBase does (extra details for superusers),
//! except while the database is busy: every request reader taken and none coming back, so
//! reads queue. Then it answers 503 in the same shape, so a load balancer's readiness check
//! sends traffic elsewhere (or holds it) until the readers free up; the process is alive
//! and needs no restart (`--query-timeout` bounds how long it lasts).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::RequestAuth;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/health", web::head().to(health));
}

#[derive(Serialize)]
struct Health {
    message: &'static str,
    code: u16,
    data: Details,
}

#[derive(Serialize, Default)]
struct Details {
    #[serde(rename = "realIP", skip_serializing_if = "Option::is_none")]
    real_ip: Option<String>,
    #[serde(
        rename = "possibleProxyHeader",
        skip_serializing_if = "Option::is_none"
    )]
    possible_proxy_header: Option<String>,
    #[serde(rename = "canBackup", skip_serializing_if = "Option::is_none")]
    can_backup: Option<bool>,
}

/// Headers that suggest a reverse proxy in front, after the trusted ones (PocketBase checks
/// those first too); reported so an admin can configure trusted proxies. hearth trusts none
/// by default.
const PROXY_HEADERS: [&str; 3] = ["CF-Connecting-IP", "Fly-Client-IP", "X-Forwarded-For"];

async fn health(req: HttpRequest, state: web::Data<AppState>, auth: RequestAuth) -> HttpResponse {
    let mut data = Details::default();
    if auth.is_superuser() {
        data.real_ip = Some(
            crate::http::client_ip(&req)
                .map(crate::client_ip::expanded)
                .unwrap_or_default(),
        );
        let trusted = state.proxy.current();
        let sent = |h: &&str| {
            req.headers()
                .get(*h)
                .is_some_and(|v| !v.as_bytes().is_empty())
        };
        data.possible_proxy_header = Some(
            trusted
                .headers
                .iter()
                .map(String::as_str)
                .chain(PROXY_HEADERS)
                .find(sent)
                .map_or(String::new(), str::to_owned),
        );
        data.can_backup = Some(true);
    }
    // Asks the pools, never waits for a reader: it must answer when none is free.
    if state.db.busy() {
        return HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, "1"))
            .json(Health {
                message: "The database is busy: every reader is taken.",
                code: 503,
                data,
            });
    }
    HttpResponse::Ok().json(Health {
        message: "API is healthy.",
        code: 200,
        data,
    })
}
