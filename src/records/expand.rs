//! `expand`: replaces relation ids with the related records (nested, dot-separated, at most
//! six levels), each related collection's view rule applied for the caller. Back-relations
//! (`comments_via_post`) expand to lists.

use std::collections::BTreeMap;

use rusqlite::Connection;
use rusqlite::types::Value as Sql;
use serde_json::{Map, Value};

use super::access::{Access, access};
use super::{Ctx, output};
use crate::error::{Error, Result};
use crate::schema::{Collection, FieldKind};

/// PocketBase's limit on nested expansion.
pub const MAX_DEPTH: usize = 6;

/// Expansion paths as a tree: `author,comments_via_post.author` -> {author: {}, comments_via_post: {author: {}}}.
#[derive(Debug, Default)]
pub struct Tree(BTreeMap<String, Tree>);

impl Tree {
    pub fn parse(text: &str) -> Result<Self> {
        let mut root = Tree::default();
        for path in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let parts: Vec<&str> = path.split('.').collect();
            if parts.len() > MAX_DEPTH || parts.iter().any(|p| p.is_empty()) {
                return Err(invalid(path));
            }
            let mut node = &mut root;
            for part in parts {
                node = node.0.entry(part.to_owned()).or_default();
            }
        }
        Ok(root)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn invalid(path: &str) -> Error {
    Error::bad_request(format!("Invalid expand parameter: cannot expand {path:?}."))
}

/// Records of `c` with these ids that the caller may view, by id.
fn viewable(
    conn: &Connection,
    c: &Collection,
    ctx: &Ctx,
    where_sql: &str,
    mut params: Vec<Sql>,
) -> Result<Vec<Map<String, Value>>> {
    let mut rule_params = Vec::new();
    let rule = match access(c, &c.rules.view, ctx, &mut rule_params) {
        Access::SuperusersOnly => return Ok(Vec::new()),
        Access::Granted => String::new(),
        Access::Where(cond) => {
            // The rule's placeholders follow the ids'.
            let offset = params.len();
            let shifted = renumber(&cond, offset);
            params.extend(rule_params);
            format!(" AND ({shifted})")
        }
    };
    let sql = format!("SELECT t.* FROM \"{}\" t WHERE {where_sql}{rule}", c.name);
    let viewer = ctx.caller.viewer();
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(&params), |row| {
        output::record(c, row, viewer)
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Shifts every `?N` placeholder in `sql` by `offset`. Only placeholders are rewritten:
/// compiled conditions never contain other `?` characters (values are all parameters).
fn renumber(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '?' {
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            match digits.parse::<usize>() {
                Ok(n) => out.push_str(&(n + offset).to_string()),
                Err(_) => out.push_str(&digits),
            }
        }
    }
    out
}

fn ids_of(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds `expand` to each of `items` (records of `c`) following `tree`.
pub fn apply(
    conn: &Connection,
    c: &Collection,
    ctx: &Ctx,
    items: &mut [Map<String, Value>],
    tree: &Tree,
) -> Result<()> {
    for (segment, subtree) in &tree.0 {
        if let Some(field) = c.field(segment) {
            let FieldKind::Relation(rel) = &field.kind else {
                return Err(invalid(segment));
            };
            let target = ctx
                .schema
                .find(&rel.collection_id)
                .ok_or_else(|| invalid(segment))?;
            init_expand(items);
            let mut wanted: Vec<String> =
                items.iter().flat_map(|i| ids_of(i.get(segment))).collect();
            wanted.sort();
            wanted.dedup();
            if wanted.is_empty() {
                continue;
            }
            let params = wanted.iter().map(|id| Sql::Text(id.clone())).collect();
            let mut related = viewable(
                conn,
                &target,
                ctx,
                &format!("t.id IN ({})", placeholders(wanted.len())),
                params,
            )?;
            apply(conn, &target, ctx, &mut related, subtree)?;
            let by_id: BTreeMap<String, Map<String, Value>> = related
                .into_iter()
                .filter_map(|r| {
                    r.get("id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .map(|id| (id, r))
                })
                .collect();
            for item in items.iter_mut() {
                let found: Vec<Value> = ids_of(item.get(segment))
                    .iter()
                    .filter_map(|id| by_id.get(id).cloned().map(Value::Object))
                    .collect();
                if found.is_empty() {
                    continue;
                }
                let value = if field.is_multiple() {
                    Value::Array(found)
                } else {
                    found.into_iter().next().unwrap_or(Value::Null)
                };
                attach(item, segment, value);
            }
            continue;
        }
        // Back-relation: every record of `source` whose `via` field points at the item.
        let (source_name, via) = segment
            .split_once("_via_")
            .ok_or_else(|| invalid(segment))?;
        let source = ctx
            .schema
            .find(source_name)
            .ok_or_else(|| invalid(segment))?;
        let back = source.field(via).ok_or_else(|| invalid(segment))?;
        if !matches!(&back.kind, FieldKind::Relation(r) if r.collection_id == c.id) {
            return Err(invalid(segment));
        }
        init_expand(items);
        for item in items.iter_mut() {
            let Some(id) = item.get("id").and_then(Value::as_str).map(str::to_owned) else {
                continue;
            };
            let condition = if back.is_multiple() {
                format!(
                    "EXISTS (SELECT 1 FROM json_each(t.\"{}\") WHERE value = ?1)",
                    back.name
                )
            } else {
                format!("t.\"{}\" = ?1", back.name)
            };
            let mut related = viewable(conn, &source, ctx, &condition, vec![Sql::Text(id)])?;
            if related.is_empty() {
                continue;
            }
            apply(conn, &source, ctx, &mut related, subtree)?;
            attach(
                item,
                segment,
                Value::Array(related.into_iter().map(Value::Object).collect()),
            );
        }
    }
    Ok(())
}

/// Gives each record an `expand` key, `{}` until a relation lands in it: PocketBase answers
/// `"expand": {}` for a record whose asked-for relations are empty or hidden.
fn init_expand(items: &mut [Map<String, Value>]) {
    for item in items {
        item.entry("expand")
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

fn attach(item: &mut Map<String, Value>, key: &str, value: Value) {
    let expand = item
        .entry("expand")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(map) = expand {
        map.insert(key.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renumbers_placeholders_only() {
        assert_eq!(
            renumber("a = ?1 AND b IN (?2, ?10)", 3),
            "a = ?4 AND b IN (?5, ?13)"
        );
    }

    #[test]
    fn parses_paths_into_a_tree() {
        let t = Tree::parse("author, comments_via_post.author,author.team").unwrap_or_default();
        assert_eq!(t.0.len(), 2);
        assert_eq!(t.0["author"].0.len(), 1);
        assert!(Tree::parse("a.b.c.d.e.f.g").is_err());
        assert!(Tree::parse("a..b").is_err());
    }
}
