//! Field definitions of a collection, serialised exactly as PocketBase's (`type` tag plus
//! the options of that type), and the SQLite column each one becomes.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub system: bool,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub presentable: bool,
    #[serde(flatten)]
    pub kind: FieldKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum FieldKind {
    Text(TextField),
    Number(NumberField),
    Bool(BoolField),
    Email(DomainField),
    Url(DomainField),
    Editor(EditorField),
    Date(DateField),
    Autodate(AutodateField),
    Select(SelectField),
    Json(JsonField),
    Relation(RelationField),
    File(FileField),
    Password(PasswordField),
    #[serde(rename = "geoPoint")]
    GeoPoint(GeoPointField),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TextField {
    pub help: String,
    pub required: bool,
    pub min: u64,
    pub max: u64,
    pub pattern: String,
    pub autogenerate_pattern: String,
    pub primary_key: bool,
    /// hearth's own: indexed for `?search=` (shown only when set, so PocketBase's JSON is
    /// unchanged for everything else).
    #[serde(skip_serializing_if = "is_false")]
    pub searchable: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NumberField {
    pub help: String,
    pub required: bool,
    #[serde(serialize_with = "whole_numbers")]
    pub min: Option<f64>,
    #[serde(serialize_with = "whole_numbers")]
    pub max: Option<f64>,
    pub only_int: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BoolField {
    pub help: String,
    pub required: bool,
}

/// Options shared by `email` and `url`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DomainField {
    pub help: String,
    pub required: bool,
    pub except_domains: Vec<String>,
    pub only_domains: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EditorField {
    pub help: String,
    pub required: bool,
    pub max_size: u64,
    #[serde(rename = "convertURLs")]
    pub convert_urls: bool,
    /// See `TextField::searchable`.
    #[serde(skip_serializing_if = "is_false")]
    pub searchable: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DateField {
    pub help: String,
    pub required: bool,
    pub min: String,
    pub max: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AutodateField {
    pub on_create: bool,
    pub on_update: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SelectField {
    pub help: String,
    pub required: bool,
    pub values: Vec<String>,
    pub max_select: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JsonField {
    pub help: String,
    pub required: bool,
    pub max_size: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RelationField {
    pub help: String,
    pub required: bool,
    pub collection_id: String,
    pub cascade_delete: bool,
    pub min_select: u64,
    pub max_select: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FileField {
    pub help: String,
    pub required: bool,
    pub max_select: u64,
    pub max_size: u64,
    pub mime_types: Vec<String>,
    pub thumbs: Vec<String>,
    pub protected: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PasswordField {
    pub help: String,
    pub required: bool,
    pub min: u64,
    pub max: u64,
    pub pattern: String,
    pub cost: u64,
}

/// A `{lon, lat}` point; `required` means not `{0, 0}` ("Null Island"), as in PocketBase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GeoPointField {
    pub help: String,
    pub required: bool,
}

/// Writes `0` rather than `0.0` for whole numbers, as PocketBase's JSON does.
fn whole_numbers<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => s.serialize_i64(*n as i64),
        Some(n) => s.serialize_f64(*n),
        None => s.serialize_none(),
    }
}

/// PocketBase derives a missing field id from its type and name: `text` + crc32("title").
pub fn default_id(type_name: &str, name: &str) -> String {
    format!("{type_name}{}", crc32fast::hash(name.as_bytes()))
}

impl Field {
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            FieldKind::Text(_) => "text",
            FieldKind::Number(_) => "number",
            FieldKind::Bool(_) => "bool",
            FieldKind::Email(_) => "email",
            FieldKind::Url(_) => "url",
            FieldKind::Editor(_) => "editor",
            FieldKind::Date(_) => "date",
            FieldKind::Autodate(_) => "autodate",
            FieldKind::Select(_) => "select",
            FieldKind::Json(_) => "json",
            FieldKind::Relation(_) => "relation",
            FieldKind::File(_) => "file",
            FieldKind::Password(_) => "password",
            FieldKind::GeoPoint(_) => "geoPoint",
        }
    }

    pub fn required(&self) -> bool {
        match &self.kind {
            FieldKind::Text(o) => o.required,
            FieldKind::Number(o) => o.required,
            FieldKind::Bool(o) => o.required,
            FieldKind::Email(o) | FieldKind::Url(o) => o.required,
            FieldKind::Editor(o) => o.required,
            FieldKind::Date(o) => o.required,
            FieldKind::Autodate(_) => false,
            FieldKind::Select(o) => o.required,
            FieldKind::Json(o) => o.required,
            FieldKind::Relation(o) => o.required,
            FieldKind::File(o) => o.required,
            FieldKind::Password(o) => o.required,
            FieldKind::GeoPoint(o) => o.required,
        }
    }

    /// True for select, relation and file fields that hold a list (maxSelect > 1).
    pub fn is_multiple(&self) -> bool {
        match &self.kind {
            FieldKind::Select(o) => o.max_select > 1,
            FieldKind::Relation(o) => o.max_select > 1,
            FieldKind::File(o) => o.max_select > 1,
            _ => false,
        }
    }

    pub fn is_primary_key(&self) -> bool {
        matches!(&self.kind, FieldKind::Text(o) if o.primary_key)
    }

    /// The column definition, as PocketBase declares it. Names are validated to `\w+`
    /// before any DDL is built, so quoting them cannot be escaped.
    pub fn column_definition(&self) -> String {
        let name = &self.name;
        let decl = if self.is_primary_key() {
            "TEXT PRIMARY KEY DEFAULT ('r' || lower(hex(randomblob(7)))) NOT NULL"
        } else if self.is_multiple() {
            "JSON DEFAULT '[]' NOT NULL"
        } else {
            match self.kind {
                FieldKind::Number(_) => "NUMERIC DEFAULT 0 NOT NULL",
                FieldKind::Bool(_) => "BOOLEAN DEFAULT FALSE NOT NULL",
                FieldKind::Json(_) => "JSON DEFAULT NULL",
                FieldKind::GeoPoint(_) => r#"JSON DEFAULT '{"lon":0,"lat":0}' NOT NULL"#,
                _ => "TEXT DEFAULT '' NOT NULL",
            }
        };
        format!("\"{name}\" {decl}")
    }

    /// A new field of `kind` with PocketBase's id derivation.
    pub fn new(name: &str, kind: FieldKind) -> Self {
        let mut f = Self {
            id: String::new(),
            name: name.to_owned(),
            system: false,
            hidden: false,
            presentable: false,
            kind,
        };
        f.id = default_id(f.type_name(), name);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_follow_pocketbase() {
        assert_eq!(default_id("text", "id"), "text3208210256");
        assert_eq!(default_id("autodate", "created"), "autodate2990389176");
    }

    #[test]
    fn round_trips_pocketbase_json_with_defaults() {
        let f: Field = serde_json::from_value(json!({"name": "n", "type": "number"}))
            .unwrap_or_else(|e| panic!("{e}"));
        let v = serde_json::to_value(&f).unwrap_or_default();
        assert_eq!(
            v,
            json!({"help": "", "hidden": false, "id": "", "max": null, "min": null, "name": "n",
                   "onlyInt": false, "presentable": false, "required": false, "system": false, "type": "number"})
        );
        let ed: Field =
            serde_json::from_value(json!({"name": "e", "type": "editor", "convertURLs": true}))
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            ed.kind,
            FieldKind::Editor(EditorField {
                convert_urls: true,
                ..
            })
        ));
        assert!(serde_json::from_value::<Field>(json!({"name": "x", "type": "nope"})).is_err());
    }

    #[test]
    fn columns() {
        let multi = Field::new(
            "tags",
            FieldKind::Select(SelectField {
                max_select: 3,
                ..Default::default()
            }),
        );
        assert_eq!(
            multi.column_definition(),
            "\"tags\" JSON DEFAULT '[]' NOT NULL"
        );
        let n = Field::new("n", FieldKind::Number(NumberField::default()));
        assert_eq!(n.column_definition(), "\"n\" NUMERIC DEFAULT 0 NOT NULL");
    }
}
