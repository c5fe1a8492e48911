//! `/api/collections/{collection}/records`: PocketBase's record CRUD.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::list::{ListResult, PageQuery};
use super::{Body, RequestAuth, blocking};
use crate::error::{Error, Result};
use crate::records::{self, Caller, ListOptions};
use crate::schema::Collection;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/collections/{collection}/records", web::get().to(list))
        .route("/collections/{collection}/records", web::post().to(create))
        .route(
            "/collections/{collection}/records/{id}",
            web::get().to(view),
        )
        .route(
            "/collections/{collection}/records/{id}",
            web::patch().to(update),
        )
        .route(
            "/collections/{collection}/records/{id}",
            web::delete().to(delete),
        );
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

fn collection(state: &AppState, name: &str) -> Result<Arc<Collection>> {
    state
        .schema
        .snapshot()
        .find(name)
        .ok_or_else(|| Error::NotFound("Missing collection context.".into()))
}

fn caller(auth: &RequestAuth) -> Caller {
    if auth.is_superuser() {
        Caller::Superuser
    } else {
        Caller::Guest
    }
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
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse> {
    let c = collection(&state, &path)?;
    let paging = query.page.paging();
    if !query.filter.trim().is_empty() {
        return Err(Error::bad_request("Filtering is not supported yet."));
    }
    let opts = ListOptions {
        page: paging.page,
        per_page: paging.per_page,
        skip_total: paging.skip_total,
        sort: query.sort.clone(),
    };
    let caller = caller(&auth);
    let (items, total) = blocking(move || {
        state
            .db
            .data
            .read(|conn| records::list(conn, &c, &caller, &opts))
    })
    .await?;
    Ok(HttpResponse::Ok().json(ListResult::new(paging, total, items)))
}

async fn view(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (name, id) = path.into_inner();
    let c = collection(&state, &name)?;
    let caller = caller(&auth);
    let record = blocking(move || {
        state
            .db
            .data
            .read(|conn| records::view(conn, &c, &caller, &id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(record))
}

async fn create(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
    Body(body): Body<Value>,
) -> Result<HttpResponse> {
    let c = collection(&state, &path)?;
    let body = object(body)?;
    let caller = caller(&auth);
    let record = blocking(move || {
        state
            .db
            .data
            .write(|tx| records::create(tx, &c, &caller, &body))
    })
    .await?;
    Ok(HttpResponse::Ok().json(record))
}

async fn update(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<(String, String)>,
    Body(body): Body<Value>,
) -> Result<HttpResponse> {
    let (name, id) = path.into_inner();
    let c = collection(&state, &name)?;
    let body = object(body)?;
    let caller = caller(&auth);
    let record = blocking(move || {
        state
            .db
            .data
            .write(|tx| records::update(tx, &c, &caller, &id, &body))
    })
    .await?;
    Ok(HttpResponse::Ok().json(record))
}

async fn delete(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (name, id) = path.into_inner();
    let c = collection(&state, &name)?;
    let caller = caller(&auth);
    blocking(move || {
        state
            .db
            .data
            .write(|tx| records::delete(tx, &c, &caller, &id))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
