//! Checks a candidate collection against the rest of the schema (and, for an update, its
//! previous definition) before any DDL runs. Errors use PocketBase's codes and nesting.

use std::collections::HashSet;

use super::collection::{Collection, CollectionType};
use super::ddl::Index;
use super::field::FieldKind;
use crate::error::{Error, FieldError, FieldErrors, Result};

/// Names a field may not take: they are record keys with another meaning.
const RESERVED_FIELD_NAMES: [&str; 4] = ["expand", "collectionId", "collectionName", "@collection"];
/// Further names an auth collection keeps for its API.
const RESERVED_AUTH_FIELD_NAMES: [&str; 3] = ["passwordConfirm", "oldPassword", "otp"];

pub fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn err(code: &str, message: &str) -> FieldError {
    FieldError::new(code, message)
}

/// Adds every problem found to `errors` (keeping any already there, from the input stage)
/// and fails if there are any.
pub fn check(
    c: &Collection,
    old: Option<&Collection>,
    all: &[std::sync::Arc<Collection>],
    mut errors: FieldErrors,
) -> Result<()> {
    let failure = if old.is_some() {
        "Failed to update collection."
    } else {
        "Failed to create collection."
    };
    // On create every stored collection is another; on update all but the one changing.
    let others: Vec<&Collection> = all
        .iter()
        .map(|c| c.as_ref())
        .filter(|o| old.is_none_or(|old| old.id != o.id))
        .collect();

    if let Some(e) = check_name(c, old, &others) {
        errors.entry("name".into()).or_insert(e.into());
    }
    if old.is_some_and(|o| o.kind != c.kind) {
        errors.insert(
            "type".into(),
            err(
                "validation_collection_type_change",
                "Collection type cannot be changed.",
            )
            .into(),
        );
    }
    // A derived id clashes exactly when the name does; report that once, on the name.
    if old.is_none() && !errors.contains_key("name") && others.iter().any(|o| o.id == c.id) {
        errors.insert(
            "id".into(),
            err(
                "validation_collection_id_exists",
                "Collection id must be unique.",
            )
            .into(),
        );
    }
    let field_errors = check_fields(c, old, &others);
    if !field_errors.is_empty() {
        errors.entry("fields".into()).or_insert(field_errors.into());
    }
    let index_errors = check_indexes(c, old, &others);
    if !index_errors.is_empty() {
        errors
            .entry("indexes".into())
            .or_insert(index_errors.into());
    }
    check_rules(c, all, &mut errors);
    if c.kind == CollectionType::View
        && c.options
            .get("viewQuery")
            .and_then(|v| v.as_str())
            .is_none_or(str::is_empty)
    {
        errors.insert("viewQuery".into(), FieldError::required().into());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(failure, errors))
    }
}

/// Every rule must parse and name only fields the collection (or its relations) has.
fn check_rules(c: &Collection, all: &[std::sync::Arc<Collection>], errors: &mut FieldErrors) {
    let mut others: Vec<Collection> = all
        .iter()
        .filter(|o| o.id != c.id)
        .map(|o| (**o).clone())
        .collect();
    others.push(c.clone());
    let schema = crate::schema::Snapshot::new(others);
    let request = crate::filter::RequestInfo::default();
    let scope = crate::filter::Scope {
        collection: c,
        schema: &schema,
        request: &request,
        allow_hidden: true,
    };
    let mut rules = vec![
        ("listRule", &c.rules.list),
        ("viewRule", &c.rules.view),
        ("createRule", &c.rules.create),
        ("updateRule", &c.rules.update),
        ("deleteRule", &c.rules.delete),
    ];
    let auth_rules: Vec<(&str, Option<String>)> = ["authRule", "manageRule"]
        .iter()
        .map(|k| {
            (
                *k,
                c.options
                    .get(*k)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
            )
        })
        .collect();
    for (k, v) in &auth_rules {
        rules.push((k, v));
    }
    for (key, rule) in rules {
        let Some(text) = rule.as_deref().filter(|r| !r.trim().is_empty()) else {
            continue;
        };
        let result = crate::filter::parse(text)
            .and_then(|expr| crate::filter::compile(&expr, &scope, &mut Vec::new()));
        if let Err(e) = result {
            errors.entry(key.into()).or_insert(
                err(
                    "validation_invalid_rule",
                    &format!("Invalid rule. Raw error: {e}."),
                )
                .into(),
            );
        }
    }
}

fn check_name(
    c: &Collection,
    old: Option<&Collection>,
    others: &[&Collection],
) -> Option<FieldError> {
    if c.name.is_empty() {
        return Some(FieldError::required());
    }
    if !is_identifier(&c.name) {
        return Some(err(
            "validation_invalid_name",
            "Only letters, digits and _ are allowed (max 255).",
        ));
    }
    if old.is_some_and(|o| o.system && o.name != c.name) {
        return Some(err(
            "validation_collection_system_name_change",
            "System collection name cannot be changed.",
        ));
    }
    let renamed = old.is_none_or(|o| o.name != c.name);
    if renamed && c.name.starts_with('_') {
        return Some(err(
            "validation_invalid_name",
            "The _ prefix is reserved for system collections.",
        ));
    }
    if others.iter().any(|o| o.name.eq_ignore_ascii_case(&c.name)) {
        return Some(err(
            "validation_collection_name_exists",
            "Collection name must be unique (case insensitive).",
        ));
    }
    None
}

fn check_fields(c: &Collection, old: Option<&Collection>, others: &[&Collection]) -> FieldErrors {
    let mut out = FieldErrors::new();
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    for (i, f) in c.fields.iter().enumerate() {
        let mut e = FieldErrors::new();
        let lower = f.name.to_ascii_lowercase();
        if f.name.is_empty() {
            e.insert("name".into(), FieldError::required().into());
        } else if !is_identifier(&f.name) {
            e.insert(
                "name".into(),
                err(
                    "validation_invalid_name",
                    "Only letters, digits and _ are allowed.",
                )
                .into(),
            );
        } else if RESERVED_FIELD_NAMES.contains(&f.name.as_str())
            || (c.kind == CollectionType::Auth
                && RESERVED_AUTH_FIELD_NAMES.contains(&f.name.as_str()))
        {
            e.insert(
                "name".into(),
                err("validation_not_in_invalid", "The name is reserved.").into(),
            );
        } else if !names.insert(lower) {
            e.insert(
                "name".into(),
                err("validation_duplicated_name", "The name must be unique.").into(),
            );
        }
        if !ids.insert(f.id.clone()) {
            e.insert(
                "id".into(),
                err("validation_duplicated_id", "The id must be unique.").into(),
            );
        }
        if let Some(prev) = old.and_then(|o| o.fields.iter().find(|p| p.id == f.id)) {
            if prev.type_name() != f.type_name() {
                e.insert(
                    "type".into(),
                    err(
                        "validation_field_type_change",
                        "Field type cannot be changed.",
                    )
                    .into(),
                );
            }
            if prev.system && prev.name != f.name {
                e.insert(
                    "name".into(),
                    err(
                        "validation_system_field_change",
                        "System field name cannot be changed.",
                    )
                    .into(),
                );
            }
        }
        match &f.kind {
            FieldKind::Select(o) if o.values.is_empty() => {
                e.insert("values".into(), FieldError::required().into());
            }
            FieldKind::Select(o) if o.max_select as usize > o.values.len() => {
                let n = o.values.len();
                e.insert(
                    "maxSelect".into(),
                    err(
                        "validation_max_less_equal_than_required",
                        &format!("Must be no greater than {n}."),
                    )
                    .with_params(serde_json::json!({"threshold": n}))
                    .into(),
                );
            }
            FieldKind::Relation(o) => {
                let exists =
                    o.collection_id == c.id || others.iter().any(|x| x.id == o.collection_id);
                if !exists {
                    e.insert(
                        "collectionId".into(),
                        err(
                            "validation_field_invalid_relation",
                            "The relation collection doesn't exist.",
                        )
                        .into(),
                    );
                }
            }
            _ => {}
        }
        if !e.is_empty() {
            out.insert(i.to_string(), e.into());
        }
    }
    if c.kind != CollectionType::View
        && !c
            .fields
            .iter()
            .any(|f| f.name == "id" && f.is_primary_key())
    {
        out.insert(
            "id".into(),
            err(
                "validation_missing_primary_key",
                "The id field is required.",
            )
            .into(),
        );
    }
    if let Some(o) = old {
        for prev in o.fields.iter().filter(|p| p.system) {
            if !c.fields.iter().any(|f| f.id == prev.id) {
                out.insert(
                    prev.name.clone(),
                    err(
                        "validation_system_field_remove",
                        "System fields cannot be removed.",
                    )
                    .into(),
                );
            }
        }
    }
    out
}

fn check_indexes(c: &Collection, old: Option<&Collection>, others: &[&Collection]) -> FieldErrors {
    let mut out = FieldErrors::new();
    let mut names = HashSet::new();
    let taken: HashSet<String> = others
        .iter()
        .flat_map(|o| o.indexes.iter())
        .filter_map(|i| Index::parse(i))
        .map(|i| i.name.to_ascii_lowercase())
        .collect();
    for (i, raw) in c.indexes.iter().enumerate() {
        let problem = match Index::parse(raw) {
            None => Some("Invalid index expression."),
            Some(idx) => {
                let table_ok = idx.table.eq_ignore_ascii_case(&c.name)
                    || old.is_some_and(|o| idx.table.eq_ignore_ascii_case(&o.name));
                let lower = idx.name.to_ascii_lowercase();
                if !table_ok {
                    Some("The index must be on this collection's table.")
                } else if idx.columns.iter().any(|col| c.field(&col.name).is_none()) {
                    Some("The index names an unknown field.")
                } else if taken.contains(&lower) || !names.insert(lower) {
                    Some("The index name must be unique.")
                } else {
                    None
                }
            }
        };
        if let Some(message) = problem {
            out.insert(
                i.to_string(),
                err("validation_invalid_index_expression", message).into(),
            );
        }
    }
    out
}
