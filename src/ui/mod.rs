//! The server-rendered admin UI under `/_/`: askama pages, plain forms, POST-redirect-GET.
//! Works without JavaScript; every state-changing form carries a CSRF token.

mod assets;
mod collections;
mod dashboard;
mod login;
mod mail;
mod session;

use actix_web::HttpRequest;
use actix_web::http::{StatusCode, header};
use askama::Template;

use crate::error::Result;
use actix_web::{HttpResponse, web};

pub use session::Session;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/_", web::get().to(|| async { see_other("/_/") }))
        .service(
            web::scope("/_")
                .configure(assets::configure)
                .configure(login::configure)
                .configure(dashboard::configure)
                .configure(collections::configure)
                .configure(mail::configure),
        );
}

/// Answers with a rendered page, setting the CSRF nonce cookie if the browser has none yet.
pub fn html(
    req: &HttpRequest,
    status: StatusCode,
    nonce: &session::CsrfNonce,
    page: &impl Template,
) -> Result<HttpResponse> {
    let mut res = HttpResponse::build(status);
    nonce.remember(req, &mut res);
    Ok(res
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

/// The redirect that ends every successful form POST (POST-redirect-GET).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Page chrome every template's layout needs.
pub struct Chrome {
    pub title: String,
    /// The signed-in superuser's email; None on the sign-in page.
    pub user: Option<String>,
    /// CSRF token for the forms on the page (sign-out included).
    pub csrf: String,
    pub css: String,
}

impl Chrome {
    pub fn new(title: &str, user: Option<String>, csrf: String) -> Self {
        Self {
            title: title.to_owned(),
            user,
            csrf,
            css: assets::url("app.css"),
        }
    }
}
