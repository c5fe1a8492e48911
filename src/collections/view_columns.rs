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

/// How many statements `query` holds, split at `;` outside quotes and parentheses as
/// PocketBase's tokenizer splits it (text it cannot split counts as one).
pub fn statements(query: &str) -> usize {
    pb_tokens(query, &[';'], false).map_or(1, |parts| parts.len())
}

/// What PocketBase's view query parser (`identifiersParser`) refuses in the select list: a
/// column written with more words than `expr [AS] alias`, or a `*` column.
pub fn select_list_problem(query: &str) -> Option<String> {
    use std::sync::LazyLock;
    static COMMENTS: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"(?m)(/\*[\s\S]*?\*/)|(--.+$)").ok());
    static JOINS: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
        regex::Regex::new(
            r"(?im)\s+(full\s+outer\s+join|left\s+outer\s+join|right\s+outer\s+join|full\s+join|cross\s+join|inner\s+join|outer\s+join|left\s+join|right\s+join|join)\s+?",
        )
        .ok()
    });
    static DISCARDS: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
        regex::Regex::new(r"(?im)\s+(where|group\s+by|having|order|limit|with)\s+?").ok()
    });
    let (Some(comments), Some(joins), Some(discards)) =
        (COMMENTS.as_ref(), JOINS.as_ref(), DISCARDS.as_ref())
    else {
        return None;
    };
    let text = query.trim().trim_matches(';');
    let text = comments.replace_all(text, " ");
    let text = joins.replace_all(&text, " __pb_join__ ");
    let text = discards.replace_all(&text, " __pb_discard__ ");
    let tokens = match pb_tokens(&text, &[',', ' ', '\n', '\t'], true) {
        Ok(t) => t,
        Err(e) => return Some(e),
    };
    let (mut selecting, mut skip) = (false, false);
    let mut select = String::new();
    for token in tokens {
        match token.trim().to_ascii_lowercase().as_str() {
            "select" => (selecting, skip) = (true, false),
            "distinct" => {}
            "from" | "__pb_join__" => (selecting, skip) = (false, false),
            "__pb_discard__" => skip = true,
            _ if selecting && !skip => {
                select.push(' ');
                select.push_str(&token);
            }
            _ => {}
        }
    }
    let items = match pb_tokens(&select, &[','], false) {
        Ok(items) => items,
        Err(e) => return Some(e),
    };
    for item in items {
        let parts = match pb_tokens(&item, &[' ', '\n', '\t'], false) {
            Ok(parts) => parts,
            Err(e) => return Some(e),
        };
        let alias = match parts.as_slice() {
            [_, as_, alias] if as_.eq_ignore_ascii_case("as") => alias.clone(),
            [_, other, _] => {
                return Some(format!(
                    "invalid identifier part - expected \"as\", got {other}"
                ));
            }
            [_, alias] => alias.clone(),
            [only] => only.rsplit('.').next().unwrap_or(only).to_owned(),
            _ => return Some(format!("invalid identifier parts [{}]", parts.join(" "))),
        };
        if alias.trim_matches(|c| "`\"[];'".contains(c)) == "*" {
            return Some(
                "wildcard columns (*) are not supported - manually type the collection field \
                 names you want the view query to have"
                    .into(),
            );
        }
    }
    None
}

/// PocketBase's `tokenizer`: `text` split at `separators` outside quotes and parentheses
/// (a backslash escapes the next quote or parenthesis), each part trimmed of the other
/// whitespace, empty parts dropped; the separator kept on its part when `keep` is set.
fn pb_tokens(text: &str, separators: &[char], keep: bool) -> Result<Vec<String>, String> {
    const WHITESPACE: [char; 8] = ['\t', '\n', '\x0b', '\x0c', '\r', ' ', '\u{85}', '\u{a0}'];
    let trim: Vec<char> = WHITESPACE
        .into_iter()
        .filter(|c| !separators.contains(c))
        .collect();
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let mut token = String::new();
        let (mut depth, mut quote, mut prev) = (0usize, None, None);
        for c in chars.by_ref() {
            if prev != Some('\\') {
                match c {
                    '(' if quote.is_none() => depth += 1,
                    ')' if quote.is_none() && depth > 0 => depth -= 1,
                    '\'' | '"' | '`' => match quote {
                        Some(q) if q == c => quote = None,
                        None => quote = Some(c),
                        Some(_) => {}
                    },
                    _ => {}
                }
            }
            if separators.contains(&c) && depth == 0 && quote.is_none() {
                if keep {
                    token.push(c);
                }
                break;
            }
            prev = Some(c);
            token.push(c);
        }
        if depth > 0 || quote.is_some() {
            return Err(format!(
                "unbalanced parenthesis or quoted expression: {token:?}"
            ));
        }
        let token = token.trim_matches(trim.as_slice());
        if !token.is_empty() {
            out.push(token.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_and_select_lists_as_pocketbase_reads_them() {
        assert_eq!(statements("SELECT id FROM a"), 1);
        assert_eq!(statements("SELECT id FROM a; DELETE FROM a"), 2);
        assert_eq!(statements("SELECT ';' AS id, (SELECT 1;) FROM a"), 1);
        // Each message as PocketBase 0.40.6 answered the same query.
        assert_eq!(
            select_list_problem("SELECT 1 as id UNION ALL SELECT 1").as_deref(),
            Some("invalid identifier parts [1 as id UNION ALL 1]")
        );
        assert!(
            select_list_problem("SELECT * FROM places")
                .is_some_and(|m| m.starts_with("wildcard columns (*) are not supported"))
        );
        assert!(select_list_problem("SELECT p.* FROM places p").is_some());
        assert_eq!(
            select_list_problem(
                "SELECT id, title AS t, places.loc AS l2, (SELECT count(*) FROM places) AS c \
                 FROM places WHERE title != \"\" ORDER BY id LIMIT 1"
            ),
            None
        );
        assert_eq!(
            select_list_problem("SELECT a b c FROM x").as_deref(),
            Some("invalid identifier part - expected \"as\", got b")
        );
    }

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
