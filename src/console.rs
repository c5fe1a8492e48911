//! The SQL console: one superuser query against `data.db`, answered as PocketBase 0.40's
//! `POST /api/sql` answers it (`execTime`, `affectedRows`, `columns`, `rows`, at most
//! `MAX_ROWS` rows, every value as text). A query that starts like a write (`INSERT`,
//! `UPDATE`, `DELETE`, `CREATE`, `DROP`, `ALTER`, `REPLACE`, `DETACH`) runs in a transaction
//! on the single writer, as PocketBase runs it; anything else runs on a `query_only` reader
//! within `--query-timeout`, so a write in disguise is refused. Every run is logged.

use std::time::Instant;

use rusqlite::types::ValueRef;
use serde::Serialize;
use serde_json::Value;

use crate::db::Store;
use crate::error::{Error, FieldError, FieldErrors, Result};

/// The most rows an answer holds (PocketBase's).
pub const MAX_ROWS: usize = 1000;
/// The longest query taken (PocketBase's).
pub const MAX_LENGTH: usize = 5000;

const WRITES: [&str; 8] = [
    "INSERT", "CREATE", "UPDATE", "DELETE", "DROP", "DETACH", "ALTER", "REPLACE",
];

#[derive(Serialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub exec_time: u128,
    pub affected_rows: usize,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
}

#[derive(Serialize, Debug)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub nullable: bool,
}

/// PocketBase's checks of the form: a query, at most `MAX_LENGTH` characters.
fn validate(query: &str) -> Result<()> {
    let error = if query.is_empty() {
        FieldError::required()
    } else if query.chars().count() > MAX_LENGTH {
        FieldError::new(
            "validation_length_too_long",
            &format!("The length must be no more than {MAX_LENGTH}."),
        )
        .with_params(serde_json::json!({"max": MAX_LENGTH, "min": 0}))
    } else {
        return Ok(());
    };
    let mut errors = FieldErrors::new();
    errors.insert("query".into(), error.into());
    Err(Error::validation(errors))
}

/// Runs `query`; a failing one is PocketBase's 400 with SQLite's words.
pub fn run(store: &Store, query: &str) -> Result<Outcome> {
    validate(query)?;
    let query = query.trim();
    let started = Instant::now();
    let upper = query.to_ascii_uppercase();
    let writes = !upper.starts_with("SELECT") && WRITES.iter().any(|w| upper.starts_with(w));
    let outcome = if writes {
        // `changes()` is the last INSERT, UPDATE or DELETE's count (as PocketBase reports
        // it), triggers' rows not included; a schema change changes no rows.
        let counts = ["INSERT", "UPDATE", "DELETE", "REPLACE"]
            .iter()
            .any(|w| upper.starts_with(w));
        store.write(|tx| {
            tx.execute_batch(query)?;
            let changed = if counts { tx.changes() } else { 0 };
            Ok(Outcome {
                affected_rows: usize::try_from(changed).unwrap_or(0),
                ..Outcome::default()
            })
        })
    } else {
        store.read(|conn| select(conn, query))
    };
    let took = started.elapsed();
    let shown = crate::logs::cut(query, 500);
    match &outcome {
        Ok(o) => log::info!(
            "sql console: {shown:?}: {} rows, {} changed, {} ms",
            o.rows.len(),
            o.affected_rows,
            took.as_millis()
        ),
        Err(e) => log::info!("sql console: {shown:?}: failed: {e}"),
    }
    match outcome {
        Ok(mut o) => {
            o.exec_time = took.as_millis();
            Ok(o)
        }
        Err(Error::Sqlite(e)) => Err(Error::bad_request(format!(
            "Failed to execute query. Raw error:\n{e}"
        ))),
        Err(e) => Err(e),
    }
}

fn select(conn: &rusqlite::Connection, query: &str) -> Result<Outcome> {
    let mut stmt = conn.prepare(query)?;
    let count = stmt.column_count();
    let mut columns = Vec::with_capacity(count);
    for (i, name) in stmt.column_names().into_iter().enumerate() {
        // A table's column has a declared type, an expression none. PocketBase's driver
        // says every column may be null, NOT NULL or not; so does this.
        let kind = match stmt.column_metadata(i) {
            Ok(Some(meta)) => meta
                .3
                .map(|t| t.to_string_lossy().to_ascii_uppercase())
                .unwrap_or_default(),
            _ => String::new(),
        };
        columns.push(Column {
            name: name.to_owned(),
            kind,
            nullable: true,
        });
    }
    let mut rows = Vec::new();
    let mut cursor = stmt.query([])?;
    while let Some(row) = cursor.next()? {
        if rows.len() >= MAX_ROWS {
            break;
        }
        let mut values = Vec::with_capacity(count);
        for i in 0..count {
            values.push(text(row.get_ref(i)?));
        }
        rows.push(values);
    }
    Ok(Outcome {
        columns,
        rows,
        ..Outcome::default()
    })
}

/// A value as Go's `database/sql` scans it into a string.
fn text(v: ValueRef) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::String(i.to_string()),
        ValueRef::Real(f) => Value::String(go_float(f)),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            Value::String(String::from_utf8_lossy(t).into_owned())
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`: the shortest digits, in exponent form when
/// the exponent is below -4 or at least 6 (Go's rule for the shortest form).
fn go_float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sci = format!("{f:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return f.to_string();
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        return f.to_string();
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_as_go_writes_them() {
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(100000.0), "100000");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(-2.5e-7), "-2.5e-07");
    }
}
