//! `onRecordAuthRequest`: a successful sign-in (password, OTP) or refresh answers through
//! the hooks bound to the auth collection. A hook sees `e.record`, `e.token`, `e.meta` and
//! `e.authMethod`, may change them or refuse (throw), and its `e.next()` sends the answer,
//! as PocketBase's `RecordAuthResponse`.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use super::hooks::{failed, header_pairs, request_json, written};
use super::request_auth::RequestAuth;
use crate::error::Result;
use crate::schema::Collection;
use crate::state::AppState;

/// The answer of a sign-in whose `body` is `{record, token}`, by `method`.
pub async fn answered(
    req: &HttpRequest,
    state: &AppState,
    auth: &RequestAuth,
    c: &Collection,
    body: Value,
    method: &str,
) -> Result<HttpResponse> {
    let loaded = state.hooks.current();
    let ids = loaded.registry.bound(&["onRecordAuthRequest"], c);
    let Some(pool) = loaded.pool.as_ref().filter(|_| !ids.is_empty()) else {
        return Ok(HttpResponse::Ok().json(body));
    };
    let request = request_json(req, auth, HashMap::new(), Ok(json!({})))?.to_string();
    let input = json!({
        "ids": ids,
        "collection": crate::hooks::described(c),
        "record": body["record"],
        "token": body["token"],
        "authMethod": method,
    })
    .to_string();
    let ran = pool
        .run(move |executor| executor.call("__authHook", &ids, &[&request, &input]))
        .await?;
    let outcome: Value = match ran {
        Ok(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
        Err(failure) => return Ok(failed(req, failure)),
    };
    if let Some(answer) = written(req, &outcome) {
        return Ok(answer);
    }
    let sent = &outcome["sent"];
    if sent.is_null() {
        return Ok(HttpResponse::Ok().finish());
    }
    let mut answer = serde_json::Map::new();
    if !sent["meta"].is_null() {
        answer.insert("meta".into(), sent["meta"].clone());
    }
    answer.insert("record".into(), sent["record"].clone());
    answer.insert("token".into(), sent["token"].clone());
    let mut res = HttpResponse::Ok();
    for pair in header_pairs(&outcome["headers"]) {
        res.append_header(pair);
    }
    Ok(res.json(Value::Object(answer)))
}
