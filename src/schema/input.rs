//! Turns a collection JSON body (create, or a PATCH merged onto the stored definition) into
//! a candidate `Collection`: types checked, ids derived, system fields and auth options
//! filled in. Cross-collection checks belong to `validate`.

use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::collection::{
    AUTH_OPTIONS, Collection, CollectionType, Rules, TOKEN_OPTIONS, default_id,
};
use super::field::{self, Field};
use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::json::merge;

/// PocketBase's defaults for a new auth collection: its options and system fields.
static AUTH_DEFAULT_OPTIONS: LazyLock<Map<String, Value>> =
    LazyLock::new(|| serde_json::from_str(include_str!("auth_options.json")).unwrap_or_default());
static AUTH_SYSTEM_FIELDS: LazyLock<Vec<Field>> =
    LazyLock::new(|| serde_json::from_str(include_str!("auth_fields.json")).unwrap_or_default());

fn invalid(message: &str) -> FieldError {
    FieldError::new("validation_invalid_value", message)
}

fn rule(map: &Map<String, Value>, key: &str, errors: &mut FieldErrors) -> Option<String> {
    match map.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.insert(key.into(), invalid("Must be a string or null.").into());
            None
        }
    }
}

fn id_field() -> Field {
    AUTH_SYSTEM_FIELDS
        .iter()
        .find(|f| f.name == "id")
        .cloned()
        .unwrap_or_else(|| Field::new("id", field::FieldKind::Text(field::TextField::default())))
}

/// Builds the candidate for a create (`existing` None) or an update, with the problems
/// found in the input itself (validation adds the rest before anything is written).
/// A new collection of `kind` named `name` with every option at its default, as a JSON
/// definition (a form body binds to its shape).
pub fn scaffold(kind: &str, name: &str) -> Value {
    let body = serde_json::json!({ "type": kind, "name": name });
    match build(body, None) {
        Ok((c, _)) => c.to_json(),
        Err(_) => Value::Object(Map::new()),
    }
}

/// What PocketBase forces on `_superusers` whatever is saved: password sign-in, no OAuth2
/// (a sign-in must never create a superuser), and MFA whenever OTP is on (a mailed code
/// alone never makes a superuser). A rename is refused by validation, as for any system
/// collection.
fn superusers_rules(map: &mut Map<String, Value>) {
    let mut set = |option: &str, key: &str, value: Value| {
        let slot = map
            .entry(option.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        if let Value::Object(o) = slot {
            o.insert(key.to_owned(), value);
        }
    };
    set("oauth2", "enabled", Value::Bool(false));
    set("oauth2", "providers", Value::Array(Vec::new()));
    set("passwordAuth", "enabled", Value::Bool(true));
    let otp = map
        .get("otp")
        .and_then(|o| o.get("enabled"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if otp {
        let mut mfa = map
            .remove("mfa")
            .unwrap_or_else(|| Value::Object(Map::new()));
        if let Value::Object(o) = &mut mfa {
            o.insert("enabled".into(), Value::Bool(true));
        }
        map.insert("mfa".into(), mfa);
    }
}

/// `GET /api/collections/meta/scaffolds`: a new collection of each type with every option
/// at its default, as PocketBase answers it: no name, id or dates; the auth indexes named
/// after a random id, as PocketBase names them after the one it draws for the scaffold.
pub fn scaffolds() -> Value {
    let index_id = crate::ids::random_string(10, "abcdefghijklmnopqrstuvwxyz0123456789");
    let mut out = Map::new();
    for kind in [
        CollectionType::Base,
        CollectionType::Auth,
        CollectionType::View,
    ] {
        let body = serde_json::json!({"type": kind.as_str(), "name": "", "id": index_id});
        let Ok((c, _)) = build(body, None) else {
            continue;
        };
        let mut json = c.to_json();
        for key in ["id", "created", "updated"] {
            json[key] = Value::String(String::new());
        }
        out.insert(kind.as_str().to_owned(), json);
    }
    Value::Object(out)
}

pub fn build(body: Value, existing: Option<&Collection>) -> Result<(Collection, FieldErrors)> {
    let Value::Object(body) = body else {
        return Err(Error::invalid_body());
    };
    let mut map = existing
        .map(Collection::to_internal_json)
        .unwrap_or_default();
    let mut body = body;
    keep_provider_secrets(&map, &mut body);
    merge(&mut map, body);
    if existing.is_some_and(|c| c.id == crate::auth::superusers::COLLECTION_ID) {
        superusers_rules(&mut map);
    }
    let mut errors = FieldErrors::new();

    let name = match map.get("name") {
        Some(Value::String(s)) => s.trim().to_owned(),
        _ => String::new(),
    };
    // On update the merged map carries the stored type; only a create may omit it.
    let kind = match map.get("type") {
        None | Some(Value::Null) => Some(CollectionType::Base),
        Some(Value::String(t)) => CollectionType::parse(t),
        Some(_) => None,
    }
    .unwrap_or_else(|| {
        errors.insert(
            "type".into(),
            FieldError::new("validation_in_invalid", "Must be a valid value.").into(),
        );
        CollectionType::Base
    });

    let mut fields = Vec::new();
    match map.get("fields") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            let mut field_errors = FieldErrors::new();
            for (i, item) in items.iter().enumerate() {
                match serde_json::from_value::<Field>(item.clone()) {
                    Ok(mut f) => {
                        if f.id.is_empty() {
                            f.id = field::default_id(f.type_name(), &f.name);
                        }
                        fields.push(f);
                    }
                    Err(e) => {
                        let mut e_map = FieldErrors::new();
                        e_map.insert(
                            "type".into(),
                            invalid(&format!("Invalid field: {e}.")).into(),
                        );
                        field_errors.insert(i.to_string(), e_map.into());
                    }
                }
            }
            if !field_errors.is_empty() {
                errors.insert("fields".into(), field_errors.into());
            }
        }
        Some(_) => {
            errors.insert(
                "fields".into(),
                invalid("Must be an array of fields.").into(),
            );
        }
    }
    add_system_fields(kind, &mut fields);

    let indexes = match map.get("indexes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(_) => {
            errors.insert(
                "indexes".into(),
                invalid("Must be an array of strings.").into(),
            );
            Vec::new()
        }
    };

    let rules = Rules {
        list: rule(&map, "listRule", &mut errors),
        view: rule(&map, "viewRule", &mut errors),
        create: rule(&map, "createRule", &mut errors),
        update: rule(&map, "updateRule", &mut errors),
        delete: rule(&map, "deleteRule", &mut errors),
    };

    let options = match kind {
        CollectionType::Auth => {
            let mut options = auth_options(&map, &mut errors);
            tidy_oauth2(&mut options, &fields);
            options
        }
        CollectionType::View => {
            let mut o = Map::new();
            let query = map
                .get("viewQuery")
                .and_then(Value::as_str)
                .unwrap_or_default();
            o.insert("viewQuery".into(), Value::String(query.trim().to_owned()));
            o
        }
        CollectionType::Base => Map::new(),
    };

    let now = crate::datetime::now();
    let id = match (existing, map.get("id").and_then(Value::as_str)) {
        (Some(c), _) => c.id.clone(),
        (None, Some(id)) if !id.is_empty() => id.to_owned(),
        (None, _) => default_id(kind, &name),
    };
    let mut c = Collection {
        id,
        name,
        kind,
        system: existing.is_some_and(|c| c.system),
        fields,
        indexes,
        rules,
        options,
        created: existing.map_or_else(|| now.clone(), |c| c.created.clone()),
        updated: now,
    };
    if kind == CollectionType::Auth && existing.is_none() {
        add_auth_indexes(&mut c);
    }
    Ok((c, errors))
}

/// The system fields a collection of `kind` must have, in PocketBase's order.
fn system_fields(kind: CollectionType) -> Vec<Field> {
    match kind {
        CollectionType::Auth => AUTH_SYSTEM_FIELDS.clone(),
        CollectionType::Base => vec![id_field()],
        CollectionType::View => Vec::new(),
    }
}

/// Where the system fields a collection of `kind` lacks go among `names` (its fields as
/// submitted): (position, name), in insertion order. As PocketBase's `initDefaultFields`
/// (API, JS and imports alike): a missing `id` goes first, a missing password, tokenKey,
/// email, emailVisibility or verified after the collection's own fields. Validation errors
/// index the fields after these insertions.
pub fn system_field_insertions(kind: CollectionType, names: &[&str]) -> Vec<(usize, String)> {
    let mut len = names.len();
    let mut out = Vec::new();
    for sys in system_fields(kind) {
        if names.contains(&sys.name.as_str()) {
            continue;
        }
        let at = if sys.name == "id" { 0 } else { len };
        out.push((at, sys.name));
        len += 1;
    }
    out
}

fn add_system_fields(kind: CollectionType, fields: &mut Vec<Field>) {
    let system = system_fields(kind);
    for f in fields.iter_mut() {
        if system
            .iter()
            .any(|sys| sys.name == f.name && sys.type_name() == f.type_name())
        {
            enforce_system_defaults(f);
        }
    }
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    let insertions = system_field_insertions(kind, &names);
    for (at, name) in insertions {
        if let Some(sys) = system_fields(kind).into_iter().find(|f| f.name == name) {
            fields.insert(at, sys);
        }
    }
}

/// The flags PocketBase's `initDefaultFields` enforce on a system field a definition
/// carries itself: always a system field; `id` a required, visible primary key with a
/// pattern; password and tokenKey required and hidden; email visible (its visibility is the
/// record's emailVisibility).
fn enforce_system_defaults(f: &mut Field) {
    f.system = true;
    match (f.name.as_str(), &mut f.kind) {
        ("id", field::FieldKind::Text(o)) => {
            f.hidden = false;
            o.required = true;
            o.primary_key = true;
            if o.pattern.is_empty() {
                o.pattern = "^[a-z0-9]+$".into();
            }
        }
        ("password", field::FieldKind::Password(o)) => {
            f.hidden = true;
            o.required = true;
        }
        ("tokenKey", field::FieldKind::Text(o)) => {
            f.hidden = true;
            o.required = true;
        }
        ("email", _) => f.hidden = false,
        _ => {}
    }
}

fn add_auth_indexes(c: &mut Collection) {
    let (id, name) = (&c.id, &c.name);
    for idx in [
        format!("CREATE UNIQUE INDEX `idx_tokenKey_{id}` ON `{name}` (`tokenKey`)"),
        format!("CREATE UNIQUE INDEX `idx_email_{id}` ON `{name}` (`email`) WHERE `email` != ''"),
    ] {
        if !c.indexes.contains(&idx) {
            c.indexes.push(idx);
        }
    }
}

/// OAuth2 providers sent without their secret (an answer never has it) keep the one stored
/// for the provider of the same name, as the rest of what they leave out: a PATCH merges
/// into the stored config, as on PocketBase.
fn keep_provider_secrets(stored: &Map<String, Value>, body: &mut Map<String, Value>) {
    let Some(Value::Array(old)) = stored.get("oauth2").and_then(|o| o.get("providers")) else {
        return;
    };
    let Some(Value::Array(sent)) = body.get_mut("oauth2").and_then(|o| o.get_mut("providers"))
    else {
        return;
    };
    for provider in sent.iter_mut() {
        let Value::Object(new) = provider else {
            continue;
        };
        let name = new.get("name").and_then(Value::as_str).unwrap_or_default();
        let Some(Value::Object(before)) = old
            .iter()
            .find(|o| o.get("name").and_then(Value::as_str) == Some(name))
        else {
            continue;
        };
        let mut merged = before.clone();
        merge(&mut merged, std::mem::take(new));
        *new = merged;
    }
}

/// Each OAuth2 provider in PocketBase's shape (its keys, `extra` an object), and the mapped
/// fields naming no field of the collection blanked, as PocketBase saves them.
fn tidy_oauth2(options: &mut Map<String, Value>, fields: &[Field]) {
    let Some(Value::Object(oauth2)) = options.get_mut("oauth2") else {
        return;
    };
    if let Some(Value::Array(providers)) = oauth2.get_mut("providers") {
        for provider in providers.iter_mut() {
            let config: crate::auth::oauth2::ProviderConfig =
                serde_json::from_value(provider.clone()).unwrap_or_default();
            let config = crate::auth::oauth2::ProviderConfig {
                extra: Some(config.extra.clone().unwrap_or_default()),
                ..config
            };
            if let Ok(tidy) = serde_json::to_value(&config) {
                *provider = tidy;
            }
        }
    }
    if let Some(Value::Object(mapped)) = oauth2.get_mut("mappedFields") {
        for (_, name) in mapped.iter_mut() {
            let known = name
                .as_str()
                .is_some_and(|n| fields.iter().any(|f| f.name == n));
            if !known {
                *name = Value::String(String::new());
            }
        }
    }
}

/// The auth options: defaults, overlaid with what was sent; every token kind gets a secret.
fn auth_options(map: &Map<String, Value>, errors: &mut FieldErrors) -> Map<String, Value> {
    let mut options = AUTH_DEFAULT_OPTIONS.clone();
    let sent: Map<String, Value> = AUTH_OPTIONS
        .iter()
        .filter_map(|k| map.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    merge(&mut options, sent);
    for key in ["authRule", "manageRule"] {
        if !matches!(
            options.get(key),
            None | Some(Value::Null) | Some(Value::String(_))
        ) {
            errors.insert(key.into(), invalid("Must be a string or null.").into());
        }
    }
    for key in TOKEN_OPTIONS {
        let Some(Value::Object(opt)) = options.get_mut(key) else {
            errors.insert(key.into(), invalid("Must be an object.").into());
            continue;
        };
        let has_secret = opt
            .get("secret")
            .and_then(Value::as_str)
            .is_some_and(|s| s.len() >= 30);
        if !has_secret {
            opt.insert("secret".into(), Value::String(crate::ids::secret(50)));
        }
        if opt
            .get("duration")
            .and_then(Value::as_i64)
            .is_none_or(|d| d <= 0)
        {
            let mut e = FieldErrors::new();
            e.insert(
                "duration".into(),
                invalid("Must be a positive number of seconds.").into(),
            );
            errors.insert(key.into(), e.into());
        }
    }
    options
}
