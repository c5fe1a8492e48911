//! Embedded CSS, images and scripts under `/_/static/`. URLs carry a content hash (`?v=`)
//! so browsers may cache them for a year and still never see a stale file.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Static;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/{path:.*}", web::get().to(serve))
        .route("/static/{path:.*}", web::head().to(serve));
}

fn version(path: &str) -> Option<String> {
    let file = Static::get(path)?;
    let hash = file.metadata.sha256_hash();
    Some(hash[..6].iter().map(|b| format!("{b:02x}")).collect())
}

/// The cache-busting URL of an embedded file.
pub fn url(path: &str) -> String {
    match version(path) {
        Some(v) => format!("/_/static/{path}?v={v}"),
        None => format!("/_/static/{path}"),
    }
}

async fn serve(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let Some(file) = Static::get(&path) else {
        return crate::http::not_found(req).await;
    };
    let etag = format!("\"{}\"", version(&path).unwrap_or_default());
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish();
    }
    let versioned = req.query_string().starts_with("v=");
    let cache = if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mime = mime_guess::from_path(path.as_str()).first_or_octet_stream();
    HttpResponse::Ok()
        .content_type(mime.as_ref())
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, etag))
        .body(file.data.into_owned())
}
