//! Webhooks: per collection and event, a signed POST of each record change to a URL. The
//! definitions and the durable outbox of deliveries live in `data.db` (`store`); the change
//! that triggers a delivery writes it in its own transaction; a worker thread (`deliver`)
//! posts, retries with backoff and prunes. This module owns the model and its validation.

pub mod deliver;
pub mod store;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::{Error, FieldError, FieldErrors, Result};
use crate::schema::Snapshot;

/// The record events a webhook can be sent for.
pub const EVENTS: [&str; 3] = ["create", "update", "delete"];

/// One webhook as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: String,
    pub name: String,
    /// The collection's id.
    pub collection: String,
    pub events: Vec<String>,
    pub url: String,
    pub secret: String,
    pub active: bool,
    pub created: String,
    pub updated: String,
}

impl Webhook {
    /// The API's view: the collection by name (and id); the secret never leaves, only
    /// whether one is set.
    pub fn to_json(&self, schema: &Snapshot) -> Value {
        let name = schema
            .find(&self.collection)
            .map_or_else(String::new, |c| c.name.clone());
        json!({
            "id": self.id,
            "name": self.name,
            "collection": name,
            "collectionId": self.collection,
            "events": self.events,
            "url": self.url,
            "hasSecret": !self.secret.is_empty(),
            "active": self.active,
            "created": self.created,
            "updated": self.updated,
        })
    }
}

/// One delivery attempt record, as the API and the admin UI show it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: String,
    pub webhook: String,
    pub event: String,
    pub collection: String,
    pub record: String,
    pub status: String,
    pub attempts: i64,
    /// The last HTTP status the receiver answered (0: none yet, or no answer).
    pub response: i64,
    pub error: String,
    pub created: String,
    pub updated: String,
}

fn invalid(code: &str, message: &str) -> crate::error::ErrorTree {
    FieldError::new(code, message).into()
}

/// Checks a create (`existing` None) or PATCH body and applies it over `existing`. Unless
/// `allow_private`, a new or changed URL must not point at a private target
/// (`crate::outbound::check_url`); a stored one is not checked again here (a webhook saved under the
/// flag can still be paused or renamed without it), only at delivery.
pub fn apply(
    schema: &Snapshot,
    existing: Option<&Webhook>,
    body: &Map<String, Value>,
    allow_private: bool,
) -> Result<Webhook> {
    let mut hook = existing.cloned().unwrap_or(Webhook {
        id: String::new(),
        name: String::new(),
        collection: String::new(),
        events: Vec::new(),
        url: String::new(),
        secret: String::new(),
        active: true,
        created: String::new(),
        updated: String::new(),
    });
    let mut errors = FieldErrors::new();
    let text = |k: &str, errors: &mut FieldErrors| -> Option<String> {
        match body.get(k) {
            None => None,
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(Value::Null) => Some(String::new()),
            Some(_) => {
                errors.insert(
                    k.into(),
                    invalid("validation_invalid_value", "Must be a string."),
                );
                None
            }
        }
    };
    if let Some(name) = text("name", &mut errors) {
        if name.chars().count() > 255 {
            errors.insert(
                "name".into(),
                invalid(
                    "validation_length_too_long",
                    "The length must be no more than 255.",
                ),
            );
        }
        hook.name = name;
    }
    if let Some(c) = text("collection", &mut errors) {
        hook.collection = c;
        match schema.find(&hook.collection) {
            Some(c) if c.is_view() => {
                errors.insert(
                    "collection".into(),
                    invalid(
                        "validation_invalid_collection",
                        "View collections have no record events.",
                    ),
                );
            }
            Some(c) => hook.collection = c.id.clone(),
            None => {}
        }
    }
    if hook.collection.is_empty() {
        errors.insert("collection".into(), FieldError::required().into());
    } else if !errors.contains_key("collection") && schema.find(&hook.collection).is_none() {
        errors.insert(
            "collection".into(),
            invalid(
                "validation_invalid_collection",
                "Missing or invalid collection.",
            ),
        );
    }
    match body.get("events") {
        None => {}
        Some(Value::Array(items)) => {
            let mut events = Vec::new();
            for item in items {
                match item.as_str().filter(|e| EVENTS.contains(e)) {
                    Some(e) if !events.iter().any(|known| known == e) => events.push(e.to_owned()),
                    Some(_) => {}
                    None => {
                        errors.insert(
                            "events".into(),
                            invalid(
                                "validation_invalid_value",
                                "Events must be a subset of create, update, delete.",
                            ),
                        );
                    }
                }
            }
            hook.events = events;
        }
        Some(_) => {
            errors.insert(
                "events".into(),
                invalid(
                    "validation_invalid_value",
                    "Events must be a subset of create, update, delete.",
                ),
            );
        }
    }
    if hook.events.is_empty() && !errors.contains_key("events") {
        errors.insert("events".into(), FieldError::required().into());
    }
    // Checked when set or changed; the admin form sends the stored URL back unchanged.
    let url_changed = match text("url", &mut errors) {
        Some(url) => {
            let changed = existing.is_none_or(|e| e.url != url);
            hook.url = url;
            changed
        }
        None => existing.is_none(),
    };
    if hook.url.is_empty() {
        errors
            .entry("url".into())
            .or_insert_with(|| FieldError::required().into());
    } else if !valid_url(&hook.url) {
        errors.insert(
            "url".into(),
            invalid("validation_invalid_url", "Must be a valid url."),
        );
    } else if let Some(why) = url_changed
        .then(|| crate::outbound::check_url(&hook.url))
        .flatten()
        .filter(|_| !allow_private)
    {
        errors.insert(
            "url".into(),
            invalid(
                "validation_url_not_allowed",
                &format!(
                    "Webhooks may not target loopback, private, link-local or metadata addresses ({why}); start hearth with --webhook-allow-private to allow them."
                ),
            ),
        );
    }
    if let Some(secret) = text("secret", &mut errors) {
        if secret.chars().count() > 1000 {
            errors.insert(
                "secret".into(),
                invalid(
                    "validation_length_too_long",
                    "The length must be no more than 1000.",
                ),
            );
        }
        hook.secret = secret;
    }
    match body.get("active") {
        None => {}
        Some(Value::Bool(b)) => hook.active = *b,
        Some(_) => {
            errors.insert(
                "active".into(),
                invalid("validation_invalid_value", "Must be a boolean."),
            );
        }
    }
    if errors.is_empty() {
        Ok(hook)
    } else {
        Err(Error::validation(errors))
    }
}

/// An absolute http(s) URL with a host.
fn valid_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let Some(rest) = rest else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    !host.is_empty()
        && !host.starts_with(':')
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::valid_url;

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert!(valid_url("http://127.0.0.1:9000/hook"));
        assert!(valid_url("https://example.com"));
        assert!(!valid_url("ftp://example.com"));
        assert!(!valid_url("http://"));
        assert!(!valid_url("http:///path"));
        assert!(!valid_url("https://exa mple.com"));
        assert!(!valid_url("javascript:alert(1)"));
    }
}
