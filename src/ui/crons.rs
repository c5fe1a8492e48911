//! The Crons page: every scheduled job of the `crons` registry (the server's own under
//! PocketBase's ids, the scheduled backup, the JS hooks' `cronAdd` jobs) with its schedule,
//! next run and how its last run went, and "Run now", as `POST /api/crons/{id}` does.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};

use super::form::{Form, FormBody};
use super::{Admin, Chrome, flash};
use crate::error::Result;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/crons", web::get().to(show))
        .route("/crons/{id}/run", web::post().to(run));
}

/// One table row, written for people.
struct Row {
    id: String,
    expression: String,
    next: String,
    last: String,
    failed: Option<String>,
    running: bool,
}

#[derive(Template)]
#[template(path = "crons.html")]
struct CronsPage {
    chrome: Chrome,
    rows: Vec<Row>,
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

async fn show(req: HttpRequest, state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse> {
    let rows = state
        .crons
        .entries()
        .into_iter()
        .map(|e| Row {
            id: e.id,
            expression: e.expression,
            next: e.next.map(when).unwrap_or_else(|| "—".into()),
            last: e.last.as_ref().map_or_else(
                || "never".into(),
                |l| format!("{} ({} ms)", when(l.started), l.took.as_millis()),
            ),
            failed: e.last.and_then(|l| l.error),
            running: e.running,
        })
        .collect();
    let (chrome, nonce) = Chrome::page(&req, &state, &admin, "Crons", "crons");
    super::html(&req, StatusCode::OK, &nonce, &CronsPage { chrome, rows })
}

async fn run(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
    body: FormBody,
) -> Result<HttpResponse> {
    let form = Form::from(body);
    if !super::csrf_ok(&req, &state, form.csrf()) {
        return super::csrf_failed(&req, &state, &admin);
    }
    let id = id.into_inner();
    let message = if state.crons.run_now(&id) {
        format!("Job {id} started.")
    } else {
        format!("There is no job {id}.")
    };
    Ok(flash::redirect(&req, "/_/crons", &message))
}
