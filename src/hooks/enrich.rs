//! `onRecordEnrich`, shared by the API's answers and the realtime events: which handlers
//! are bound to which collections, and the records run through them on an executor.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use serde_json::{Map, Value, json};

use super::runtime::Arg;
use super::{Hooks, Loaded};
use crate::error::{Error, Result};
use crate::schema::Snapshot;

/// The handlers bound to any collection and, per collection name, `{ids, fields}`.
pub type Bound = (Vec<usize>, Map<String, Value>);

/// `bound` remembered for one schema snapshot (held weakly: a new snapshot, after a schema
/// change, is worked out afresh; the old one's address is never reused while held).
#[derive(Default)]
pub struct Memo(Mutex<Option<Remembered>>);

/// The snapshot `bound` was worked out for, and what it found.
type Remembered = (Weak<Snapshot>, Option<Arc<Bound>>);

/// What `__enrich` takes about the handlers; None when no enrich hook is bound (or nothing
/// runs hooks). Worked out once per hooks version and schema snapshot.
pub fn bound(loaded: &Loaded, schema: &Arc<Snapshot>) -> Option<Arc<Bound>> {
    loaded.pool.as_ref()?;
    // Most versions bind no enrich hook: they answer here, taking no lock.
    if !loaded
        .registry
        .hooks
        .iter()
        .any(|h| h.name == "onRecordEnrich")
    {
        return None;
    }
    let mut memo = loaded
        .enrich
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some((seen, found)) = memo.as_ref()
        && Weak::ptr_eq(seen, &Arc::downgrade(schema))
    {
        return found.clone();
    }
    let found = work_out(loaded, schema).map(Arc::new);
    *memo = Some((Arc::downgrade(schema), found.clone()));
    found
}

fn work_out(loaded: &Loaded, schema: &Snapshot) -> Option<Bound> {
    let mut bound = Map::new();
    let mut handlers = Vec::new();
    for c in schema.all() {
        let ids = loaded.registry.bound(&["onRecordEnrich"], c);
        if ids.is_empty() {
            continue;
        }
        let fields: Vec<&str> = c.fields.iter().map(|f| f.name.as_str()).collect();
        handlers.extend(ids.iter().copied());
        bound.insert(c.name.clone(), json!({"ids": ids, "fields": fields}));
    }
    (!bound.is_empty()).then_some((handlers, bound))
}

/// What `__enrich` answers, read back.
pub fn read_answer(ran: std::result::Result<String, super::Failure>) -> Result<Vec<Value>> {
    let text = ran.map_err(|f| super::records_failure(f, "Failed to enrich the records."))?;
    serde_json::from_str(&text).map_err(|e| Error::internal(format!("enrich answer: {e}")))
}

impl Hooks {
    /// `records` through the enrich hooks, waiting on this thread (not an async worker:
    /// the realtime dispatcher), for the request `request` builds (its JSON), built only
    /// when a hook is bound.
    pub fn enrich_blocking(
        &self,
        schema: &Arc<Snapshot>,
        request: impl FnOnce() -> String,
        records: Vec<Value>,
    ) -> Result<Vec<Value>> {
        let loaded = self.current();
        let (Some(pool), Some(found)) = (loaded.pool.as_ref(), bound(&loaded, schema)) else {
            return Ok(records);
        };
        let (handlers, bound) = (found.0.clone(), &found.1);
        let request = request();
        let input = json!({"bound": bound, "records": records}).to_string();
        let ran = pool.run_blocking(move |executor| {
            executor.call(
                "__enrich",
                &handlers,
                &[Arg::Json(&request), Arg::Json(&input)],
            )
        })?;
        read_answer(ran)
    }
}
