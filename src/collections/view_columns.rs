//! The result columns of a view query as PocketBase's parser reads them (`core/view.go`):
//! each column's expression as written and its alias, so that the type of a computed
//! column is inferred from its text as PocketBase infers it (`COUNT(` and `TOTAL(` are
//! numbers, `CAST(.. AS type)` is that type, anything else computed is `json`). SQLite
//! tells which columns come straight from a table; only this text tells the rest.

use crate::schema::FieldKind;
use crate::schema::field::{BoolField, NumberField, TextField};

/// The kind of the computed column written as `expression`, or None for `json` (no more is
/// known of it), as PocketBase's `parseQueryToFields` decides it.
pub fn computed_kind(expression: &str) -> Option<FieldKind> {
    let lower = expression.to_ascii_lowercase();
    let number = |only_int| {
        Some(FieldKind::Number(NumberField {
            only_int,
            ..Default::default()
        }))
    };
    if lower.starts_with("count(") {
        return number(true);
    }
    if lower.starts_with("total(") {
        return number(false);
    }
    match cast_type(&lower)? {
        "real" | "decimal" | "numeric" => number(false),
        "int" | "integer" => number(true),
        "text" => Some(FieldKind::Text(TextField::default())),
        "boolean" | "bool" => Some(FieldKind::Bool(BoolField::default())),
        _ => None,
    }
}

/// `type` of `cast(... as type)` (already lowercase): PocketBase's
/// `^cast\s*\(.*\s+as\s+(\w+)\s*\)$`.
fn cast_type(lower: &str) -> Option<&str> {
    let inner = lower
        .strip_prefix("cast")?
        .trim_start()
        .strip_prefix('(')?
        .strip_suffix(')')?
        .trim_end();
    let start = inner
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let (rest, word) = inner.split_at(start);
    let before_as = rest.trim_end().strip_suffix("as")?;
    let spaced = |s: &str| s.chars().last().is_some_and(char::is_whitespace);
    (!word.is_empty() && spaced(rest) && spaced(before_as)).then_some(word)
}

/// `(expression, alias)` of each column of the query's (first) select list, in order.
/// Aliases lose their identifier quotes; a bare `t.col` is aliased `col`.
pub fn columns(query: &str) -> Vec<(String, String)> {
    let tokens = tokens(query);
    let mut list = Vec::new();
    let mut in_select = false;
    for token in tokens {
        let lower = token.to_ascii_lowercase();
        match lower.as_str() {
            "select" if !in_select && list.is_empty() => in_select = true,
            "distinct" | "all" if in_select && list.is_empty() => {}
            "from" if in_select => break,
            _ if in_select => list.push(token),
            _ => {}
        }
    }
    list.split(|t| t == ",")
        .filter_map(|parts| match parts {
            [original, as_, alias] if as_.eq_ignore_ascii_case("as") => {
                Some((original.clone(), unquote(alias)))
            }
            [original, alias] => Some((original.clone(), unquote(alias))),
            [original] => {
                let last = original.rsplit('.').next().unwrap_or(original);
                Some((original.clone(), unquote(last)))
            }
            _ => None,
        })
        .collect()
}

fn unquote(identifier: &str) -> String {
    identifier
        .trim_matches(|c| "`\"[];'".contains(c))
        .to_owned()
}

/// Splits on whitespace and top-level commas (kept as tokens), keeping parenthesised
/// groups and quoted text whole; comments are dropped.
fn tokens(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut chars = query.chars().peekable();
    let flush = |current: &mut String, out: &mut Vec<String>| {
        if !current.is_empty() {
            out.push(std::mem::take(current));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '-' if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                if depth == 0 {
                    flush(&mut current, &mut out);
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                if depth == 0 {
                    flush(&mut current, &mut out);
                }
            }
            '\'' | '"' | '`' | '[' => {
                let close = if c == '[' { ']' } else { c };
                current.push(c);
                for c in chars.by_ref() {
                    current.push(c);
                    if c == close {
                        break;
                    }
                }
            }
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ',' if depth == 0 => {
                flush(&mut current, &mut out);
                out.push(",".into());
            }
            c if c.is_whitespace() && depth == 0 => flush(&mut current, &mut out),
            c => current.push(c),
        }
    }
    flush(&mut current, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_read_with_their_aliases() {
        let q = "SELECT p.id, count(c.id) AS total, COUNT( * ) n, p.title, \
                 cast(p.views as   TEXT) `label`, max(a, b) FROM posts p LEFT JOIN c";
        let cols = columns(q);
        let aliases: Vec<_> = cols.iter().map(|(_, a)| a.as_str()).collect();
        assert_eq!(aliases, ["id", "total", "n", "title", "label", "max(a, b)"]);
        assert_eq!(cols[1].0, "count(c.id)");
    }

    #[test]
    fn aggregates_and_casts_have_pocketbases_kinds() {
        let number = |e: &str| match computed_kind(e) {
            Some(FieldKind::Number(n)) => Some(n.only_int),
            _ => None,
        };
        assert_eq!(number("COUNT(*)"), Some(true));
        assert_eq!(number("total(x)"), Some(false));
        assert_eq!(number("cast(x as integer)"), Some(true));
        assert_eq!(number("CAST(a + b AS real)"), Some(false));
        assert!(matches!(
            computed_kind("cast(x AS text)"),
            Some(FieldKind::Text(_))
        ));
        assert!(matches!(
            computed_kind("cast(x as bool)"),
            Some(FieldKind::Bool(_))
        ));
        assert!(computed_kind("sum(x)").is_none());
        assert!(computed_kind("avg(x)").is_none());
        assert!(computed_kind("castle(x as int)").is_none());
        assert!(computed_kind("cast(xas int)").is_none());
    }
}
