//! Full-text search (which PocketBase lacks): text and editor fields marked `searchable` are
//! indexed in an SQLite FTS5 table that reads its text from the collection's own table
//! (external content, so nothing is stored twice) and is kept in step by triggers. Schema
//! changes drop and rebuild it, so renamed or removed fields never leave it stale.

use rusqlite::Connection;

use super::{Collection, FieldKind};
use crate::error::Result;

/// The FTS5 table of a collection.
pub fn table(collection_name: &str) -> String {
    format!("_fts_{collection_name}")
}

/// The searchable fields of `c`, in field order.
pub fn fields(c: &Collection) -> Vec<&str> {
    if c.is_view() {
        return Vec::new();
    }
    c.fields
        .iter()
        .filter(|f| match &f.kind {
            FieldKind::Text(t) => t.searchable,
            FieldKind::Editor(e) => e.searchable,
            _ => false,
        })
        .map(|f| f.name.as_str())
        .collect()
}

/// Removes a collection's FTS table and triggers, if it has them.
pub fn drop(tx: &Connection, collection_name: &str) -> Result<()> {
    let fts = table(collection_name);
    tx.execute_batch(&format!(
        "DROP TRIGGER IF EXISTS \"{fts}_ai\"; DROP TRIGGER IF EXISTS \"{fts}_ad\"; \
         DROP TRIGGER IF EXISTS \"{fts}_au\"; DROP TABLE IF EXISTS \"{fts}\";"
    ))?;
    Ok(())
}

/// Creates the FTS table and triggers of `c` and indexes its current rows; nothing when it
/// has no searchable field. Field and collection names are validated identifiers.
pub fn create(tx: &Connection, c: &Collection) -> Result<()> {
    let cols = fields(c);
    if cols.is_empty() {
        return Ok(());
    }
    let fts = table(&c.name);
    let name = &c.name;
    let list = cols
        .iter()
        .map(|f| format!("\"{f}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let new_values = cols
        .iter()
        .map(|f| format!("new.\"{f}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let old_values = cols
        .iter()
        .map(|f| format!("old.\"{f}\""))
        .collect::<Vec<_>>()
        .join(", ");
    tx.execute_batch(&format!(
        "CREATE VIRTUAL TABLE \"{fts}\" USING fts5({list}, content='{name}', content_rowid='rowid', \
             tokenize='unicode61 remove_diacritics 2');
         CREATE TRIGGER \"{fts}_ai\" AFTER INSERT ON \"{name}\" BEGIN
             INSERT INTO \"{fts}\"(rowid, {list}) VALUES (new.rowid, {new_values});
         END;
         CREATE TRIGGER \"{fts}_ad\" AFTER DELETE ON \"{name}\" BEGIN
             INSERT INTO \"{fts}\"(\"{fts}\", rowid, {list}) VALUES ('delete', old.rowid, {old_values});
         END;
         CREATE TRIGGER \"{fts}_au\" AFTER UPDATE ON \"{name}\" BEGIN
             INSERT INTO \"{fts}\"(\"{fts}\", rowid, {list}) VALUES ('delete', old.rowid, {old_values});
             INSERT INTO \"{fts}\"(rowid, {list}) VALUES (new.rowid, {new_values});
         END;
         INSERT INTO \"{fts}\"(\"{fts}\") VALUES ('rebuild');"
    ))?;
    Ok(())
}

/// The FTS5 query for what a user typed: every word must appear (as a word or a word's
/// start), quoted so no character is read as FTS5 syntax. None when nothing is left.
pub fn query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split_whitespace()
        .take(32)
        .map(|w| w.replace('"', ""))
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| format!("\"{w}\"*"))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_words_become_quoted_prefix_terms() {
        assert_eq!(query("hello wor").as_deref(), Some("\"hello\"* \"wor\"*"));
        assert_eq!(
            query("a\"b OR c*").as_deref(),
            Some("\"ab\"* \"OR\"* \"c*\"*")
        );
        assert_eq!(query("  \" - "), None);
        assert_eq!(query(""), None);
    }
}
