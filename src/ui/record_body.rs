//! Reading the record form back: the JSON body the record service takes (typed values,
//! multi-selects, relations typed as ids, password and its confirmation, the uploads'
//! staged names), and the service's validation errors as one message per field.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::form::{self, Form};
use super::record_inputs::editable;
use super::values;
use crate::error::ErrorTree;
use crate::schema::{Collection, FieldKind, Snapshot};

/// The JSON body a submitted form stands for, or the fields whose text could not be read.
pub(super) fn body_of(
    c: &Collection,
    snapshot: &Snapshot,
    form: &Form,
    creating: bool,
    uploads: &Map<String, Value>,
) -> std::result::Result<Map<String, Value>, BTreeMap<String, String>> {
    let mut body = Map::new();
    let mut errors = BTreeMap::new();
    for f in c.fields.iter().filter(|f| editable(c, f)) {
        let name = f.name.clone();
        let value = match &f.kind {
            FieldKind::Text(_) if f.name == "id" => {
                if !creating || form.get("id").trim().is_empty() {
                    continue;
                }
                json!(form.get("id").trim())
            }
            FieldKind::Autodate(_) => continue,
            FieldKind::File(_) => {
                // New uploads (`name`: replace, `name+`: append) and ticked removals
                // (`name-`), as the multipart body names them; an untouched file input
                // arrives as "" and changes nothing.
                for key in [name.clone(), format!("{name}+"), format!("{name}-")] {
                    match uploads.get(&key) {
                        None | Some(Value::Null) => {}
                        Some(Value::String(s)) if s.is_empty() => {}
                        Some(v) => {
                            body.insert(key, v.clone());
                        }
                    }
                }
                continue;
            }
            FieldKind::Password(_) => {
                if form.get(&name).is_empty() && !creating {
                    continue;
                }
                body.insert("passwordConfirm".into(), json!(form.get("passwordConfirm")));
                json!(form.get(&name))
            }
            FieldKind::Bool(_) => json!(form.checked(&name)),
            FieldKind::GeoPoint(_) => {
                let coordinate = |part: &str| {
                    let text = form.get(&format!("{name}.{part}")).trim();
                    if text.is_empty() {
                        return Some(0.0);
                    }
                    text.parse::<f64>().ok().filter(|n| n.is_finite())
                };
                let (Some(lon), Some(lat)) = (coordinate("lon"), coordinate("lat")) else {
                    errors.insert(name, "Longitude and latitude must be numbers.".into());
                    continue;
                };
                let number = crate::records::output::number;
                json!({"lon": number(lon), "lat": number(lat)})
            }
            FieldKind::Select(_) | FieldKind::Relation(_) => {
                let mut chosen = form.all(&name);
                // A relation typed as ids (too many records to list) arrives as one text.
                if matches!(f.kind, FieldKind::Relation(_)) && chosen.len() == 1 {
                    chosen = form::list(&chosen[0]);
                }
                let picker_known = match &f.kind {
                    FieldKind::Relation(r) => snapshot.find(&r.collection_id).is_some(),
                    _ => true,
                };
                if f.is_multiple() || !picker_known {
                    json!(chosen)
                } else {
                    json!(chosen.into_iter().next().unwrap_or_default())
                }
            }
            _ => match values::from_input(f, form.get(&name)) {
                Ok(v) => v,
                Err(message) => {
                    errors.insert(name, message.to_owned());
                    continue;
                }
            },
        };
        body.insert(name, value);
    }
    if errors.is_empty() {
        Ok(body)
    } else {
        Err(errors)
    }
}

/// The per-field messages of a validation error from the record service.
pub(super) fn field_messages(data: &crate::error::FieldErrors) -> BTreeMap<String, String> {
    data.iter()
        .map(|(k, v)| {
            let message = match v {
                ErrorTree::Leaf(e) => e.message.clone(),
                ErrorTree::Branch(_) => "Invalid value.".into(),
            };
            (k.clone(), message)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collection(fields: Value, kind: &str) -> Collection {
        let (c, errors) = crate::schema::input::build(
            json!({"name": "things", "type": kind, "fields": fields}),
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(errors.is_empty(), "{errors:?}");
        c
    }

    #[test]
    fn inputs_become_the_body_the_record_service_takes() {
        let c = collection(
            json!([
                {"name": "title", "type": "text"},
                {"name": "count", "type": "number"},
                {"name": "done", "type": "bool"},
                {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
                {"name": "kind", "type": "select", "values": ["x", "y"]},
                {"name": "owner", "type": "relation", "collectionId": "nowhere", "maxSelect": 1},
                {"name": "made", "type": "autodate", "onCreate": true},
                {"name": "doc", "type": "file", "maxSelect": 2},
                {"name": "place", "type": "geoPoint"},
            ]),
            "base",
        );
        let form = Form::of(&[
            ("id", " abc123def456ghi "),
            ("title", "Hello"),
            ("count", "42"),
            ("tags", "a"),
            ("tags", ""),
            ("tags", "c"),
            ("kind", "y"),
            // A relation to a collection the picker cannot list arrives as typed ids.
            ("owner", "r1, r2"),
            ("made", "2020-01-01"),
            ("place.lon", " -3.25"),
            ("place.lat", ""),
        ]);
        let uploads = json!({"doc+": ["new.txt"], "doc-": ""});
        let uploads = uploads.as_object().cloned().unwrap_or_default();
        let snapshot = Snapshot::new(vec![c.clone()]);
        let body =
            body_of(&c, &snapshot, &form, true, &uploads).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            Value::Object(body),
            json!({
                "id": "abc123def456ghi",
                "title": "Hello",
                "count": 42,
                "done": false,
                "tags": ["a", "c"],
                "kind": "y",
                "owner": ["r1", "r2"],
                "doc+": ["new.txt"],
                "place": {"lon": -3.25, "lat": 0},
            })
        );
    }

    #[test]
    fn an_unreadable_value_is_reported_by_field() {
        let c = collection(json!([{"name": "count", "type": "number"}]), "base");
        let snapshot = Snapshot::new(vec![c.clone()]);
        let form = Form::of(&[("count", "many")]);
        let errors = body_of(&c, &snapshot, &form, true, &Map::new())
            .err()
            .unwrap_or_default();
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["count"]);
    }

    #[test]
    fn a_blank_password_changes_nothing_on_an_edit_and_is_sent_on_a_create() {
        let c = collection(json!([]), "auth");
        let snapshot = Snapshot::new(vec![c.clone()]);
        let form = Form::of(&[
            ("email", "a@example.com"),
            ("password", ""),
            ("passwordConfirm", ""),
        ]);
        let edit = body_of(&c, &snapshot, &form, false, &Map::new()).unwrap_or_default();
        assert!(edit.get("password").is_none() && edit.get("passwordConfirm").is_none());
        let create = body_of(&c, &snapshot, &form, true, &Map::new()).unwrap_or_default();
        assert_eq!(create["password"], "");
        assert_eq!(create["passwordConfirm"], "");
        assert!(create.get("tokenKey").is_none());
    }
}
