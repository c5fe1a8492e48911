//! The request-body extractor: JSON or `application/x-www-form-urlencoded`, as PocketBase
//! accepts both, bounded by the configured body limit while streaming (an oversized body is
//! refused before it is buffered whole).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::state::AppState;

pub struct Body<T>(pub T);

const FALLBACK_LIMIT: usize = 32 * 1024 * 1024;

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(FALLBACK_LIMIT, |s| s.config.body_limit);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit) {
                return Err(Error::PayloadTooLarge);
            }
            let mut buf = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| Error::invalid_body())?;
                if buf.len() + chunk.len() > limit {
                    return Err(Error::PayloadTooLarge);
                }
                buf.extend_from_slice(&chunk);
            }
            parse(&buf, is_form).map(Body)
        })
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8], is_form: bool) -> Result<T> {
    if is_form {
        return serde_urlencoded::from_bytes(bytes).map_err(|_| Error::invalid_body());
    }
    // An empty body means "no fields", which validation then reports field by field.
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|_| Error::invalid_body())
}
