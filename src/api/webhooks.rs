//! `/api/webhooks`: webhook definitions and their deliveries, superusers only. Lists use
//! PocketBase's envelope; invalid input answers 400 with field errors in its shape.

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value};

use super::RequestAuth;
use super::list::{ListResult, PageQuery};
use crate::error::{Error, Result};
use crate::http::{Body, Query, blocking};
use crate::state::AppState;
use crate::webhooks::{self, store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks", web::get().to(list))
        .route("/webhooks", web::post().to(create))
        .route("/webhooks/{id}", web::get().to(view))
        .route("/webhooks/{id}", web::patch().to(update))
        .route("/webhooks/{id}", web::delete().to(delete))
        .route("/webhooks/{id}/deliveries", web::get().to(deliveries));
}

fn object(body: Value) -> Result<Map<String, Value>> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(Error::invalid_body()),
    }
}

async fn list(
    state: web::Data<AppState>,
    auth: RequestAuth,
    query: Query<PageQuery>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let paging = query.paging();
    let shared = state.clone();
    let (hooks, total) = blocking(move || {
        shared.db.data.read(|c| {
            let total = (!paging.skip_total).then(|| store::count(c)).transpose()?;
            Ok((store::list(c, paging.per_page, paging.offset())?, total))
        })
    })
    .await?;
    let schema = state.schema.snapshot();
    let items = hooks.iter().map(|h| h.to_json(&schema)).collect();
    Ok(HttpResponse::Ok().json(ListResult::new(paging, total, items)))
}

async fn view(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let shared = state.clone();
    let hook = blocking(move || shared.db.data.read(|c| store::find(c, &path)))
        .await?
        .ok_or_else(Error::not_found)?;
    Ok(HttpResponse::Ok().json(hook.to_json(&state.schema.snapshot())))
}

async fn create(
    state: web::Data<AppState>,
    auth: RequestAuth,
    Body(body): Body<Value>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let body = object(body)?;
    let schema = state.schema.snapshot();
    let hook = webhooks::apply(&schema, None, &body, state.config.webhooks.allow_private)?;
    let shared = state.clone();
    let saved = blocking(move || shared.db.data.write(|tx| store::save(tx, &hook))).await?;
    Ok(HttpResponse::Ok().json(saved.to_json(&schema)))
}

async fn update(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
    Body(body): Body<Value>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let body = object(body)?;
    let schema = state.schema.snapshot();
    let shared = state.clone();
    let id = path.into_inner();
    let for_write = schema.clone();
    let allow_private = state.config.webhooks.allow_private;
    let saved = blocking(move || {
        shared.db.data.write(|tx| {
            let existing = store::find(tx, &id)?.ok_or_else(Error::not_found)?;
            let hook = webhooks::apply(&for_write, Some(&existing), &body, allow_private)?;
            store::save(tx, &hook)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(saved.to_json(&schema)))
}

async fn delete(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let found = blocking(move || state.db.data.write(|tx| store::delete(tx, &path))).await?;
    if !found {
        return Err(Error::not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}

async fn deliveries(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
    query: Query<PageQuery>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let paging = query.paging();
    let (items, total) = blocking(move || {
        state.db.data.read(|c| {
            store::find(c, &path)?.ok_or_else(Error::not_found)?;
            let total = (!paging.skip_total)
                .then(|| store::count_deliveries(c, &path))
                .transpose()?;
            Ok((
                store::deliveries(c, &path, paging.per_page, paging.offset())?,
                total,
            ))
        })
    })
    .await?;
    let items = items
        .into_iter()
        .map(|d| serde_json::to_value(d).unwrap_or(Value::Null))
        .collect();
    Ok(HttpResponse::Ok().json(ListResult::new(paging, total, items)))
}
