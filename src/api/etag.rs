//! Conditional requests on records (which PocketBase lacks): every record and list answer
//! carries a strong `ETag` (a hash of the exact JSON sent); `If-None-Match` with a current
//! tag answers 304 without a body, and `If-Match` on PATCH/DELETE answers 412 when the
//! record changed since the client read it (optimistic concurrency).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The strong tag of a JSON body: the first 128 bits of its SHA-256, quoted.
pub fn of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// The tag a GET of this record (no `expand`, no `fields`) would carry.
pub fn of_value(value: &Value) -> String {
    of(&serde_json::to_vec(value).unwrap_or_default())
}

/// The entity tags listed in a conditional header; `*` matches anything.
fn listed(req: &HttpRequest, name: header::HeaderName) -> Option<Vec<String>> {
    let values: Vec<String> = req
        .headers()
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    (!values.is_empty()).then_some(values)
}

/// A 200 JSON answer with its ETag, or a bare 304 when the client's copy is current.
pub fn json(req: &HttpRequest, value: &Value) -> HttpResponse {
    answer(req, value, true)
}

/// A 200 JSON answer with its ETag (for writes: what a later If-Match should send).
pub fn tagged(req: &HttpRequest, value: &Value) -> HttpResponse {
    answer(req, value, false)
}

fn answer(req: &HttpRequest, value: &Value, conditional: bool) -> HttpResponse {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let tag = of(&body);
    // If-None-Match compares weakly: `W/"x"` matches `"x"`.
    let fresh = conditional
        && listed(req, header::IF_NONE_MATCH).is_some_and(|tags| {
            tags.iter()
                .any(|t| t == "*" || t.trim_start_matches("W/") == tag)
        });
    let etag = HeaderValue::from_str(&tag).ok();
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    if let Some(etag) = etag {
        res.insert_header((header::ETAG, etag));
    }
    if fresh {
        res.finish()
    } else {
        res.content_type("application/json").body(body)
    }
}

/// The `If-Match` tags of a PATCH or DELETE, if it sent any.
pub fn if_match(req: &HttpRequest) -> Option<Vec<String>> {
    listed(req, header::IF_MATCH)
}

/// 412 unless `current` (the record as its GET would show it) matches one of `tags`.
/// If-Match compares strongly: weak tags never match.
pub fn check(tags: &[String], current: &Value) -> Result<()> {
    let tag = of_value(current);
    if tags.iter().any(|t| t == "*" || *t == tag) {
        Ok(())
    } else {
        Err(Error::PreconditionFailed(
            "The record was changed since it was read (If-Match does not match its ETag).".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tags_are_strong_quoted_and_follow_the_bytes() {
        let a = of_value(&json!({"id": "a", "n": 1}));
        assert!(a.starts_with('"') && a.ends_with('"') && a.len() == 34);
        assert_eq!(a, of_value(&json!({"id": "a", "n": 1})));
        assert_ne!(a, of_value(&json!({"id": "a", "n": 2})));
        assert!(check(std::slice::from_ref(&a), &json!({"id": "a", "n": 1})).is_ok());
        assert!(check(&[format!("W/{a}")], &json!({"id": "a", "n": 1})).is_err());
        assert!(check(&["*".into()], &json!({})).is_ok());
        assert!(check(&["\"nope\"".into()], &json!({})).is_err());
    }
}
