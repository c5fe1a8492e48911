//! `$app.db()` for hooks and migrations: PocketBase's dbx queries, `newQuery(sql)` with
//! `{:name}` parameters bound as values, `{{table}}` and `[[column]]` quoted, run with
//! full access: `execute()` on the writer (inside a model hook or a migration, in its
//! transaction), `one()`/`all()` on a reader (or that transaction).

use rusqlite::types::{Value as Sql, ValueRef};
use rusqlite::{Connection, params_from_iter};
use serde_json::{Map, Value, json};

use super::Server;
use super::lent;
use crate::error::{Error, Result};

/// `execute()`: answers `{rowsAffected}`.
pub fn execute(state: &dyn Server, sql: &str, params: &Value) -> Result<Value> {
    let (sql, values) = prepare(sql, params)?;
    let run = |conn: &Connection| -> Result<Value> {
        let n = conn.execute(&sql, params_from_iter(values.iter()))?;
        Ok(json!({ "rowsAffected": n }))
    };
    match lent::tx(&mut |tx| run(tx.conn())) {
        Some(done) => done,
        None => state.data().write(run),
    }
}

/// `one()`/`all()`: every row as an object of its columns.
pub fn query(state: &dyn Server, sql: &str, params: &Value) -> Result<Value> {
    let (sql, values) = prepare(sql, params)?;
    let run = |conn: &Connection| -> Result<Value> {
        let mut stmt = conn.prepare(&sql)?;
        let names: Vec<String> = stmt
            .column_names()
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        let mut rows = stmt.query(params_from_iter(values.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut item = Map::new();
            for (i, name) in names.iter().enumerate() {
                item.insert(name.clone(), value(row.get_ref(i)?));
            }
            out.push(Value::Object(item));
        }
        Ok(Value::Array(out))
    };
    match lent::tx(&mut |tx| run(tx.conn())) {
        Some(done) => done,
        None => state.data().read(run),
    }
}

fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => json!(n),
        ValueRef::Real(f) => json!(f),
        ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => json!(String::from_utf8_lossy(b)),
    }
}

fn param(v: &Value) -> Sql {
    match v {
        Value::Null => Sql::Null,
        Value::Bool(b) => Sql::Integer(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(Sql::Integer)
            .unwrap_or_else(|| Sql::Real(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => Sql::Text(s.clone()),
        other => Sql::Text(other.to_string()),
    }
}

/// The SQL with `{:name}` turned into positional parameters (their values in order),
/// `{{name}}` and `[[name]]` into quoted identifiers; quoted text is left alone.
fn prepare(sql: &str, params: &Value) -> Result<(String, Vec<Sql>)> {
    let mut out = String::with_capacity(sql.len());
    let mut values = Vec::new();
    let mut rest = sql;
    let mut quote: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        if let Some(q) = quote {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            if c == q {
                quote = None;
            }
            continue;
        }
        let closing = match () {
            _ if rest.starts_with("{:") => Some("}"),
            _ if rest.starts_with("{{") => Some("}}"),
            _ if rest.starts_with("[[") => Some("]]"),
            _ => None,
        };
        if let Some(closing) = closing
            && let Some(end) = rest[2..].find(closing)
        {
            let name = &rest[2..2 + end];
            if rest.starts_with("{:") {
                let v = params.get(name).ok_or_else(|| {
                    Error::bad_request(format!("Missing query parameter {name:?}."))
                })?;
                values.push(param(v));
                out.push_str(&format!("?{}", values.len()));
            } else {
                out.push('"');
                out.push_str(&name.replace('"', "\"\""));
                out.push('"');
            }
            rest = &rest[2 + end + closing.len()..];
            continue;
        }
        if c == '\'' || c == '"' || c == '`' {
            quote = Some(c);
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok((out, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_bound_and_names_quoted() {
        let (sql, values) = prepare(
            "SELECT [[title]] FROM {{posts}} WHERE views > {:n} AND title != '{:n}' AND x = {:t}",
            &json!({"n": 3, "t": "a'b"}),
        )
        .unwrap_or_default();
        assert_eq!(
            sql,
            "SELECT \"title\" FROM \"posts\" WHERE views > ?1 AND title != '{:n}' AND x = ?2"
        );
        assert_eq!(values, vec![Sql::Integer(3), Sql::Text("a'b".into())]);
        assert!(prepare("SELECT {:missing}", &json!({})).is_err());
    }
}
