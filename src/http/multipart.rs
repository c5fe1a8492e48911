//! `multipart/form-data` record bodies, as the SDKs send them: plain values (a key sent
//! twice becomes a list), PocketBase's `@jsonPayload` part (a JSON object merged over
//! them), and files under a file field's name, or `name+` / `+name` to append or prepend.
//! Files stream to disk with their field's size limit enforced as bytes arrive; the whole
//! body is capped at the configured body limit plus what the collection's file fields may
//! hold, so the per-field `maxSize` governs.

use actix_multipart::Multipart;
use actix_web::http::header::{self, HeaderMap};
use actix_web::web;
use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::body::form::{JSON_PAYLOAD, infer};
use crate::error::{Error, Result};
use crate::files::{Staged, Staging, Storage};
use crate::records::files::{max_select, max_size};
use crate::schema::field::FileField;
use crate::schema::{Collection, Field, FieldKind};

pub fn is_multipart(headers: &HeaderMap) -> bool {
    super::Encoding::of(headers) == super::Encoding::Multipart
}

/// The largest multipart body `c` accepts: every file field full, plus the usual limit
/// for everything else.
pub fn body_cap(c: &Collection, body_limit: usize) -> u64 {
    c.fields
        .iter()
        .filter_map(|f| match &f.kind {
            FieldKind::File(o) => Some(max_size(o).saturating_mul(max_select(o))),
            _ => None,
        })
        .fold(body_limit as u64, u64::saturating_add)
}

/// PocketBase's answer to a body it cannot read as multipart (cut off, no boundary).
fn malformed() -> Error {
    Error::bad_request("Something went wrong while processing your request.")
}

/// The file field a form key uploads to, if any.
fn file_field<'a>(c: &'a Collection, key: &str) -> Option<(&'a Field, &'a FileField)> {
    let name = key
        .strip_suffix('+')
        .or_else(|| key.strip_prefix('+'))
        .unwrap_or(key);
    c.fields.iter().find_map(|f| match &f.kind {
        FieldKind::File(o) if f.name == name => Some((f, o)),
        _ => None,
    })
}

/// Reads the whole body: values into a JSON object, files into a `Staging` (the object
/// names them by their stored names, after any names the same key listed).
pub async fn read(
    headers: &HeaderMap,
    payload: web::Payload,
    c: &Collection,
    storage: &Storage,
    body_limit: usize,
) -> Result<(Map<String, Value>, Staging)> {
    let cap = body_cap(c, body_limit);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap) {
        return Err(Error::PayloadTooLarge);
    }
    let mut parts = Multipart::new(headers, payload);
    let mut staging = Staging::new(storage);
    let mut values: Vec<(String, String)> = Vec::new();
    let mut payloads: Vec<Map<String, Value>> = Vec::new();
    let mut total: u64 = 0;
    let mut value_bytes: usize = 0;
    let mut count = |n: usize| -> Result<()> {
        total = total.saturating_add(n as u64);
        if total > cap {
            Err(Error::PayloadTooLarge)
        } else {
            Ok(())
        }
    };

    while let Some(part) = parts.next().await {
        let mut part = part.map_err(|_| malformed())?;
        // A file input left empty arrives as a part with `filename=""`: a plain (empty)
        // value, as Go's form reader (and so PocketBase) takes it.
        let (key, filename) = match part.content_disposition() {
            Some(cd) => (
                cd.get_name().unwrap_or_default().to_owned(),
                cd.get_filename()
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned),
            ),
            None => (String::new(), None),
        };
        let Some(filename) = filename else {
            let mut text = Vec::new();
            while let Some(chunk) = part.next().await {
                let chunk = chunk.map_err(|_| malformed())?;
                count(chunk.len())?;
                value_bytes += chunk.len();
                if value_bytes > body_limit {
                    return Err(Error::PayloadTooLarge);
                }
                text.extend_from_slice(&chunk);
            }
            let text = String::from_utf8_lossy(&text).into_owned();
            if key == JSON_PAYLOAD {
                match serde_json::from_str(&text) {
                    Ok(Value::Object(map)) => payloads.push(map),
                    Ok(Value::Null) => {}
                    _ => return Err(malformed()),
                }
            } else if !key.is_empty() {
                values.push((key, text));
            }
            continue;
        };

        let target = file_field(c, &key);
        let keep = match target {
            Some((field, o)) if field.is_multiple() => {
                (staging.count(&field.name) as u64) < max_select(o)
            }
            Some((field, _)) => {
                staging.drop_earlier(&field.name);
                true
            }
            None => false,
        };
        let mut incoming = match target {
            Some((field, o)) if keep => {
                Some(staging.begin(&key, &field.name, &filename, max_size(o))?)
            }
            _ => None,
        };
        while let Some(chunk) = part.next().await {
            let chunk = chunk.map_err(|_| malformed())?;
            count(chunk.len())?;
            if let Some(f) = incoming.as_mut() {
                f.write(&chunk)?;
            }
        }
        match (incoming, target) {
            (Some(f), _) => {
                let staged = web::block(move || f.finish()).await??;
                staging.push(staged);
            }
            // One file more than the field holds: counted so validation says so.
            (None, Some((field, _))) => {
                staging.push(Staged::discarded(&key, &field.name, &filename))
            }
            // Files under keys that are no file field are ignored, as PocketBase does.
            (None, None) => {}
        }
    }

    let mut body = Map::new();
    for (key, text) in values {
        let value = infer(&text);
        match body.get_mut(&key) {
            Some(Value::Array(items)) => items.push(value),
            Some(single) => {
                let first = single.take();
                *single = Value::Array(vec![first, value]);
            }
            None => {
                body.insert(key, value);
            }
        }
    }
    for payload in payloads {
        body.extend(payload);
    }
    name_uploads(&mut body, staging.files());
    Ok((body, staging))
}

/// Hands a record body the files sent for it before its collection was known (a batch's
/// `requests.N.key` parts, each `Staged::key` already cut to `key`), checked as `read`
/// checks them while they stream: files for no file field go, a single field keeps the
/// last, a multiple field counts the excess, and each field's size limit applies. As in
/// PocketBase's batch, files replace whatever the body held under their key.
pub fn assign(
    uploads: Vec<Staged>,
    c: &Collection,
    storage: &Storage,
    body: &mut Map<String, Value>,
) -> Staging {
    let mut staging = Staging::new(storage);
    for mut upload in uploads {
        body.remove(&upload.key);
        let Some((field, o)) = file_field(c, &upload.key) else {
            continue;
        };
        if field.is_multiple() {
            if staging.count(&field.name) as u64 >= max_select(o) {
                upload.discard();
            }
        } else {
            staging.drop_earlier(&field.name);
        }
        upload.cap(max_size(o));
        upload.field = field.name.clone();
        staging.push(upload);
    }
    name_uploads(body, staging.files());
    staging
}

/// Puts each upload's stored name under its form key. A plain key keeps the names the body
/// already gave it (files the record keeps) ahead of the new ones.
fn name_uploads(body: &mut Map<String, Value>, uploads: &[Staged]) {
    let mut keys: Vec<&str> = Vec::new();
    for u in uploads {
        if !keys.contains(&u.key.as_str()) {
            keys.push(&u.key);
        }
    }
    for key in keys {
        let plain = !key.starts_with('+') && !key.ends_with('+') && !key.ends_with('-');
        let mut list: Vec<Value> = match body.get(key) {
            Some(v) if plain => crate::records::files::names(v)
                .into_iter()
                .map(Value::String)
                .collect(),
            _ => Vec::new(),
        };
        list.extend(
            uploads
                .iter()
                .filter(|u| u.key == key)
                .map(|u| Value::String(u.name.clone())),
        );
        body.insert(key.to_owned(), Value::Array(list));
    }
}
