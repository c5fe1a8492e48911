//! `/api/files`: serving record files (`thumb`, `download`, `token` query parameters) and
//! issuing the short-lived tokens protected files ask for, with PocketBase's statuses and
//! headers. Files stream from disk (ranges, ETag and Last-Modified by actix-files).

use std::path::PathBuf;

use actix_files::NamedFile;
use actix_web::body::{BodySize, BoxBody, MessageBody, SizedStream};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, json};

use super::RequestAuth;
use super::records::context;
use crate::auth::records as auth_records;
use crate::auth::superusers;
use crate::auth::token::KIND_FILE;
use crate::error::{Error, Result};
use crate::files::store::Location;
use crate::files::{mime, names, remote, thumbs};
use crate::http::blocking;
use crate::http::read_ahead::{self, FileFrom};
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
    source: Source,
    /// The name it is sent as (a thumbnail's is prefixed with its size).
    name: String,
    /// None for a file in a bucket sent whole: the bucket's `Content-Type` says it.
    mime: Option<String>,
}

enum Source {
    Local(PathBuf, Box<NamedFile>),
    Remote(remote::Found),
}

/// Go's `strconv.ParseBool` truths, which PocketBase reads `download` with.
fn truthy(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "true" | "TRUE" | "True")
}

async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
    query: crate::http::Query<DownloadQuery>,
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
    let served = blocking(move || locate(&state, &c, &ctx, &record_id, &filename, &thumb)).await?;
    let (mut res, mime) = match served.source {
        Source::Local(path, file) => (
            local_response(&req, *file, path),
            served.mime.unwrap_or_default(),
        ),
        Source::Remote(found) => {
            let (res, sent_type) = super::files_bucket::respond(&req, found).await?;
            (res, served.mime.unwrap_or(sent_type))
        }
    };
    let disposition = if !truthy(&query.download) && mime::is_inline(&mime) {
        "inline"
    } else {
        "attachment"
    };
    let content_type = mime::by_extension(&served.name).unwrap_or(&mime);
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

/// A file on disk, answered by actix-files (ranges, conditional requests).
fn local_response(req: &HttpRequest, file: NamedFile, path: PathBuf) -> HttpResponse {
    let file = file
        .use_etag(true)
        .use_last_modified(true)
        .disable_content_disposition();
    let res = file.into_response(req);
    // actix-files reads 64 KiB per trip to the blocking pool and waits for each; larger
    // reads, one always ahead of the socket (same bounded memory per download), serve
    // several times faster. Range and conditional handling stay actix-files' own: only
    // the body of a 200 or 206 is replaced.
    if req.method() == actix_web::http::Method::GET
        && let Some((offset, len)) = body_span(&res)
    {
        return res.set_body(BoxBody::new(SizedStream::new(
            len,
            read_ahead::stream(FileFrom::new(path, offset), len, CHUNK),
        )));
    }
    res
}

/// How many bytes a download reads per trip to the blocking pool (it holds two at once).
const CHUNK: usize = 512 * 1024;

/// The byte span a 200 or 206 answer from actix-files sends: (offset, length).
fn body_span(res: &HttpResponse) -> Option<(u64, u64)> {
    let header = |name| res.headers().get(name).and_then(|v| v.to_str().ok());
    let BodySize::Sized(len) = res.body().size() else {
        return None;
    };
    match res.status() {
        StatusCode::OK => Some((0, len)),
        StatusCode::PARTIAL_CONTENT => {
            // `bytes 2-5/10`
            let range = header(header::CONTENT_RANGE)?.strip_prefix("bytes ")?;
            let start = range.split('-').next()?.parse::<u64>().ok()?;
            Some((start, len))
        }
        _ => None,
    }
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
    let asked = thumbs::parse(thumb).filter(|_| thumbs::is_offered(thumb, &thumbs_offered));
    match state.files.locate(&c.id, record_id, filename) {
        None => Err(Error::not_found()),
        Some(Location::Local(path)) => {
            locate_local(state, c, record_id, filename, path, thumb, asked)
        }
        Some(Location::Remote(bucket, key)) => {
            let names = (c.id.as_str(), record_id, filename);
            locate_remote(&state.files, &bucket, &key, names, thumb, asked)
        }
    }
}

/// What PocketBase writes a thumbnail of a `mime` original as (see `thumbs::format_of`):
/// WebP becomes PNG.
fn thumb_mime(mime: String) -> String {
    if matches!(
        mime::essence(&mime),
        "image/jpeg" | "image/jpg" | "image/gif"
    ) {
        mime
    } else {
        "image/png".to_owned()
    }
}

/// A file in `storage/`, or the thumbnail `asked` of it (made when missing).
fn locate_local(
    state: &AppState,
    c: &crate::schema::Collection,
    record_id: &str,
    filename: &str,
    original: PathBuf,
    thumb: &str,
    asked: Option<thumbs::Size>,
) -> Result<Served> {
    let mime = mime::of_file(&original).map_err(|_| Error::not_found())?;
    let served = |path: PathBuf, name: String, mime: String| -> Result<Served> {
        let file = NamedFile::open(&path).map_err(|_| Error::not_found())?;
        Ok(Served {
            source: Source::Local(path, Box::new(file)),
            name,
            mime: Some(mime),
        })
    };
    let Some(size) = asked.filter(|_| mime::is_thumbable(&mime)) else {
        return served(original, filename.to_owned(), mime);
    };
    let name = format!("{thumb}_{filename}");
    let Some(path) = state
        .files
        .thumbs_dir(&c.id, record_id, filename)
        .map(|d| d.join(&name))
    else {
        return served(original, filename.to_owned(), mime);
    };
    if !path.exists()
        && let Err(e) = thumbs::create(&original, &path, size)
    {
        log::warn!("thumbnail {name} failed, serving the original: {e}");
        return served(original, filename.to_owned(), mime);
    }
    served(path, name, thumb_mime(mime))
}

/// A file in the bucket, or the thumbnail `asked` of it (made when missing). Sent whole,
/// the original is not looked up first: the download itself says whether it is there.
fn locate_remote(
    storage: &crate::files::Storage,
    bucket: &std::sync::Arc<crate::files::bucket::Bucket>,
    key: &str,
    names: (&str, &str, &str),
    thumb: &str,
    asked: Option<thumbs::Size>,
) -> Result<Served> {
    let filename = names.2;
    let whole = |found| Served {
        source: Source::Remote(found),
        name: filename.to_owned(),
        mime: None,
    };
    let unlooked = || remote::Found {
        bucket: bucket.clone(),
        key: key.to_owned(),
        meta: None,
    };
    let Some(size) = asked else {
        return Ok(whole(unlooked()));
    };
    let original = remote::find(bucket, key)?.ok_or_else(Error::not_found)?;
    let mime = original
        .meta
        .as_ref()
        .and_then(|m| m.content_type.clone())
        .unwrap_or_default();
    if !mime::is_thumbable(&mime) {
        return Ok(whole(original));
    }
    let name = format!("{thumb}_{filename}");
    match remote::thumb(storage, &original, names, thumb, size) {
        Ok(found) => Ok(Served {
            source: Source::Remote(found),
            name,
            mime: Some(thumb_mime(mime)),
        }),
        Err(e) => {
            log::warn!("thumbnail {name} failed, serving the original: {e}");
            Ok(whole(original))
        }
    }
}
