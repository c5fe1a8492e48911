//! Record input: each field's value taken from the body (with the `field+` / `+field` /
//! `field-` modifiers), cast as PocketBase casts it, validated with its codes, and turned
//! into the SQL value stored in the field's column.

use std::borrow::Cow;

use rusqlite::Connection;
use rusqlite::types::Value as Sql;
use serde_json::{Map, Value, json};

use super::geo::GeoPoint;
use crate::error::{FieldError, FieldErrors, Result};
use crate::schema::field::{DateField, NumberField, SelectField, TextField};
use crate::schema::{Collection, Field, FieldKind};

/// What a create or update writes: column name and value, in field order.
pub type Columns = Vec<(String, Sql)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
}

fn err(code: &str, message: impl AsRef<str>) -> FieldError {
    FieldError::new(code, message.as_ref())
}

/// PocketBase's cast to string: strings as they are, numbers and bools printed, null empty.
fn to_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some(String::new()),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A JSON field's value as PocketBase's `PrepareValue` reads it, so that forms (whose values
/// are all text) and JSON bodies store the same thing: text that is `null`, `true`, `false`,
/// or that starts like a number, a quoted string, an array or an object and parses as JSON
/// is that JSON; any other text (the empty one too) stays a string.
fn json_text(v: &Value) -> Value {
    let Value::String(s) = v else {
        return v.clone();
    };
    let parses = match s.as_bytes().first() {
        Some(b'0'..=b'9' | b'-' | b'"' | b'[' | b'{') => true,
        _ => matches!(s.as_str(), "null" | "true" | "false"),
    };
    if parses && let Ok(parsed) = serde_json::from_str::<Value>(s) {
        return parsed;
    }
    v.clone()
}

/// PocketBase's lenient cast: text that is not a number counts as 0, like an empty value.
fn to_number(v: &Value) -> Option<f64> {
    match v {
        Value::Null => Some(0.0),
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => Some(
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .unwrap_or(0.0),
        ),
        _ => None,
    }
}

fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Null => Some(false),
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_f64().is_some_and(|x| x != 0.0)),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "" | "0" | "false" | "f" => Some(false),
            "1" | "true" | "t" => Some(true),
            _ => None,
        },
        _ => None,
    }
}

/// A list value: arrays as they are, a single value as a one-item list, empty for null/"".
/// Numbers and booleans count as their text, as PocketBase casts them (a multipart `1`
/// arrives as a number).
fn to_list(v: &Value) -> Option<Vec<String>> {
    let item = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match v {
        Value::Null => Some(Vec::new()),
        Value::String(s) if s.is_empty() => Some(Vec::new()),
        Value::Array(items) => items.iter().map(item).collect(),
        single => item(single).map(|s| vec![s]),
    }
}

fn dedup(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for item in list {
        if !item.is_empty() && !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// The value a field gets from the body: a plain key replaces, `name+`/`+name` append (or
/// add, for numbers) and `name-` remove (or subtract), applied to the current value.
fn incoming(field: &Field, body: &Map<String, Value>, current: &Value) -> Option<Value> {
    let name = &field.name;
    let mut value = body.get(name).cloned();
    // A geoPoint has no `+`/`-` modifiers in PocketBase: those keys are not its value.
    if let FieldKind::GeoPoint(_) = field.kind {
        return value;
    }
    let prepend = body.get(&format!("+{name}"));
    let append = body.get(&format!("{name}+"));
    let remove = body.get(&format!("{name}-"));
    if prepend.is_none() && append.is_none() && remove.is_none() {
        return value;
    }
    let base = value.take().unwrap_or_else(|| current.clone());
    if let FieldKind::Number(_) = field.kind {
        let mut n = to_number(&base).unwrap_or(0.0);
        for (v, sign) in [(prepend, 1.0), (append, 1.0), (remove, -1.0)] {
            if let Some(x) = v.and_then(to_number) {
                n += sign * x;
            }
        }
        return Some(json!(n));
    }
    let mut list = to_list(&base).unwrap_or_default();
    if let Some(p) = prepend.and_then(to_list) {
        list.splice(0..0, p);
    }
    if let Some(a) = append.and_then(to_list) {
        list.extend(a);
    }
    if let Some(r) = remove.and_then(to_list) {
        list.retain(|x| !r.contains(x));
    }
    Some(json!(list))
}

/// The body with what its sender may not write left out: hidden fields (all but an auth
/// record's password) are the superuser's alone, as in PocketBase.
/// Borrowed as it came unless there is something to leave out.
pub fn writable<'a>(
    c: &Collection,
    superuser: bool,
    body: &'a Map<String, Value>,
) -> Cow<'a, Map<String, Value>> {
    let keys = |name: &str| {
        [
            name.to_owned(),
            format!("+{name}"),
            format!("{name}+"),
            format!("{name}-"),
        ]
    };
    let withheld: Vec<String> = c
        .fields
        .iter()
        .filter(|f| !superuser && f.hidden && !(c.is_auth() && f.name == "password"))
        .flat_map(|f| keys(&f.name))
        .filter(|k| body.contains_key(k))
        .collect();
    if withheld.is_empty() {
        return Cow::Borrowed(body);
    }
    let mut out = body.clone();
    for key in &withheld {
        out.remove(key);
    }
    Cow::Owned(out)
}

/// The body as rules see it (`@request.body.*`): each field's value with its modifiers
/// applied to `current` (`credits+: 5` is `credits`, the sum) and cast to the field's type,
/// the modifier keys gone, as PocketBase's `ReplaceModifiers` gives it.
pub fn resolved(
    c: &Collection,
    body: &Map<String, Value>,
    current: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = body.clone();
    for field in &c.fields {
        let name = &field.name;
        let keys = [format!("+{name}"), format!("{name}+"), format!("{name}-")];
        if !body.contains_key(name) && !keys.iter().any(|k| body.contains_key(k)) {
            continue;
        }
        let cur = current.get(name).cloned().unwrap_or(Value::Null);
        let Some(value) = incoming(field, body, &cur) else {
            continue;
        };
        for key in &keys {
            out.remove(key);
        }
        out.insert(name.clone(), cast(field, value));
    }
    out
}

/// A body value as the field holds it: numbers and bools as such, lists for fields with
/// several values, text for the rest; what does not cast stays as sent.
fn cast(field: &Field, value: Value) -> Value {
    let cast = match &field.kind {
        FieldKind::Number(_) => to_number(&value).map(|n| json!(n)),
        FieldKind::Bool(_) => to_bool(&value).map(Value::Bool),
        FieldKind::Json(_) => return value,
        // The point itself, whatever was sent: `@request.body.place.lon` reads it.
        FieldKind::GeoPoint(_) => return GeoPoint::from_value(&value).to_json(),
        _ if field.is_multiple() => to_list(&value).map(|l| json!(dedup(l))),
        FieldKind::Select(_) | FieldKind::Relation(_) | FieldKind::File(_) => {
            to_list(&value).map(|l| json!(l.into_iter().next_back().unwrap_or_default()))
        }
        _ => to_text(&value).map(Value::String),
    };
    cast.unwrap_or(value)
}

/// Validates and converts the body for `c`. `current` holds the stored record (update) as
/// JSON, or is empty (create); `uploads` are the files this request sent, which the body
/// names under their stored names. Auth-only fields (password, tokenKey) are handled by
/// the caller.
pub fn prepare(
    conn: &Connection,
    c: &Collection,
    action: Action,
    body: &Map<String, Value>,
    current: &Map<String, Value>,
    uploads: &[crate::files::Staged],
) -> Result<(Columns, FieldErrors)> {
    let mut columns = Columns::new();
    let mut errors = FieldErrors::new();
    let now = crate::datetime::now();
    for field in &c.fields {
        if c.is_auth() && matches!(field.name.as_str(), "password" | "tokenKey") {
            continue;
        }
        if let FieldKind::Autodate(o) = &field.kind {
            // As PocketBase: a date set on update only stays empty until the first update.
            let stamp = match action {
                Action::Create => o.on_create,
                Action::Update => o.on_update,
            };
            if stamp {
                columns.push((field.name.clone(), Sql::Text(now.clone())));
            }
            continue;
        }
        let cur = current.get(&field.name).cloned().unwrap_or(Value::Null);
        let value = match incoming(field, body, &cur) {
            Some(v) => v,
            None if action == Action::Update => continue,
            None => Value::Null,
        };
        if let FieldKind::File(o) = &field.kind {
            match super::files::column(field, o, &value, &cur, uploads) {
                Ok(sql) => columns.push((field.name.clone(), sql)),
                Err(e) => {
                    errors.insert(field.name.clone(), e.into());
                }
            }
            continue;
        }
        if field.name == "id" && action == Action::Update {
            continue;
        }
        match convert(conn, c, field, &value) {
            Ok(sql) => columns.push((field.name.clone(), sql)),
            Err(e) => {
                errors.insert(field.name.clone(), e.into());
            }
        }
    }
    Ok((columns, errors))
}

/// For `$app.saveNoValidate`: the fields `prepare` refused stored as near as their values
/// go (text as text, a number that is none as 0, lists as lists), their rules unchecked.
/// A file field keeps its error: its uploads are not placed without their checks.
pub fn loosen(
    c: &Collection,
    body: &Map<String, Value>,
    current: &Map<String, Value>,
    columns: &mut Columns,
    errors: &mut FieldErrors,
) {
    for field in &c.fields {
        if !errors.contains_key(&field.name) {
            continue;
        }
        let cur = current.get(&field.name).cloned().unwrap_or(Value::Null);
        let Some(value) = incoming(field, body, &cur).map(|v| cast(field, v)) else {
            continue;
        };
        let sql = match &field.kind {
            FieldKind::File(_) | FieldKind::Autodate(_) | FieldKind::Password(_) => continue,
            FieldKind::Number(_) => number_sql(to_number(&value).unwrap_or(0.0)),
            FieldKind::Bool(_) => Sql::Integer(i64::from(to_bool(&value).unwrap_or(false))),
            FieldKind::Json(_) => match json_text(&value) {
                Value::Null => Sql::Null,
                v => Sql::Text(v.to_string()),
            },
            FieldKind::GeoPoint(_) => Sql::Text(GeoPoint::from_value(&value).to_text()),
            FieldKind::Select(_) | FieldKind::Relation(_) => {
                let list = dedup(to_list(&value).unwrap_or_default());
                if field.is_multiple() {
                    Sql::Text(json!(list).to_string())
                } else {
                    Sql::Text(list.into_iter().next_back().unwrap_or_default())
                }
            }
            _ => Sql::Text(to_text(&value).unwrap_or_else(|| value.to_string())),
        };
        errors.remove(&field.name);
        columns.push((field.name.clone(), sql));
    }
}

/// A number as stored: whole numbers as integers, the rest as reals.
fn number_sql(n: f64) -> Sql {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Sql::Integer(n as i64)
    } else {
        Sql::Real(n)
    }
}

fn convert(
    conn: &Connection,
    c: &Collection,
    field: &Field,
    value: &Value,
) -> Result<Sql, FieldError> {
    let invalid = || err("validation_invalid_value", "Invalid value.");
    let required = field.required();
    match &field.kind {
        FieldKind::Text(o) => {
            // A list or an object is "" there (`cast.ToString`).
            let mut s = to_text(value).unwrap_or_default();
            if s.is_empty() && field.is_primary_key() {
                s = crate::ids::record_id();
            }
            text_rules(o, &s, required || field.is_primary_key())?;
            Ok(Sql::Text(s))
        }
        FieldKind::Editor(o) => {
            let s = to_text(value).unwrap_or_default();
            if required && s.is_empty() {
                return Err(FieldError::required());
            }
            let max = if o.max_size == 0 {
                5 * 1024 * 1024
            } else {
                o.max_size
            };
            if s.len() as u64 > max {
                return Err(err(
                    "validation_max_size_constraint",
                    format!("Must be less than {max} bytes."),
                ));
            }
            Ok(Sql::Text(s))
        }
        FieldKind::Password(_) => Ok(Sql::Text(String::new())),
        FieldKind::Number(o) => {
            let n = to_number(value).ok_or_else(invalid)?;
            number_rules(o, n, required)?;
            Ok(number_sql(n))
        }
        FieldKind::Bool(_) => {
            let b = to_bool(value).ok_or_else(invalid)?;
            if required && !b {
                return Err(FieldError::required());
            }
            Ok(Sql::Integer(i64::from(b)))
        }
        FieldKind::Email(o) | FieldKind::Url(o) => {
            let s = to_text(value).unwrap_or_default().trim().to_owned();
            if s.is_empty() {
                return if required {
                    Err(FieldError::required())
                } else {
                    Ok(Sql::Text(s))
                };
            }
            let is_email = matches!(field.kind, FieldKind::Email(_));
            let domain = if is_email {
                if let Some(e) = crate::validate::email(&s) {
                    return Err(e);
                }
                s.rsplit('@').next().unwrap_or_default().to_owned()
            } else {
                url_host(&s).ok_or_else(|| err("validation_invalid_url", "Must be a valid url."))?
            };
            if !o.only_domains.is_empty()
                && !o
                    .only_domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(&domain))
            {
                return Err(err(
                    "validation_email_domain_not_allowed",
                    "Domain is not allowed.",
                ));
            }
            if o.except_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(&domain))
            {
                return Err(err(
                    "validation_email_domain_not_allowed",
                    "Domain is not allowed.",
                ));
            }
            Ok(Sql::Text(s))
        }
        FieldKind::Date(o) => date(o, value, required),
        FieldKind::Autodate(_) | FieldKind::File(_) => Ok(Sql::Null),
        FieldKind::Select(o) => select(o, field.is_multiple(), value, required),
        FieldKind::Json(o) => {
            let value = &json_text(value);
            let text = serde_json::to_string(value).map_err(|_| invalid())?;
            let max = if o.max_size == 0 {
                5 * 1024 * 1024
            } else {
                o.max_size
            };
            if text.len() as u64 > max {
                return Err(err(
                    "validation_json_size_limit",
                    format!("The maximum allowed JSON size is {max} bytes."),
                ));
            }
            let empty = matches!(value, Value::Null)
                || value.as_str() == Some("")
                || value.as_array().is_some_and(Vec::is_empty)
                || value.as_object().is_some_and(Map::is_empty);
            if required && empty {
                return Err(FieldError::required());
            }
            Ok(if value.is_null() {
                Sql::Null
            } else {
                Sql::Text(text)
            })
        }
        FieldKind::GeoPoint(_) => {
            let point = GeoPoint::from_value(value);
            point.check(required)?;
            Ok(Sql::Text(point.to_text()))
        }
        FieldKind::Relation(o) => {
            let ids = dedup(to_list(value).ok_or_else(invalid)?);
            let multiple = field.is_multiple();
            if !multiple && ids.len() > 1 {
                return Err(invalid());
            }
            if required && ids.is_empty() {
                return Err(FieldError::required());
            }
            if multiple && o.max_select > 0 && ids.len() as u64 > o.max_select {
                return Err(err(
                    "validation_too_many_values",
                    format!("Select no more than {}.", o.max_select),
                ));
            }
            if !ids.is_empty() && (ids.len() as u64) < o.min_select {
                return Err(err(
                    "validation_not_enough_values",
                    format!("Select at least {}.", o.min_select),
                ));
            }
            if !relations_exist(conn, c, &o.collection_id, &ids) {
                return Err(err(
                    "validation_missing_rel_records",
                    "Failed to find all relation records with the provided ids.",
                ));
            }
            Ok(if multiple {
                Sql::Text(json!(ids).to_string())
            } else {
                Sql::Text(ids.into_iter().next().unwrap_or_default())
            })
        }
    }
}

/// Field patterns, compiled once each. Patterns are checked when a collection is saved, so
/// one that does not compile here (an old definition) matches nothing.
fn matches_pattern(pattern: &str, value: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};
    static CACHE: LazyLock<Mutex<HashMap<String, Option<regex::Regex>>>> =
        LazyLock::new(Default::default);
    if pattern.is_empty() {
        return true;
    }
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() > 1024 {
        cache.clear();
    }
    let compiled = cache
        .entry(pattern.to_owned())
        .or_insert_with(|| regex::Regex::new(pattern).ok());
    compiled.as_ref().is_some_and(|re| re.is_match(value))
}

fn text_rules(o: &TextField, s: &str, required: bool) -> Result<(), FieldError> {
    if s.is_empty() {
        return if required {
            Err(FieldError::required())
        } else {
            Ok(())
        };
    }
    let len = s.chars().count() as u64;
    if o.min > 0 && len < o.min {
        return Err(err(
            "validation_min_text_constraint",
            format!("Must be at least {} character(s).", o.min),
        )
        .with_params(json!({"min": o.min})));
    }
    let max = if o.max == 0 { 5000 } else { o.max };
    if len > max {
        return Err(err(
            "validation_max_text_constraint",
            format!("Must be no more than {max} character(s)."),
        )
        .with_params(json!({"max": max})));
    }
    if !matches_pattern(&o.pattern, s) {
        return Err(err("validation_invalid_format", "Invalid value format."));
    }
    Ok(())
}

fn number_rules(o: &NumberField, n: f64, required: bool) -> Result<(), FieldError> {
    // As PocketBase: zero is the empty value, which only `required` checks (not onlyInt,
    // min or max), so an omitted optional number with `min: 1` is stored as 0.
    if n == 0.0 {
        return if required {
            Err(FieldError::required())
        } else {
            Ok(())
        };
    }
    if o.only_int && n.fract() != 0.0 {
        return Err(err(
            "validation_only_int_constraint",
            "Decimal numbers are not allowed.",
        ));
    }
    let num = crate::records::output::number;
    if let Some(min) = o.min.filter(|m| n < *m) {
        let message = format!("Must be greater or equal than {}.", num(min));
        return Err(
            err("validation_min_number_constraint", message).with_params(json!({"min": num(min)}))
        );
    }
    if let Some(max) = o.max.filter(|m| n > *m) {
        let message = format!("Must be less or equal than {}.", num(max));
        return Err(
            err("validation_max_number_constraint", message).with_params(json!({"max": num(max)}))
        );
    }
    Ok(())
}

fn select(
    o: &SelectField,
    multiple: bool,
    value: &Value,
    required: bool,
) -> Result<Sql, FieldError> {
    let items =
        dedup(to_list(value).ok_or_else(|| err("validation_invalid_value", "Invalid value."))?);
    if required && items.is_empty() {
        return Err(FieldError::required());
    }
    if let Some(bad) = items.iter().find(|i| !o.values.contains(i)) {
        return Err(
            err("validation_invalid_value", format!("Invalid value {bad}."))
                .with_params(json!({"value": bad})),
        );
    }
    if multiple {
        if o.max_select > 0 && items.len() as u64 > o.max_select {
            return Err(err(
                "validation_too_many_values",
                format!("Select no more than {}.", o.max_select),
            ));
        }
        return Ok(Sql::Text(json!(items).to_string()));
    }
    if items.len() > 1 {
        return Err(err(
            "validation_invalid_value",
            "Only one value is allowed.",
        ));
    }
    Ok(Sql::Text(items.into_iter().next().unwrap_or_default()))
}

fn date(o: &DateField, value: &Value, required: bool) -> Result<Sql, FieldError> {
    let raw =
        to_text(value).ok_or_else(|| err("validation_invalid_date", "Must be a valid date."))?;
    if raw.trim().is_empty() {
        return if required {
            Err(FieldError::required())
        } else {
            Ok(Sql::Text(String::new()))
        };
    }
    // Unparseable text is an empty date, as PocketBase's cast makes it.
    let Some(parsed) = crate::datetime::parse(&raw) else {
        return if required {
            Err(FieldError::required())
        } else {
            Ok(Sql::Text(String::new()))
        };
    };
    let text = crate::datetime::format(parsed);
    if !o.min.is_empty() && crate::datetime::parse(&o.min).is_some_and(|m| parsed < m) {
        return Err(err(
            "validation_min_date_constraint",
            format!("Must be no earlier than {}.", o.min),
        ));
    }
    if !o.max.is_empty() && crate::datetime::parse(&o.max).is_some_and(|m| parsed > m) {
        return Err(err(
            "validation_max_date_constraint",
            format!("Must be no later than {}.", o.max),
        ));
    }
    Ok(Sql::Text(text))
}

/// The host of an absolute http(s)/ftp-like URL, or None if it is not one.
fn url_host(s: &str) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?.split(':').next()?;
    let ok = !host.is_empty()
        && !s.chars().any(char::is_whitespace)
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    ok.then(|| host.to_ascii_lowercase())
}

fn relations_exist(conn: &Connection, c: &Collection, target_id: &str, ids: &[String]) -> bool {
    if ids.is_empty() {
        return true;
    }
    let table = if target_id == c.id {
        c.name.clone()
    } else {
        match conn
            .prepare_cached("SELECT name FROM _collections WHERE id = ?1")
            .and_then(|mut s| s.query_row([target_id], |r| r.get::<_, String>(0)))
        {
            Ok(name) => name,
            Err(_) => return false,
        }
    };
    let placeholders = vec!["?"; ids.len()].join(", ");
    let sql = format!("SELECT count(*) FROM \"{table}\" WHERE id IN ({placeholders})");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(rusqlite::params_from_iter(ids), |r| r.get::<_, i64>(0)))
        .is_ok_and(|n| n as usize == ids.len())
}
