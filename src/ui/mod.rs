//! The server-rendered admin UI under `/_/`: askama pages, plain forms, POST-redirect-GET.
//! Works without JavaScript; every state-changing form carries a CSRF token.

mod assets;
mod backups;
mod collection_body;
mod collection_form;
mod collections;
mod crons;
mod dashboard;
mod field_rows;
mod flash;
mod form;
mod install;
mod login;
mod logs;
mod mail;
mod record_body;
mod record_form;
mod record_inputs;
mod records;
mod rule_rows;
mod session;
mod settings;
mod sign_in_rows;
mod sql;
mod values;
mod view_preview;
mod webhooks;

use actix_web::HttpRequest;
use actix_web::http::{StatusCode, header};
use askama::Template;

use crate::error::Result;
use crate::state::AppState;
use actix_web::{HttpResponse, web};

pub use session::{Admin, Session};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/_", web::get().to(|| async { see_other("/_/") }))
        .service(
            web::scope("/_")
                .configure(assets::configure)
                .configure(login::configure)
                .configure(install::configure)
                .configure(dashboard::configure)
                .configure(collection_form::configure)
                .configure(collections::configure)
                .configure(record_form::configure)
                .configure(records::configure)
                .configure(settings::configure)
                .configure(logs::configure)
                .configure(mail::configure)
                .configure(webhooks::configure)
                .configure(backups::configure)
                .configure(crons::configure)
                .configure(sql::configure),
        );
}

/// Answers with a rendered page, setting the CSRF nonce cookie if the browser has none yet
/// and dropping the flash message the page has now shown.
pub fn html(
    req: &HttpRequest,
    status: StatusCode,
    nonce: &session::CsrfNonce,
    page: &impl Template,
) -> Result<HttpResponse> {
    let mut res = HttpResponse::build(status);
    nonce.remember(req, &mut res);
    flash::clear(req, &mut res);
    Ok(res
        .insert_header((header::CACHE_CONTROL, "no-store"))
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
    /// Which nav entry is current: "dashboard", "collections", "users", ...
    pub section: &'static str,
    /// The signed-in superuser's email; None on the sign-in page.
    pub user: Option<String>,
    /// CSRF token for the forms on the page (sign-out included).
    pub csrf: String,
    pub css: String,
    pub js: String,
    /// The one-shot message left by the POST that redirected here.
    pub flash: Option<String>,
}

impl Chrome {
    pub fn new(title: &str, user: Option<String>, csrf: String) -> Self {
        Self {
            title: title.to_owned(),
            section: "",
            user,
            csrf,
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            flash: None,
        }
    }

    /// The chrome of a signed-in page, with its CSRF nonce and any flash message.
    pub fn page(
        req: &HttpRequest,
        state: &AppState,
        admin: &Admin,
        title: &str,
        section: &'static str,
    ) -> (Self, session::CsrfNonce) {
        let nonce = session::CsrfNonce::of(req);
        let mut chrome = Self::new(title, Some(admin.0.email.clone()), nonce.token(state));
        chrome.section = section;
        chrome.flash = flash::peek(req);
        (chrome, nonce)
    }
}

/// What a confirmation page asks before a destructive action, which it then POSTs.
pub struct Confirm {
    pub heading: String,
    pub text: String,
    /// Where the confirming form posts.
    pub action: String,
    pub button: String,
    /// Where "Cancel" leads.
    pub cancel: String,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    heading: String,
    text: String,
    action: String,
    button: String,
    cancel: String,
}

/// The confirmation page for `ask` (with JavaScript off, the only way to a destructive
/// POST from the admin pages).
pub fn confirm(
    req: &HttpRequest,
    state: &AppState,
    admin: &Admin,
    section: &'static str,
    ask: Confirm,
) -> Result<HttpResponse> {
    let (chrome, nonce) = Chrome::page(req, state, admin, &ask.heading, section);
    let page = ConfirmPage {
        chrome,
        heading: ask.heading,
        text: ask.text,
        action: ask.action,
        button: ask.button,
        cancel: ask.cancel,
    };
    html(req, StatusCode::OK, &nonce, &page)
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    chrome: Chrome,
    heading: String,
    text: String,
    back: String,
}

/// A page that only says something went wrong (a bad CSRF token, a missing record), with a
/// link back; answered with `status`.
pub fn message(
    req: &HttpRequest,
    state: &AppState,
    admin: &Admin,
    status: StatusCode,
    text: &str,
    back: &str,
) -> Result<HttpResponse> {
    let heading = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        _ => "Something went wrong",
    };
    let (chrome, nonce) = Chrome::page(req, state, admin, heading, "");
    let page = MessagePage {
        chrome,
        heading: heading.to_owned(),
        text: text.to_owned(),
        back: back.to_owned(),
    };
    html(req, status, &nonce, &page)
}

/// The answer to a form whose CSRF token does not verify.
pub fn csrf_failed(req: &HttpRequest, state: &AppState, admin: &Admin) -> Result<HttpResponse> {
    message(
        req,
        state,
        admin,
        StatusCode::FORBIDDEN,
        "This form expired or did not come from this site. Nothing was changed; please go back, reload the page and try again.",
        "/_/",
    )
}

/// True when the submitted form token matches this browser's nonce.
pub fn csrf_ok(req: &HttpRequest, state: &AppState, submitted: &str) -> bool {
    session::CsrfNonce::of(req).verify(state, submitted)
}

/// Percent-encodes a query value for links built in Rust.
pub fn query_value(v: &str) -> String {
    serde_urlencoded::to_string([("v", v)])
        .map(|s| s.trim_start_matches("v=").to_owned())
        .unwrap_or_default()
}
