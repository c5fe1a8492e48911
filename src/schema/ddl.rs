//! SQL for collections: tables, views and indexes, and the statements that move a table
//! from one definition to the next. Identifiers reach SQL only after validation to `\w+`.

use super::collection::Collection;
use super::field::Field;

/// A parsed `CREATE [UNIQUE] INDEX name ON table (columns) [WHERE expr]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub unique: bool,
    pub name: String,
    pub table: String,
    /// Each column: a field name, optionally `COLLATE x` and `ASC`/`DESC`.
    pub columns: Vec<IndexColumn>,
    pub predicate: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexColumn {
    pub name: String,
    pub collate: Option<String>,
    pub order: Option<String>,
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn unquote(token: &str) -> &str {
    let t = token.trim();
    for (open, close) in [('`', '`'), ('"', '"'), ('[', ']'), ('\'', '\'')] {
        if let Some(inner) = t.strip_prefix(open).and_then(|r| r.strip_suffix(close)) {
            return inner;
        }
    }
    t
}

/// Splits at top-level commas (not inside parentheses or quotes).
fn split_top_level(s: &str) -> Vec<&str> {
    let (mut depth, mut quote, mut start, mut out) = (0i32, None::<char>, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '`' | '"' | '\'') => quote = Some(c),
            (None, '[') => quote = Some(']'),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// The byte offset of the `)` closing the `(` at `open`.
fn matching_paren(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in s[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

impl Index {
    /// Parses the restricted index form PocketBase's UI writes. Expression indexes are refused.
    pub fn parse(sql: &str) -> Option<Self> {
        let sql = sql.trim().trim_end_matches(';');
        let upper = sql.to_ascii_uppercase();
        let mut rest = upper.strip_prefix("CREATE")?.trim_start();
        let unique = rest.starts_with("UNIQUE");
        if unique {
            rest = rest["UNIQUE".len()..].trim_start();
        }
        rest = rest.strip_prefix("INDEX")?.trim_start();
        if let Some(r) = rest.strip_prefix("IF NOT EXISTS") {
            rest = r.trim_start();
        }
        // Work on the original text from here on, at the same offset.
        let original = &sql[sql.len() - rest.len()..];
        let on = upper[sql.len() - rest.len()..].find(" ON ")?;
        let name = unquote(&original[..on]).to_owned();
        let after_on = original[on + 4..].trim_start();
        let open = after_on.find('(')?;
        let table = unquote(&after_on[..open]).to_owned();
        let close = matching_paren(after_on, open)?;
        let tail = after_on[close + 1..].trim();
        let predicate = if tail.is_empty() {
            None
        } else {
            let keyword = tail.get(..5).filter(|k| k.eq_ignore_ascii_case("WHERE"))?;
            let p = tail[keyword.len()..].trim();
            if p.is_empty() || p.contains(';') {
                return None;
            }
            Some(p.to_owned())
        };
        let mut columns = Vec::new();
        for part in split_top_level(&after_on[open + 1..close]) {
            columns.push(IndexColumn::parse(part)?);
        }
        if !is_word(&name) || !is_word(&table) || columns.is_empty() {
            return None;
        }
        Some(Self {
            unique,
            name,
            table,
            columns,
            predicate,
        })
    }

    pub fn to_sql(&self) -> String {
        let cols: Vec<String> = self.columns.iter().map(IndexColumn::to_sql).collect();
        let mut sql = format!(
            "CREATE {}INDEX \"{}\" ON \"{}\" ({})",
            if self.unique { "UNIQUE " } else { "" },
            self.name,
            self.table,
            cols.join(", ")
        );
        if let Some(p) = &self.predicate {
            sql.push_str(" WHERE ");
            sql.push_str(p);
        }
        sql
    }
}

impl IndexColumn {
    fn parse(part: &str) -> Option<Self> {
        let words: Vec<&str> = part.split_whitespace().collect();
        let (first, mut rest) = words.split_first()?;
        let name = unquote(first).to_owned();
        if !is_word(&name) {
            return None;
        }
        let mut collate = None;
        if rest
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case("COLLATE"))
        {
            let c = unquote(rest.get(1)?).to_owned();
            if !is_word(&c) {
                return None;
            }
            collate = Some(c);
            rest = &rest[2..];
        }
        let order = match rest {
            [] => None,
            [o] if o.eq_ignore_ascii_case("ASC") || o.eq_ignore_ascii_case("DESC") => {
                Some(o.to_ascii_uppercase())
            }
            _ => return None,
        };
        Some(Self {
            name,
            collate,
            order,
        })
    }

    fn to_sql(&self) -> String {
        let mut s = format!("\"{}\"", self.name);
        if let Some(c) = &self.collate {
            s.push_str(&format!(" COLLATE {c}"));
        }
        if let Some(o) = &self.order {
            s.push(' ');
            s.push_str(o);
        }
        s
    }
}

pub fn create_table(c: &Collection) -> String {
    let cols: Vec<String> = c.fields.iter().map(Field::column_definition).collect();
    format!("CREATE TABLE \"{}\" ({})", c.name, cols.join(", "))
}

pub fn drop_table(c: &Collection) -> String {
    if c.is_view() {
        format!("DROP VIEW IF EXISTS \"{}\"", c.name)
    } else {
        format!("DROP TABLE IF EXISTS \"{}\"", c.name)
    }
}

/// The statements that turn table `old` into `new`, in order: indexes dropped first (a
/// column cannot be dropped while indexed), table renamed, columns renamed (matched by
/// field id, so data follows), dropped and added, indexes recreated.
pub fn alter_table(old: &Collection, new: &Collection) -> Vec<String> {
    let mut sql = Vec::new();
    for idx in old.indexes.iter().filter_map(|i| Index::parse(i)) {
        sql.push(format!("DROP INDEX IF EXISTS \"{}\"", idx.name));
    }
    if old.name != new.name {
        sql.push(format!(
            "ALTER TABLE \"{}\" RENAME TO \"{}\"",
            old.name, new.name
        ));
    }
    let table = &new.name;
    for of in &old.fields {
        match new.fields.iter().find(|nf| nf.id == of.id) {
            Some(nf) if nf.name != of.name => {
                sql.push(format!(
                    "ALTER TABLE \"{table}\" RENAME COLUMN \"{}\" TO \"{}\"",
                    of.name, nf.name
                ));
            }
            Some(_) => {}
            None => sql.push(format!(
                "ALTER TABLE \"{table}\" DROP COLUMN \"{}\"",
                of.name
            )),
        }
    }
    for nf in new
        .fields
        .iter()
        .filter(|nf| !old.fields.iter().any(|of| of.id == nf.id))
    {
        sql.push(format!(
            "ALTER TABLE \"{table}\" ADD COLUMN {}",
            nf.column_definition()
        ));
    }
    sql.extend(create_indexes(new));
    sql
}

pub fn create_indexes(c: &Collection) -> Vec<String> {
    c.indexes
        .iter()
        .filter_map(|i| Index::parse(i))
        .map(|mut idx| {
            idx.table = c.name.clone();
            idx.to_sql()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pocketbase_index_strings() {
        let idx = Index::parse("CREATE UNIQUE INDEX `idx_email__pb_users_auth_` ON `users` (`email`) WHERE `email` != ''")
            .unwrap_or_else(|| unreachable!());
        assert!(idx.unique);
        assert_eq!(idx.name, "idx_email__pb_users_auth_");
        assert_eq!(idx.table, "users");
        assert_eq!(idx.columns[0].name, "email");
        assert_eq!(idx.predicate.as_deref(), Some("`email` != ''"));
        assert_eq!(
            idx.to_sql(),
            "CREATE UNIQUE INDEX \"idx_email__pb_users_auth_\" ON \"users\" (\"email\") WHERE `email` != ''"
        );
        let multi = Index::parse("create index idx_x on posts (a COLLATE NOCASE, `b` DESC)")
            .unwrap_or_else(|| unreachable!());
        assert_eq!(multi.columns.len(), 2);
        assert_eq!(
            multi.to_sql(),
            "CREATE INDEX \"idx_x\" ON \"posts\" (\"a\" COLLATE NOCASE, \"b\" DESC)"
        );
        let nested = Index::parse("CREATE INDEX i ON t (a) WHERE (a != '')")
            .unwrap_or_else(|| unreachable!());
        assert_eq!(nested.predicate.as_deref(), Some("(a != '')"));
    }

    #[test]
    fn refuses_anything_else() {
        for bad in [
            "DROP TABLE users",
            "CREATE INDEX x ON posts (lower(a))",
            "CREATE INDEX x ON posts (a); DROP TABLE users",
            "CREATE INDEX `x y` ON posts (a)",
            "CREATE INDEX x ON posts ()",
            "CREATE INDEX x ON posts (a) LIMIT",
            "CREATE INDEX x ON posts (a) WHERE",
            "CREATE INDEX x ON posts (a) WHERE a = 1; DROP TABLE users",
        ] {
            assert_eq!(Index::parse(bad), None, "{bad}");
        }
    }
}
