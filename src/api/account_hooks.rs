//! The account flows' request hooks (`onRecordRequestVerificationRequest`,
//! `onRecordConfirmVerificationRequest`, `onRecordRequestPasswordResetRequest`,
//! `onRecordConfirmPasswordResetRequest`, `onRecordRequestEmailChangeRequest`,
//! `onRecordConfirmEmailChangeRequest`): once the flow has found its record, it runs
//! inside the hooks bound to the collection, on a hooks executor. They see `e.record`, may
//! refuse (throw) or answer by themselves; `e.next()` does the flow's work and answers 204.
//! A request whose account does not exist answers 204 without running them, as on
//! PocketBase.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::{Map, Value};

use super::hooks::{failed, request_json, written};
use super::request_auth::RequestAuth;
use crate::error::{Error, Result};
use crate::hooks::Loaded;
use crate::records::write::RecordHooks;
use crate::schema::Collection;
use crate::state::AppState;

/// Finds the flow's record (None: nothing to do) and the event's values besides it (as
/// `newEmail`); its errors (a bad input) answer at once.
pub type Find = Box<dyn FnOnce(&AppState) -> Result<Option<Found>> + Send>;

/// The flow's record and the event's other values.
pub type Found = (Map<String, Value>, Map<String, Value>);
/// The flow's work, with the record hooks its writes run.
pub type Work = Box<dyn FnOnce(&AppState, &dyn RecordHooks) -> Result<()> + Send>;

/// An account flow: `find` checks its input and finds its record (None: nothing to do),
/// then `work` does it, inside the request hooks `hook` when any are bound to `c` (see
/// `around_flow`), else in turn. Answers 204.
#[allow(clippy::too_many_arguments)]
pub async fn flow_with_hooks(
    req: &HttpRequest,
    state: web::Data<AppState>,
    auth: &RequestAuth,
    hook: &str,
    c: Arc<Collection>,
    body: Value,
    (find, work): (Find, Work),
) -> Result<HttpResponse> {
    let state = state.into_inner();
    if let Some(hooked) = super::auth_hooks::wanted(&state, hook, &c) {
        return around_flow(req, state, auth, hooked, c, body, (find, work)).await;
    }
    let shared = state.clone();
    crate::http::writing(&state, Some(c), move |hooks| match find(&shared)? {
        Some(_) => work(&shared, hooks),
        None => Ok(()),
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Runs an account flow inside its request hooks `ids`; see the module.
async fn around_flow(
    req: &HttpRequest,
    state: Arc<AppState>,
    auth: &RequestAuth,
    (loaded, ids): (Arc<Loaded>, Vec<usize>),
    c: Arc<Collection>,
    body: Value,
    (find, work): (Find, Work),
) -> Result<HttpResponse> {
    let Some(pool) = loaded.pool.as_ref() else {
        return Err(Error::internal("the hooks executors are gone"));
    };
    let request = request_json(req, auth, HashMap::new(), Ok(&body))?;
    let ran = pool
        .run(move |executor| {
            executor.enter(move |hooks| {
                let state = &*state;
                let Some((found, extra)) = find(state)? else {
                    return Ok(None);
                };
                let mut input = Map::new();
                input.insert("collection".into(), crate::hooks::described(&c));
                input.insert("record".into(), Value::Object(found));
                input.insert("extra".into(), Value::Object(extra));
                let mut work = Some(work);
                let mut next = |_: Map<String, Value>| -> Result<Map<String, Value>> {
                    let work = work
                        .take()
                        .ok_or_else(|| Error::bad_request("e.next() already ran."))?;
                    work(state, hooks)?;
                    Ok(Map::new())
                };
                Ok(Some(hooks.chain(
                    "__signInHook",
                    &ids,
                    &request,
                    input,
                    false,
                    &mut next,
                )))
            })
        })
        .await?;
    let outcome = match ran {
        Ok(None) => return Ok(HttpResponse::NoContent().finish()),
        Ok(Some(Ok(outcome))) => outcome,
        Ok(Some(Err(failure))) => return Ok(failed(req, failure)),
        Err(e) => return Ok(e.error_response()),
    };
    if let Some(answer) = written(req, &outcome) {
        return Ok(answer);
    }
    Ok(match outcome["signed"] {
        Value::Null => HttpResponse::Ok().finish(),
        _ => HttpResponse::NoContent().finish(),
    })
}
