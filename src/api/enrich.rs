//! `onRecordEnrich`: the records an answer holds (a list's items, a view's or a write's
//! record, and what they expand) pass through the hooks bound to their collection before
//! they are sent, on a hooks executor. A hook may hide fields, set schema fields, or add
//! values of its own with `withCustomData(true)`, as on PocketBase.

use std::collections::HashMap;

use actix_web::HttpRequest;
use serde_json::{Value, json};

use super::hooks::request_json;
use super::request_auth::RequestAuth;
use crate::error::{Error, Result};
use crate::hooks::Arg;
use crate::state::AppState;

/// `records` as the enrich hooks leave them; as they are when none is bound to any
/// collection.
pub async fn enrich(
    req: &HttpRequest,
    state: &AppState,
    auth: &RequestAuth,
    records: Vec<Value>,
) -> Result<Vec<Value>> {
    let loaded = state.hooks.current();
    let schema = state.schema.snapshot();
    let (Some(pool), Some(found)) = (
        loaded.pool.as_ref(),
        crate::hooks::enrich::bound(&loaded, &schema),
    ) else {
        return Ok(records);
    };
    let (handlers, bound) = (found.0.clone(), &found.1);
    let request = request_json(req, auth, HashMap::new(), Ok(&serde_json::Map::new()))?;
    let input = json!({"bound": bound, "records": records}).to_string();
    let ran = pool
        .run(move |executor| {
            executor.call(
                "__enrich",
                &handlers,
                &[Arg::Json(&request), Arg::Json(&input)],
            )
        })
        .await?;
    crate::hooks::enrich::read_answer(ran)
}

/// One record through `enrich`.
pub async fn enrich_one(
    req: &HttpRequest,
    state: &AppState,
    auth: &RequestAuth,
    record: Value,
) -> Result<Value> {
    let mut out = enrich(req, state, auth, vec![record]).await?;
    out.pop()
        .ok_or_else(|| Error::internal("enrich lost the record"))
}
