//! `/api/backups`: PocketBase's backup routes, for superusers. The work itself is in
//! `crate::backups`; these handlers check who asks, parse input and shape the answers,
//! wherever the archives are kept (`backups::Place`). A bucket that fails is answered as
//! PocketBase answers it: 400 with what was being done.

use actix_web::body::SizedStream;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::Deserialize;

use super::RequestAuth;
use crate::auth::token::KIND_FILE;
use crate::backups::{self, Place};
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::http::{Sent, blocking, read_ahead};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/backups", web::get().to(list))
        .route("/backups", web::post().to(create))
        .route("/backups/upload", web::post().to(upload))
        .route("/backups/{key}", web::get().to(download))
        .route("/backups/{key}", web::delete().to(delete))
        .route("/backups/{key}/restore", web::post().to(restore));
}

/// A bucket's failure (an internal error) as PocketBase answers it: 400 `message`, with
/// the raw error when PocketBase shows it.
fn failed(message: &'static str, raw: bool) -> impl Fn(Error) -> Error {
    move |e| match e {
        Error::Internal(cause) => {
            log::warn!("backups: {message} ({cause})");
            if raw {
                Error::bad_request(format!("{message} Raw error: \n{cause}"))
            } else {
                Error::bad_request(message)
            }
        }
        other => other,
    }
}

async fn place(state: &web::Data<AppState>) -> Result<Place> {
    let state = state.clone();
    blocking(move || Place::of(&state.db)).await
}

async fn list(state: web::Data<AppState>, auth: RequestAuth) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let place = place(&state).await?;
    let items = blocking(move || place.list())
        .await
        .map_err(failed("Failed to retrieve backup items.", true))?;
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
    .await
    .map_err(failed("Failed to create backup.", false))?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/backups/upload`: the multipart field `file`, a zip stored under its own file
/// name (which must be a valid key and not taken). Streamed to disk beside the archives,
/// then renamed into place or uploaded to the bucket (streamed from the file) once whole;
/// no body limit, as PocketBase.
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
    let place = std::sync::Arc::new(place(&state).await?);
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
        let taken = blocking({
            let (place, name) = (place.clone(), name.clone());
            move || place.exists(&name)
        })
        .await
        .map_err(failed("Failed to upload backup.", false))?;
        if taken {
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
        blocking(move || upload.finish(&place, &name))
            .await
            .map_err(|e| match e {
                Error::BadRequest { message, .. } => {
                    invalid_file("validation_invalid_mime_type", &message)
                }
                other => failed("Failed to upload backup.", false)(other),
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
/// (`POST /api/files/token`). A superuser `Authorization` header works too. An archive in a
/// bucket streams from it, the client's `Range` answered by the bucket.
async fn download(
    req: HttpRequest,
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
    match archive(&req, &state, key.into_inner()).await? {
        Archive::Sent(res) => Ok(res),
        Archive::Missing { in_bucket: false } => Err(Error::not_found()),
        // PocketBase's S3 reader fails with an error of its own, not a "not exist" one,
        // which its router answers with the generic 400.
        Archive::Missing { in_bucket: true } => Err(Error::bad_request(
            "Something went wrong while processing your request.",
        )),
    }
}

/// What a download of an archive found.
pub(crate) enum Archive {
    Sent(HttpResponse),
    Missing { in_bucket: bool },
}

/// How many bytes an archive download reads at a time (it holds two at once).
const ARCHIVE_CHUNK: usize = 512 * 1024;

/// The archive `key` as an attachment, streamed from its file or from the bucket (which
/// answers the client's `Range`). The admin UI's download too.
pub(crate) async fn archive(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    key: String,
) -> Result<Archive> {
    let place = place(state).await?;
    let in_bucket = matches!(place, Place::Bucket(_));
    if !backups::valid_key(&key) {
        return Ok(Archive::Missing { in_bucket });
    }
    let disposition = format!("attachment; filename=\"{key}\"");
    let bucket = match place {
        Place::Bucket(bucket) => bucket,
        Place::Folder(_) => {
            let Some(file) =
                backups::find(state.db.dir(), &key).and_then(|path| std::fs::File::open(path).ok())
            else {
                return Ok(Archive::Missing { in_bucket });
            };
            let size = file.metadata()?.len();
            return Ok(Archive::Sent(
                HttpResponse::Ok()
                    .content_type(backups::place::ZIP)
                    .insert_header((header::CONTENT_DISPOSITION, disposition))
                    .body(SizedStream::new(
                        size,
                        read_ahead::stream(file, size, ARCHIVE_CHUNK),
                    )),
            ));
        }
    };
    let found = crate::files::remote::Found {
        bucket,
        key,
        meta: None,
    };
    let mut res = match super::files_bucket::respond(req, found).await {
        Ok((res, _)) => res,
        Err(Error::NotFound(_)) => return Ok(Archive::Missing { in_bucket }),
        Err(e) => return Err(e),
    };
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(backups::place::ZIP),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(Archive::Sent(res))
}

async fn delete(
    state: web::Data<AppState>,
    auth: RequestAuth,
    key: web::Path<String>,
) -> Result<HttpResponse> {
    auth.require_superuser()?;
    let key = key.into_inner();
    let place = place(&state).await?;
    blocking(move || backups::delete(&place, &key))
        .await
        .map_err(|e| match e {
            Error::Internal(cause) => Error::bad_request(format!(
                "Invalid or already deleted backup file. Raw error: \n{cause}"
            )),
            other => other,
        })?;
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
