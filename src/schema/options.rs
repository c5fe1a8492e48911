//! The options each field type has, beyond name and flags: their JSON keys, a label for
//! people and how their values are typed. The one table of them: the admin UI builds its
//! option inputs from it, and a test checks it against the field types' JSON.

/// How an option's value is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole number; blank is 0.
    Count,
    /// A number that may be blank (null), as the number field's min/max.
    OptionalNumber,
    Text,
    /// Comma-separated values, stored as an array.
    List,
    Check,
    /// The relation's target collection.
    Collection,
}

/// The options of each field type, as (JSON key, label, kind): what the admin UI's
/// collection form offers, checked against the field types' JSON by a test here.
pub fn of(kind: &str) -> &'static [(&'static str, &'static str, Kind)] {
    match kind {
        "text" => &[
            ("min", "Min length", Kind::Count),
            ("max", "Max length", Kind::Count),
            ("pattern", "Regex pattern", Kind::Text),
            ("autogeneratePattern", "Autogenerate pattern", Kind::Text),
            ("searchable", "Full-text searchable", Kind::Check),
        ],
        "number" => &[
            ("min", "Min", Kind::OptionalNumber),
            ("max", "Max", Kind::OptionalNumber),
            ("onlyInt", "Whole numbers only", Kind::Check),
        ],
        "email" | "url" => &[
            ("onlyDomains", "Only domains", Kind::List),
            ("exceptDomains", "Except domains", Kind::List),
        ],
        "editor" => &[
            ("maxSize", "Max size (bytes)", Kind::Count),
            ("convertURLs", "Convert URLs", Kind::Check),
            ("searchable", "Full-text searchable", Kind::Check),
        ],
        "date" => &[
            ("min", "Earliest", Kind::Text),
            ("max", "Latest", Kind::Text),
        ],
        "autodate" => &[
            ("onCreate", "Set on create", Kind::Check),
            ("onUpdate", "Set on update", Kind::Check),
        ],
        "select" => &[
            ("values", "Choices", Kind::List),
            ("maxSelect", "Max selected", Kind::Count),
        ],
        "json" => &[("maxSize", "Max size (bytes)", Kind::Count)],
        "relation" => &[
            ("collectionId", "Collection", Kind::Collection),
            ("minSelect", "Min selected", Kind::Count),
            ("maxSelect", "Max selected", Kind::Count),
            (
                "cascadeDelete",
                "Delete with the related record",
                Kind::Check,
            ),
        ],
        "file" => &[
            ("maxSelect", "Max files", Kind::Count),
            ("maxSize", "Max size (bytes)", Kind::Count),
            ("mimeTypes", "MIME types", Kind::List),
            ("thumbs", "Thumb sizes", Kind::List),
            ("protected", "Protected", Kind::Check),
        ],
        "password" => &[
            ("min", "Min length", Kind::Count),
            ("max", "Max length", Kind::Count),
            ("pattern", "Regex pattern", Kind::Text),
        ],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::input;

    /// Every option of every type is a key of that type's JSON, and every key of that JSON
    /// beyond the common ones is an option: the table cannot drift from the field types.
    #[test]
    fn the_table_matches_each_field_types_json() {
        let common = [
            "id",
            "name",
            "type",
            "system",
            "hidden",
            "presentable",
            "required",
            "help",
            "primaryKey",
        ];
        for kind in [
            "text", "number", "bool", "email", "url", "editor", "date", "autodate", "select",
            "json", "relation", "file", "password", "geoPoint",
        ] {
            let mut field = serde_json::json!({"name": "f", "type": kind});
            if kind == "relation" {
                field["collectionId"] = "_pb_users_auth_".into();
            }
            if kind == "select" {
                field["values"] = serde_json::json!(["a"]);
            }
            // Ticked, so that options kept out of the JSON while false show.
            for (key, _, k) in of(kind) {
                if *k == Kind::Check {
                    field[*key] = true.into();
                }
            }
            let (c, errors) = input::build(
                serde_json::json!({"name": "t", "type": "base", "fields": [field]}),
                None,
            )
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert!(errors.is_empty(), "{kind}: {errors:?}");
            let json = serde_json::to_value(&c.fields[1]).unwrap_or_default();
            let keys: Vec<&str> = json
                .as_object()
                .map(|o| o.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let options: Vec<&str> = of(kind).iter().map(|(key, ..)| *key).collect();
            for key in &options {
                assert!(
                    keys.contains(key),
                    "{kind}: option {key} is not in {keys:?}"
                );
            }
            for key in keys {
                // PocketBase's bcrypt cost: kept for its JSON, unused by argon2id hashing.
                let unused = kind == "password" && key == "cost";
                assert!(
                    common.contains(&key) || options.contains(&key) || unused,
                    "{kind}: {key} has no option in the table"
                );
            }
        }
    }
}
