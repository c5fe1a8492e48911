//! `/api/files`: serving record files (`thumb`, `download`, `token` query parameters) and
//! issuing the short-lived tokens protected files ask for, with PocketBase's statuses and
//! headers. Files stream from disk (ranges, ETag and Last-Modified by actix-files).

use std::path::PathBuf;

use actix_files::NamedFile;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, json};

use super::records::context;
use super::{RequestAuth, blocking};
use crate::auth::records as auth_records;
use crate::auth::superusers;
use crate::auth::token::KIND_FILE;
use crate::error::{Error, Result};
use crate::files::{mime, names, thumbs};
use crate::records::files::field_holding;
use crate::records::output::Viewer;
use crate::records::{self, Ctx};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/files/token", web::post().to(token)).route(
        "/files/{collection}/{record}/{filename}",
        web::route()
            .guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
            .to(download),
    );
}

/// A file token for the caller (any auth record, superusers included).
async fn token(state: web::Data<AppState>, auth: RequestAuth) -> Result<HttpResponse> {
    let token = blocking(move || match auth {
        RequestAuth::Guest => Err(Error::Unauthorized(
            "The request requires valid record authorization token.".into(),
        )),
        RequestAuth::Record(a) => auth_records::issue_token(&a.collection, &a.record, KIND_FILE),
        RequestAuth::Superuser(user) => {
            let c = state
                .schema
                .snapshot()
                .find(superusers::COLLECTION_ID)
                .ok_or_else(|| Error::internal("no _superusers collection"))?;
            let record = state
                .db
                .data
                .read(|conn| auth_records::find_by_id(conn, &c, &user.id))?
                .ok_or_else(|| Error::Unauthorized("Missing auth context.".into()))?;
            auth_records::issue_token(&c, &record, KIND_FILE)
        }
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "token": token })))
}

#[derive(Deserialize)]
struct DownloadQuery {
    #[serde(default)]
    thumb: String,
    #[serde(default)]
    download: String,
    #[serde(default)]
    token: String,
}

/// What to send: the file (or thumbnail), its name and its type.
struct Served {
    path: PathBuf,
    /// The name it is sent as (a thumbnail's is prefixed with its size).
    name: String,
    mime: String,
}

/// Go's `strconv.ParseBool` truths, which PocketBase reads `download` with.
fn truthy(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "true" | "TRUE" | "True")
}

async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
    query: super::Query<DownloadQuery>,
) -> Result<HttpResponse> {
    let (collection, record_id, filename) = path.into_inner();
    let query = query.into_inner();
    let c = state
        .schema
        .snapshot()
        .find(&collection)
        .ok_or_else(|| Error::NotFound("Missing or invalid collection context.".into()))?;
    if c.is_view() || !names::is_plain(&record_id) || !names::is_plain(&filename) {
        return Err(Error::not_found());
    }
    // Only protected files look at the token; it stands in for the Authorization header.
    let auth = if query.token.trim().is_empty() {
        RequestAuth::Guest
    } else {
        let state = state.clone();
        let raw = query.token.trim().to_owned();
        blocking(move || {
            let schema = state.schema.snapshot();
            state
                .db
                .data
                .read(|conn| RequestAuth::resolve(conn, &schema, &raw, KIND_FILE))
        })
        .await?
    };
    let ctx = context(&req, &state, &auth, Map::new());
    let thumb = query.thumb;
    let (served, file) = blocking(move || {
        let served = locate(&state, &c, &ctx, &record_id, &filename, &thumb)?;
        let file = NamedFile::open(&served.path).map_err(|_| Error::not_found())?;
        Ok((served, file))
    })
    .await?;
    let file = file
        .use_etag(true)
        .use_last_modified(true)
        .disable_content_disposition();
    let mut res = file.into_response(&req);
    let disposition = if !truthy(&query.download) && mime::is_inline(&served.mime) {
        "inline"
    } else {
        "attachment"
    };
    let content_type = mime::by_extension(&served.name).unwrap_or(&served.mime);
    let headers = res.headers_mut();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set(
        header::CONTENT_DISPOSITION,
        &format!("{disposition}; filename=\"{}\"", served.name),
    );
    set(header::CONTENT_TYPE, content_type);
    set(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox",
    );
    set(
        header::CACHE_CONTROL,
        "max-age=2592000, stale-while-revalidate=86400",
    );
    Ok(res)
}

/// Finds the file a request names, checks access, and makes the thumbnail it asks for
/// (falling back to the original when it cannot). Blocking.
fn locate(
    state: &AppState,
    c: &crate::schema::Collection,
    ctx: &Ctx,
    record_id: &str,
    filename: &str,
    thumb: &str,
) -> Result<Served> {
    let full = Viewer {
        superuser: true,
        record_id: None,
    };
    let (thumbs_offered, protected_ok) = state.db.data.read(|conn| {
        let record = records::view_as(conn, c, record_id, full)?;
        let (_, opts) = field_holding(c, &record, filename).ok_or_else(Error::not_found)?;
        // As in PocketBase, only protected files are subject to the view rule.
        let allowed =
            !opts.protected || records::satisfies(conn, c, &c.rules.view, ctx, record_id)?;
        Ok((opts.thumbs.clone(), allowed))
    })?;
    if !protected_ok {
        return Err(Error::not_found());
    }
    let original = state
        .files
        .file_path(&c.id, record_id, filename)
        .ok_or_else(Error::not_found)?;
    let mime = mime::of_file(&original).map_err(|_| Error::not_found())?;
    let original_served = || Served {
        path: original.clone(),
        name: filename.to_owned(),
        mime: mime.clone(),
    };
    let Some(size) = thumbs::parse(thumb).filter(|_| thumbs::is_offered(thumb, &thumbs_offered))
    else {
        return Ok(original_served());
    };
    if !mime::is_thumbable(&mime) {
        return Ok(original_served());
    }
    let name = format!("{thumb}_{filename}");
    let Some(path) = state
        .files
        .thumbs_dir(&c.id, record_id, filename)
        .map(|d| d.join(&name))
    else {
        return Ok(original_served());
    };
    if !path.exists()
        && let Err(e) = thumbs::create(&original, &path, size)
    {
        log::warn!("thumbnail {name} failed, serving the original: {e}");
        return Ok(original_served());
    }
    Ok(Served { path, name, mime })
}
