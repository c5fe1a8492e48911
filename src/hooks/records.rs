//! The record hooks, run around and after the record write service's writes: the model
//! hooks (`onRecordCreate`, `onRecordValidate`, `...Execute`, and the update and delete
//! ones) inside the transaction, each handler going on with `e.next()`, and the after
//! hooks (`onRecordAfterCreateSuccess`, `...Error`) once it has ended.

use std::sync::Arc;

use rquickjs::Ctx;
use serde_json::{Map, Value, json};

use super::Server;
use super::lent::{self, Frame};
use super::registry::Registry;
use super::runtime::{Arg, Failure, call_args, call_in};
use crate::error::{Error, Result};
use crate::records::Record;
use crate::records::changes::Event;
use crate::records::write::{Next, RecordHooks, Tx};
use crate::schema::Collection;

/// The hooks of `registry`, run in the JS context `ctx` (entered on this thread).
pub struct JsHooks<'a, 'js> {
    pub ctx: &'a Ctx<'js>,
    pub registry: &'a Registry,
}

/// The model hooks wrapping each event, outermost first (PocketBase runs validation, and
/// its hooks, inside `e.next()` of the create and update hooks).
fn model(event: Event) -> &'static [&'static str] {
    match event {
        Event::Create => &[
            "onRecordCreate",
            "onRecordValidate",
            "onRecordCreateExecute",
        ],
        Event::Update => &[
            "onRecordUpdate",
            "onRecordValidate",
            "onRecordUpdateExecute",
        ],
        Event::Delete => &["onRecordDelete", "onRecordDeleteExecute"],
    }
}

fn after(event: Event, ok: bool) -> &'static str {
    match (event, ok) {
        (Event::Create, true) => "onRecordAfterCreateSuccess",
        (Event::Create, false) => "onRecordAfterCreateError",
        (Event::Update, true) => "onRecordAfterUpdateSuccess",
        (Event::Update, false) => "onRecordAfterUpdateError",
        (Event::Delete, true) => "onRecordAfterDeleteSuccess",
        (Event::Delete, false) => "onRecordAfterDeleteError",
    }
}

/// A collection as the prelude's `Record` knows it.
pub fn described(c: &Collection) -> Value {
    json!({"id": c.id, "name": c.name, "type": c.kind.as_str()})
}

/// The error a failed hook answers with: an `ApiError` as itself, anything else as
/// PocketBase's answer for the failed write (logged with where it was thrown).
pub fn failure_error(failure: Failure, fallback: &str) -> Error {
    match failure {
        Failure::Thrown {
            answer: Some(answer),
            ..
        } => Error::Thrown {
            status: answer["status"]
                .as_u64()
                .and_then(|s| actix_web::http::StatusCode::from_u16(s as u16).ok())
                .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
            message: answer["message"].as_str().unwrap_or_default().to_owned(),
            data: answer["data"].clone(),
        },
        Failure::Thrown {
            message, location, ..
        } => {
            log::warn!("hooks: a record hook threw: {message} (at {location})");
            Error::bad_request(fallback)
        }
        other => {
            log::error!("hooks: {}", other.describe());
            Error::internal(other.describe())
        }
    }
}

struct Around<'a, 't> {
    tx: &'a mut Tx<'t>,
    next: Next<'a>,
}

impl Frame for Around<'_, '_> {
    fn next(&mut self, record: Record) -> Result<Record> {
        (self.next)(self.tx, record)
    }

    fn tx(&mut self, f: &mut dyn FnMut(&mut Tx<'_>) -> Result<Value>) -> Option<Result<Value>> {
        Some(f(self.tx))
    }

    fn has_tx(&self) -> bool {
        true
    }
}

impl RecordHooks for JsHooks<'_, '_> {
    fn wants(&self, event: Event, c: &Collection) -> bool {
        !self.registry.bound(model(event), c).is_empty()
            || !self
                .registry
                .bound(&[after(event, true), after(event, false)], c)
                .is_empty()
    }

    fn around(
        &self,
        tx: &mut Tx,
        event: Event,
        c: &Collection,
        record: Record,
        next: Next,
    ) -> Result<()> {
        let mut ids = self.registry.bound(model(event), c);
        if !tx.validating() {
            let validating = self.registry.bound(&["onRecordValidate"], c);
            ids.retain(|id| !validating.contains(id));
        }
        if ids.is_empty() {
            return next(tx, record).map(drop);
        }
        let fallback = format!("Failed to {} record.", event.as_str());
        // `e.record.original()`: the record as stored before this write.
        let original = match (event, record.get("id").and_then(Value::as_str)) {
            (Event::Update | Event::Delete, Some(id)) => Some(crate::records::draft::draft(
                tx.conn(),
                c,
                Some(id),
                &Map::new(),
            )?),
            _ => None,
        };
        let mut frame = Around { tx, next };
        lent::lend(&mut frame, |depth| {
            let input = json!({
                "ids": ids,
                "depth": depth,
                "collection": described(c),
                "record": record,
                "original": original,
                "isNew": event == Event::Create,
            })
            .to_string();
            call_in(self.ctx, "__modelHook", &[&input], true)
                .map(drop)
                .map_err(|f| failure_error(f, &fallback))
        })
    }

    fn after(&self, done: &[(Event, Arc<Collection>, Record)], error: Option<&Error>) {
        for (event, c, record) in done {
            let ids = self.registry.bound(&[after(*event, error.is_none())], c);
            if ids.is_empty() {
                continue;
            }
            let input = json!({
                "ids": ids,
                "collection": described(c),
                "record": record,
                "error": error.map(|e| e.body()),
            })
            .to_string();
            if let Err(failure) = call_in(self.ctx, "__afterHook", &[&input], true) {
                log::warn!(
                    "hooks: {} of a {} record failed: {}",
                    after(*event, error.is_none()),
                    c.name,
                    failure.describe()
                );
            }
        }
    }
}

/// `e.next()` of a model hook: `args` is `{depth, record}`.
pub fn next(mut args: Value) -> Result<Value> {
    let depth = args["depth"].as_u64().unwrap_or(0) as usize;
    let record = match args["record"].take() {
        Value::Object(record) => record,
        _ => Map::new(),
    };
    lent::next(depth, record).map(Value::Object)
}

/// A transaction lent as it is, to JS that has no `e.next()` (a migration, the callback of
/// `$app.runInTransaction`).
pub struct InTx<'a, 't> {
    pub tx: &'a mut Tx<'t>,
}

impl Frame for InTx<'_, '_> {
    fn next(&mut self, _: Record) -> Result<Record> {
        Err(Error::bad_request("There is no e.next() here."))
    }

    fn tx(&mut self, f: &mut dyn FnMut(&mut Tx<'_>) -> Result<Value>) -> Option<Result<Value>> {
        Some(f(self.tx))
    }

    fn has_tx(&self) -> bool {
        true
    }
}

/// `$app.runInTransaction(fn)`: `fn` (the prelude's callback `n`) runs with `$app` in one
/// write transaction, committed when it returns and rolled back when it throws; inside a
/// transaction already (a model hook, a migration), it joins that one.
pub fn run_in_transaction(state: &dyn Server, hooks: &JsHooks, n: &Value) -> Result<Value> {
    let n = n.to_string();
    let call = |ctx: &Ctx| {
        call_in(ctx, "__runTx", &[&n], true)
            .map(drop)
            .map_err(|f| failure_error(f, "Failed to run the transaction."))
    };
    if lent::in_tx() {
        call(hooks.ctx)?;
        return Ok(Value::Null);
    }
    state.records_with(hooks).run(|tx| {
        let mut frame = InTx { tx };
        lent::lend(&mut frame, |_| call(hooks.ctx))
    })?;
    Ok(Value::Null)
}

/// A request hook's frame: `e.next()` runs the request's own handling, once. It holds no
/// transaction (a request hook runs before the write's).
struct Request<'a> {
    next: &'a mut dyn FnMut(Record) -> Result<Record>,
}

impl Frame for Request<'_> {
    fn next(&mut self, record: Record) -> Result<Record> {
        (self.next)(record)
    }

    fn tx(&mut self, _: &mut dyn FnMut(&mut Tx<'_>) -> Result<Value>) -> Option<Result<Value>> {
        None
    }

    fn has_tx(&self) -> bool {
        false
    }
}

/// Lends `next` as the innermost hook's `e.next()` to the JS that `f` runs (given the
/// frame's depth): for `routerUse` middlewares around a built-in route.
pub fn with_next<T>(
    next: &mut dyn FnMut(Record) -> Result<Record>,
    f: impl FnOnce(usize) -> T,
) -> T {
    let mut frame = Request { next };
    lent::lend(&mut frame, f)
}

/// An error of the request's own handling as a hook's `e.next()` throws it: the
/// `ApiError` the API would have answered with, so that a hook that lets it through
/// answers the same.
fn passed_on(e: Error) -> Error {
    if matches!(e, Error::Thrown { .. }) {
        return e;
    }
    let status = actix_web::ResponseError::status_code(&e);
    if status.is_server_error() {
        return e;
    }
    let body = e.body();
    Error::Thrown {
        status,
        message: body["message"].as_str().unwrap_or_default().to_owned(),
        data: body["data"].clone(),
    }
}

impl JsHooks<'_, '_> {
    /// Runs hooks `ids` through the JS `function(request, input)`, `input` given the `ids`
    /// and the frame's `depth`; their innermost `e.next()` calls `next` (with what the JS
    /// passes it). Answers the JS's answer JSON. `nested`: inside another hook's call.
    pub fn chain(
        &self,
        function: &str,
        ids: &[usize],
        request: &str,
        mut input: Map<String, Value>,
        nested: bool,
        next: &mut dyn FnMut(Record) -> Result<Record>,
    ) -> std::result::Result<Value, Failure> {
        let mut guarded = |record: Record| next(record).map_err(passed_on);
        let mut frame = Request { next: &mut guarded };
        let text = lent::lend(&mut frame, |depth| {
            input.insert("ids".into(), json!(ids));
            input.insert("depth".into(), json!(depth));
            let input = Value::Object(input).to_string();
            call_args(
                self.ctx,
                function,
                &[Arg::Text(request), Arg::Json(&input)],
                nested,
            )
        })?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Runs the request hooks `ids` for `request` (the request event's JSON) on `record`
    /// (`new`: not stored yet); their innermost `e.next()` calls `next` with the record as
    /// they left it. Answers the JS's `{answer, headers, nextRan}`. The request and the
    /// record reach the JS as text, parsed there only if a hook reads them.
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &self,
        ids: &[usize],
        request: &str,
        c: &Collection,
        record: &Record,
        original: Option<&Record>,
        new: bool,
        next: &mut dyn FnMut(Record) -> Result<Record>,
    ) -> std::result::Result<Value, Failure> {
        let mut guarded = |record: Record| next(record).map_err(passed_on);
        let mut frame = Request { next: &mut guarded };
        let record = serde_json::to_string(record).unwrap_or_else(|_| "{}".into());
        let collection = described(c).to_string();
        let original = original.and_then(|o| serde_json::to_string(o).ok());
        let text = lent::lend(&mut frame, |depth| {
            // Plain arguments: parsing a JSON input cost more than the rest of the call.
            call_args(
                self.ctx,
                "__requestHook",
                &[
                    Arg::Text(request),
                    Arg::Text(&record),
                    Arg::Text(&collection),
                    Arg::Ids(ids),
                    Arg::Int(depth as i64),
                    Arg::Bool(new),
                    original.as_deref().map_or(Arg::Text(""), Arg::Json),
                ],
                false,
            )
        })?;
        // The short answers of a hook that only went on (or did nothing).
        Ok(match text.as_str() {
            "n" => json!({"answer": null, "headers": [], "nextRan": true}),
            "" => json!({"answer": null, "headers": [], "nextRan": false}),
            _ => serde_json::from_str(&text).unwrap_or(Value::Null),
        })
    }
}
