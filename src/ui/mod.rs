//! The server-rendered admin UI under `/_/`: askama pages, plain forms, POST-redirect-GET.
//! Works without JavaScript; every state-changing form carries a CSRF token.

mod assets;
mod collections;
mod dashboard;
mod login;
mod mail;
mod session;

use actix_web::http::header;
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
