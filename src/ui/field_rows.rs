//! The field rows of the collection form: each field's name, flags and the options of its
//! type, as inputs filled from a stored field or from what the user submitted, and how an
//! option's text reads back as JSON.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::form::{self, Form};
use super::record_inputs::Choice;
use crate::schema::options::{self, Kind};
use crate::schema::{Collection, Field};

/// Every field type the form offers for a new field, in menu order.
pub const TYPES: [&str; 13] = [
    "text", "number", "bool", "email", "url", "editor", "date", "autodate", "select", "json",
    "relation", "file", "geoPoint",
];

pub struct Opt {
    /// The form name: `f3.text.min`.
    pub input: String,
    pub label: &'static str,
    /// "number", "text", "checkbox" or "select".
    pub control: &'static str,
    pub value: String,
    pub checked: bool,
    pub choices: Vec<Choice>,
}

pub struct OptGroup {
    pub kind: &'static str,
    pub opts: Vec<Opt>,
}

pub struct FieldRow {
    pub index: usize,
    pub id: String,
    pub name: String,
    pub kind: String,
    /// Stored fields keep their type; new rows offer the type menu.
    pub stored: bool,
    pub system: bool,
    pub required: bool,
    pub hidden: bool,
    pub presentable: bool,
    pub remove: bool,
    pub groups: Vec<OptGroup>,
    pub errors: Vec<String>,
}

pub(super) fn text_of(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

pub(super) fn collection_choices(all: &[Arc<Collection>], selected: &str) -> Vec<Choice> {
    all.iter()
        .filter(|c| !c.is_view())
        .map(|c| Choice {
            value: c.id.clone(),
            label: c.name.clone(),
            selected: c.id == selected,
        })
        .collect()
}

/// The option inputs of one row for `kind`, filled from `json` (the field as JSON) or from
/// the submitted form.
pub(super) fn group(
    index: usize,
    kind: &'static str,
    json: &Map<String, Value>,
    form: Option<&Form>,
    all: &[Arc<Collection>],
) -> OptGroup {
    let opts = options::of(kind)
        .iter()
        .map(|&(key, label, k)| {
            let input = format!("f{index}.{kind}.{key}");
            let (value, checked) = match form {
                Some(f) => (f.get(&input).to_owned(), f.checked(&input)),
                None => (
                    text_of(json.get(key)),
                    json.get(key).and_then(Value::as_bool).unwrap_or(false),
                ),
            };
            let control = match k {
                Kind::Count | Kind::OptionalNumber => "number",
                Kind::Check => "checkbox",
                Kind::Collection => "select",
                Kind::Text | Kind::List => "text",
            };
            Opt {
                choices: if k == Kind::Collection {
                    collection_choices(all, &value)
                } else {
                    Vec::new()
                },
                input,
                label,
                control,
                value,
                checked,
            }
        })
        .collect();
    OptGroup { kind, opts }
}

pub(super) fn static_kind(kind: &str) -> &'static str {
    TYPES
        .iter()
        .chain(["password"].iter())
        .find(|t| **t == kind)
        .copied()
        .unwrap_or("text")
}

/// Rows for a stored collection's fields (or the starting fields of a new one).
pub(super) fn stored_rows(
    fields: &[Field],
    all: &[Arc<Collection>],
    stored: bool,
) -> Vec<FieldRow> {
    fields
        .iter()
        .enumerate()
        .map(|(index, f)| {
            let json = serde_json::to_value(f)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default();
            let kind = static_kind(f.type_name());
            FieldRow {
                index,
                id: if stored { f.id.clone() } else { String::new() },
                name: f.name.clone(),
                kind: kind.to_owned(),
                stored,
                system: f.system,
                required: f.required(),
                hidden: f.hidden,
                presentable: f.presentable,
                remove: false,
                groups: vec![group(index, kind, &json, None, all)],
                errors: Vec::new(),
            }
        })
        .collect()
}

pub(super) fn blank_row(index: usize, all: &[Arc<Collection>]) -> FieldRow {
    FieldRow {
        index,
        id: String::new(),
        name: String::new(),
        kind: "text".into(),
        stored: false,
        system: false,
        required: false,
        hidden: false,
        presentable: false,
        remove: false,
        groups: TYPES
            .iter()
            .map(|t| group(index, t, &Map::new(), None, all))
            .collect(),
        errors: Vec::new(),
    }
}

/// Rows as the user submitted them (to show the form again), plus `extra` blank rows.
pub(super) fn submitted_rows(
    form: &Form,
    existing: Option<&Collection>,
    all: &[Arc<Collection>],
    extra: usize,
) -> Vec<FieldRow> {
    let count = row_count(form);
    let mut rows: Vec<FieldRow> = (0..count)
        .map(|index| {
            let p = |k: &str| format!("f{index}.{k}");
            let id = form.get(&p("id")).to_owned();
            let stored_field =
                existing.and_then(|c| c.fields.iter().find(|f| !id.is_empty() && f.id == id));
            let kind = static_kind(form.get(&p("type")));
            let groups = if stored_field.is_some() {
                vec![group(index, kind, &Map::new(), Some(form), all)]
            } else {
                TYPES
                    .iter()
                    .map(|t| group(index, t, &Map::new(), Some(form), all))
                    .collect()
            };
            FieldRow {
                index,
                id,
                name: form.get(&p("name")).to_owned(),
                kind: kind.to_owned(),
                stored: stored_field.is_some(),
                system: stored_field.is_some_and(|f| f.system),
                required: form.checked(&p("required")),
                hidden: form.checked(&p("hidden")),
                presentable: form.checked(&p("presentable")),
                remove: form.checked(&p("remove")),
                groups,
                errors: Vec::new(),
            }
        })
        .collect();
    for _ in 0..extra {
        rows.push(blank_row(rows.len(), all));
    }
    rows
}

/// How many field rows the form had (bounded, whatever the client claims).
pub(super) fn row_count(form: &Form) -> usize {
    form.get("field_count")
        .parse::<usize>()
        .unwrap_or(0)
        .min(500)
}

/// Reads one option's text as JSON of its kind.
pub(super) fn option_value(
    k: Kind,
    text: &str,
    checked: bool,
) -> std::result::Result<Value, String> {
    let text = text.trim();
    Ok(match k {
        Kind::Count if text.is_empty() => json!(0),
        Kind::Count => json!(
            text.parse::<u64>()
                .map_err(|_| format!("“{text}” is not a whole number"))?
        ),
        Kind::OptionalNumber if text.is_empty() => Value::Null,
        Kind::OptionalNumber => crate::records::output::number(
            text.parse::<f64>()
                .map_err(|_| format!("“{text}” is not a number"))?,
        ),
        Kind::Check => json!(checked),
        Kind::List => json!(form::list(text)),
        Kind::Text | Kind::Collection => json!(text),
    })
}
