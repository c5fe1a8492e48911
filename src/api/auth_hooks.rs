//! The sign-in hooks. `onRecordAuthRequest`: a successful sign-in (password, OTP) or
//! refresh answers through the hooks bound to the auth collection; a hook sees `e.record`,
//! `e.token`, `e.meta` and `e.authMethod`, may change them or refuse (throw), and its
//! `e.next()` sends the answer, as PocketBase's `RecordAuthResponse`.
//! `onRecordAuthWithPasswordRequest`: a password sign-in runs inside the hooks bound to the
//! collection, which see `e.identity`, `e.password` and the record found (`e.record`, null
//! when none), may change them or answer by themselves; `e.next()` checks the password and
//! signs in, through `onRecordAuthRequest`. `onRecordRequestOTPRequest` wraps a code's
//! request: `e.record` (null when no account has the email) and `e.password` (the code);
//! `e.next()` stores and mails the code and answers its `otpId`.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::{Map, Value, json};

use super::hooks::{failed, header_pairs, request_json, written};
use super::request_auth::RequestAuth;
use crate::error::{Error, Result};
use crate::hooks::{Arg, Loaded};
use crate::records::write::RecordHooks;
use crate::schema::Collection;
use crate::state::AppState;

/// What the `onRecordAuthRequest` hooks get besides the request.
fn auth_input(c: &Collection, body: &Value, method: &str) -> Map<String, Value> {
    let input = json!({
        "collection": crate::hooks::described(c),
        "record": body["record"],
        "token": body["token"],
        "meta": body["meta"],
        "authMethod": method,
    });
    match input {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The MFA a sign-in continues: `?mfaId=`, else the body's `mfa_id`.
fn requested_mfa(req: &HttpRequest, mfa_id: &str) -> String {
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    query
        .into_iter()
        .find(|(k, v)| k == "mfaId" && !v.is_empty())
        .map_or_else(|| mfa_id.to_owned(), |(_, v)| v)
}

/// The answer of a sign-in whose `body` is `{record, token}`, by `method`, bringing
/// `mfa_id` (the body's; `?mfaId=` wins): 401 `{mfaId}` when the collection's MFA asks for
/// a second factor, else the answer through `onRecordAuthRequest`.
pub async fn answered(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    auth: &RequestAuth,
    c: &Arc<Collection>,
    body: Value,
    (method, mfa_id): (&str, &str),
) -> Result<HttpResponse> {
    // Only a sign-in MFA applies to pays for the request's context and the check.
    if crate::auth::mfa::applies(c, method) {
        let mfa_id = requested_mfa(req, mfa_id);
        let ctx = super::records::context(req, state, auth, Map::new());
        let (shared, table, method_owned) = (state.clone(), c.clone(), method.to_owned());
        let id = body["record"]["id"].as_str().unwrap_or_default().to_owned();
        let next = crate::http::blocking(move || {
            crate::auth::mfa::check(&shared.db.data, &table, &id, &method_owned, &mfa_id, &ctx)
        })
        .await?;
        if let crate::auth::mfa::Next::SecondFactor(mfa_id) = next {
            return Ok(HttpResponse::Unauthorized().json(json!({ "mfaId": mfa_id })));
        }
    }
    let loaded = state.hooks.current();
    let ids = loaded.registry.bound(&["onRecordAuthRequest"], c);
    let Some(pool) = loaded.pool.as_ref().filter(|_| !ids.is_empty()) else {
        return Ok(HttpResponse::Ok().json(body));
    };
    let request = request_json(req, auth, HashMap::new(), Ok(&Map::new()))?;
    let mut input = auth_input(c, &body, method);
    input.insert("ids".into(), json!(ids));
    let input = Value::Object(input).to_string();
    let ran = pool
        .run(move |executor| {
            executor.call(
                "__authHook",
                &ids,
                &[Arg::Text(&request), Arg::Json(&input)],
            )
        })
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

/// The loaded hooks and the handlers of the sign-in hook `name` bound to `c`; None when
/// none.
pub fn wanted(state: &AppState, name: &str, c: &Collection) -> Option<(Arc<Loaded>, Vec<usize>)> {
    let loaded = state.hooks.current();
    loaded.pool.as_ref()?;
    let ids = loaded.registry.bound(&[name], c);
    (!ids.is_empty()).then_some((loaded, ids))
}

/// One sign-in run inside its per-method hooks (`onRecordAuthWithPasswordRequest`,
/// `onRecordAuthRefreshRequest`), on a hooks executor.
pub struct SignIn {
    /// The event's values besides the record (`identity`, `password`, ...), which the
    /// hooks may change.
    pub extra: Map<String, Value>,
    /// `e.authMethod` of the `onRecordAuthRequest` hooks its `e.next()` runs.
    pub method: &'static str,
    /// The request body the hooks see.
    pub body: Value,
    /// The MFA the sign-in continues (the body's `mfaId`).
    pub mfa_id: String,
}

/// Finds the record the sign-in is for (before the hooks run; errors answer at once).
pub type Find = Box<dyn FnOnce(&AppState) -> Result<Option<Map<String, Value>>> + Send>;
/// The record as signed in, from the one the hooks left (read again as stored) and the
/// event's values: the check of `e.next()` (its writes through the record hooks given),
/// with the token and the `meta` (null: none) to answer.
pub type Admit = Box<
    dyn Fn(
            &AppState,
            &dyn RecordHooks,
            Option<Map<String, Value>>,
            &Map<String, Value>,
        ) -> Result<(Map<String, Value>, String, Value)>
        + Send,
>;

/// Runs a sign-in inside the hooks `ids` (the JS `__signInHook`): they see `e.record` (what
/// `find` found, null when nothing) and the `extra` values, may refuse, answer or change
/// them; `e.next()` signs in with `admit` and answers through `onRecordAuthRequest`.
/// `response` builds the answer `{record, token}` of a signed-in record.
#[allow(clippy::too_many_arguments)]
pub async fn around_sign_in(
    req: &HttpRequest,
    state: &Arc<AppState>,
    auth: &RequestAuth,
    (loaded, ids): (Arc<Loaded>, Vec<usize>),
    c: Arc<Collection>,
    sign_in: SignIn,
    (find, admit): (Find, Admit),
    response: fn(&rusqlite::Connection, &Collection, &str, String) -> Result<Value>,
) -> Result<HttpResponse> {
    let Some(pool) = loaded.pool.as_ref() else {
        return Err(Error::internal("the hooks executors are gone"));
    };
    let request = request_json(req, auth, HashMap::new(), Ok(&sign_in.body))?;
    let auth_ids = loaded.registry.bound(&["onRecordAuthRequest"], &c);
    let mfa_id = requested_mfa(req, &sign_in.mfa_id);
    let ctx = super::records::context(req, state, auth, Map::new());
    let (shared, method) = (state.clone(), sign_in.method);
    let ran = pool
        .run(move |executor| {
            executor.enter(move |hooks| {
                let state = &*shared;
                let found = find(state)?;
                let mut input = Map::new();
                input.insert("collection".into(), crate::hooks::described(&c));
                input.insert("record".into(), found.map_or(Value::Null, Value::Object));
                input.insert("extra".into(), Value::Object(sign_in.extra));
                let mut next = |given: Map<String, Value>| -> Result<Map<String, Value>> {
                    // The record as stored, however a hook found it.
                    let id = given["record"]["id"].as_str().unwrap_or_default();
                    let record = match id {
                        "" => None,
                        id => state
                            .db
                            .data
                            .read(|conn| crate::auth::records::find_by_id(conn, &c, id))?,
                    };
                    let extra = given["extra"].as_object().cloned().unwrap_or_default();
                    let (record, token, meta) = admit(state, hooks, record, &extra)?;
                    let id = record["id"].as_str().unwrap_or_default().to_owned();
                    let store = &state.db.data;
                    let mfa = crate::auth::mfa::check(store, &c, &id, method, &mfa_id, &ctx)?;
                    if let crate::auth::mfa::Next::SecondFactor(mfa_id) = mfa {
                        // PocketBase answers at once, and `e.next()` fails.
                        let body = json!({ "mfaId": mfa_id }).to_string();
                        let answer =
                            json!({"status": 401, "type": "application/json", "body": body});
                        return Ok(Map::from_iter([(
                            "outcome".to_owned(),
                            json!({ "answer": answer }),
                        )]));
                    }
                    let mut body = state.db.data.read(|conn| response(conn, &c, &id, token))?;
                    if !meta.is_null() {
                        body["meta"] = meta;
                    }
                    let outcome = if auth_ids.is_empty() {
                        json!({ "sent": body })
                    } else {
                        let input = auth_input(&c, &body, method);
                        hooks
                            .chain("__authHook", &auth_ids, &request, input, true, &mut |_| {
                                Err(Error::bad_request("There is no e.next() here."))
                            })
                            .map_err(|f| {
                                crate::hooks::records_failure(f, "Failed to authenticate.")
                            })?
                    };
                    Ok(Map::from_iter([
                        ("outcome".to_owned(), outcome),
                        ("record".to_owned(), Value::Object(record)),
                    ]))
                };
                Ok(hooks.chain("__signInHook", &ids, &request, input, false, &mut next))
            })
        })
        .await?;
    let outcome = match settled(req, ran) {
        Settled::Outcome(outcome) => outcome,
        Settled::Answered(answer) => return Ok(answer),
    };
    Ok(match &outcome["signed"]["outcome"] {
        Value::Object(_) => sent(req, &outcome["signed"]["outcome"]),
        _ => HttpResponse::Ok().finish(),
    })
}

/// `request-otp` inside the hooks `ids` (see the module); the email has been checked.
pub async fn around_request_otp(
    req: &HttpRequest,
    state: &Arc<AppState>,
    (loaded, ids): (Arc<Loaded>, Vec<usize>),
    c: Arc<Collection>,
    email: String,
) -> Result<HttpResponse> {
    let Some(pool) = loaded.pool.as_ref() else {
        return Err(Error::internal("the hooks executors are gone"));
    };
    let body = json!({ "email": email });
    let request = request_json(req, &RequestAuth::Guest, HashMap::new(), Ok(&body))?;
    let shared = state.clone();
    let ran = pool
        .run(move |executor| {
            executor.enter(move |hooks| {
                let store = &shared.db.data;
                let found =
                    store.read(|conn| crate::auth::records::find_by_email(conn, &c, &email))?;
                let mut input = Map::new();
                input.insert("collection".into(), crate::hooks::described(&c));
                input.insert("record".into(), found.map_or(Value::Null, Value::Object));
                let code = crate::auth::otp::new_code(&c);
                input.insert("extra".into(), json!({ "password": code }));
                let mut next = |given: Map<String, Value>| -> Result<Map<String, Value>> {
                    let id = given["record"]["id"].as_str().unwrap_or_default();
                    let record = match id {
                        "" => None,
                        id => store.read(|conn| crate::auth::records::find_by_id(conn, &c, id))?,
                    };
                    let code = given["extra"]["password"].as_str().unwrap_or_default();
                    // No account: an id that leads nowhere, as without hooks.
                    let otp_id = match record {
                        Some(record) => crate::auth::otp::issue(store, &c, &record, code)?,
                        None => crate::ids::record_id(),
                    };
                    Ok(Map::from_iter([("otpId".to_owned(), json!(otp_id))]))
                };
                Ok(hooks.chain("__signInHook", &ids, &request, input, false, &mut next))
            })
        })
        .await?;
    let outcome = match settled(req, ran) {
        Settled::Outcome(outcome) => outcome,
        Settled::Answered(answer) => return Ok(answer),
    };
    Ok(match &outcome["signed"]["otpId"] {
        Value::String(id) => HttpResponse::Ok().json(json!({ "otpId": id })),
        _ => HttpResponse::Ok().finish(),
    })
}

/// What a sign-in's hooks left: their outcome, or the answer already settled (a failure,
/// or an answer a hook wrote itself).
enum Settled {
    Outcome(Value),
    Answered(HttpResponse),
}

fn settled(
    req: &HttpRequest,
    ran: Result<std::result::Result<Value, crate::hooks::Failure>>,
) -> Settled {
    let outcome = match ran {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(failure)) => return Settled::Answered(failed(req, failure)),
        Err(e) => return Settled::Answered(e.error_response()),
    };
    match written(req, &outcome) {
        Some(answer) => Settled::Answered(answer),
        None => Settled::Outcome(outcome),
    }
}
