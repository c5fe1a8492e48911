//! The record request hooks (`onRecordCreateRequest`, `onRecordUpdateRequest`,
//! `onRecordDeleteRequest`, `onRecordViewRequest`): when one is bound to the collection, the
//! request's handling runs inside it, on a hooks executor. The hook sees `e.record` (the
//! body laid over the stored record, or the record as the view answers it), may change it,
//! answer by itself or throw; its `e.next()` runs the handling the API would have run, with
//! the values the hook set written as given, and sends its answer.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde_json::{Map, Value};

use super::hooks::{failed, request_json, written};
use super::request_auth::RequestAuth;
use crate::error::{Error, Result};
use crate::hooks::{Arg, JsHooks, Loaded};
use crate::records::Record;
use crate::records::draft;
use crate::records::write::RecordHooks;
use crate::schema::Collection;
use crate::state::AppState;

/// What the request does to its record.
pub enum Kind {
    Create,
    Update(String),
    Delete(String),
    /// The record as the view answers it.
    View(Record),
}

impl Kind {
    fn hook(&self) -> &'static str {
        match self {
            Self::Create => "onRecordCreateRequest",
            Self::Update(_) => "onRecordUpdateRequest",
            Self::Delete(_) => "onRecordDeleteRequest",
            Self::View(_) => "onRecordViewRequest",
        }
    }
}

/// The loaded hooks and the handlers of `kind`'s request hook bound to `c`; None when none.
pub fn wanted(state: &AppState, kind: &Kind, c: &Collection) -> Option<(Arc<Loaded>, Vec<usize>)> {
    let loaded = state.hooks.current();
    loaded.pool.as_ref()?;
    let ids = loaded.registry.bound(&[kind.hook()], c);
    (!ids.is_empty()).then_some((loaded, ids))
}

/// Runs `work` (the request's own handling: the write with the hook's values, answering
/// the record) inside the request hooks `ids`; answers as they leave it.
#[allow(clippy::too_many_arguments)]
pub async fn around(
    req: &HttpRequest,
    state: &Arc<AppState>,
    auth: &RequestAuth,
    (loaded, ids): (Arc<Loaded>, Vec<usize>),
    c: Arc<Collection>,
    kind: Kind,
    body: Map<String, Value>,
    work: impl FnOnce(&dyn RecordHooks, Map<String, Value>) -> Result<Value> + Send + 'static,
) -> Result<HttpResponse> {
    let Some(pool) = loaded.pool.as_ref() else {
        return Err(Error::internal("the hooks executors are gone"));
    };
    let request = request_json(req, auth, HashMap::new(), Ok(&body))?;
    let deleting = matches!(kind, Kind::Delete(_));
    let viewing = matches!(kind, Kind::View(_));
    let shared = state.clone();
    let ran = pool
        .run(move |executor| {
            executor.enter(move |hooks| run(&shared, hooks, &ids, &request, &c, kind, &body, work))
        })
        .await?;
    let (outcome, answered) = match ran {
        Ok(ran) => ran,
        Err(e) => return Ok(e.error_response()),
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(failure) => return Ok(failed(req, failure)),
    };
    if let Some(answer) = written(req, &outcome) {
        return Ok(answer);
    }
    Ok(match answered {
        Some(_) if deleting => HttpResponse::NoContent().finish(),
        Some(record) if viewing => {
            let record = super::enrich::enrich_one(req, state, auth, record).await?;
            super::etag::json(req, &record)
        }
        Some(record) => {
            let record = super::enrich::enrich_one(req, state, auth, record).await?;
            super::etag::tagged(req, &record)
        }
        None => HttpResponse::Ok().finish(),
    })
}

/// Whether `onRecordsListRequest` hooks are bound to `c`.
pub fn list_hooked(state: &AppState, c: &Collection) -> bool {
    let loaded = state.hooks.current();
    loaded.pool.is_some()
        && !loaded
            .registry
            .bound(&["onRecordsListRequest"], c)
            .is_empty()
}

/// `onRecordsListRequest`: a list's `result` (`{page, perPage, totalItems, totalPages,
/// items}`) through the hooks bound to `c`: `e.records`, `e.result`; `e.next()` sends the
/// result with the records as the hooks left them, enriched. See `list_hooked`.
pub async fn listed(
    req: &HttpRequest,
    state: &AppState,
    auth: &RequestAuth,
    c: &Collection,
    result: &Value,
) -> Result<HttpResponse> {
    let loaded = state.hooks.current();
    let ids = loaded.registry.bound(&["onRecordsListRequest"], c);
    let Some(pool) = loaded.pool.as_ref().filter(|_| !ids.is_empty()) else {
        return Ok(super::etag::json(req, result));
    };
    let request = request_json(req, auth, HashMap::new(), Ok(&Map::new()))?;
    let input = serde_json::json!({
        "ids": ids,
        "collection": crate::hooks::described(c),
        "result": result,
    })
    .to_string();
    let ran = pool
        .run(move |executor| {
            executor.call(
                "__listHook",
                &ids,
                &[Arg::Text(&request), Arg::Json(&input)],
            )
        })
        .await?;
    let mut outcome: Value = match ran {
        Ok(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
        Err(failure) => return Ok(failed(req, failure)),
    };
    if let Some(answer) = written(req, &outcome) {
        return Ok(answer);
    }
    let mut sent = outcome["sent"].take();
    if sent.is_null() {
        return Ok(HttpResponse::Ok().finish());
    }
    let items = match sent["items"].take() {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    sent["items"] = Value::Array(super::enrich::enrich(req, state, auth, items).await?);
    Ok(super::etag::json(req, &sent))
}

type Ran = std::result::Result<Value, crate::hooks::Failure>;

#[allow(clippy::too_many_arguments)]
fn run(
    state: &AppState,
    hooks: &JsHooks,
    ids: &[usize],
    request: &str,
    c: &Collection,
    kind: Kind,
    body: &Map<String, Value>,
    work: impl FnOnce(&dyn RecordHooks, Map<String, Value>) -> Result<Value>,
) -> Result<(Ran, Option<Value>)> {
    let (given, original, new) = match &kind {
        Kind::View(record) => (record.clone(), None, false),
        Kind::Create => (draft::draft_new(c, body), None, true),
        Kind::Update(id) | Kind::Delete(id) => state.db.data.read(|conn| {
            let stored = draft::draft(conn, c, Some(id), &Map::new())?;
            let record = match kind {
                Kind::Update(_) => draft::draft(conn, c, Some(id), body)?,
                _ => stored.clone(),
            };
            Ok((record, Some(stored), false))
        })?,
    };
    let viewing = matches!(kind, Kind::View(_));
    let mut work = Some(work);
    let mut answered = None;
    let mut next = |returned: Record| -> Result<Record> {
        let work = work
            .take()
            .ok_or_else(|| Error::bad_request("e.next() already ran for this request."))?;
        if viewing {
            // The view answers the record as the hooks left it.
            answered = Some(Value::Object(returned.clone()));
            return Ok(returned);
        }
        let set = draft::changed(c, &given, &returned, new);
        let out = work(hooks, set)?;
        answered = Some(out.clone());
        Ok(match out {
            Value::Object(record) => record,
            _ => Map::new(),
        })
    };
    let ran = hooks.request(ids, request, c, &given, original.as_ref(), new, &mut next);
    Ok((ran, answered))
}
