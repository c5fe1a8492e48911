//! Checks a candidate collection against the rest of the schema (and, for an update, its
//! previous definition) before any DDL runs. Errors use PocketBase's codes and nesting.

use std::collections::HashSet;

use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::schema::collection::{Collection, CollectionType};
use crate::schema::ddl::Index;
use crate::schema::field::{self, FieldKind};

/// Names a field may not take: they are record keys or SQL words with another meaning.
const RESERVED_FIELD_NAMES: [&str; 7] = [
    "null",
    "true",
    "false",
    "_rowid_",
    "collectionId",
    "collectionName",
    "expand",
];
/// Further names an auth collection keeps for its API.
const RESERVED_AUTH_FIELD_NAMES: [&str; 2] = ["passwordConfirm", "oldPassword"];
/// hearth's own tables, which no collection may shadow. The rest (`_mails`, `_webhooks`,
/// their indexes, ...) the caller finds in the database: see `check`'s `name_in_use`.
const INTERNAL_TABLES: [&str; 3] = ["_collections", "_params", "_migrations"];

pub fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn err(code: &str, message: &str) -> FieldError {
    FieldError::new(code, message)
}

/// Adds every problem found to `errors` (keeping any already there, from the input stage)
/// and fails if there are any. `name_in_use`: SQLite already has something named `c.name`
/// that is no collection's table (one of hearth's own tables, an index, a search table), so
/// creating the table would fail.
pub fn check(
    c: &Collection,
    old: Option<&Collection>,
    all: &[std::sync::Arc<Collection>],
    name_in_use: bool,
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

    if let Some(e) = check_name(c, old, &others, name_in_use) {
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
    nest(&mut errors, "fields", check_fields(c, old, &others));
    nest(&mut errors, "indexes", check_indexes(c, &others));
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

/// Files `found` under `key`: an error keyed "" belongs to `key` itself (a leaf), the rest
/// are per-item branches.
fn nest(errors: &mut FieldErrors, key: &str, mut found: FieldErrors) {
    if found.is_empty() {
        return;
    }
    let tree = match found.remove("") {
        Some(leaf) => leaf,
        None => found.into(),
    };
    errors.entry(key.into()).or_insert(tree);
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
        trust: crate::filter::Trust::Full,
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
    let rule_error = |text: &str| {
        let result = crate::filter::parse(text)
            .and_then(|expr| crate::filter::compile(&expr, &scope, &mut Vec::new()));
        result.err().map(|e| {
            err(
                "validation_invalid_rule",
                &format!("Invalid rule. Raw error: {e}."),
            )
        })
    };
    for (key, rule) in rules {
        let Some(text) = rule.as_deref().filter(|r| !r.trim().is_empty()) else {
            continue;
        };
        if let Some(e) = rule_error(text) {
            errors.entry(key.into()).or_insert(e.into());
        }
    }
    if c.is_auth() {
        super::sign_in_options::check(c, rule_error, errors);
    }
}

fn check_name(
    c: &Collection,
    old: Option<&Collection>,
    others: &[&Collection],
    name_in_use: bool,
) -> Option<FieldError> {
    let name = &c.name;
    if name.is_empty() {
        return Some(FieldError::required());
    }
    if name.len() > 255 {
        return Some(
            err(
                "validation_length_out_of_range",
                "The length must be between 1 and 255.",
            )
            .with_params(serde_json::json!({"min": 1, "max": 255})),
        );
    }
    if name.to_ascii_lowercase().contains("_via_") {
        return Some(err(
            "validation_found_via",
            "The value cannot contain \"_via_\".",
        ));
    }
    if !is_identifier(name) {
        return Some(err(
            "validation_match_invalid",
            "Must be in a valid format.",
        ));
    }
    if old.is_some_and(|o| o.system && o.name != *name) {
        return Some(err(
            "validation_collection_system_name_change",
            "System collection name cannot be changed.",
        ));
    }
    if others.iter().any(|o| o.name.eq_ignore_ascii_case(name)) {
        return Some(err(
            "validation_collection_name_exists",
            "Collection name must be unique (case insensitive).",
        ));
    }
    if others.iter().any(|o| o.id.eq_ignore_ascii_case(name)) {
        return Some(err(
            "validation_collection_name_id_duplicate",
            "The name must not match an existing collection id.",
        ));
    }
    let lower = name.to_ascii_lowercase();
    // `_fts_*` are the search indexes of other collections.
    if name_in_use
        || INTERNAL_TABLES.contains(&lower.as_str())
        || lower.starts_with("sqlite_")
        || lower.starts_with("_fts_")
    {
        return Some(err(
            "validation_collection_name_invalid",
            "The name shouldn't match with an existing internal table.",
        ));
    }
    None
}

fn check_field_name(c: &Collection, name: &str) -> Option<FieldError> {
    if name.is_empty() {
        return Some(FieldError::required());
    }
    if name.len() > 100 {
        return Some(
            err(
                "validation_length_out_of_range",
                "The length must be between 1 and 100.",
            )
            .with_params(serde_json::json!({"min": 1, "max": 100})),
        );
    }
    if !is_identifier(name) {
        return Some(err(
            "validation_match_invalid",
            "Must be in a valid format.",
        ));
    }
    if RESERVED_FIELD_NAMES.contains(&name) {
        return Some(err("validation_not_in_invalid", "Must not be in list."));
    }
    if name.to_ascii_lowercase().contains("_via_") {
        return Some(err(
            "validation_found_via",
            "The value cannot contain \"_via_\".",
        ));
    }
    if c.kind == CollectionType::Auth && RESERVED_AUTH_FIELD_NAMES.contains(&name) {
        return Some(err(
            "validation_reserved_field_name",
            "The field name is reserved and cannot be used.",
        ));
    }
    None
}

fn check_fields(c: &Collection, old: Option<&Collection>, others: &[&Collection]) -> FieldErrors {
    let mut out = FieldErrors::new();
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    for (i, f) in c.fields.iter().enumerate() {
        if !ids.insert(f.id.clone()) {
            let mut e = FieldErrors::new();
            let message = format!("Duplicated or invalid field id \"{}\".", f.id);
            e.insert(
                "id".into(),
                err("validation_duplicated_field_id", &message).into(),
            );
            out.insert(i.to_string(), e.into());
            return out;
        }
        if !f.name.is_empty() && !names.insert(f.name.to_ascii_lowercase()) {
            let mut e = FieldErrors::new();
            let message = format!("Duplicated or invalid field name {}.", f.name);
            e.insert(
                "name".into(),
                err("validation_duplicated_field_name", &message)
                    .with_params(serde_json::json!({"fieldName": f.name}))
                    .into(),
            );
            out.insert(i.to_string(), e.into());
            return out;
        }
    }
    if c.kind != CollectionType::View
        && !c
            .fields
            .iter()
            .any(|f| f.name == "id" && f.is_primary_key())
    {
        out.insert(
            "".into(),
            err(
                "validation_missing_primary_key",
                "Missing or invalid \"id\" PK field.",
            )
            .into(),
        );
        return out;
    }
    if let Some(o) = old.filter(|_| c.kind != CollectionType::View) {
        let system_kept = o
            .fields
            .iter()
            .filter(|p| p.system)
            .all(|p| c.fields.iter().any(|f| f.id == p.id && f.name == p.name));
        if !system_kept {
            // Reported on `fields` itself, as PocketBase does.
            out.insert(
                "".into(),
                err(
                    "validation_system_field_change",
                    "System fields cannot be deleted or renamed.",
                )
                .into(),
            );
            return out;
        }
        for (i, f) in c.fields.iter().enumerate() {
            if o.fields
                .iter()
                .any(|p| p.id == f.id && p.type_name() != f.type_name())
            {
                out.insert(
                    i.to_string(),
                    err(
                        "validation_field_type_change",
                        "Field type cannot be changed.",
                    )
                    .into(),
                );
            }
        }
        if !out.is_empty() {
            return out;
        }
    }
    for (i, f) in c.fields.iter().enumerate() {
        let mut e = FieldErrors::new();
        if let Some(problem) = check_field_name(c, &f.name) {
            e.insert("name".into(), problem.into());
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
            FieldKind::File(o) => {
                let mut bad = FieldErrors::new();
                for (j, thumb) in o.thumbs.iter().enumerate() {
                    let problem = if matches!(thumb.as_str(), "0x0" | "0x0t" | "0x0b" | "0x0f") {
                        Some(err("validation_not_in_invalid", "Must not be in list."))
                    } else if crate::files::thumbs::parse(thumb).is_none() {
                        Some(err(
                            "validation_match_invalid",
                            "Must be in a valid format.",
                        ))
                    } else {
                        None
                    };
                    if let Some(p) = problem {
                        bad.insert(j.to_string(), p.into());
                    }
                }
                if !bad.is_empty() {
                    e.insert("thumbs".into(), bad.into());
                }
            }
            FieldKind::Relation(o) if o.collection_id.is_empty() => {
                e.insert("collectionId".into(), FieldError::required().into());
            }
            FieldKind::Relation(o) => {
                let exists =
                    o.collection_id == c.id || others.iter().any(|x| x.id == o.collection_id);
                if !exists {
                    e.insert(
                        "collectionId".into(),
                        err(
                            "validation_field_relation_missing_collection",
                            "The relation collection doesn't exist.",
                        )
                        .into(),
                    );
                }
            }
            FieldKind::Text(field::TextField { pattern, .. })
            | FieldKind::Password(field::PasswordField { pattern, .. })
                if !pattern.is_empty() && regex::Regex::new(pattern).is_err() =>
            {
                let detail = regex::Regex::new(pattern)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                e.insert(
                    "pattern".into(),
                    err("validation_invalid_regex", &detail).into(),
                );
            }
            FieldKind::Autodate(o) if !o.on_create && !o.on_update => {
                e.insert(
                    "onCreate".into(),
                    err(
                        "validation_required",
                        "Either onCreate or onUpdate must be enabled.",
                    )
                    .into(),
                );
            }
            _ => {}
        }
        if !e.is_empty() {
            out.insert(i.to_string(), e.into());
        }
    }
    out
}

fn check_indexes(c: &Collection, others: &[&Collection]) -> FieldErrors {
    let mut out = FieldErrors::new();
    if c.kind == CollectionType::View && !c.indexes.is_empty() {
        out.insert(
            "".into(),
            err(
                "validation_indexes_not_supported",
                "View collections don't support indexes.",
            )
            .into(),
        );
        return out;
    }
    let mut names = HashSet::new();
    for (i, raw) in c.indexes.iter().enumerate() {
        let problem = match Index::parse(raw) {
            None => Some(err(
                "validation_invalid_index_expression",
                "Invalid CREATE INDEX expression.",
            )),
            Some(idx) => {
                let lower = idx.name.to_ascii_lowercase();
                let used_by = others.iter().find(|o| {
                    o.indexes
                        .iter()
                        .filter_map(|x| Index::parse(x))
                        .any(|x| x.name.eq_ignore_ascii_case(&idx.name))
                });
                if !names.insert(lower) {
                    Some(err(
                        "validation_duplicated_index_name",
                        "The index name already exists.",
                    ))
                } else if let Some(o) = used_by {
                    Some(
                        err(
                            "validation_existing_index_name",
                            &format!("The index name is already used in {} collection.", o.name),
                        )
                        .with_params(serde_json::json!({"usedTableName": o.name})),
                    )
                } else if idx.columns.iter().any(|col| c.field(&col.name).is_none()) {
                    Some(err(
                        "validation_invalid_index_expression",
                        "Invalid CREATE INDEX expression.",
                    ))
                } else {
                    None
                }
            }
        };
        if let Some(e) = problem {
            out.insert(i.to_string(), e.into());
        }
    }
    out
}
