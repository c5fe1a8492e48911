//! The sign-in options of an auth collection that need more than a type check: its OAuth2
//! providers (each a provider PocketBase ships, with a client id and secret, once OAuth2 is
//! on) and its MFA (two other methods on, a sane duration, a rule that compiles). Errors
//! nest as PocketBase's do: `oauth2.providers.0.name`, `mfa.enabled`.

use serde_json::{Value, json};

use crate::auth::oauth2;
use crate::error::{FieldError, FieldErrors};
use crate::schema::Collection;

/// Adds the problems of `c`'s OAuth2 and MFA options to `errors`; `rule_error` judges the
/// MFA rule as the collection's other rules are judged.
pub fn check(
    c: &Collection,
    rule_error: impl Fn(&str) -> Option<FieldError>,
    errors: &mut FieldErrors,
) {
    if let Some(found) = oauth2_errors(c) {
        errors.entry("oauth2".into()).or_insert(found.into());
    }
    if let Some(found) = mfa_errors(c, rule_error) {
        errors.entry("mfa".into()).or_insert(found.into());
    }
}

fn enabled(c: &Collection, key: &str) -> bool {
    c.options
        .get(key)
        .and_then(|o| o.get("enabled"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn oauth2_errors(c: &Collection) -> Option<FieldErrors> {
    // Nothing is checked while OAuth2 is off, as on PocketBase.
    if !enabled(c, "oauth2") {
        return None;
    }
    let providers = c.options.get("oauth2")?.get("providers")?.as_array()?;
    let mut all = FieldErrors::new();
    // A repeated provider is the only error told, as PocketBase checks it before the rest.
    let mut seen = std::collections::HashSet::new();
    for (i, p) in providers.iter().enumerate() {
        let name = text(p, "name");
        if !name.is_empty() && !seen.insert(name) {
            let error = FieldError::new(
                "validation_duplicated_provider",
                &format!("The provider {name} is already registered."),
            )
            .with_params(json!({ "name": name }));
            let mut found = FieldErrors::new();
            found.insert("name".into(), error.into());
            all.insert(i.to_string(), found.into());
            return Some(nested("providers", all));
        }
    }
    for (i, p) in providers.iter().enumerate() {
        let mut found = FieldErrors::new();
        let name = text(p, "name");
        if name.is_empty() {
            found.insert("name".into(), FieldError::required().into());
        } else if oauth2::find(name).is_none() {
            found.insert(
                "name".into(),
                FieldError::new(
                    "validation_missing_provider",
                    &format!("Invalid or missing provider with name {name}."),
                )
                .with_params(json!({ "name": name }))
                .into(),
            );
        }
        for key in ["clientId", "clientSecret"] {
            if text(p, key).is_empty() {
                found.insert(key.into(), FieldError::required().into());
            }
        }
        for key in ["authURL", "tokenURL", "userInfoURL"] {
            if !is_url_or_empty(text(p, key)) {
                found.insert(
                    key.into(),
                    FieldError::new("validation_is_url", "Must be a valid URL.").into(),
                );
            }
        }
        if !found.is_empty() {
            all.insert(i.to_string(), found.into());
        }
    }
    (!all.is_empty()).then(|| nested("providers", all))
}

fn nested(key: &str, found: FieldErrors) -> FieldErrors {
    let mut out = FieldErrors::new();
    out.insert(key.into(), found.into());
    out
}

fn is_url_or_empty(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "+-.".contains(ch))
        && !rest.is_empty()
        && !rest.starts_with('/')
        && !s.chars().any(char::is_whitespace)
}

fn mfa_errors(
    c: &Collection,
    rule_error: impl Fn(&str) -> Option<FieldError>,
) -> Option<FieldErrors> {
    if !enabled(c, "mfa") {
        return None;
    }
    let mfa = c.options.get("mfa")?;
    let mut found = FieldErrors::new();
    let methods = ["passwordAuth", "oauth2", "otp"]
        .iter()
        .filter(|k| enabled(c, k))
        .count();
    if methods < 2 {
        found.insert(
            "enabled".into(),
            FieldError::new(
                "validation_mfa_not_enough_auths",
                "MFA requires at least 2 auth methods to be enabled.",
            )
            .into(),
        );
        return Some(found);
    }
    let duration = mfa.get("duration").and_then(Value::as_i64).unwrap_or(0);
    if duration == 0 {
        found.insert("duration".into(), FieldError::required().into());
    } else if duration < 10 {
        found.insert(
            "duration".into(),
            FieldError::new(
                "validation_min_greater_equal_than_required",
                "Must be no less than 10.",
            )
            .with_params(json!({ "threshold": 10 }))
            .into(),
        );
    } else if duration > 86400 {
        found.insert(
            "duration".into(),
            FieldError::new(
                "validation_max_less_equal_than_required",
                "Must be no greater than 86400.",
            )
            .with_params(json!({ "threshold": 86400 }))
            .into(),
        );
    }
    let rule = text(mfa, "rule");
    if !rule.trim().is_empty()
        && let Some(e) = rule_error(rule)
    {
        found.insert("rule".into(), e.into());
    }
    (!found.is_empty()).then_some(found)
}
