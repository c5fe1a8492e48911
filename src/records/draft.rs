//! The record a model hook sees before its write (PocketBase's `e.record` in
//! `onRecordCreate`/`onRecordUpdate`/`onRecordDelete`), and what the hook changed in it.
//! A hook changes the record, not the request: its changes are laid over the body the
//! write was asked with and are written as given (hidden fields included), while the API
//! rules still judge the request's own body.

use rusqlite::Connection;
use serde_json::{Map, Value, json};

use super::Record;
use super::output::Viewer;
use super::read::fetch;
use crate::error::{Error, Result};
use crate::schema::{Collection, Field, FieldKind};

/// Keys of a record that describe it rather than hold a field's value.
const META: [&str; 3] = ["collectionId", "collectionName", "expand"];

/// A new record of `c` with the plain keys of `body` set on it (see `draft`).
pub fn draft_new(c: &Collection, body: &Map<String, Value>) -> Record {
    let mut record = Map::new();
    record.insert("collectionId".into(), json!(c.id));
    record.insert("collectionName".into(), json!(c.name));
    for field in &c.fields {
        record.insert(field.name.clone(), zero(field));
    }
    // As PocketBase, a new record has its id before its hooks run.
    record.insert("id".into(), json!(crate::ids::record_id()));
    overlay(c, record, body)
}

/// The record `id` of `c` (None: a new one) with the plain keys of `body` set on it: every
/// field is present, with its zero value where nothing set it, as PocketBase's record.
pub fn draft(
    conn: &Connection,
    c: &Collection,
    id: Option<&str>,
    body: &Map<String, Value>,
) -> Result<Record> {
    let Some(id) = id else {
        return Ok(draft_new(c, body));
    };
    let full = Viewer {
        superuser: true,
        record_id: None,
    };
    let record = fetch(conn, c, id, full)?.ok_or_else(Error::not_found)?;
    Ok(overlay(c, record, body))
}

fn overlay(c: &Collection, mut record: Record, body: &Map<String, Value>) -> Record {
    for field in &c.fields {
        if let Some(value) = body.get(&field.name)
            && !matches!(field.kind, FieldKind::Password(_))
        {
            // A point is what PocketBase's setter makes of the value, whatever was sent.
            let value = match field.kind {
                FieldKind::GeoPoint(_) => super::geo::GeoPoint::from_value(value).to_json(),
                _ => value.clone(),
            };
            record.insert(field.name.clone(), value);
        }
    }
    record
}

/// A field's value before anything is set, as PocketBase's record getters answer it.
fn zero(field: &Field) -> Value {
    if field.is_multiple() {
        return json!([]);
    }
    match field.kind {
        FieldKind::Number(_) => json!(0),
        FieldKind::Bool(_) => json!(false),
        FieldKind::Json(_) => Value::Null,
        FieldKind::GeoPoint(_) => super::geo::GeoPoint::default().to_json(),
        _ => json!(""),
    }
}

/// The values `returned` holds that differ from `given`, field values only (an update's
/// id cannot change); a new record's id always, as the hooks saw it.
pub fn changed(c: &Collection, given: &Record, returned: &Record, new: bool) -> Record {
    let mut out: Record = returned
        .iter()
        .filter(|(k, _)| !META.contains(&k.as_str()))
        .filter(|(k, _)| new || k.as_str() != "id")
        .filter(|(k, _)| c.field(k).is_some())
        .filter(|(k, v)| given.get(k.as_str()) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if new && !out.contains_key("id") {
        let id = returned.get("id").or_else(|| given.get("id"));
        if let Some(id) = id.filter(|id| id.as_str().is_some_and(|s| !s.is_empty())) {
            out.insert("id".into(), id.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Collection, CollectionType, Field, FieldKind};

    fn notes() -> Collection {
        Collection {
            id: "pbc_notes".into(),
            name: "notes".into(),
            kind: CollectionType::Base,
            system: false,
            fields: vec![
                Field::new("id", FieldKind::Text(Default::default())),
                Field::new("title", FieldKind::Text(Default::default())),
                Field::new("n", FieldKind::Number(Default::default())),
            ],
            indexes: Vec::new(),
            rules: Default::default(),
            options: Map::new(),
            created: String::new(),
            updated: String::new(),
        }
    }

    #[test]
    fn only_field_values_that_changed_are_taken() {
        let c = notes();
        let given: Record = serde_json::from_value(
            json!({"id": "", "title": "a", "n": 0, "collectionName": "notes"}),
        )
        .unwrap_or_default();
        let returned: Record = serde_json::from_value(
            json!({"id": "x", "title": "b", "n": 0, "collectionName": "other", "nope": 1}),
        )
        .unwrap_or_default();
        let new = changed(&c, &given, &returned, true);
        assert_eq!(Value::Object(new), json!({"id": "x", "title": "b"}));
        let kept = changed(&c, &returned, &returned, true);
        assert_eq!(
            Value::Object(kept),
            json!({"id": "x"}),
            "a new record keeps its id"
        );
        let update = changed(&c, &given, &returned, false);
        assert_eq!(Value::Object(update), json!({"title": "b"}));
    }
}
