//! File fields of a record: the names a field holds after this request (names it kept,
//! new uploads, `+`/`-` modifiers applied), checked as PocketBase checks them, and what
//! the change means for stored files. No disk access here: the caller moves and deletes
//! files once the record is written.

use rusqlite::types::Value as Sql;
use serde_json::{Map, Value, json};

use crate::error::FieldError;
use crate::files::Staged;
use crate::schema::field::FileField;
use crate::schema::{Collection, Field, FieldKind};

/// PocketBase's limit per file when a field sets none: 5 MiB.
pub const DEFAULT_MAX_SIZE: u64 = 5 << 20;

/// A field's largest file.
pub fn max_size(o: &FileField) -> u64 {
    if o.max_size == 0 {
        DEFAULT_MAX_SIZE
    } else {
        o.max_size
    }
}

/// How many files a field holds at most.
pub fn max_select(o: &FileField) -> u64 {
    o.max_select.max(1)
}

/// The file names in a stored or submitted value: a list, one name, or none.
pub fn names(value: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    };
    match value {
        Value::String(s) => add(s),
        Value::Array(items) => items.iter().filter_map(Value::as_str).for_each(add),
        _ => {}
    }
    out
}

/// The column value of a file field set to `value`, given the record's `old` value and
/// this request's uploads.
pub fn column(
    field: &Field,
    o: &FileField,
    value: &Value,
    old: &Value,
    uploads: &[Staged],
) -> Result<Sql, FieldError> {
    if !matches!(value, Value::Null | Value::String(_) | Value::Array(_)) {
        return Err(FieldError::new(
            "validation_invalid_value",
            "Invalid value.",
        ));
    }
    let mut list = names(value);
    if !field.is_multiple() && list.len() > 1 {
        // A single-file field keeps the last file given.
        list.drain(..list.len() - 1);
    }
    check(o, &list, &names(old), uploads)?;
    Ok(if field.is_multiple() {
        Sql::Text(json!(list).to_string())
    } else {
        Sql::Text(list.pop().unwrap_or_default())
    })
}

fn check(
    o: &FileField,
    list: &[String],
    old: &[String],
    uploads: &[Staged],
) -> Result<(), FieldError> {
    if list.is_empty() {
        return if o.required {
            Err(FieldError::required())
        } else {
            Ok(())
        };
    }
    let upload = |name: &str| uploads.iter().find(|u| u.name == name);
    let invalid: Vec<String> = list
        .iter()
        .filter(|n| !old.contains(n) && upload(n).is_none())
        .map(|n| n.chars().take(250).collect())
        .collect();
    if !invalid.is_empty() {
        return Err(FieldError::new(
            "validation_invalid_file",
            &format!("Invalid new files: [{}].", invalid.join(" ")),
        )
        .with_params(json!({ "invalidFiles": invalid })));
    }
    let max = max_select(o);
    if list.len() as u64 > max {
        return Err(FieldError::new(
            "validation_too_many_files",
            &format!("The maximum allowed files is {max}."),
        )
        .with_params(json!({ "maxSelect": max })));
    }
    let limit = max_size(o);
    for u in list.iter().filter_map(|n| upload(n)) {
        if u.size > limit {
            return Err(FieldError::new(
                "validation_file_size_limit",
                &format!(
                    "Failed to upload {} - the maximum allowed file size is {limit} bytes.",
                    u.original_name
                ),
            )
            .with_params(json!({ "file": u.original_name, "maxSize": limit })));
        }
        if !o.mime_types.is_empty() && !crate::files::mime::is_one_of(&u.mime, &o.mime_types) {
            return Err(FieldError::new(
                "validation_invalid_mime_type",
                &format!(
                    "{:?} mime type must be one of: {}.",
                    u.name,
                    o.mime_types.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// What a create or update does to stored files.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FileChanges {
    /// Uploads the record now holds: moved into its folder before the commit.
    pub added: Vec<String>,
    /// Names it no longer holds: deleted once the change has committed.
    pub removed: Vec<String>,
}

/// Compares each file field's new column value with the stored one.
pub fn changes(
    c: &Collection,
    columns: &[(String, Sql)],
    current: &Map<String, Value>,
    uploads: &[Staged],
) -> FileChanges {
    let mut out = FileChanges::default();
    for field in c
        .fields
        .iter()
        .filter(|f| matches!(f.kind, FieldKind::File(_)))
    {
        let Some((_, Sql::Text(text))) = columns.iter().find(|(k, _)| *k == field.name) else {
            continue;
        };
        let new = if field.is_multiple() {
            serde_json::from_str::<Value>(text).map_or_else(|_| Vec::new(), |v| names(&v))
        } else {
            names(&Value::String(text.clone()))
        };
        let old = current.get(&field.name).map(names).unwrap_or_default();
        out.added.extend(
            new.iter()
                .filter(|n| !old.contains(n) && uploads.iter().any(|u| &u.name == *n))
                .cloned(),
        );
        out.removed
            .extend(old.iter().filter(|n| !new.contains(n)).cloned());
    }
    out
}

/// Every file name a record holds, across its file fields.
pub fn all_names(c: &Collection, record: &Map<String, Value>) -> Vec<String> {
    c.fields
        .iter()
        .filter(|f| matches!(f.kind, FieldKind::File(_)))
        .filter_map(|f| record.get(&f.name))
        .flat_map(names)
        .collect()
}

/// The file field of `c` whose value in `record` holds `filename`.
pub fn field_holding<'a>(
    c: &'a Collection,
    record: &Map<String, Value>,
    filename: &str,
) -> Option<(&'a Field, &'a FileField)> {
    c.fields.iter().find_map(|f| match &f.kind {
        FieldKind::File(o)
            if record
                .get(&f.name)
                .is_some_and(|v| names(v).iter().any(|n| n == filename)) =>
        {
            Some((f, o))
        }
        _ => None,
    })
}
