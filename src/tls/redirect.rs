//! The plain-HTTP side of a server with HTTPS on: answers ACME HTTP-01 challenges and sends
//! everything else to the same path over HTTPS.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};

use super::Certificates;
use crate::error::Error;

const CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";

/// What the redirect needs, in the app data when HTTPS is on.
pub struct HttpsSide {
    pub port: u16,
    pub certificates: Arc<Certificates>,
}

/// Passes requests that came over HTTPS; answers the rest (see the module doc).
pub async fn to_https(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let https = match req.app_data::<web::Data<HttpsSide>>() {
        Some(https) if !req.app_config().secure() => https.clone(),
        _ => {
            return next
                .call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body);
        }
    };
    let answer = match req.path().strip_prefix(CHALLENGE_PATH) {
        Some(token) => match https.certificates.http_challenge(token) {
            Some(key_authorization) => HttpResponse::Ok()
                .content_type("application/octet-stream")
                .body(key_authorization),
            None => Error::not_found().error_response(),
        },
        None => redirect(&req, https.port),
    };
    Ok(req.into_response(answer))
}

fn redirect(req: &ServiceRequest, port: u16) -> HttpResponse {
    let info = req.connection_info();
    let host = info.host();
    // The host without its port; an IPv6 literal keeps its brackets.
    let name = match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    };
    let port = if port == 443 {
        String::new()
    } else {
        format!(":{port}")
    };
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{name}{port}{path}");
    match header::HeaderValue::from_str(&location) {
        Ok(location) => HttpResponse::PermanentRedirect()
            .insert_header((header::LOCATION, location))
            .finish(),
        Err(_) => Error::bad_request("Invalid Host header.").error_response(),
    }
}
