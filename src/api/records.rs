//! `/api/collections/{collection}/records`: PocketBase's record CRUD.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::enrich::{enrich, enrich_one};
use super::list::{ListResult, PageQuery};
use super::record_requests::{self, Kind};
use super::{RequestAuth, etag};
use crate::error::{Error, Result};
use crate::files::Staging;
use crate::filter::RequestInfo;
use crate::http::{blocking, multipart, queued, record_hooks_for, writing};
use crate::records::write::{QueuedPrecondition, RecordHooks, Writes};
use crate::records::{self, Ctx, ListOptions, Shape};
use crate::schema::Collection;
use crate::state::AppState;
use rusqlite::Connection;

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
    /// hearth's full-text search over the collection's searchable fields.
    #[serde(default)]
    search: String,
    #[serde(flatten)]
    shape: ShapeQuery,
}

/// `expand` and `fields`, accepted by every record endpoint.
#[derive(Deserialize, Default)]
struct ShapeQuery {
    #[serde(default)]
    expand: String,
    #[serde(default)]
    fields: String,
}

impl ShapeQuery {
    fn shape(&self) -> Shape {
        Shape {
            expand: self.expand.clone(),
            fields: self.fields.clone(),
        }
    }
}

pub(super) fn collection(state: &AppState, name: &str) -> Result<Arc<Collection>> {
    state
        .schema
        .snapshot()
        .find(name)
        .ok_or_else(|| Error::NotFound("Missing collection context.".into()))
}

/// What rules and filters may read about this request: caller, method, query, headers, body.
pub(super) fn context(
    req: &HttpRequest,
    state: &AppState,
    auth: &RequestAuth,
    body: Map<String, Value>,
) -> Ctx {
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let headers = req
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    context_of(state, auth, req.method().as_str(), query, headers, body)
}

/// `context` from parts, for requests that are not an `HttpRequest` (batch sub-requests).
pub fn context_of(
    state: &AppState,
    auth: &RequestAuth,
    method: &str,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Map<String, Value>,
) -> Ctx {
    let schema = state.schema.snapshot();
    let (caller, auth_record) = auth.caller(&schema);
    let query = query
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let headers = headers
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase().replace('-', "_"), Value::String(v)))
        .collect();
    let request = RequestInfo {
        auth: auth_record,
        method: method.to_ascii_uppercase(),
        query,
        headers,
        body,
        context: "",
    };
    Ctx {
        caller,
        request,
        schema,
        changes: Default::default(),
        validate: true,
    }
}

/// Sends a request's files to the bucket before its write, when files go to one (see
/// `Staging::send_ahead`), on a thread for calls to other servers: the write then holds
/// the only writer for no upload. `id` is the record an update is for; a create's files go
/// to the id its body names, or to one chosen now that the record then gets.
pub(crate) async fn send_ahead(
    state: &AppState,
    c: &Collection,
    id: Option<&str>,
    body: &Map<String, Value>,
    mut staging: Staging,
) -> Result<Staging> {
    if staging.is_empty() || state.files.bucket().is_none() {
        return Ok(staging);
    }
    let failed = match id {
        Some(_) => "Failed to update record.",
        None => "Failed to create record.",
    };
    let target = id
        .or_else(|| crate::records::write::named_id(body))
        .map_or_else(crate::ids::record_id, str::to_owned);
    let (collection_id, name) = (c.id.clone(), c.name.clone());
    crate::http::outbound(move || {
        staging.send_ahead(&collection_id, &target).map_err(|e| {
            log::error!("cannot store the files of {name}/{target}: {e}");
            Error::bad_request(failed)
        })?;
        Ok(staging)
    })
    .await
}

/// A create or update body: multipart (with files, staged on disk) or JSON / urlencoded.
pub(crate) async fn record_input(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    c: &Collection,
) -> Result<(Map<String, Value>, Staging)> {
    if multipart::is_multipart(req.headers()) {
        let limit = state.config.body_limit;
        return multipart::read(req.headers(), payload, c, &state.files, limit).await;
    }
    let body = crate::http::Sent::read(req, payload)
        .await?
        .to_map()
        .map_err(crate::http::body::refused)?;
    Ok((body, Staging::new(&state.files)))
}

async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
    query: crate::http::Query<ListQuery>,
) -> Result<HttpResponse> {
    let c = collection(&state, &path)?;
    let paging = query.page.paging();
    let opts = ListOptions {
        page: paging.page,
        per_page: paging.per_page,
        skip_total: paging.skip_total,
        sort: query.sort.clone(),
        filter: query.filter.clone(),
        search: query.search.clone(),
    };
    let shape = query.shape.shape();
    let ctx = context(&req, &state, &auth, Map::new());
    let shared = state.clone();
    let table = c.clone();
    let (items, total) = blocking(move || {
        shared.db.data.read(|conn| {
            let (mut items, total) = records::list(conn, &c, &ctx, &opts)?;
            records::shape(conn, &c, &ctx, &mut items, &shape)?;
            Ok((items, total))
        })
    })
    .await?;
    let items: Vec<Value> = items.into_iter().map(Value::Object).collect();
    // A list request hook sees the records before they are enriched, as on PocketBase.
    if record_requests::list_hooked(&state, &table) {
        let list =
            serde_json::to_value(ListResult::new(paging, total, items)).map_err(Error::internal)?;
        return record_requests::listed(&req, &state, &auth, &table, &list).await;
    }
    let items = enrich(&req, &state, &auth, items).await?;
    let list =
        serde_json::to_value(ListResult::new(paging, total, items)).map_err(Error::internal)?;
    Ok(etag::json(&req, &list))
}

/// Expands and projects one record as the request asks.
pub(super) fn shaped(
    conn: &rusqlite::Connection,
    c: &Collection,
    ctx: &Ctx,
    record: Map<String, Value>,
    shape: &Shape,
) -> Result<Value> {
    let mut items = [record];
    records::shape(conn, c, ctx, &mut items, shape)?;
    let [record] = items;
    Ok(Value::Object(record))
}

async fn view(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<(String, String)>,
    query: crate::http::Query<ShapeQuery>,
) -> Result<HttpResponse> {
    let (name, id) = path.into_inner();
    let c = collection(&state, &name)?;
    let shape = query.shape();
    let ctx = context(&req, &state, &auth, Map::new());
    let table = c.clone();
    // A short read (see `records::view_is_short`) may run on the async worker.
    let inline = shape.expand.is_empty()
        && records::view_is_short(&table, &ctx)
        && record_requests::wanted(&state, &Kind::View(Map::new()), &table).is_none();
    let read = move |conn: &Connection| {
        let record = records::view(conn, &c, &ctx, &id)?;
        shaped(conn, &c, &ctx, record, &shape)
    };
    let record = if inline {
        crate::http::short_read(&state, read).await?
    } else {
        let shared = state.clone();
        blocking(move || shared.db.data.read(read)).await?
    };
    if let Value::Object(found) = &record {
        let kind = Kind::View(found.clone());
        if let Some(hooked) = record_requests::wanted(&state, &kind, &table) {
            let state = state.into_inner();
            let work = |_: &dyn RecordHooks, _: Map<String, Value>| Ok(Value::Null);
            return record_requests::around(
                &req,
                &state,
                &auth,
                hooked,
                table,
                kind,
                Map::new(),
                work,
            )
            .await;
        }
    }
    let record = enrich_one(&req, &state, &auth, record).await?;
    Ok(etag::json(&req, &record))
}

/// `If-Match`: the record as this caller sees it must still carry one of `tags`.
/// Whether a create or update of `body` may go to the writer thread (`Writes::save_queued`):
/// no record hooks loaded for `c`, nothing to upload, no password to hash.
fn queueable(
    state: &AppState,
    c: &Collection,
    body: &Map<String, Value>,
    staging: &Staging,
) -> bool {
    !record_hooks_for(state, c) && Writes::queueable(c, body, staging)
}

fn unchanged(
    tx: &Connection,
    c: &Collection,
    ctx: &Ctx,
    id: &str,
    tags: Option<&[String]>,
) -> Result<()> {
    if let Some(tags) = tags {
        let current = records::view(tx, c, ctx, id)?;
        etag::check(tags, &Value::Object(current))?;
    }
    Ok(())
}

async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
    query: crate::http::Query<ShapeQuery>,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let c = collection(&state, &path)?;
    let (body, staging) = record_input(&req, payload, &state, &c).await?;
    let staging = send_ahead(&state, &c, None, &body, staging).await?;
    let shape = query.shape();
    let ctx = context(&req, &state, &auth, body.clone());
    let shared = state.clone();
    if let Some(hooked) = record_requests::wanted(&state, &Kind::Create, &c) {
        let table = c.clone();
        let asked = body.clone();
        let state = state.into_inner();
        let work = move |hooks: &dyn RecordHooks, set: Map<String, Value>| {
            let shape = |tx: &Connection, r| shaped(tx, &c, &ctx, r, &shape);
            shared
                .records_with(hooks)
                .create_set(&c, &ctx, &body, &set, staging, shape)
        };
        return record_requests::around(
            &req,
            &state,
            &auth,
            hooked,
            table,
            Kind::Create,
            asked,
            work,
        )
        .await;
    }
    let record = if queueable(&state, &c, &body, &staging) {
        // The common create (no hooks, no files, no password): on the writer thread, this
        // worker free meanwhile.
        let records = state.records();
        let answer =
            move |tx: &Connection, c: &Collection, ctx: &Ctx, r| shaped(tx, c, ctx, r, &shape);
        queued(records.save_queued(c, ctx, None, body, staging, answer)).await?
    } else {
        writing(&state, Some(c.clone()), move |hooks| {
            shared
                .records_with(hooks)
                .create(&c, &ctx, &body, staging, |tx, r| {
                    shaped(tx, &c, &ctx, r, &shape)
                })
        })
        .await?
    };
    let record = enrich_one(&req, &state, &auth, record).await?;
    Ok(etag::tagged(&req, &record))
}

async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<(String, String)>,
    query: crate::http::Query<ShapeQuery>,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let (name, id) = path.into_inner();
    let c = collection(&state, &name)?;
    let (body, staging) = record_input(&req, payload, &state, &c).await?;
    let staging = send_ahead(&state, &c, Some(&id), &body, staging).await?;
    let shape = query.shape();
    let ctx = context(&req, &state, &auth, body.clone());
    let if_match = etag::if_match(&req);
    let shared = state.clone();
    let kind = Kind::Update(id.clone());
    if let Some(hooked) = record_requests::wanted(&state, &kind, &c) {
        let table = c.clone();
        let asked = body.clone();
        let state = state.into_inner();
        let work = move |hooks: &dyn RecordHooks, set: Map<String, Value>| {
            let unchanged = |tx: &Connection| unchanged(tx, &c, &ctx, &id, if_match.as_deref());
            let shape = |tx: &Connection, r| shaped(tx, &c, &ctx, r, &shape);
            shared.records_with(hooks).update_set(
                &c,
                &ctx,
                (&id, &unchanged),
                &body,
                &set,
                staging,
                shape,
            )
        };
        return record_requests::around(&req, &state, &auth, hooked, table, kind, asked, work)
            .await;
    }
    let record = if queueable(&state, &c, &body, &staging) {
        // As for a create: on the writer thread, this worker free meanwhile.
        let records = state.records();
        let answer =
            move |tx: &Connection, c: &Collection, ctx: &Ctx, r| shaped(tx, c, ctx, r, &shape);
        let checked = id.clone();
        let precondition: QueuedPrecondition =
            Box::new(move |tx, c, ctx| unchanged(tx, c, ctx, &checked, if_match.as_deref()));
        let on = Some((id, precondition));
        queued(records.save_queued(c, ctx, on, body, staging, answer)).await?
    } else {
        writing(&state, Some(c.clone()), move |hooks| {
            let unchanged = |tx: &Connection| unchanged(tx, &c, &ctx, &id, if_match.as_deref());
            shared
                .records_with(hooks)
                .update(&c, &ctx, &id, &body, staging, &unchanged, |tx, r| {
                    shaped(tx, &c, &ctx, r, &shape)
                })
        })
        .await?
    };
    let record = enrich_one(&req, &state, &auth, record).await?;
    Ok(etag::tagged(&req, &record))
}

async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (name, id) = path.into_inner();
    let c = collection(&state, &name)?;
    let ctx = context(&req, &state, &auth, Map::new());
    let if_match = etag::if_match(&req);
    let shared = state.clone();
    let kind = Kind::Delete(id.clone());
    if let Some(hooked) = record_requests::wanted(&state, &kind, &c) {
        let table = c.clone();
        let state = state.into_inner();
        let work = move |hooks: &dyn RecordHooks, _: Map<String, Value>| {
            let unchanged = |tx: &Connection| unchanged(tx, &c, &ctx, &id, if_match.as_deref());
            shared
                .records_with(hooks)
                .delete(&c, &ctx, &id, &unchanged)?;
            Ok(Value::Null)
        };
        return record_requests::around(&req, &state, &auth, hooked, table, kind, Map::new(), work)
            .await;
    }
    writing(&state, Some(c.clone()), move |hooks| {
        let unchanged = |tx: &Connection| unchanged(tx, &c, &ctx, &id, if_match.as_deref());
        shared.records_with(hooks).delete(&c, &ctx, &id, &unchanged)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
