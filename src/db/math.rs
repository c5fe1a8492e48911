//! The SQL math functions `geoDistance()` compiles to (`radians`, `cos`, `sin`, `acos`),
//! registered on every connection. The bundled SQLite is built without its own math
//! functions, and PocketBase's are musl's libm (its SQLite is C translated to Go, libc
//! included). glibc's differ from those in the last bit of about one distance in twelve,
//! and a point's distance to itself is then 0 where PocketBase's is 9.5e-5 km or the
//! reverse, which decides whether a `<` filter matches. The `libm` crate is musl's libm in
//! Rust, so the same SQL gives the same numbers as PocketBase's.
//!
//! Argument handling is SQLite's own `math1Func`: integers and reals as they are, text
//! only when it reads as a number (numeric affinity, so `@request.query` values work),
//! anything else NULL; a NaN result is NULL.

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;

/// SQLite's `degToRad`, the same product in the same order.
fn radians(x: f64) -> f64 {
    x * (std::f64::consts::PI / 180.0)
}

/// A one-argument math function.
type Math = fn(f64) -> f64;

const FUNCTIONS: [(&str, Math); 4] = [
    ("radians", radians),
    ("cos", libm::cos),
    ("sin", libm::sin),
    ("acos", libm::acos),
];

pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8
        | FunctionFlags::SQLITE_DETERMINISTIC
        | FunctionFlags::SQLITE_INNOCUOUS;
    for (name, f) in FUNCTIONS {
        conn.create_scalar_function(name, 1, flags, move |ctx| {
            Ok(numeric(ctx.get_raw(0)).map(f).filter(|r| !r.is_nan()))
        })?;
    }
    Ok(())
}

/// The argument as a double, as `sqlite3_value_numeric_type` then `sqlite3_value_double`
/// read it; None where SQLite's math functions answer NULL.
fn numeric(value: ValueRef) -> Option<f64> {
    match value {
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Real(r) => Some(r),
        ValueRef::Text(t) => std::str::from_utf8(t).ok().and_then(numeric_text),
        ValueRef::Null | ValueRef::Blob(_) => None,
    }
}

/// Text that SQLite's `sqlite3AtoF` takes whole: surrounding space, then
/// `[+-]digits[.digits][e[+-]digits]` or `[+-].digits[e[+-]digits]`.
fn numeric_text(text: &str) -> Option<f64> {
    let space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r');
    let s = text.trim_matches(space);
    let bytes = s.as_bytes();
    let mut i = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa = digits(&mut i);
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return None;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    // Rust's parser takes `5.` and `.5` as SQLite does, and only well-formed text is here.
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(conn: &Connection, sql: &str) -> Option<f64> {
        conn.query_row(sql, [], |r| r.get(0)).unwrap_or(None)
    }

    #[test]
    fn behave_as_sqlite_math_functions() {
        let conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        register(&conn).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            one(&conn, "SELECT radians(180)"),
            Some(std::f64::consts::PI)
        );
        assert_eq!(one(&conn, "SELECT cos(0)"), Some(1.0));
        assert_eq!(one(&conn, "SELECT radians(' 12.5 ')"), Some(radians(12.5)));
        assert_eq!(one(&conn, "SELECT radians('1e1')"), Some(radians(10.0)));
        assert_eq!(one(&conn, "SELECT radians('.5')"), Some(radians(0.5)));
        for null in [
            "'abc'", "'12x'", "''", "'1e'", "NULL", "x'01'", "'.'", "'inf'",
        ] {
            assert_eq!(
                one(&conn, &format!("SELECT radians({null})")),
                None,
                "{null}"
            );
        }
        // acos outside [-1, 1] is NaN, which SQL sees as NULL.
        assert_eq!(one(&conn, "SELECT acos(1.0000000000000002)"), None);
    }

    #[test]
    fn numbers_from_text() {
        assert_eq!(numeric_text("-3"), Some(-3.0));
        assert_eq!(numeric_text("+3.5e-1"), Some(0.35));
        assert_eq!(numeric_text("5."), Some(5.0));
        assert_eq!(numeric_text("0x10"), None);
        assert_eq!(numeric_text("1 2"), None);
    }
}
