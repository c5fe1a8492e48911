//! The rule rows of the collection form: each API rule's text, or locked (superusers
//! only), filled from the stored collection or from what the user submitted.

use serde_json::Value;

use super::form::Form;
use crate::schema::Collection;

pub struct RuleRow {
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub locked: bool,
    pub value: String,
    pub error: Option<String>,
    /// Shown only while the collection type is auth.
    pub auth_only: bool,
}

pub(super) const RULES: [(&str, &str, &str); 7] = [
    (
        "listRule",
        "List/Search rule",
        "Which records a list request returns. Records not matching are left out, not refused.",
    ),
    (
        "viewRule",
        "View rule",
        "Who may read one record by id. Use @request.auth.id to compare with the signed-in user.",
    ),
    (
        "createRule",
        "Create rule",
        "Who may create records; @request.body.* is the submitted data.",
    ),
    (
        "updateRule",
        "Update rule",
        "Who may change a record; checked against the record before the change.",
    ),
    ("deleteRule", "Delete rule", "Who may delete a record."),
    (
        "authRule",
        "Auth rule",
        "Extra condition an account must meet to sign in, e.g. verified = true.",
    ),
    (
        "manageRule",
        "Manage rule",
        "Who may manage other accounts (change their email or password without the old one).",
    ),
];

/// The form's rule rows: from what was submitted, else from the stored collection.
pub(super) fn rule_rows(c: Option<&Collection>, kind: &str, form: Option<&Form>) -> Vec<RuleRow> {
    RULES
        .iter()
        .filter(|(key, ..)| c.is_none() || kind == "auth" || !is_auth_rule(key))
        .map(|&(key, label, help)| {
            let (locked, value) = match form {
                Some(f) => (
                    f.checked(&format!("lock.{key}")),
                    f.get(&format!("rule.{key}")).to_owned(),
                ),
                None => {
                    let stored = c.and_then(|c| stored_rule(c, key));
                    match stored {
                        Some(Some(text)) => (false, text),
                        Some(None) => (true, String::new()),
                        // A new collection starts locked: superusers only.
                        None => (true, String::new()),
                    }
                }
            };
            RuleRow {
                key,
                label,
                help,
                locked,
                value,
                error: None,
                auth_only: is_auth_rule(key),
            }
        })
        .collect()
}

pub(super) fn is_auth_rule(key: &str) -> bool {
    matches!(key, "authRule" | "manageRule")
}

/// A stored rule: Some(None) for null (locked), None when the collection has no such rule.
fn stored_rule(c: &Collection, key: &str) -> Option<Option<String>> {
    Some(match key {
        "listRule" => c.rules.list.clone(),
        "viewRule" => c.rules.view.clone(),
        "createRule" => c.rules.create.clone(),
        "updateRule" => c.rules.update.clone(),
        "deleteRule" => c.rules.delete.clone(),
        other => match c.options.get(other) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) => None,
            _ => return None,
        },
    })
}
