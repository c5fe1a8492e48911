//! What a record rule says for a caller: rules compiled to SQL conditions on the row `t`,
//! with the request they may read (a write's rules see its resolved body); the client's own
//! filter, joined under the rules of whatever it reaches; and who manages an auth record.

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension};
use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{Caller, Ctx, input, output};
use crate::error::{Error, Result};
use crate::filter::{self, RequestInfo};
use crate::schema::{Collection, FieldKind};

/// What a rule says about this caller.
pub(super) enum Access {
    /// Superuser, or the rule is "" (anyone).
    Granted,
    /// The rule is null: superusers only. Answered with 403.
    SuperusersOnly,
    /// The rule is an expression: rows must satisfy this SQL condition on `t`.
    Where(String),
}

pub(super) fn access(
    c: &Collection,
    rule: &Option<String>,
    ctx: &Ctx,
    params: &mut Vec<Sql>,
) -> Access {
    access_with(c, rule, ctx, &ctx.request, params)
}

/// The request a create or update rule sees: its body with every modifier applied to
/// `current` (`credits+` is `@request.body.credits`, the sum), as PocketBase evaluates it.
/// Built only for a rule that reads the body; others see the request as it came.
pub(super) fn write_request<'a>(
    c: &Collection,
    rule: &Option<String>,
    ctx: &'a Ctx,
    body: &Map<String, Value>,
    current: &Map<String, Value>,
) -> Cow<'a, RequestInfo> {
    let reads_body =
        !ctx.caller.is_superuser() && rule.as_deref().is_some_and(|r| r.contains("@request.body"));
    if !reads_body {
        return Cow::Borrowed(&ctx.request);
    }
    Cow::Owned(ctx.request.with_body(input::resolved(c, body, current)))
}

/// `access` with the request a create or update rule sees (see `write_request`).
pub(super) fn access_with(
    c: &Collection,
    rule: &Option<String>,
    ctx: &Ctx,
    request: &RequestInfo,
    params: &mut Vec<Sql>,
) -> Access {
    if ctx.caller.is_superuser() {
        return Access::Granted;
    }
    let Some(rule) = rule.as_deref() else {
        return Access::SuperusersOnly;
    };
    if rule.trim().is_empty() {
        return Access::Granted;
    }
    let scope = filter::Scope {
        collection: c,
        schema: &ctx.schema,
        request,
        trust: filter::Trust::Full,
    };
    let compiled = filter::parsed(rule).and_then(|expr| filter::compile(&expr, &scope, params));
    match compiled {
        Ok(sql) => Access::Where(sql),
        Err(e) => {
            // A stored rule that no longer compiles (say, a renamed field) admits nobody.
            log::warn!(
                "rule of collection {} does not compile ({e}); denying",
                c.name
            );
            Access::Where("0".into())
        }
    }
}

/// True when record `id` of `c` satisfies `rule` for this caller (null: nobody but
/// superusers; "": everyone). For rules outside the record CRUD, such as `authRule`.
pub fn satisfies(
    conn: &Connection,
    c: &Collection,
    rule: &Option<String>,
    ctx: &Ctx,
    id: &str,
) -> Result<bool> {
    let mut params = Vec::new();
    match access(c, rule, ctx, &mut params) {
        Access::Granted => Ok(true),
        Access::SuperusersOnly => Ok(false),
        Access::Where(cond) => row_matches(conn, c, id, &cond, params),
    }
}

/// Names only superusers may use in a `filter` or `sort`, as PocketBase forbids them
/// (loosely, by substring): another collection's records, and the request's values.
const SUPERUSER_ONLY_NAMES: [&str; 2] = ["@collection.", "@request."];

/// Refuses a non-superuser's `filter` or `sort` that names what only superusers may use.
pub fn check_client_expression(ctx: &Ctx, texts: &[&str]) -> Result<()> {
    if ctx.caller.is_superuser() {
        return Ok(());
    }
    for name in SUPERUSER_ONLY_NAMES {
        if texts.iter().any(|t| t.contains(name)) {
            return Err(Error::Forbidden(format!(
                "Only superusers can filter by {name}"
            )));
        }
    }
    Ok(())
}

/// The client's `filter` as a condition on `t`. A superuser's filter reaches everything;
/// anyone else's only what they could list (see `filter::Trust::Client`).
pub(super) fn client_filter(
    c: &Collection,
    text: &str,
    ctx: &Ctx,
    params: &mut Vec<Sql>,
) -> Result<Option<String>> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    check_client_expression(ctx, &[text])?;
    let trust = if ctx.caller.is_superuser() {
        filter::Trust::Full
    } else {
        filter::Trust::Client
    };
    let scope = filter::Scope {
        collection: c,
        schema: &ctx.schema,
        request: &ctx.request,
        trust,
    };
    let sql = filter::parsed(text)
        .and_then(|expr| filter::compile(&expr, &scope, params))
        .map_err(|e| Error::bad_request(format!("Invalid filter parameter: {e}.")))?;
    Ok(Some(sql))
}

/// True when the row `id` satisfies `condition`.
pub(super) fn row_matches(
    conn: &Connection,
    c: &Collection,
    id: &str,
    condition: &str,
    mut params: Vec<Sql>,
) -> Result<bool> {
    params.push(Sql::Text(id.to_owned()));
    let sql = format!(
        "SELECT 1 FROM \"{}\" t WHERE t.id = ?{} AND ({condition})",
        c.name,
        params.len()
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(rusqlite::params_from_iter(&params), |_| Ok(()))
        .optional()?
        .is_some())
}

pub(super) fn superusers_only() -> Error {
    Error::Forbidden("Only superusers can perform this action.".into())
}

/// For auth collections with a manageRule and a caller it may admit: an extra result
/// column `@manage` (1 when the caller manages that row), read by `output::record`.
pub(super) fn manage_column(c: &Collection, ctx: &Ctx, params: &mut Vec<Sql>) -> String {
    if !c.is_auth() || ctx.caller.is_superuser() || ctx.caller == Caller::Guest {
        return String::new();
    }
    match access(c, &manage_rule(c), ctx, params) {
        Access::Where(cond) => format!(", ({cond}) AS \"{}\"", output::MANAGE_COLUMN),
        Access::Granted => format!(", 1 AS \"{}\"", output::MANAGE_COLUMN),
        Access::SuperusersOnly => String::new(),
    }
}

/// An auth collection's manageRule; None (superusers only) when it is unset or empty, as
/// PocketBase reads an empty one.
pub(super) fn manage_rule(c: &Collection) -> Option<String> {
    c.options
        .get("manageRule")
        .and_then(Value::as_str)
        .filter(|r| !r.trim().is_empty())
        .map(str::to_owned)
}

/// Whether `ctx`'s caller manages an auth record: a superuser, or a signed-in record the
/// manageRule admits for `row` (a stored record's id, or the values of one not yet
/// written).
pub(super) fn manages(conn: &Connection, c: &Collection, ctx: &Ctx, row: RowRef) -> Result<bool> {
    if ctx.caller.is_superuser() {
        return Ok(true);
    }
    if !c.is_auth() || ctx.caller == Caller::Guest {
        return Ok(false);
    }
    let mut params = Vec::new();
    let Access::Where(cond) = access(c, &manage_rule(c), ctx, &mut params) else {
        return Ok(false);
    };
    match row {
        RowRef::Stored(id) => row_matches(conn, c, id, &cond, params),
        RowRef::Values(values) => {
            let select = row_select(c, values, &mut params);
            let sql = format!("SELECT 1 FROM (SELECT {select}) t WHERE {cond}");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(rusqlite::params_from_iter(&params), |_| Ok(()))
                .optional()?
                .is_some())
        }
    }
}

/// A record a rule is evaluated against.
pub(super) enum RowRef<'a> {
    Stored(&'a str),
    Values(&'a [(String, Sql)]),
}

/// `row`'s values as a select list of columns named after its fields (appending their
/// values to `params`), each with its column's affinity.
pub(super) fn row_select(c: &Collection, row: &[(String, Sql)], params: &mut Vec<Sql>) -> String {
    let mut columns = Vec::with_capacity(row.len());
    for (name, value) in row {
        params.push(value.clone());
        let mark = format!("?{}", params.len());
        let expr = match affinity_cast(c, name, value) {
            Some(kind) => format!("CAST({mark} AS {kind})"),
            None => mark,
        };
        columns.push(format!("{expr} AS \"{}\"", name.replace('"', "\"\"")));
    }
    columns.join(", ")
}

/// The cast that gives a captured value its table column's affinity (so comparisons behave
/// as they do on the table) where that changes nothing about the value itself.
pub(super) fn affinity_cast(c: &Collection, column: &str, value: &Sql) -> Option<&'static str> {
    let field = c.field(column)?;
    if field.is_multiple() {
        return None;
    }
    match (&field.kind, value) {
        (FieldKind::Number(_) | FieldKind::Bool(_), Sql::Integer(_) | Sql::Real(_)) => {
            Some("NUMERIC")
        }
        (
            FieldKind::Number(_) | FieldKind::Bool(_) | FieldKind::Json(_) | FieldKind::GeoPoint(_),
            _,
        ) => None,
        (_, Sql::Text(_)) => Some("TEXT"),
        _ => None,
    }
}
