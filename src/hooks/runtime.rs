//! One QuickJS runtime: the prelude (PocketBase's JS API in JS, `prelude.js` and
//! `events.js`), the one native function it calls into (`__native`, answered by a
//! `Host`), a memory cap, and a time budget per call enforced by QuickJS's interrupt
//! handler.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::ResponseError;
use rquickjs::context::EvalOptions;
use rquickjs::{CatchResultExt, CaughtError, Context, Ctx, Function, Runtime, Value};
use serde_json::json;

use super::registry::Handler;
use crate::error::Error;

/// PocketBase's JS API in two files run in order: the values (errors, records, `$app`, ...)
/// and the events and registrations built on them.
const PRELUDE: [(&str, &str); 2] = [
    ("prelude.js", include_str!("prelude.js")),
    ("events.js", include_str!("events.js")),
];

/// What the JS side may ask of the server: `op` with JSON `args`, answered with JSON.
pub trait Host {
    /// `ctx` is the context the JS runs in, for ops that call back into it.
    fn call(
        &self,
        ctx: &Ctx<'_>,
        op: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, Error>;
}

/// Why a call into JS failed.
#[derive(Debug)]
pub enum Failure {
    /// A thrown value: an `ApiError` (its JSON answer) or anything else (None), with the
    /// message and the file:line it was thrown at, for the log.
    Thrown {
        answer: Option<serde_json::Value>,
        /// Response headers the request's handlers had set before.
        headers: Vec<(String, String)>,
        message: String,
        location: String,
    },
    /// The time budget ran out.
    TimedOut,
    /// The memory cap was reached; the runtime must be replaced.
    OutOfMemory,
}

impl Failure {
    pub fn describe(&self) -> String {
        match self {
            Failure::Thrown {
                message, location, ..
            } => format!("{message} (at {location})"),
            Failure::TimedOut => "the hook ran past its time budget and was stopped".into(),
            Failure::OutOfMemory => "the hook reached the memory cap and was stopped".into(),
        }
    }
}

pub struct Js {
    // Field order: the context must go before its runtime.
    context: Context,
    runtime: Runtime,
}

thread_local! {
    /// Milliseconds since `epoch()` after which JS running on this thread is interrupted;
    /// 0: no limit. A runtime lives on one thread, so this is its current call's budget.
    static DEADLINE: Cell<u64> = const { Cell::new(0) };
    /// The current call's budget in milliseconds, for `restart_budget`.
    static BUDGET: Cell<u64> = const { Cell::new(0) };
}

/// Gives the current call its whole budget again: after a wait that was not the JS's own
/// (a route that ran inside a middleware's `e.next()`, an upload included).
pub fn restart_budget() {
    if DEADLINE.get() != 0 {
        DEADLINE.set(now_ms() + BUDGET.get());
    }
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64 + 1
}

impl Js {
    /// A runtime whose `__hooks` is `dir`.
    pub fn new(memory: usize, host: Rc<dyn Host>, dir: &std::path::Path) -> Result<Self, Error> {
        let fail = |e: rquickjs::Error| Error::internal(format!("JS runtime: {e}"));
        let runtime = Runtime::new().map_err(fail)?;
        runtime.set_memory_limit(memory);
        // QuickJS collects every 256 KiB allocated by default, each time walking the whole
        // heap (the prelude included): a few calls apart. An eighth of the cap is plenty.
        runtime.set_gc_threshold((memory / 8).max(1 << 20));
        runtime.set_max_stack_size(1024 * 1024);
        runtime.set_interrupt_handler(Some(Box::new(|| {
            let at = DEADLINE.get();
            at != 0 && now_ms() > at
        })));
        let context = Context::full(&runtime).map_err(fail)?;
        let js = Self { context, runtime };
        js.context.with(|ctx| -> Result<(), Error> {
            let host = host.clone();
            let native = Function::new(
                ctx.clone(),
                move |ctx: Ctx<'_>, op: String, args: String| -> String {
                    answer(host.as_ref(), &ctx, &op, &args)
                },
            )
            .map_err(fail)?;
            ctx.globals().set("__native", native).map_err(fail)?;
            // `require()`'s compiler: a module's source under its own file name.
            let compile = Function::new(ctx.clone(), compile_module).map_err(fail)?;
            ctx.globals().set("__compile", compile).map_err(fail)?;
            let hooks_dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
            ctx.globals()
                .set("__hooks", hooks_dir.to_string_lossy().into_owned())
                .map_err(fail)?;
            for (name, source) in PRELUDE {
                eval(&ctx, source, name)
                    .map_err(|e| Error::internal(format!("JS prelude: {}", e.describe())))?;
            }
            Ok(())
        })?;
        Ok(js)
    }

    /// Runs a hooks file's top-level code, with `__file` naming it.
    pub fn run_file(&self, name: &str, source: &str, budget: Duration) -> Result<(), Failure> {
        self.with_budget(budget, |ctx| {
            let _ = ctx.globals().set("__file", name);
            let ran = eval(ctx, source, name);
            let _ = ctx.globals().set("__file", rquickjs::Undefined);
            ran
        })
    }

    /// Compiles handler `id` into `__fns[id]` from its source text, padded so that line
    /// numbers in stack traces are the file's own.
    pub fn compile(&self, id: usize, handler: &Handler) -> Result<(), Failure> {
        let padded = format!(
            "{}__fns[{id}] = ({});",
            "\n".repeat(handler.line.saturating_sub(1)),
            handler.source
        );
        self.with_budget(Duration::from_secs(5), |ctx| {
            eval(ctx, &padded, &handler.file)
        })
    }

    /// Calls the global function `name` with `args`; its answer is JSON text.
    pub fn call(&self, name: &str, args: &[Arg], budget: Duration) -> Result<String, Failure> {
        self.with_budget(budget, |ctx| call_args(ctx, name, args, false))
    }

    /// Runs `f` with the context entered, under `budget`: Rust that calls into the JS
    /// (`call_in`) from below, as a write wrapped by model hooks does.
    pub fn enter<T>(&self, budget: Duration, f: impl FnOnce(&Ctx<'_>) -> T) -> Result<T, Failure> {
        self.with_budget(budget, |ctx| Ok(f(ctx)))
    }

    fn with_budget<T>(
        &self,
        budget: Duration,
        f: impl FnOnce(&Ctx<'_>) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let limit = now_ms() + budget.as_millis() as u64;
        BUDGET.set(budget.as_millis() as u64);
        DEADLINE.set(limit);
        let result = self.context.with(|ctx| f(&ctx));
        // Later than `limit` when the budget was restarted meanwhile.
        let deadline = DEADLINE.get().max(limit);
        DEADLINE.set(0);
        // Jobs left by promises run now, under no budget of their own.
        while self.runtime.is_job_pending() {
            if self.runtime.execute_pending_job().is_err() {
                break;
            }
        }
        result.map_err(|f| classified(f, deadline))
    }

    /// What is left of the current call's budget on this thread (for `sleep`).
    pub fn remaining() -> Option<Duration> {
        let at = DEADLINE.get();
        (at != 0).then(|| Duration::from_millis(at.saturating_sub(now_ms())))
    }
}

/// Calls the global function `name` with JSON arguments in an entered context; its answer
/// is JSON text. `nested`: called from Rust below another JS call (a model hook), whose
/// request event a failure here must leave alone.
pub fn call_in(ctx: &Ctx<'_>, name: &str, args: &[&str], nested: bool) -> Result<String, Failure> {
    let args: Vec<Arg> = args.iter().map(|a| Arg::Json(a)).collect();
    call_args(ctx, name, &args, nested)
}

/// One argument of a call into JS.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// JSON text, parsed into the value it stands for.
    Json(&'a str),
    /// Passed as a string: JSON the JS may parse only if it needs it.
    Text(&'a str),
    Int(i64),
    Bool(bool),
    /// Handler ids, as an array of numbers.
    Ids(&'a [usize]),
}

/// `call_in` with each argument passed as `Arg` says.
pub fn call_args(ctx: &Ctx<'_>, name: &str, args: &[Arg], nested: bool) -> Result<String, Failure> {
    let function: Function = ctx
        .globals()
        .get(name)
        .map_err(|e| thrown_text(format!("{name}: {e}")))?;
    let fail = |e: rquickjs::Error| thrown_text(e.to_string());
    let mut values = rquickjs::function::Args::new(ctx.clone(), args.len());
    for arg in args {
        match *arg {
            Arg::Json(text) => values.push_arg(ctx.json_parse(text).map_err(fail)?),
            Arg::Text(text) => {
                values.push_arg(rquickjs::String::from_str(ctx.clone(), text).map_err(fail)?)
            }
            Arg::Int(n) => values.push_arg(n as f64),
            Arg::Bool(b) => values.push_arg(b),
            Arg::Ids(ids) => values.push_arg(ids.iter().map(|&id| id as f64).collect::<Vec<_>>()),
        }
        .map_err(fail)?;
    }
    function
        .call_arg::<String>(values)
        .catch(ctx)
        .map_err(|e| classified(caught(ctx, e, nested), DEADLINE.get()))
}

/// A thrown failure told apart from the budget running out (`limit`, in `now_ms`) and the
/// memory cap being reached, which QuickJS reports as exceptions too.
fn classified(failure: Failure, limit: u64) -> Failure {
    match failure {
        Failure::Thrown { message, .. }
            if limit != 0 && now_ms() > limit && message.contains("interrupted") =>
        {
            Failure::TimedOut
        }
        Failure::Thrown { message, .. } if message.contains("out of memory") => {
            Failure::OutOfMemory
        }
        other => other,
    }
}

/// `__compile(source, file)`: evaluates a module's wrapper under its own file name.
fn compile_module<'js>(
    ctx: Ctx<'js>,
    source: String,
    file: String,
) -> rquickjs::Result<Value<'js>> {
    let mut options = EvalOptions::default();
    options.strict = false;
    options.filename = Some(file);
    ctx.eval_with_options(source, options)
}

fn eval(ctx: &Ctx<'_>, source: &str, file: &str) -> Result<(), Failure> {
    let mut options = EvalOptions::default();
    options.strict = false;
    options.filename = Some(file.to_owned());
    ctx.eval_with_options::<Value, _>(source, options)
        .catch(ctx)
        .map(|_| ())
        .map_err(|e| caught(ctx, e, false))
}

/// Turns a caught exception into a `Failure`, asking the prelude for its API answer.
fn caught<'js>(ctx: &Ctx<'js>, error: CaughtError<'js>, nested: bool) -> Failure {
    let (value, message, stack) = match error {
        CaughtError::Exception(e) => {
            let message = e.message().unwrap_or_default();
            let stack = e.stack().unwrap_or_default();
            (Some(e.into_value()), message, stack)
        }
        CaughtError::Value(v) => {
            let text = ctx
                .json_stringify(v.clone())
                .ok()
                .flatten()
                .and_then(|s| s.to_string().ok())
                .unwrap_or_else(|| "a thrown value".into());
            (Some(v), text, String::new())
        }
        CaughtError::Error(e) => (None, e.to_string(), String::new()),
    };
    let described: serde_json::Value = value
        .and_then(|v| {
            let describe = if nested {
                "__nestedErrorAnswer"
            } else {
                "__errorAnswer"
            };
            let to_answer: Function = ctx.globals().get(describe).ok()?;
            let text: String = to_answer.call((v,)).ok()?;
            serde_json::from_str(&text).ok()
        })
        .unwrap_or_default();
    let headers = described["headers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| Some((h[0].as_str()?.to_owned(), h[1].as_str()?.to_owned())))
        .collect();
    let answer = Some(described["answer"].clone()).filter(|a| a.is_object());
    Failure::Thrown {
        answer,
        headers,
        message,
        location: location(&stack),
    }
}

fn thrown_text(message: String) -> Failure {
    Failure::Thrown {
        answer: None,
        headers: Vec::new(),
        message,
        location: String::new(),
    }
}

/// The first `file:line` of a QuickJS stack trace (`    at f (file.pb.js:12:5)`).
fn location(stack: &str) -> String {
    stack
        .lines()
        .map(str::trim)
        .find_map(|line| {
            let inner = line.strip_prefix("at ")?;
            let at = inner
                .rsplit_once('(')
                .map_or(inner, |(_, rest)| rest.trim_end_matches(')'));
            let ours = at.starts_with("prelude.js") || at.starts_with("events.js");
            (!ours).then(|| at.to_owned())
        })
        .unwrap_or_default()
}

/// The prelude's `__native(op, args)`: the host's answer as `{"ok": ...}` or
/// `{"error": {status, message, data}}`.
fn answer(host: &dyn Host, ctx: &Ctx<'_>, op: &str, args: &str) -> String {
    let args = serde_json::from_str(args).unwrap_or(serde_json::Value::Null);
    // `raw:op`: the answer itself after "=" (the prelude's `callRaw`), errors as usual.
    let (op, raw) = match op.strip_prefix("raw:") {
        Some(op) => (op, true),
        None => (op, false),
    };
    let shown = op.starts_with("app.find") || op.starts_with("app.count");
    let what = if shown {
        crate::logs::cut(&args.to_string(), 300)
    } else {
        String::new()
    };
    let answered = match super::pool::outside_js(|| host.call(ctx, op, args)) {
        Ok(value) if raw => return format!("={value}"),
        Ok(value) => json!({ "ok": value }),
        Err(e) => {
            // An `$app` call that failed is said in the log, as the answer only has the
            // public message; a missing record is a common answer (existence checks) and
            // is not. Only reads show their arguments (filters and sorts): a save's may
            // hold a password.
            if op.starts_with("app.") && e.status_code() != actix_web::http::StatusCode::NOT_FOUND {
                log::warn!("hooks: {op}({what}) failed: {e}");
            }
            let body = e.body();
            json!({ "error": {
                "status": e.status_code().as_u16(),
                "message": body["message"],
                "data": body["data"],
                "thrown": matches!(e, Error::Thrown { .. }),
            }})
        }
    };
    answered.to_string()
}
