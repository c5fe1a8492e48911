//! The sign-in hooks. `onRecordAuthRequest`: a successful sign-in (password, OTP) or
//! refresh answers through the hooks bound to the auth collection; a hook sees `e.record`,
//! `e.token`, `e.meta` and `e.authMethod`, may change them or refuse (throw), and its
//! `e.next()` sends the answer, as PocketBase's `RecordAuthResponse`.
//! `onRecordAuthWithPasswordRequest`: a password sign-in runs inside the hooks bound to the
//! collection, which see `e.identity`, `e.password` and the record found (`e.record`, null
//! when none), may change them or answer by themselves; `e.next()` checks the password and
//! signs in, through `onRecordAuthRequest`.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde_json::{Map, Value, json};

use super::hooks::{failed, header_pairs, request_json, written};
use super::request_auth::RequestAuth;
use crate::auth::signin;
use crate::auth::token::KIND_AUTH;
use crate::error::{Error, Result};
use crate::hooks::Loaded;
use crate::schema::Collection;
use crate::state::AppState;

/// What the `onRecordAuthRequest` hooks get besides the request.
fn auth_input(c: &Collection, body: &Value, method: &str) -> Map<String, Value> {
    let input = json!({
        "collection": crate::hooks::described(c),
        "record": body["record"],
        "token": body["token"],
        "authMethod": method,
    });
    match input {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

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
    let mut input = auth_input(c, &body, method);
    input.insert("ids".into(), json!(ids));
    let input = Value::Object(input).to_string();
    let ran = pool
        .run(move |executor| executor.call("__authHook", &ids, &[&request, &input]))
        .await?;
    let outcome: Value = match ran {
        Ok(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
        Err(failure) => return Ok(failed(req, failure)),
    };
    Ok(sent(req, &outcome))
}

/// The answer an `onRecordAuthRequest` chain left: what a hook wrote, else what its
/// `e.next()` sent.
fn sent(req: &HttpRequest, outcome: &Value) -> HttpResponse {
    if let Some(answer) = written(req, outcome) {
        return answer;
    }
    let sent = &outcome["sent"];
    if sent.is_null() {
        return HttpResponse::Ok().finish();
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
    res.json(Value::Object(answer))
}

/// The loaded hooks and the `onRecordAuthWithPasswordRequest` handlers bound to `c`; None
/// when none.
pub fn password_wanted(state: &AppState, c: &Collection) -> Option<(Arc<Loaded>, Vec<usize>)> {
    let loaded = state.hooks.current();
    loaded.pool.as_ref()?;
    let ids = loaded
        .registry
        .bound(&["onRecordAuthWithPasswordRequest"], c);
    (!ids.is_empty()).then_some((loaded, ids))
}

/// A password sign-in inside the `onRecordAuthWithPasswordRequest` hooks `ids`, on a hooks
/// executor (the password check in `e.next()` runs there). `response` builds the answer
/// `{record, token}` of a signed-in record.
pub async fn with_password(
    req: &HttpRequest,
    state: &Arc<AppState>,
    (loaded, ids): (Arc<Loaded>, Vec<usize>),
    c: Arc<Collection>,
    (identity, password): (String, String),
    response: fn(&rusqlite::Connection, &Collection, &str, String) -> Result<Value>,
) -> Result<HttpResponse> {
    let Some(pool) = loaded.pool.as_ref() else {
        return Err(Error::internal("the hooks executors are gone"));
    };
    let body = json!({"identity": identity, "password": password});
    let request = request_json(req, &RequestAuth::Guest, HashMap::new(), Ok(body))?.to_string();
    let auth_ids = loaded.registry.bound(&["onRecordAuthRequest"], &c);
    let shared = state.clone();
    let ran = pool
        .run(move |executor| {
            executor.enter(move |hooks| {
                let store = &shared.db.data;
                // The body is checked before the hooks, as PocketBase binds and validates it.
                let found = store.read(|conn| signin::lookup(conn, &c, &identity, &password))?;
                let mut input = Map::new();
                input.insert("collection".into(), crate::hooks::described(&c));
                input.insert("record".into(), found.map_or(Value::Null, Value::Object));
                input.insert("identity".into(), json!(identity));
                input.insert("identityField".into(), json!(""));
                input.insert("password".into(), json!(password));
                let mut next = |given: Map<String, Value>| -> Result<Map<String, Value>> {
                    // The record as stored, however a hook found it: its hash decides.
                    let id = given["record"]["id"].as_str().unwrap_or_default();
                    let record = match id {
                        "" => None,
                        id => store.read(|conn| crate::auth::records::find_by_id(conn, &c, id))?,
                    };
                    let password = given
                        .get("password")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let schema = shared.schema.snapshot();
                    let record = signin::admit(store, schema, &c, record, password)?;
                    let id = record
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let token = crate::auth::records::issue_token(&c, &record, KIND_AUTH)?;
                    let body = store.read(|conn| response(conn, &c, &id, token))?;
                    let outcome = if auth_ids.is_empty() {
                        json!({ "sent": body })
                    } else {
                        let input = auth_input(&c, &body, "password");
                        hooks
                            .chain("__authHook", &auth_ids, &request, input, true, &mut |_| {
                                Err(Error::bad_request("There is no e.next() here."))
                            })
                            .map_err(|f| {
                                crate::hooks::records_failure(f, "Failed to authenticate.")
                            })?
                    };
                    Ok(Map::from_iter([("outcome".to_owned(), outcome)]))
                };
                Ok(hooks.chain("__passwordHook", &ids, &request, input, false, &mut next))
            })
        })
        .await?;
    let outcome = match ran {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(failure)) => return Ok(failed(req, failure)),
        Err(e) => return Ok(e.error_response()),
    };
    if let Some(answer) = written(req, &outcome) {
        return Ok(answer);
    }
    Ok(match &outcome["signed"]["outcome"] {
        Value::Object(_) => sent(req, &outcome["signed"]["outcome"]),
        _ => HttpResponse::Ok().finish(),
    })
}
