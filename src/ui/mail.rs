//! The mail outbox: every mail hearth wrote, newest first, with its delivery status.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Admin, Chrome};
use crate::error::{Error, Result};
use crate::http::blocking;
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

async fn list(req: HttpRequest, state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse> {
    let mails = outbox(&state).await?;
    let (chrome, nonce) = Chrome::page(&req, &state, &admin, "Mail", "mail");
    let page = MailListPage { chrome, mails };
    super::html(&req, StatusCode::OK, &nonce, &page)
}

async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let mail = outbox(&state)
        .await?
        .into_iter()
        .find(|m| m.id == *path)
        .ok_or_else(Error::not_found)?;
    let (chrome, nonce) = Chrome::page(&req, &state, &admin, "Mail", "mail");
    let page = MailPage { chrome, mail };
    super::html(&req, StatusCode::OK, &nonce, &page)
}
