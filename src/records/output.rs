//! Rows to record JSON, as PocketBase shows them: `collectionId`, `collectionName` and each
//! visible field, keys sorted; hidden fields (password, tokenKey) never leave.

use rusqlite::Row;
use rusqlite::types::ValueRef;
use serde_json::{Map, Value, json};

use crate::schema::{Collection, Field, FieldKind};

/// Whole numbers print without a fraction (`12`, not `12.0`), as Go's encoder does.
pub fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        json!(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

fn value_of(field: &Field, raw: ValueRef) -> Value {
    let text = || match raw {
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(r) => r.to_string(),
        _ => String::new(),
    };
    if field.is_multiple() {
        return match raw {
            ValueRef::Text(t) => serde_json::from_slice(t).unwrap_or_else(|_| json!([])),
            _ => json!([]),
        };
    }
    match field.kind {
        FieldKind::Bool(_) => match raw {
            ValueRef::Integer(i) => json!(i != 0),
            ValueRef::Real(r) => json!(r != 0.0),
            ValueRef::Text(t) => json!(matches!(t, b"1" | b"true" | b"TRUE")),
            _ => json!(false),
        },
        FieldKind::Number(_) => match raw {
            ValueRef::Integer(i) => json!(i),
            ValueRef::Real(r) => number(r),
            ValueRef::Text(t) => String::from_utf8_lossy(t)
                .trim()
                .parse::<f64>()
                .map_or(json!(0), number),
            _ => json!(0),
        },
        FieldKind::GeoPoint(_) => match raw {
            ValueRef::Text(t) => {
                super::geo::GeoPoint::from_text(&String::from_utf8_lossy(t)).to_json()
            }
            _ => super::geo::GeoPoint::default().to_json(),
        },
        FieldKind::Json(_) => match raw {
            ValueRef::Null => Value::Null,
            ValueRef::Text(t) => {
                serde_json::from_slice(t).unwrap_or_else(|_| json!(String::from_utf8_lossy(t)))
            }
            ValueRef::Integer(i) => json!(i),
            ValueRef::Real(r) => number(r),
            ValueRef::Blob(_) => Value::Null,
        },
        _ => json!(text()),
    }
}

/// Who is looking, for the one field whose visibility depends on it (`email`).
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    pub superuser: bool,
    pub record_id: Option<&'a str>,
}

/// Every field of a row, hidden ones included: for auth checks and rules, never for output.
pub fn full_record(c: &Collection, row: &Row) -> rusqlite::Result<Map<String, Value>> {
    let mut out = Map::new();
    for field in &c.fields {
        if let Ok(idx) = row.as_ref().column_index(&field.name) {
            out.insert(field.name.clone(), value_of(field, row.get_ref(idx)?));
        }
    }
    Ok(out)
}

/// An optional extra result column: 1 when the caller manages the row (manageRule).
pub const MANAGE_COLUMN: &str = "@manage";

/// Reads a `SELECT *` row of `c` into record JSON.
pub fn record(c: &Collection, row: &Row, viewer: Viewer) -> rusqlite::Result<Map<String, Value>> {
    let mut out = Map::new();
    out.insert("collectionId".into(), json!(c.id));
    out.insert("collectionName".into(), json!(c.name));
    let mut email_visible = false;
    let mut id = String::new();
    for field in &c.fields {
        if field.hidden {
            continue;
        }
        let Ok(idx) = row.as_ref().column_index(&field.name) else {
            continue;
        };
        let value = value_of(field, row.get_ref(idx)?);
        if field.name == "id" {
            id = value.as_str().unwrap_or_default().to_owned();
        }
        if c.is_auth() && field.name == "emailVisibility" {
            email_visible = value.as_bool().unwrap_or(false);
        }
        out.insert(field.name.clone(), value);
    }
    // An auth record's email is shown to its owner, superusers, or when made visible.
    let manager = row
        .as_ref()
        .column_index(MANAGE_COLUMN)
        .ok()
        .and_then(|i| row.get::<_, Option<i64>>(i).ok().flatten())
        .is_some_and(|v| v != 0);
    if c.is_auth()
        && !(email_visible || manager || viewer.superuser || viewer.record_id == Some(id.as_str()))
    {
        out.remove("email");
    }
    Ok(out)
}
