//! `/api/collections`: collection definitions, superusers only.

use actix_web::{HttpResponse, web};
use serde_json::Value;

use super::RequestAuth;
use super::list::{ListResult, PageQuery};
use crate::error::{Error, Result};
use crate::http::{Sent, blocking};
use crate::schema;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/collections/meta/oauth2-providers",
        web::get().to(oauth2_providers),
    )
    .route("/collections/meta/scaffolds", web::get().to(scaffolds))
    .route(
        "/collections/meta/dry-run-view",
        web::post().to(dry_run_view),
    )
    .route("/collections", web::get().to(list))
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

/// Every OAuth2 provider hearth knows, `{name, displayName, logo}`, as PocketBase lists
/// them for the admin UI.
async fn oauth2_providers(auth: RequestAuth) -> Result<HttpResponse> {
    auth.require_superuser()?;
    Ok(HttpResponse::Ok().json(crate::auth::oauth2::list()))
}

/// The default `base`, `auth` and `view` collections, as the admin UI starts a new one.
async fn scaffolds(auth: RequestAuth) -> Result<HttpResponse> {
    auth.require_superuser()?;
    Ok(HttpResponse::Ok().json(schema::input::scaffolds()))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct DryRunBody {
    query: String,
}

/// The fields a view query would give and a sample of its records (PocketBase's
/// `DryRunView`), or its 400 with the reason.
async fn dry_run_view(
    state: web::Data<AppState>,
    auth: RequestAuth,
    body: Sent,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let body: DryRunBody = body.bind_or("An error occurred while loading the submitted data.")?;
    let problem = if body.query.is_empty() {
        Some(crate::error::FieldError::required())
    } else if body.query.chars().count() > 5000 {
        Some(
            crate::error::FieldError::new(
                "validation_length_too_long",
                "The length must be no more than 5000.",
            )
            .with_params(serde_json::json!({"max": 5000, "min": 0})),
        )
    } else {
        None
    };
    if let Some(problem) = problem {
        let mut errors = crate::error::FieldErrors::new();
        errors.insert("query".into(), problem.into());
        return Err(Error::validation(errors));
    }
    let answer = blocking(move || {
        let snapshot = state.schema.snapshot();
        state.db.data.read(|conn| {
            Ok(crate::collections::view_fields::dry_run(
                conn,
                snapshot.all(),
                &body.query,
            ))
        })
    })
    .await?;
    match answer {
        Ok(result) => Ok(HttpResponse::Ok().json(result)),
        Err(reason) => {
            // PocketBase ends its messages with a full stop where they have none.
            let message = format!("Invalid view query. Raw error: \n{reason}");
            let message = message.trim();
            let stop = if message.ends_with(['.', '?', '!']) {
                ""
            } else {
                "."
            };
            Err(Error::bad_request(format!("{message}{stop}")))
        }
    }
}

#[derive(serde::Deserialize)]
struct ListQuery {
    #[serde(flatten)]
    page: PageQuery,
    #[serde(default)]
    filter: String,
    #[serde(default)]
    sort: String,
}

async fn list(
    state: web::Data<AppState>,
    auth: RequestAuth,
    query: crate::http::Query<ListQuery>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let paging = query.page.paging();
    let query = query.into_inner();
    let page = (paging.page, paging.per_page, paging.skip_total);
    let (found, total) = blocking(move || {
        crate::collections::list(
            &state.db.data,
            &state.schema,
            &query.filter,
            &query.sort,
            page,
        )
    })
    .await?;
    let items = found.iter().map(|c| c.to_json()).collect();
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

/// What PocketBase reads of a new collection's body first, to scaffold the collection the
/// rest of the body fills.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Kind {
    #[serde(rename = "type")]
    kind: String,
    name: String,
}

const UNREADABLE: &str = "Failed to load the submitted data due to invalid formatting.";

async fn create(state: web::Data<AppState>, auth: RequestAuth, body: Sent) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let kind: Kind =
        body.bind_or("Failed to load the collection type data due to invalid formatting.")?;
    let body = body.shaped(
        || schema::input::scaffold(&kind.kind, &kind.name),
        UNREADABLE,
    )?;
    let c = blocking(move || state.collections().create(body)).await?;
    Ok(HttpResponse::Ok().json(c.to_json()))
}

async fn update(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
    body: Sent,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let id = path.into_inner();
    let old = state
        .schema
        .snapshot()
        .find(&id)
        .ok_or_else(Error::not_found)?;
    let body = body.shaped(|| old.to_json(), UNREADABLE)?;
    let c = blocking(move || {
        let c = state.collections().update(&id, body)?;
        // A rename renames its rate-limit rules too: in force at once.
        if c.name != old.name {
            state.follow_settings(&state.db.data.read(crate::settings::load)?, false);
        }
        Ok(c)
    })
    .await?;
    Ok(HttpResponse::Ok().json(c.to_json()))
}

async fn delete(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let id = path.into_inner();
    blocking(move || state.collections().delete(&id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn truncate(
    state: web::Data<AppState>,
    auth: RequestAuth,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let id = path.into_inner();
    blocking(move || state.collections().truncate(&id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(serde::Deserialize)]
struct ImportBody {
    #[serde(default)]
    collections: Vec<Value>,
    #[serde(default, rename = "deleteMissing")]
    delete_missing: bool,
}

async fn import(state: web::Data<AppState>, auth: RequestAuth, body: Sent) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let body: ImportBody = body.bind()?;
    blocking(move || {
        state
            .collections()
            .import(body.collections, body.delete_missing)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
