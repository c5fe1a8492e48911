//! Downloads of files kept in an S3 bucket, answered as downloads from disk are: the
//! client's `Range`, `If-Range`, `If-None-Match` and `If-Modified-Since` go to the bucket,
//! which answers them (206, 304, 416 as any HTTP server); its `ETag`, `Last-Modified` and
//! `Content-Range` come back; the body streams through in reads of `CHUNK`, one ahead of
//! the socket, so a download never holds the file in memory.

use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

use crate::error::{Error, Result};
use crate::files::remote::Found;
use crate::http::{blocking, read_ahead};

/// How many bytes one read takes from the bucket (a download holds two at once).
const CHUNK: usize = 512 * 1024;

/// The client's headers the bucket answers.
const PASSED_ON: [header::HeaderName; 4] = [
    header::RANGE,
    header::IF_RANGE,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
];

/// The bucket's headers that describe what is sent.
const PASSED_BACK: [&str; 3] = ["etag", "last-modified", "content-range"];

/// The answer to a GET or HEAD of `found`, and the type the bucket stored it with.
pub async fn respond(req: &HttpRequest, found: Found) -> Result<(HttpResponse, String)> {
    let asked: Vec<(String, String)> = PASSED_ON
        .iter()
        .filter_map(|name| {
            let value = req.headers().get(name)?.to_str().ok()?;
            Some((name.as_str().to_owned(), value.to_owned()))
        })
        .collect();
    if req.method() == actix_web::http::Method::HEAD {
        return head(found).await;
    }
    let object = blocking(move || {
        let headers: Vec<(&str, &str)> = asked
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        found.bucket.get(&found.key, &headers)
    })
    .await?
    .ok_or_else(Error::not_found)?;
    let status = StatusCode::from_u16(object.status).map_err(|_| Error::not_found())?;
    let content_type = object
        .header("content-type")
        .unwrap_or("application/octet-stream")
        .to_owned();
    let mut res = HttpResponse::build(status);
    res.insert_header((header::ACCEPT_RANGES, "bytes"));
    for name in PASSED_BACK {
        if let Some(value) = object
            .header(name)
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            res.insert_header((name, value));
        }
    }
    let length: u64 = object
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let res = if matches!(object.status, 200 | 206) {
        res.body(SizedStream::new(
            length,
            read_ahead::stream(object.body, length, CHUNK),
        ))
    } else {
        res.finish()
    };
    Ok((res, content_type))
}

/// A HEAD: what the bucket says of the object, no body.
async fn head(found: Found) -> Result<(HttpResponse, String)> {
    let meta = blocking(move || found.bucket.head(&found.key))
        .await?
        .ok_or_else(Error::not_found)?;
    let mut res = HttpResponse::Ok();
    res.insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CONTENT_LENGTH, meta.size));
    if let Ok(v) = HeaderValue::from_str(&meta.etag) {
        res.insert_header((header::ETAG, v));
    }
    if let Some(v) = meta.modified.and_then(|m| HeaderValue::from_str(&m).ok()) {
        res.insert_header((header::LAST_MODIFIED, v));
    }
    let content_type = meta
        .content_type
        .unwrap_or_else(|| "application/octet-stream".into());
    Ok((res.finish(), content_type))
}
