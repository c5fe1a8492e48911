//! The mail outbox: every mail hearth wrote, newest first, with its delivery status.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::session::{CsrfNonce, Session};
use super::{Chrome, see_other};
use crate::api::blocking;
use crate::error::{Error, Result};
use crate::mail::{self, Outboxed};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/mail", web::get().to(list))
        .route("/mail/{id}", web::get().to(show));
}

#[derive(Template)]
#[template(path = "mail_list.html")]
struct MailListPage {
    chrome: Chrome,
    mails: Vec<Outboxed>,
}

#[derive(Template)]
#[template(path = "mail_show.html")]
struct MailPage {
    chrome: Chrome,
    mail: Outboxed,
}

async fn outbox(state: &web::Data<AppState>) -> Result<Vec<Outboxed>> {
    let shared = state.clone();
    blocking(move || shared.db.data.read(|c| mail::outbox(c, 200))).await
}

async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
) -> Result<HttpResponse> {
    let Some(user) = session.0 else {
        return Ok(see_other("/_/login"));
    };
    let mails = outbox(&state).await?;
    let nonce = CsrfNonce::of(&req);
    let page = MailListPage {
        chrome: Chrome::new("Mail", Some(user.email), nonce.token(&state)),
        mails,
    };
    super::html(&req, StatusCode::OK, &nonce, &page)
}

async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let Some(user) = session.0 else {
        return Ok(see_other("/_/login"));
    };
    let mail = outbox(&state)
        .await?
        .into_iter()
        .find(|m| m.id == *path)
        .ok_or_else(Error::not_found)?;
    let nonce = CsrfNonce::of(&req);
    let page = MailPage {
        chrome: Chrome::new("Mail", Some(user.email), nonce.token(&state)),
        mail,
    };
    super::html(&req, StatusCode::OK, &nonce, &page)
}
