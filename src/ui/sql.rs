//! The SQL page: a query box over the SQL console (`console`, as `POST /api/sql`), the
//! answer as a table, or the rows a write changed, or SQLite's error.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::form::{Form, FormBody};
use super::{Admin, Chrome};
use crate::console::{self, Outcome};
use crate::error::{Error, ErrorTree, Result};
use crate::http::blocking;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sql", web::get().to(show))
        .route("/sql", web::post().to(run));
}

#[derive(Template)]
#[template(path = "sql.html")]
struct SqlPage {
    chrome: Chrome,
    query: String,
    outcome: Option<Outcome>,
    error: Option<String>,
    max_rows: usize,
}

fn render(
    req: &HttpRequest,
    state: &AppState,
    admin: &Admin,
    status: StatusCode,
    page: (String, Option<Outcome>, Option<String>),
) -> Result<HttpResponse> {
    let (chrome, nonce) = Chrome::page(req, state, admin, "SQL", "sql");
    let (query, outcome, error) = page;
    let page = SqlPage {
        chrome,
        query,
        outcome,
        error,
        max_rows: console::MAX_ROWS,
    };
    super::html(req, status, &nonce, &page)
}

async fn show(req: HttpRequest, state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse> {
    let blank = (String::new(), None, None);
    render(&req, &state, &admin, StatusCode::OK, blank)
}

async fn run(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    body: FormBody,
) -> Result<HttpResponse> {
    let form = Form::from(body);
    if !super::csrf_ok(&req, &state, form.csrf()) {
        return super::csrf_failed(&req, &state, &admin);
    }
    let query = form.get("query").to_owned();
    let shared = state.clone();
    let asked = query.clone();
    match blocking(move || console::run(&shared.db.data, &asked)).await {
        Ok(outcome) => render(
            &req,
            &state,
            &admin,
            StatusCode::OK,
            (query, Some(outcome), None),
        ),
        Err(Error::BadRequest { message, data }) => {
            let text = match data.get("query") {
                Some(ErrorTree::Leaf(e)) => format!("Query: {}", e.message),
                _ => message,
            };
            let page = (query, None, Some(text));
            render(&req, &state, &admin, StatusCode::BAD_REQUEST, page)
        }
        Err(e) => Err(e),
    }
}
