//! `/api/logs`: PocketBase's request-log routes, for superusers.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::RequestAuth;
use super::list::{ListResult, PageQuery};
use crate::error::Result;
use crate::http::blocking;
use crate::logs::query;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/logs", web::get().to(list))
        .route("/logs", web::delete().to(truncate))
        .route("/logs/stats", web::get().to(stats))
        .route("/logs/{id}", web::get().to(view));
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(flatten)]
    page: PageQuery,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    filter: String,
}

async fn list(
    state: web::Data<AppState>,
    auth: RequestAuth,
    q: crate::http::Query<ListQuery>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let paging = q.page.paging();
    let (sort, filter) = (q.sort.clone(), q.filter.clone());
    let (items, total) = blocking(move || {
        state.db.aux.read(|c| {
            query::list(
                c,
                paging.page,
                paging.per_page,
                paging.skip_total,
                &sort,
                &filter,
            )
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(ListResult::new(paging, total, items)))
}

#[derive(Deserialize)]
struct StatsQuery {
    #[serde(default)]
    filter: String,
}

async fn stats(
    state: web::Data<AppState>,
    auth: RequestAuth,
    q: crate::http::Query<StatsQuery>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let filter = q.into_inner().filter;
    let stats = blocking(move || state.db.aux.read(|c| query::stats(c, &filter))).await?;
    Ok(HttpResponse::Ok().json(stats))
}

/// Deletes every request log entry: 204, as PocketBase answers.
async fn truncate(state: web::Data<AppState>, auth: RequestAuth) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let deleted = blocking(move || crate::logs::truncate(&state.db.aux)).await?;
    log::info!("deleted all {deleted} request log entries");
    Ok(HttpResponse::NoContent().finish())
}

async fn view(
    state: web::Data<AppState>,
    auth: RequestAuth,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let log = blocking(move || state.db.aux.read(|c| query::view(c, &id))).await?;
    Ok(HttpResponse::Ok().json(log))
}
