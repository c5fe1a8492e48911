//! The `sort` query parameter: `-created,title`, `@random`; every name checked against the
//! collection's fields before it reaches SQL.

use crate::error::{Error, Result};
use crate::schema::Collection;

/// PocketBase's limit on sort terms.
pub const MAX_TERMS: usize = 8;

/// An `ORDER BY` clause (with a leading space) or "" for no sort.
pub fn order_by(c: &Collection, sort: &str) -> Result<String> {
    let terms: Vec<&str> = sort
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if terms.is_empty() {
        return Ok(String::new());
    }
    if terms.len() > MAX_TERMS {
        return Err(Error::bad_request(format!(
            "Too many sort expressions (max {MAX_TERMS})."
        )));
    }
    let mut parts = Vec::with_capacity(terms.len());
    for term in terms {
        if term == "@random" {
            parts.push("RANDOM()".to_owned());
            continue;
        }
        let (name, dir) = match term.strip_prefix('-') {
            Some(n) => (n, "DESC"),
            None => (term.strip_prefix('+').unwrap_or(term), "ASC"),
        };
        let known = c.field(name).is_some_and(|f| !f.hidden) || name == "@rowid";
        if !known {
            // PocketBase's (unhelpful) answer to an unknown sort field.
            return Err(Error::bad_request(
                "Something went wrong while processing your request.",
            ));
        }
        let col = if name == "@rowid" {
            "rowid".to_owned()
        } else {
            format!("\"{name}\"")
        };
        parts.push(format!("{col} {dir}"));
    }
    Ok(format!(" ORDER BY {}", parts.join(", ")))
}
