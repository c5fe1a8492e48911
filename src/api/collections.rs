//! `/api/collections`: collection definitions, superusers only.

use actix_web::{HttpResponse, web};
use serde_json::Value;

use super::list::{ListResult, PageQuery};
use super::{Body, RequestAuth, blocking};
use crate::error::{Error, Result};
use crate::schema;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/collections", web::get().to(list))
        .route("/collections", web::post().to(create))
        .route("/collections/import", web::put().to(import))
        .route("/collections/{collection}", web::get().to(view))
        .route("/collections/{collection}", web::patch().to(update))
        .route("/collections/{collection}", web::delete().to(delete))
        .route(
            "/collections/{collection}/truncate",
            web::delete().to(truncate),
        );
}

async fn list(
    state: web::Data<AppState>,
    auth: RequestAuth,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let paging = query.paging();
    let snapshot = state.schema.snapshot();
    let all = snapshot.all();
    let items: Vec<Value> = all
        .iter()
        .skip(usize::try_from(paging.offset()).unwrap_or(usize::MAX))
        .take(paging.per_page as usize)
        .map(|c| c.to_json())
        .collect();
    let total = (!paging.skip_total).then_some(all.len() as u64);
    Ok(HttpResponse::Ok().json(ListResult::new(paging, total, items)))
}

async fn view(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let c = state
        .schema
        .snapshot()
        .find(&path)
        .ok_or_else(Error::not_found)?;
    Ok(HttpResponse::Ok().json(c.to_json()))
}

async fn create(
    state: web::Data<AppState>,
    auth: RequestAuth,
    Body(body): Body<Value>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let c = blocking(move || schema::create(&state.db.data, &state.schema, body)).await?;
    Ok(HttpResponse::Ok().json(c.to_json()))
}

async fn update(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
    Body(body): Body<Value>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let id = path.into_inner();
    let c = blocking(move || schema::update(&state.db.data, &state.schema, &id, body)).await?;
    Ok(HttpResponse::Ok().json(c.to_json()))
}

async fn delete(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let id = path.into_inner();
    blocking(move || schema::delete(&state.db.data, &state.schema, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn truncate(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let id = path.into_inner();
    blocking(move || schema::truncate(&state.db.data, &state.schema, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(serde::Deserialize)]
struct ImportBody {
    #[serde(default)]
    collections: Vec<Value>,
    #[serde(default, rename = "deleteMissing")]
    delete_missing: bool,
}

async fn import(
    state: web::Data<AppState>,
    auth: RequestAuth,
    Body(body): Body<ImportBody>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    blocking(move || {
        schema::import(
            &state.db.data,
            &state.schema,
            body.collections,
            body.delete_missing,
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
