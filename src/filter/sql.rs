//! The expression tree to SQL. Field paths become column references (quoted after being
//! checked against the schema) or correlated subqueries over relations; every literal and
//! request value becomes a bound parameter.

mod functions;
mod request;

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::types::Value as Sql;
use serde_json::{Map, Value};

use super::FilterError;
use super::lexer::Op;
use super::parser::{Expr, Operand};
use crate::schema::{Collection, FieldKind, Snapshot};

/// What a rule or filter may know about the request.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// The authenticated record (all its fields) and its collection; None for guests.
    pub auth: Option<(Arc<Collection>, Map<String, Value>)>,
    pub method: String,
    pub query: Map<String, Value>,
    /// Header names lower-cased with `-` as `_`, as PocketBase exposes them.
    pub headers: Map<String, Value>,
    pub body: Map<String, Value>,
    /// `@request.context`: empty for PocketBase's `default`, `oauth2` for the record an
    /// OAuth2 sign-in creates.
    pub context: &'static str,
}

impl RequestInfo {
    /// The same request with another body (a write's, its modifiers applied).
    pub fn with_body(&self, body: Map<String, Value>) -> Self {
        Self {
            auth: self.auth.clone(),
            method: self.method.clone(),
            query: self.query.clone(),
            headers: self.headers.clone(),
            body,
            context: self.context,
        }
    }
}

/// A resolved operand: a scalar SQL expression, or a set of values drawn from `froms`
/// where `conds` hold (relations, multi-value fields, other collections).
struct Resolved {
    froms: Vec<String>,
    conds: Vec<String>,
    expr: String,
    /// True when the operand holds several values per row.
    multi: bool,
    /// Literal null or empty string: compared as "blank".
    blank: bool,
    /// A literal text bound at this parameter index, which `~` may wrap in `%`.
    like_literal: Option<(String, usize)>,
    /// Conditions under which the value may be compared at all (a private email is not).
    guards: Vec<String>,
}

impl Resolved {
    fn scalar(expr: String) -> Self {
        Self {
            froms: Vec::new(),
            conds: Vec::new(),
            expr,
            multi: false,
            blank: false,
            like_literal: None,
            guards: Vec::new(),
        }
    }

    fn is_set(&self) -> bool {
        !self.froms.is_empty()
    }
}

/// Who wrote an expression, which decides what it may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// A collection's own rule, or a superuser's filter: every field of every collection.
    Full,
    /// Anyone else's filter. It sees only what its author could list: hidden fields are
    /// unknown, an auth record's email only where it is public, and every record it reaches
    /// in another collection (or its own, through a relation) must pass that collection's
    /// list rule; a collection whose list rule is null is out of reach altogether. So a
    /// filter that matches or not can never tell its author more than a list would.
    Client,
}

/// PocketBase's limit on relation hops in one path (`a.b.c.d.e.f`).
pub const MAX_DEPTH: usize = 6;
/// How many records of other collections one client filter may join in all (its own
/// paths and the list rules they bring along): the cost of a filter grows with each.
pub const MAX_JOINS: usize = 40;

/// Where a compiled condition is used: what it may read, and the query it joins.
pub struct Scope<'a> {
    pub collection: &'a Collection,
    pub schema: &'a Snapshot,
    pub request: &'a RequestInfo,
    pub trust: Trust,
}

struct Compiler<'a, 'p> {
    collection: &'a Collection,
    /// The alias of the row the expression is about: `t`, or a joined row whose
    /// collection's list rule is being applied.
    row: String,
    schema: &'a Snapshot,
    request: &'a RequestInfo,
    trust: Trust,
    params: &'p mut Vec<Sql>,
    aliases: usize,
    /// Relation hops taken by the path being resolved.
    depth: usize,
    /// While a function's arguments are resolved: the rows they reached, by the row and
    /// field that led there, so `rels.place.lon` and `rels.place.lat` are of one record.
    shared: Option<HashMap<String, Joined>>,
}

/// A joined row's alias, and the condition under which its author may see it.
type Joined = (String, Option<String>);

/// Compiles `expr` into a condition on the row aliased `t`, appending its values to
/// `params` (placeholders are numbered `?N` after those already there), so several
/// conditions and the query's own values share one parameter list.
pub fn compile(expr: &Expr, scope: &Scope, params: &mut Vec<Sql>) -> Result<String, FilterError> {
    let mut c = Compiler {
        collection: scope.collection,
        row: "t".into(),
        schema: scope.schema,
        request: scope.request,
        trust: scope.trust,
        params,
        aliases: 0,
        depth: 0,
        shared: None,
    };
    c.expr(expr)
}

fn json_to_sql(v: &Value) -> Sql {
    match v {
        Value::Null => Sql::Null,
        Value::Bool(b) => Sql::Integer(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .map_or_else(|| Sql::Real(n.as_f64().unwrap_or(0.0)), Sql::Integer),
        Value::String(s) => Sql::Text(s.clone()),
        other => Sql::Text(other.to_string()),
    }
}

impl Compiler<'_, '_> {
    fn param(&mut self, v: Sql) -> String {
        self.params.push(v);
        format!("?{}", self.params.len())
    }

    fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("a{}", self.aliases)
    }

    /// A new alias for a row of `c` joined into the expression, with the condition under
    /// which its author may see that row (None: no condition). Client filters reach only
    /// rows their author could list, as PocketBase joins them under the list rule; the
    /// rule itself is the collection owner's and compiles with full trust.
    fn join(&mut self, c: &Collection) -> Result<Joined, FilterError> {
        let alias = self.alias();
        if self.trust == Trust::Full {
            return Ok((alias, None));
        }
        if self.aliases > MAX_JOINS {
            return Err(FilterError::syntax(format!(
                "joins more than {MAX_JOINS} related records"
            )));
        }
        let Some(rule) = c.rules.list.as_deref() else {
            return Err(FilterError::Forbidden(c.name.clone()));
        };
        if rule.trim().is_empty() {
            return Ok((alias, None));
        }
        let Ok(expr) = super::parsed(rule) else {
            // A stored rule that no longer parses admits nobody, as everywhere else.
            return Ok((alias, Some("0".into())));
        };
        let mut rule_compiler = Compiler {
            collection: c,
            row: alias.clone(),
            schema: self.schema,
            request: self.request,
            trust: Trust::Full,
            params: &mut *self.params,
            aliases: self.aliases,
            depth: 0,
            shared: None,
        };
        let condition = rule_compiler.expr(&expr).unwrap_or_else(|_| "0".into());
        self.aliases = rule_compiler.aliases;
        Ok((alias, Some(condition)))
    }

    /// The row of `c` that `key` (a row and the field followed from it) leads to: a new
    /// join, or the one a function's earlier argument made for the same key.
    fn join_at(&mut self, key: String, c: &Collection) -> Result<Joined, FilterError> {
        if let Some(joined) = self.shared.as_ref().and_then(|s| s.get(&key)) {
            return Ok(joined.clone());
        }
        let joined = self.join(c)?;
        if let Some(shared) = self.shared.as_mut() {
            shared.insert(key, joined.clone());
        }
        Ok(joined)
    }

    fn expr(&mut self, e: &Expr) -> Result<String, FilterError> {
        match e {
            Expr::And(parts) => self.junction(parts, " AND "),
            Expr::Or(parts) => self.junction(parts, " OR "),
            Expr::Cmp { left, op, right } => self.comparison(left, *op, right),
        }
    }

    /// One more relation hop on the current path, refused past PocketBase's depth.
    fn descend(&mut self, full: &str) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::syntax(format!(
                "{full} follows more than {MAX_DEPTH} relations"
            )));
        }
        Ok(())
    }

    fn junction(&mut self, parts: &[Expr], sep: &str) -> Result<String, FilterError> {
        let sqls = parts
            .iter()
            .map(|p| self.expr(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(format!("({})", sqls.join(sep)))
    }

    fn operand(&mut self, o: &Operand) -> Result<Resolved, FilterError> {
        Ok(match o {
            Operand::Null => {
                let mut r = Resolved::scalar("NULL".into());
                r.blank = true;
                r
            }
            Operand::Bool(b) => Resolved::scalar(self.param(Sql::Integer(i64::from(*b)))),
            Operand::Num(n) => {
                let v = if n.fract() == 0.0 && n.abs() < 9.0e15 {
                    Sql::Integer(*n as i64)
                } else {
                    Sql::Real(*n)
                };
                Resolved::scalar(self.param(v))
            }
            Operand::Str(s) => self.text_literal(s),
            Operand::Ident(id) => self.identifier(id)?,
            Operand::Call(name, args) => self.call(name, args)?,
        })
    }

    /// A text value; empty text needs no parameter (it compares as "blank").
    fn text_literal(&mut self, s: &str) -> Resolved {
        if s.is_empty() {
            let mut r = Resolved::scalar("''".into());
            r.blank = true;
            return r;
        }
        let placeholder = self.param(Sql::Text(s.to_owned()));
        let mut r = Resolved::scalar(placeholder);
        r.like_literal = Some((s.to_owned(), self.params.len() - 1));
        r
    }

    fn identifier(&mut self, id: &str) -> Result<Resolved, FilterError> {
        let unknown = || FilterError::Unknown(id.to_owned());
        if let Some(rest) = id.strip_prefix("@request.") {
            return self.request_value(id, rest);
        }
        if let Some(rest) = id.strip_prefix("@collection.") {
            let (name, path) = rest.split_once('.').ok_or_else(unknown)?;
            let target = self
                .schema
                .find(name)
                .filter(|c| c.name.eq_ignore_ascii_case(name))
                .ok_or_else(unknown)?;
            let (alias, visible) = self.join_at(format!("@collection.{}", target.name), &target)?;
            self.depth = 0;
            let mut r = self.path(&target, &alias, path, id)?;
            r.froms.insert(0, format!("\"{}\" {alias}", target.name));
            if let Some(visible) = visible {
                r.conds.insert(0, visible);
            }
            r.multi = true;
            return Ok(r);
        }
        if id.starts_with('@') {
            return self.macro_value(id).ok_or_else(unknown);
        }
        let (collection, row) = (self.collection, self.row.clone());
        self.depth = 0;
        self.path(collection, &row, id, id)
    }

    /// Resolves `path` (`field`, `rel.field`, `x_via_rel.field`, with an optional
    /// `:modifier` on the last part) from the row aliased `row` of `c`.
    fn path(
        &mut self,
        c: &Collection,
        row: &str,
        path: &str,
        full: &str,
    ) -> Result<Resolved, FilterError> {
        let unknown = || FilterError::Unknown(full.to_owned());
        let (head, rest) = match path.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (path, None),
        };
        let (name, modifier) = match head.split_once(':') {
            Some((n, m)) => (n, Some(m)),
            None => (head, None),
        };
        if let Some(field) = c.field(name) {
            if field.hidden && self.trust == Trust::Client {
                return Err(unknown());
            }
            let column = format!("{row}.\"{}\"", field.name);
            let Some(rest) = rest else {
                // As PocketBase: a JSON field is compared as the value it holds, so that
                // `meta = 'hello'` finds the stored JSON string "hello".
                let value = match field.kind {
                    FieldKind::Json(_) => format!(
                        "(CASE WHEN json_valid({column}) THEN json_extract({column}, '$') ELSE {column} END)"
                    ),
                    _ => column,
                };
                let mut leaf = self.leaf(field.is_multiple(), value, modifier, full)?;
                if c.is_auth() && field.name == "email" && self.trust == Trust::Client {
                    // An address its owner keeps private matches nothing.
                    leaf.guards.push(format!("{row}.\"emailVisibility\" = 1"));
                }
                return Ok(leaf);
            };
            // A point is JSON too: `place.lon`, `place.lat`.
            if let FieldKind::Json(_) | FieldKind::GeoPoint(_) = field.kind {
                return self.json_path(&column, rest, modifier, full);
            }
            let FieldKind::Relation(rel) = &field.kind else {
                return Err(unknown());
            };
            if modifier.is_some() {
                return Err(unknown());
            }
            let target = self.schema.find(&rel.collection_id).ok_or_else(unknown)?;
            self.descend(full)?;
            let (alias, visible) = self.join_at(format!("{row}.{name}"), &target)?;
            let mut inner = self.path(&target, &alias, rest, full)?;
            let link = if field.is_multiple() {
                format!("{alias}.id IN (SELECT value FROM json_each({column}))")
            } else {
                format!("{alias}.id = {column}")
            };
            inner
                .froms
                .insert(0, format!("\"{}\" {alias}", target.name));
            inner
                .conds
                .splice(0..0, std::iter::once(link).chain(visible));
            inner.multi |= field.is_multiple();
            return Ok(inner);
        }
        // Back-relation: `comments_via_post` is every comment whose `post` points here.
        if let Some((coll, via)) = name.split_once("_via_") {
            let source = self
                .schema
                .find(coll)
                .filter(|s| s.name.eq_ignore_ascii_case(coll))
                .ok_or_else(unknown)?;
            let back = source.field(via).ok_or_else(unknown)?;
            let FieldKind::Relation(rel) = &back.kind else {
                return Err(unknown());
            };
            if rel.collection_id != c.id || (back.hidden && self.trust == Trust::Client) {
                return Err(unknown());
            }
            self.descend(full)?;
            let (alias, visible) = self.join_at(format!("{row}.{name}"), &source)?;
            let link = if back.is_multiple() {
                format!(
                    "{row}.id IN (SELECT value FROM json_each({alias}.\"{}\"))",
                    back.name
                )
            } else {
                format!("{alias}.\"{}\" = {row}.id", back.name)
            };
            let mut inner = match (rest, modifier) {
                (Some(rest), None) => self.path(&source, &alias, rest, full)?,
                (None, Some("length")) => {
                    // Only the records its author could list are counted.
                    let visible = visible.map(|v| format!(" AND {v}")).unwrap_or_default();
                    let count = format!(
                        "(SELECT count(*) FROM \"{}\" {alias} WHERE {link}{visible})",
                        source.name
                    );
                    return Ok(Resolved::scalar(count));
                }
                _ => return Err(unknown()),
            };
            inner
                .froms
                .insert(0, format!("\"{}\" {alias}", source.name));
            inner
                .conds
                .splice(0..0, std::iter::once(link).chain(visible));
            inner.multi = true;
            return Ok(inner);
        }
        Err(unknown())
    }

    /// `meta.a.0.b`: a value inside a JSON field. The path is bound as a parameter.
    fn json_path(
        &mut self,
        column: &str,
        rest: &str,
        modifier: Option<&str>,
        full: &str,
    ) -> Result<Resolved, FilterError> {
        if modifier.is_some() {
            return Err(FilterError::Unknown(full.to_owned()));
        }
        let (rest, last_modifier) = match rest.split_once(':') {
            Some((r, m)) => (r, Some(m)),
            None => (rest, None),
        };
        let mut path = String::from("$");
        for key in rest.split('.') {
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(FilterError::Unknown(full.to_owned()));
            }
            if key.chars().all(|c| c.is_ascii_digit()) {
                path.push_str(&format!("[{key}]"));
            } else {
                path.push('.');
                path.push_str(key);
            }
        }
        let p = self.param(Sql::Text(path));
        let expr = format!("json_extract({column}, {p})");
        match last_modifier {
            None => Ok(Resolved::scalar(expr)),
            Some("lower") => Ok(Resolved::scalar(format!("LOWER({expr})"))),
            Some("length") => Ok(Resolved::scalar(format!(
                "json_array_length({column}, {p})"
            ))),
            _ => Err(FilterError::Unknown(full.to_owned())),
        }
    }

    /// A field's own value, with its modifier.
    fn leaf(
        &mut self,
        multiple: bool,
        column: String,
        modifier: Option<&str>,
        full: &str,
    ) -> Result<Resolved, FilterError> {
        // A multi-value field is its raw JSON text, as in PocketBase (`tags ~ 'go'`); only
        // `:each` compares item by item, and `:length` counts them.
        match (modifier, multiple) {
            (None, _) => Ok(Resolved::scalar(column)),
            (Some("lower"), _) => Ok(Resolved::scalar(format!("LOWER({column})"))),
            (Some("length"), true) => Ok(Resolved::scalar(format!("json_array_length({column})"))),
            (Some("each"), true) => {
                let alias = self.alias();
                Ok(Resolved {
                    froms: vec![format!("json_each({column}) {alias}")],
                    conds: Vec::new(),
                    expr: format!("{alias}.value"),
                    multi: true,
                    blank: false,
                    like_literal: None,
                    guards: Vec::new(),
                })
            }
            _ => Err(FilterError::Unknown(full.to_owned())),
        }
    }

    fn comparison(
        &mut self,
        left: &Operand,
        op: Op,
        right: &Operand,
    ) -> Result<String, FilterError> {
        let mut l = self.operand(left)?;
        let mut r = self.operand(right)?;
        // A set's guards hold per value, inside its subquery; a plain value's for the whole.
        let mut outer = Vec::new();
        for side in [&mut l, &mut r] {
            let guards = std::mem::take(&mut side.guards);
            if side.is_set() {
                side.conds.extend(guards);
            } else {
                outer.extend(guards);
            }
        }
        let test = self.sets(&l, op, &r);
        if outer.is_empty() {
            return Ok(test);
        }
        Ok(format!("({test} AND {})", outer.join(" AND ")))
    }

    /// The comparison of two operands, either of which may hold several values.
    fn sets(&mut self, l: &Resolved, op: Op, r: &Resolved) -> String {
        let base = op.base();
        if !l.is_set() && !r.is_set() {
            return compare(l, base, r, self.params);
        }
        // At least one side holds several values.
        let any = op.is_any() || !(l.multi || r.multi);
        let mut froms = l.froms.clone();
        froms.extend(r.froms.iter().cloned());
        let mut conds = l.conds.clone();
        conds.extend(r.conds.iter().cloned());
        let test = compare(l, base, r, self.params);
        let scope = |extra: &str| {
            let mut all = conds.clone();
            all.push(extra.to_owned());
            format!(
                "SELECT 1 FROM {} WHERE {}",
                froms.join(", "),
                all.join(" AND ")
            )
        };
        if any {
            return format!("EXISTS ({})", scope(&test));
        }
        // Without `?`, every value must satisfy it; a negative test means "none match".
        match base {
            Op::Neq | Op::NotLike => {
                let positive = compare(
                    l,
                    if base == Op::Neq { Op::Eq } else { Op::Like },
                    r,
                    self.params,
                );
                format!("NOT EXISTS ({})", scope(&positive))
            }
            _ => format!(
                "(EXISTS ({}) AND NOT EXISTS ({}))",
                scope(&test),
                scope(&format!("NOT ({test})"))
            ),
        }
    }
}

/// One comparison of two resolved values (already in scope).
fn compare(l: &Resolved, op: Op, r: &Resolved, params: &mut [Sql]) -> String {
    let (a, b) = (&l.expr, &r.expr);
    let blank = |x: &str| format!("({x} = '' OR {x} IS NULL)");
    match op {
        Op::Eq if r.blank => blank(a),
        Op::Eq if l.blank => blank(b),
        Op::Neq if r.blank => format!("NOT {}", blank(a)),
        Op::Neq if l.blank => format!("NOT {}", blank(b)),
        Op::Eq => format!("{a} IS {b}"),
        Op::Neq => format!("{a} IS NOT {b}"),
        Op::Gt => format!("{a} > {b}"),
        Op::Gte => format!("{a} >= {b}"),
        Op::Lt => format!("{a} < {b}"),
        Op::Lte => format!("{a} <= {b}"),
        Op::Like | Op::NotLike => {
            let pattern = match &r.like_literal {
                Some((text, index)) => {
                    // A literal without wildcards matches anywhere, as PocketBase does; the
                    // literal's own parameter is rewritten, so no placeholder goes unused.
                    let wrapped = if text.contains('%') {
                        text.clone()
                    } else {
                        format!("%{}%", escape_like(text))
                    };
                    if let Some(slot) = params.get_mut(*index) {
                        *slot = Sql::Text(wrapped);
                    }
                    b.clone()
                }
                None => format!("('%' || {b} || '%')"),
            };
            let like = format!("{a} LIKE {pattern} ESCAPE '\\'");
            if op == Op::Like {
                like
            } else {
                format!("NOT ({like})")
            }
        }
        // `?` forms are reduced to their base before this point.
        _ => "0".into(),
    }
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('_', "\\_")
}
