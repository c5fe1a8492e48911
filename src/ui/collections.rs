//! The collections page: every collection with its type, fields, rules and record count.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Admin, Chrome};
use crate::error::Result;
use crate::http::blocking;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/collections", web::get().to(list));
}

/// One row of the table.
pub struct Row {
    pub name: String,
    pub kind: &'static str,
    pub system: bool,
    pub fields: Vec<String>,
    pub records: i64,
    /// The list rule as shown: "superusers only", "public" or the expression.
    pub list_rule: String,
}

#[derive(Template)]
#[template(path = "collections.html")]
struct CollectionsPage {
    chrome: Chrome,
    rows: Vec<Row>,
}

fn rule_text(rule: &Option<String>) -> String {
    match rule.as_deref() {
        None => "superusers only".into(),
        Some(r) if r.trim().is_empty() => "public".into(),
        Some(r) => r.to_owned(),
    }
}

/// Every collection with its record count: user collections first, then system ones.
pub async fn rows(state: &web::Data<AppState>) -> Result<Vec<Row>> {
    let snapshot = state.schema.snapshot();
    let shared = state.clone();
    blocking(move || {
        shared.db.data.read(|conn| {
            let mut rows = Vec::new();
            for c in snapshot.all() {
                // Names are validated identifiers, so quoting them is safe.
                let records: i64 = conn
                    .prepare_cached(&format!("SELECT count(*) FROM \"{}\"", c.name))?
                    .query_row([], |r| r.get(0))?;
                rows.push(Row {
                    name: c.name.clone(),
                    kind: c.kind.as_str(),
                    system: c.system,
                    fields: c
                        .fields
                        .iter()
                        .filter(|f| !f.hidden)
                        .map(|f| format!("{} ({})", f.name, f.type_name()))
                        .collect(),
                    records,
                    list_rule: rule_text(&c.rules.list),
                });
            }
            // User collections first, then the system ones, each by name.
            rows.sort_by(|a, b| (a.system, &a.name).cmp(&(b.system, &b.name)));
            Ok(rows)
        })
    })
    .await
}

async fn list(req: HttpRequest, state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse> {
    let rows = rows(&state).await?;
    let (chrome, nonce) = Chrome::page(&req, &state, &admin, "Collections", "collections");
    let page = CollectionsPage { chrome, rows };
    super::html(&req, actix_web::http::StatusCode::OK, &nonce, &page)
}
