//! `GET /api/health`, answered exactly as PocketBase does (extra details for superusers).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::RequestAuth;

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

/// Headers that suggest a reverse proxy in front; reported so an admin can configure
/// trusted proxies. hearth trusts none by default.
const PROXY_HEADERS: [&str; 4] = [
    "CF-Connecting-IP",
    "Fly-Client-IP",
    "X-Real-IP",
    "X-Forwarded-For",
];

async fn health(req: HttpRequest, auth: RequestAuth) -> HttpResponse {
    let mut data = Details::default();
    if auth.is_superuser() {
        data.real_ip = req.peer_addr().map(|a| a.ip().to_string());
        data.possible_proxy_header = Some(
            PROXY_HEADERS
                .iter()
                .find(|h| req.headers().contains_key(**h))
                .map_or(String::new(), |h| (*h).to_owned()),
        );
        data.can_backup = Some(true);
    }
    HttpResponse::Ok().json(Health {
        message: "API is healthy.",
        code: 200,
        data,
    })
}
