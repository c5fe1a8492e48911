//! The records of one collection: a paged table with the filter language in a search box,
//! sortable columns and a per-page choice. Filter mistakes are shown, never a 500.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Admin, Chrome, query_value, values};
use crate::error::{Error, Result};
use crate::http::blocking;
use crate::records::{self, Caller, Ctx, ListOptions};
use crate::schema::{Collection, FieldKind};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/collections/{name}/records", web::get().to(list))
        .route("/collections/{name}", web::get().to(to_records))
        .route(
            "/users",
            web::get().to(|| async { super::see_other("/_/collections/users/records") }),
        )
        .route(
            "/superusers",
            web::get().to(|| async { super::see_other("/_/collections/_superusers/records") }),
        );
}

pub const PER_PAGE_CHOICES: [u64; 5] = [10, 20, 50, 100, 200];
const DEFAULT_PER_PAGE: u64 = 20;
/// Newest first when the user picked no order.
const DEFAULT_SORT: &str = "-@rowid";

/// The record service as a superuser sees it.
pub fn superuser_ctx(state: &AppState) -> Ctx {
    Ctx {
        caller: Caller::Superuser,
        request: Default::default(),
        schema: state.schema.snapshot(),
        changes: Default::default(),
        validate: true,
    }
}

/// The collection named in the path, or None for a page saying it does not exist.
pub fn find(state: &AppState, name: &str) -> Option<Arc<Collection>> {
    state.schema.snapshot().find(name)
}

/// Which nav entry a collection's pages belong to.
pub fn section_of(c: &Collection) -> &'static str {
    match c.name.as_str() {
        "users" => "users",
        "_superusers" => "superusers",
        _ => "collections",
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TableQuery {
    #[serde(default)]
    filter: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    search: String,
    page: Option<u64>,
    per_page: Option<u64>,
}

pub struct Column {
    pub name: String,
    /// Where clicking the header goes: this column ascending, or descending if it already is.
    pub href: String,
    /// "ascending", "descending" or "" (for aria-sort).
    pub sorted: &'static str,
}

pub struct Cell {
    pub text: String,
    pub title: String,
    /// Thumbnails of the images a file field holds (not for protected fields).
    pub thumbs: Vec<String>,
}

pub struct Row {
    pub id: String,
    pub cells: Vec<Cell>,
}

#[derive(Template)]
#[template(path = "records.html")]
struct RecordsPage {
    chrome: Chrome,
    collection: String,
    is_view: bool,
    columns: Vec<Column>,
    rows: Vec<Row>,
    filter: String,
    search: String,
    /// The collection has fields indexed for full-text search.
    searchable: bool,
    sort: String,
    per_page: u64,
    per_page_choices: [u64; 5],
    page: u64,
    total_pages: u64,
    total: u64,
    prev: Option<String>,
    next: Option<String>,
    error: Option<String>,
}

/// Builds the table's URL for a set of choices (the only place its links are made).
struct Links<'a> {
    base: String,
    search: &'a str,
    filter: &'a str,
    per_page: u64,
}

impl Links<'_> {
    fn to(&self, sort: &str, page: u64) -> String {
        let mut url = format!("{}?page={page}&perPage={}", self.base, self.per_page);
        if !self.search.is_empty() {
            url.push_str(&format!("&search={}", query_value(self.search)));
        }
        if !self.filter.is_empty() {
            url.push_str(&format!("&filter={}", query_value(self.filter)));
        }
        if !sort.is_empty() {
            url.push_str(&format!("&sort={}", query_value(sort)));
        }
        url
    }
}

async fn to_records(path: web::Path<String>) -> HttpResponse {
    super::see_other(&format!("/_/collections/{}/records", query_value(&path)))
}

async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
    query: Option<crate::http::Query<TableQuery>>,
) -> Result<HttpResponse> {
    let Some(c) = find(&state, &path) else {
        return super::message(
            &req,
            &state,
            &admin,
            StatusCode::NOT_FOUND,
            &format!("There is no collection named “{path}”."),
            "/_/collections",
        );
    };
    let query = query
        .map(crate::http::Query::into_inner)
        .unwrap_or_default();
    let per_page = query
        .per_page
        .filter(|n| PER_PAGE_CHOICES.contains(n))
        .unwrap_or(DEFAULT_PER_PAGE);
    let page = query.page.unwrap_or(1).max(1);
    let opts = ListOptions {
        page,
        per_page,
        skip_total: false,
        sort: if query.sort.trim().is_empty() {
            DEFAULT_SORT.into()
        } else {
            query.sort.clone()
        },
        filter: query.filter.clone(),
        search: query.search.clone(),
    };
    let ctx = superuser_ctx(&state);
    let shared = state.clone();
    let table = c.clone();
    let found = blocking(move || {
        shared
            .db
            .data
            .read(|conn| records::list(conn, &table, &ctx, &opts))
    })
    .await;
    let (items, total, error) = match found {
        Ok((items, total)) => (items, total.unwrap_or(0), None),
        Err(Error::BadRequest { message, .. }) => (Vec::new(), 0, Some(message)),
        Err(e) => return Err(e),
    };

    let links = Links {
        base: format!("/_/collections/{}/records", query_value(&c.name)),
        filter: &query.filter,
        search: &query.search,
        per_page,
    };
    let shown: Vec<&crate::schema::Field> = c
        .fields
        .iter()
        .filter(|f| !f.hidden && !matches!(f.kind, FieldKind::Password(_)))
        .collect();
    let columns = shown
        .iter()
        .map(|f| {
            let sorted = if query.sort == f.name {
                "ascending"
            } else if query.sort == format!("-{}", f.name) {
                "descending"
            } else {
                ""
            };
            let next = if sorted == "ascending" {
                format!("-{}", f.name)
            } else {
                f.name.clone()
            };
            Column {
                name: f.name.clone(),
                href: links.to(&next, 1),
                sorted,
            }
        })
        .collect();
    let rows = items
        .iter()
        .map(|record| Row {
            id: record
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned(),
            cells: shown
                .iter()
                .map(|f| {
                    let value = record.get(&f.name).unwrap_or(&serde_json::Value::Null);
                    let (text, title) = values::cell(value);
                    let id = record
                        .get("id")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default();
                    let thumbs = match &f.kind {
                        FieldKind::File(o) if !o.protected => crate::records::files::names(value)
                            .iter()
                            .filter(|n| crate::files::looks_like_image(n))
                            .take(3)
                            .map(|n| crate::files::thumb_url(&c.name, id, n, "100x100"))
                            .collect(),
                        _ => Vec::new(),
                    };
                    Cell {
                        text,
                        title,
                        thumbs,
                    }
                })
                .collect(),
        })
        .collect();
    let total_pages = total.div_ceil(per_page).max(1);
    let (chrome, nonce) = Chrome::page(&req, &state, &admin, &c.name, section_of(&c));
    let page_view = RecordsPage {
        chrome,
        collection: c.name.clone(),
        is_view: c.is_view(),
        columns,
        rows,
        prev: (page > 1).then(|| links.to(&query.sort, page - 1)),
        next: (page < total_pages).then(|| links.to(&query.sort, page + 1)),
        filter: query.filter.clone(),
        search: query.search.clone(),
        searchable: !crate::schema::fts::fields(&c).is_empty(),
        sort: query.sort.clone(),
        per_page,
        per_page_choices: PER_PAGE_CHOICES,
        page,
        total_pages,
        total,
        error,
    };
    let status = if page_view.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    super::html(&req, status, &nonce, &page_view)
}
