//! `/api/backups`: PocketBase's backup routes, for superusers. The work itself is in
//! `crate::backups`; these handlers check who asks, parse input and shape the answers.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use serde::Deserialize;

use super::RequestAuth;
use crate::auth::token::KIND_FILE;
use crate::backups;
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::http::{Sent, blocking};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/backups", web::get().to(list))
        .route("/backups", web::post().to(create))
        .route("/backups/upload", web::post().to(upload))
        .route("/backups/{key}", web::get().to(download))
        .route("/backups/{key}", web::delete().to(delete))
        .route("/backups/{key}/restore", web::post().to(restore));
}

async fn list(state: web::Data<AppState>, auth: RequestAuth) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let items = blocking(move || backups::list(state.db.dir())).await?;
    Ok(HttpResponse::Ok().json(items))
}

#[derive(Deserialize)]
struct CreateBody {
    #[serde(default)]
    name: String,
}

async fn create(state: web::Data<AppState>, auth: RequestAuth, body: Sent) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let body: CreateBody = body.bind_or("An error occurred while loading the submitted data.")?;
    let name = body.name;
    blocking(move || {
        backups::create(&state.db, Some(&name), &|step| {
            log::debug!("backup: {step}");
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/backups/upload`: the multipart field `file`, a zip stored under its own file
/// name (which must be a valid key and not taken). Streamed to disk beside the archives and
/// renamed into place once whole; no body limit, as PocketBase.
async fn upload(
    state: web::Data<AppState>,
    auth: RequestAuth,
    mut form: actix_multipart::Multipart,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let invalid_file = |code: &str, message: &str| {
        Error::validation(FieldErrors::from([(
            "file".to_owned(),
            FieldError::new(code, message).into(),
        )]))
    };
    let dir = state.db.dir().to_owned();
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|_| Error::invalid_body())?;
        if field.name() != Some("file") {
            continue;
        }
        let name = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .unwrap_or_default()
            .to_owned();
        if !backups::valid_key(&name) {
            return Err(invalid_file(
                "validation_invalid_name",
                "The file name must end in .zip and hold only letters, digits, _, -, . and @.",
            ));
        }
        if backups::find(&dir, &name).is_some() {
            return Err(invalid_file(
                "validation_backup_name_exists",
                "Backup file with the specified name already exists.",
            ));
        }
        let mut upload = blocking({
            let dir = dir.clone();
            move || backups::Upload::start(&dir)
        })
        .await?;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| Error::invalid_body())?;
            upload = blocking(move || upload.write(&chunk).map(|()| upload)).await?;
        }
        blocking(move || upload.finish(&name))
            .await
            .map_err(|e| match e {
                Error::BadRequest { message, .. } => {
                    invalid_file("validation_invalid_mime_type", &message)
                }
                other => other,
            })?;
        return Ok(HttpResponse::NoContent().finish());
    }
    Err(invalid_file("validation_required", "Cannot be blank."))
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// Downloads are links, as in PocketBase: `?token=` holds a superuser's file token
/// (`POST /api/files/token`). A superuser `Authorization` header works too.
async fn download(
    state: web::Data<AppState>,
    auth: RequestAuth,
    key: web::Path<String>,
    q: crate::http::Query<TokenQuery>,
) -> Result<HttpResponse> {
    let token = q.into_inner().token.trim().to_owned();
    let shared = state.clone();
    let allowed = auth.is_superuser()
        || (!token.is_empty()
            && blocking(move || {
                let schema = shared.schema.snapshot();
                shared
                    .db
                    .data
                    .read(|c| RequestAuth::resolve(c, &schema, &token, KIND_FILE))
            })
            .await?
            .is_superuser());
    if !allowed {
        return Err(Error::Forbidden(
            "Insufficient permissions to access the resource.".into(),
        ));
    }
    let key = key.into_inner();
    let path = backups::find(state.db.dir(), &key).ok_or_else(Error::not_found)?;
    let file = std::fs::File::open(&path).map_err(|_| Error::not_found())?;
    let size = file.metadata()?.len();
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{key}\""),
        ))
        .no_chunking(size)
        .streaming(crate::http::chunks(file)))
}

async fn delete(
    state: web::Data<AppState>,
    auth: RequestAuth,
    key: web::Path<String>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let key = key.into_inner();
    blocking(move || backups::delete(state.db.dir(), &key)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Unlike PocketBase, which answers first and restarts itself, hearth restores while the
/// request waits: 204 means the server now serves the backup's data; a bad archive is a 400
/// and nothing changed; a restore that could not start on the data is a 400 saying why,
/// the previous data back in place.
async fn restore(
    state: web::Data<AppState>,
    auth: RequestAuth,
    key: web::Path<String>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let key = key.into_inner();
    blocking(move || {
        backups::restore(
            &state.db,
            &key,
            &|step| log::info!("restore {key}: {step}"),
            &|| state.follow_restore(),
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
