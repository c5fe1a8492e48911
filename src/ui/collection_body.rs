//! Reading the collection form back: the collection JSON it stands for (fields from their
//! rows, options typed as the option table says, rules, indexes), and the schema's
//! validation errors placed on the rows they belong to.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::field_rows::{FieldRow, option_value, row_count, static_kind};
use super::form::Form;
use super::rule_rows::{RULES, RuleRow, is_auth_rule};
use crate::error::{ErrorTree, FieldErrors};
use crate::schema::{self, Collection};

/// The collection JSON the form stands for, with which submitted row each sent field came
/// from; or the rows whose options could not be read.
pub(super) fn body_of(
    form: &Form,
    existing: Option<&Collection>,
) -> std::result::Result<(Value, Vec<usize>), BTreeMap<usize, Vec<String>>> {
    let kind = match existing {
        Some(c) => c.kind.as_str().to_owned(),
        None => form.get("type").to_owned(),
    };
    let mut fields = Vec::new();
    let mut sent_rows = Vec::new();
    let mut problems: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for index in 0..row_count(form) {
        let p = |k: &str| format!("f{index}.{k}");
        let id = form.get(&p("id"));
        let stored = existing.and_then(|c| c.fields.iter().find(|f| !id.is_empty() && f.id == id));
        let name = form.get(&p("name")).trim();
        if form.checked(&p("remove")) && !stored.is_some_and(|f| f.system) {
            continue;
        }
        if stored.is_none() && name.is_empty() {
            continue; // an unused blank row
        }
        let mut json = stored
            .and_then(|f| serde_json::to_value(f).ok())
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
        let type_name = stored.map_or_else(
            || static_kind(form.get(&p("type"))),
            |f| static_kind(f.type_name()),
        );
        json.insert("name".into(), json!(name));
        json.insert("type".into(), json!(type_name));
        if type_name != "autodate" {
            json.insert("required".into(), json!(form.checked(&p("required"))));
        }
        json.insert("hidden".into(), json!(form.checked(&p("hidden"))));
        json.insert("presentable".into(), json!(form.checked(&p("presentable"))));
        for &(key, label, k) in crate::schema::options::of(type_name) {
            let input = format!("f{index}.{type_name}.{key}");
            match option_value(k, form.get(&input), form.checked(&input)) {
                Ok(v) => {
                    json.insert(key.into(), v);
                }
                Err(e) => problems
                    .entry(index)
                    .or_default()
                    .push(format!("{label}: {e}.")),
            }
        }
        fields.push(Value::Object(json));
        sent_rows.push(index);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // The schema adds missing system fields (id, the auth fields) before validating; its
    // errors count them, so the row map counts them too (as no row).
    let names: Vec<&str> = fields
        .iter()
        .map(|f| f.get("name").and_then(Value::as_str).unwrap_or_default())
        .collect();
    if let Some(kind) = schema::CollectionType::parse(&kind) {
        for (at, _) in schema::input::system_field_insertions(kind, &names) {
            sent_rows.insert(at, usize::MAX);
        }
    }
    let mut body = Map::new();
    body.insert("name".into(), json!(form.get("name").trim()));
    if existing.is_none() {
        body.insert("type".into(), json!(kind));
    }
    body.insert("fields".into(), Value::Array(fields));
    for (key, ..) in RULES {
        if is_auth_rule(key) && kind != "auth" {
            continue;
        }
        if !form.has(&format!("rule.{key}")) && !form.has(&format!("lock.{key}")) {
            continue;
        }
        let value = if form.checked(&format!("lock.{key}")) {
            Value::Null
        } else {
            json!(form.get(&format!("rule.{key}")).trim())
        };
        body.insert(key.into(), value);
    }
    let indexes: Vec<&str> = form
        .get("indexes")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    body.insert("indexes".into(), json!(indexes));
    if kind == "view" {
        body.insert("viewQuery".into(), json!(form.get("viewQuery").trim()));
    }
    Ok((Value::Object(body), sent_rows))
}

/// Places the schema's validation errors: `fields.N.*` on the row sent as field N, the rest
/// by their top-level key (name, type, rules, indexes, viewQuery).
pub(super) fn place_errors(
    data: &FieldErrors,
    rows: &mut [FieldRow],
    rules: &mut [RuleRow],
    sent_rows: &[usize],
) -> BTreeMap<String, String> {
    let mut top = BTreeMap::new();
    for (key, tree) in data {
        if key == "fields"
            && let ErrorTree::Branch(by_index) = tree
        {
            for (i, row_tree) in by_index {
                let row = i.parse::<usize>().ok().and_then(|i| sent_rows.get(i));
                let mut lines = Vec::new();
                row_tree.flatten("", &mut lines);
                match row.and_then(|r| rows.iter_mut().find(|row| row.index == *r)) {
                    Some(row) => row.errors.extend(lines),
                    None => {
                        top.insert("fields".into(), lines.join(" "));
                    }
                }
            }
            continue;
        }
        let mut lines = Vec::new();
        tree.flatten("", &mut lines);
        let text = lines.join(" ");
        match rules.iter_mut().find(|r| r.key == key) {
            Some(rule) => rule.error = Some(text),
            None => {
                top.insert(key.clone(), text);
            }
        }
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posts() -> Collection {
        let (c, errors) = schema::input::build(
            json!({"name": "posts", "type": "base", "fields": [
                {"name": "title", "type": "text", "max": 50},
                {"name": "views", "type": "number"},
            ]}),
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(errors.is_empty());
        c
    }

    #[test]
    fn a_new_collection_reads_its_rows_options_rules_and_indexes() {
        let form = Form::of(&[
            ("name", " notes "),
            ("type", "base"),
            ("field_count", "4"),
            ("f0.name", "title"),
            ("f0.type", "text"),
            ("f0.required", "on"),
            ("f0.text.min", "3"),
            ("f0.text.max", ""),
            ("f0.text.searchable", "on"),
            // An unused blank row and a row ticked for removal are left out.
            ("f1.name", ""),
            ("f1.type", "text"),
            ("f2.name", "gone"),
            ("f2.type", "bool"),
            ("f2.remove", "on"),
            ("f3.name", "score"),
            ("f3.type", "number"),
            ("f3.number.min", "1.5"),
            ("f3.number.max", ""),
            ("rule.listRule", " @request.auth.id != '' "),
            ("lock.viewRule", "on"),
            ("rule.viewRule", "ignored while locked"),
            ("indexes", "CREATE INDEX idx_t ON notes (title)\n\n"),
        ]);
        let (body, rows) = body_of(&form, None).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(body["name"], "notes");
        assert_eq!(body["type"], "base");
        let fields = body["fields"].as_array().cloned().unwrap_or_default();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0]["name"], "title");
        assert_eq!(fields[0]["required"], true);
        assert_eq!(fields[0]["min"], 3);
        assert_eq!(fields[0]["max"], 0);
        assert_eq!(fields[0]["searchable"], true);
        assert_eq!(fields[1]["type"], "number");
        assert_eq!(fields[1]["min"], 1.5);
        assert_eq!(fields[1]["max"], Value::Null);
        assert_eq!(body["listRule"], "@request.auth.id != ''");
        assert_eq!(body["viewRule"], Value::Null);
        // Rules the form did not send are not set at all, and auth rules only on auth.
        assert!(body.get("createRule").is_none() && body.get("authRule").is_none());
        assert_eq!(
            body["indexes"],
            json!(["CREATE INDEX idx_t ON notes (title)"])
        );
        // The id field the schema adds counts as no row, then the rows sent.
        assert_eq!(rows, [usize::MAX, 0, 3]);
    }

    #[test]
    fn options_that_do_not_read_are_reported_on_their_rows() {
        let form = Form::of(&[
            ("name", "notes"),
            ("type", "base"),
            ("field_count", "2"),
            ("f0.name", "title"),
            ("f0.type", "text"),
            ("f0.text.max", "ten"),
            ("f1.name", "n"),
            ("f1.type", "number"),
            ("f1.number.min", "1e"),
        ]);
        let problems = body_of(&form, None).err().unwrap_or_default();
        assert_eq!(problems.len(), 2);
        assert!(problems[&0][0].starts_with("Max length:"), "{problems:?}");
        assert!(problems[&1][0].starts_with("Min:"), "{problems:?}");
    }

    #[test]
    fn an_edit_keeps_stored_fields_by_id_and_their_type() {
        let c = posts();
        let title = &c.fields[1];
        let views = &c.fields[2];
        let form = Form::of(&[
            ("name", "posts"),
            ("field_count", "3"),
            ("f0.id", &c.fields[0].id),
            ("f0.name", "id"),
            ("f0.remove", "on"),
            ("f1.id", &title.id),
            ("f1.name", "headline"),
            // A stored field's type cannot be changed by the form.
            ("f1.type", "bool"),
            ("f1.text.max", "80"),
            ("f2.id", &views.id),
            ("f2.name", "views"),
            ("f2.remove", "on"),
        ]);
        let (body, _) = body_of(&form, Some(&c)).unwrap_or_else(|e| panic!("{e:?}"));
        // No type on an edit; the system id field stays although ticked for removal.
        assert!(body.get("type").is_none());
        let fields = body["fields"].as_array().cloned().unwrap_or_default();
        let names: Vec<&str> = fields.iter().filter_map(|f| f["name"].as_str()).collect();
        assert_eq!(names, ["id", "headline"]);
        assert_eq!(fields[1]["id"], title.id.as_str());
        assert_eq!(fields[1]["type"], "text");
        assert_eq!(fields[1]["max"], 80);
    }
}
