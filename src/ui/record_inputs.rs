//! The inputs of the record form: a control suited to each field type, filled from a stored
//! record or from what the user just sent, with relation pickers (records labelled by their
//! presentable fields) and links to the files a file field holds.

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde_json::{Map, Value};

use super::form::Form;
use super::records::superuser_ctx;
use super::values;
use crate::error::Result;
use crate::files;
use crate::records::{self, ListOptions};
use crate::schema::{Collection, Field, FieldKind};
use crate::state::AppState;

/// A relation picker lists at most this many records; beyond it, ids are typed.
const PICKER_LIMIT: u64 = 500;

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One form control, as the template draws it.
pub struct Input {
    pub name: String,
    /// "text", "textarea", "number", "checkbox", "email", "url", "datetime", "select",
    /// "json", "geo", "password" or "readonly".
    pub kind: &'static str,
    pub value: String,
    pub checked: bool,
    pub required: bool,
    pub multiple: bool,
    pub choices: Vec<Choice>,
    /// `step` of a number input.
    pub step: &'static str,
    pub help: String,
    pub error: Option<String>,
    /// The files a file field holds now, with their links.
    pub files: Vec<FileLink>,
    /// `accept` of a file input (the field's MIME types).
    pub accept: String,
    /// A geoPoint's longitude and latitude inputs (`name.lon`, `name.lat`).
    pub lon: String,
    pub lat: String,
}

pub struct FileLink {
    pub name: String,
    pub url: String,
    /// A small preview, for images in fields that are not protected.
    pub thumb: Option<String>,
}

/// Links to the files `names` of a record's file field.
pub fn file_links(c: &Collection, f: &Field, record_id: &str, names: &[String]) -> Vec<FileLink> {
    let protected = matches!(&f.kind, FieldKind::File(o) if o.protected);
    names
        .iter()
        .map(|name| FileLink {
            name: name.clone(),
            url: files::file_url(&c.name, record_id, name),
            thumb: (!protected && files::looks_like_image(name))
                .then(|| files::thumb_url(&c.name, record_id, name, "100x100")),
        })
        .collect()
}

/// What the inputs are filled with: a stored record, or what the user just sent.
pub(super) enum Source<'a> {
    Blank,
    Stored(&'a Map<String, Value>),
    Submitted(&'a Form),
}

pub(super) fn editable(c: &Collection, f: &Field) -> bool {
    if f.hidden && !matches!(f.kind, FieldKind::Password(_)) {
        return false;
    }
    // Files are uploaded through the API; the form shows their names read-only.
    !(c.is_auth() && f.name == "tokenKey")
}

/// Records of `target` to choose from, labelled by their presentable fields (or a
/// name-like field), or None when there are too many to list.
fn relation_choices(
    conn: &Connection,
    state: &AppState,
    target: &Collection,
) -> Result<Option<Vec<Choice>>> {
    let ctx = superuser_ctx(state);
    let opts = ListOptions {
        page: 1,
        per_page: PICKER_LIMIT,
        skip_total: false,
        sort: "-@rowid".into(),
        filter: String::new(),
        search: String::new(),
    };
    let (items, total) = records::list(conn, target, &ctx, &opts)?;
    if total.unwrap_or(0) > PICKER_LIMIT {
        return Ok(None);
    }
    let mut label_fields: Vec<&str> = target
        .fields
        .iter()
        .filter(|f| f.presentable)
        .map(|f| f.name.as_str())
        .collect();
    if label_fields.is_empty() {
        label_fields = ["name", "title", "email", "username", "label"]
            .into_iter()
            .filter(|n| target.field(n).is_some_and(|f| !f.hidden))
            .take(1)
            .collect();
    }
    Ok(Some(
        items
            .iter()
            .map(|r| {
                let id = r.get("id").and_then(Value::as_str).unwrap_or_default();
                let extra: Vec<String> = label_fields
                    .iter()
                    .map(|n| values::cell(r.get(*n).unwrap_or(&Value::Null)).0)
                    .filter(|s| !s.is_empty())
                    .collect();
                let label = if extra.is_empty() {
                    id.to_owned()
                } else {
                    format!("{} ({id})", extra.join(" · "))
                };
                Choice {
                    value: id.to_owned(),
                    label,
                    selected: false,
                }
            })
            .collect(),
    ))
}

fn stored_strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Builds the inputs of `c`'s form, filled from `source`, with `errors` by field name.
pub(super) fn inputs(
    conn: &Connection,
    state: &AppState,
    c: &Collection,
    creating: bool,
    source: &Source,
    errors: &BTreeMap<String, String>,
    stored_record: Option<&Map<String, Value>>,
) -> Result<Vec<Input>> {
    let record_id = stored_record
        .and_then(|r| r.get("id"))
        .and_then(Value::as_str);
    let snapshot = state.schema.snapshot();
    let mut out = Vec::new();
    for f in c.fields.iter().filter(|f| editable(c, f)) {
        let stored = match source {
            Source::Stored(r) => r.get(&f.name),
            // A form sent back keeps showing the files the record holds.
            _ if matches!(f.kind, FieldKind::File(_)) => stored_record.and_then(|r| r.get(&f.name)),
            _ => None,
        };
        let submitted_text = match source {
            Source::Submitted(form) => Some(form.get(&f.name).to_owned()),
            _ => None,
        };
        let selected: Vec<String> = match source {
            Source::Submitted(form) => form.all(&f.name),
            _ => stored_strings(stored),
        };
        let text = submitted_text
            .unwrap_or_else(|| stored.map_or(String::new(), |v| values::input_text(f, v)));
        let mut input = Input {
            name: f.name.clone(),
            kind: "text",
            value: text,
            checked: false,
            required: f.required(),
            multiple: f.is_multiple(),
            choices: Vec::new(),
            step: "any",
            help: String::new(),
            error: errors.get(&f.name).cloned(),
            files: Vec::new(),
            accept: String::new(),
            lon: String::new(),
            lat: String::new(),
        };
        match &f.kind {
            FieldKind::Text(t) if f.name == "id" => {
                if creating {
                    input.help = "Leave blank to generate one.".into();
                    input.required = false;
                } else {
                    input.kind = "readonly";
                    input.required = false;
                }
                if creating && !t.pattern.is_empty() {
                    input.help.push_str(&format!(" Pattern: {}", t.pattern));
                }
            }
            FieldKind::Text(t) => {
                input.help = t.help.clone();
            }
            FieldKind::Editor(e) => {
                input.kind = "textarea";
                input.help = e.help.clone();
            }
            FieldKind::Number(n) => {
                input.kind = "number";
                if n.only_int {
                    input.step = "1";
                }
                input.help = n.help.clone();
            }
            FieldKind::Bool(_) => {
                input.kind = "checkbox";
                input.checked = match source {
                    Source::Submitted(form) => form.checked(&f.name),
                    _ => stored.and_then(Value::as_bool).unwrap_or(false),
                };
                // A required bool means "must be ticked"; the browser need not enforce it.
                input.required = false;
            }
            FieldKind::Email(d) => {
                input.kind = "email";
                input.help = d.help.clone();
            }
            FieldKind::Url(d) => {
                input.kind = "url";
                input.help = d.help.clone();
            }
            FieldKind::Date(d) => {
                input.kind = "datetime";
                input.help = if d.help.is_empty() {
                    "UTC".into()
                } else {
                    format!("{} (UTC)", d.help)
                };
            }
            // Set by the server: not shown while creating, listed last when editing.
            FieldKind::Autodate(_) if creating => continue,
            FieldKind::Autodate(_) => {
                input.kind = "readonly";
                input.required = false;
                input.value = stored
                    .and_then(Value::as_str)
                    .unwrap_or("set when saved")
                    .to_owned();
            }
            FieldKind::Select(s) => {
                input.kind = "select";
                input.choices = s
                    .values
                    .iter()
                    .map(|v| Choice {
                        value: v.clone(),
                        label: v.clone(),
                        selected: selected.contains(v),
                    })
                    .collect();
                input.help = s.help.clone();
            }
            FieldKind::Relation(r) => {
                let target = snapshot.find(&r.collection_id);
                let choices = match &target {
                    Some(t) => relation_choices(conn, state, t)?,
                    None => None,
                };
                let target_name = target.as_ref().map_or("?", |t| t.name.as_str());
                match choices {
                    Some(mut choices) => {
                        input.kind = "select";
                        for choice in &mut choices {
                            choice.selected = selected.contains(&choice.value);
                        }
                        input.choices = choices;
                        input.help = format!("Records of {target_name}.");
                    }
                    None => {
                        input.kind = "text";
                        input.multiple = false;
                        input.value = selected.join(", ");
                        input.help = format!("Ids of {target_name} records, comma-separated.");
                    }
                }
            }
            FieldKind::Json(_) => {
                input.kind = "json";
            }
            FieldKind::GeoPoint(g) => {
                input.kind = "geo";
                (input.lon, input.lat) = match source {
                    Source::Submitted(form) => (
                        form.get(&format!("{}.lon", f.name)).to_owned(),
                        form.get(&format!("{}.lat", f.name)).to_owned(),
                    ),
                    _ => {
                        let point = stored.map(records::geo::GeoPoint::from_value);
                        let point = point.unwrap_or_default();
                        let text = |n| records::output::number(n).to_string();
                        (text(point.lon), text(point.lat))
                    }
                };
                input.value = format!("{}, {}", input.lon, input.lat);
                input.help = if g.help.is_empty() {
                    "Degrees: longitude −180 to 180, latitude −90 to 90.".into()
                } else {
                    g.help.clone()
                };
            }
            FieldKind::File(o) => {
                input.kind = "file";
                // The files the record holds now (what was typed is not kept across a
                // failed save: the browser sends files again).
                let held = stored_strings(stored);
                input.files = match record_id {
                    Some(id) => file_links(c, f, id, &held),
                    None => Vec::new(),
                };
                input.required = f.required() && input.files.is_empty();
                input.accept = o.mime_types.join(",");
                input.value = String::new();
                let limit = if o.max_size > 0 {
                    o.max_size
                } else {
                    5 * 1024 * 1024
                };
                input.help = format!(
                    "{}Up to {} per file{}.",
                    if f.is_multiple() {
                        format!("Up to {} files. ", o.max_select)
                    } else {
                        String::new()
                    },
                    super::dashboard::human_bytes(limit),
                    if o.mime_types.is_empty() {
                        String::new()
                    } else {
                        format!(", {}", o.mime_types.join(", "))
                    }
                );
            }
            FieldKind::Password(p) => {
                input.kind = "password";
                input.value = String::new();
                input.required = creating;
                input.help = if creating {
                    format!("At least {} characters.", p.min.max(8))
                } else {
                    "Leave blank to keep the current password.".into()
                };
            }
        }
        out.push(input);
    }
    // Read-only values (dates set by the server, file names) go after the inputs.
    out.sort_by_key(|i| i.kind == "readonly" && i.name != "id");
    if c.is_auth()
        && let Some(pos) = out.iter().position(|i| i.kind == "password")
    {
        out.insert(
            pos + 1,
            Input {
                name: "passwordConfirm".into(),
                kind: "password",
                value: String::new(),
                checked: false,
                required: creating,
                multiple: false,
                choices: Vec::new(),
                step: "any",
                help: "Type the password again.".into(),
                error: errors.get("passwordConfirm").cloned(),
                files: Vec::new(),
                accept: String::new(),
                lon: String::new(),
                lat: String::new(),
            },
        );
    }
    Ok(out)
}
