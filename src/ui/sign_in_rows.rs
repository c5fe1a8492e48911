//! The auth collection form's sign-in section: OAuth2 (on or off, one row per provider, its
//! client secret write-only: a blank secret keeps the stored one) and MFA (on or off,
//! duration, rule), filled from the stored collection or from what was submitted, read
//! back into the collection JSON's `oauth2` and `mfa`, with the schema's errors placed.

use serde_json::{Map, Value, json};

use super::form::Form;
use super::record_inputs::Choice;
use crate::error::{ErrorTree, FieldErrors};
use crate::schema::Collection;

pub struct ProviderRow {
    pub index: usize,
    pub name: String,
    pub client_id: String,
    /// A secret is stored for this provider (it is never shown).
    pub has_secret: bool,
    pub auth_url: String,
    pub token_url: String,
    pub user_info_url: String,
    pub display_name: String,
    /// "", "true" or "false": the provider's default, on, off.
    pub pkce: String,
    /// Every provider hearth knows, this row's selected.
    pub choices: Vec<Choice>,
    pub errors: Vec<String>,
}

impl ProviderRow {
    fn with_choices(mut self) -> Self {
        self.choices = crate::auth::oauth2::list()
            .into_iter()
            .map(|p| Choice {
                value: p.name.to_owned(),
                label: format!("{} ({})", p.display_name, p.name),
                selected: p.name == self.name,
            })
            .collect();
        self
    }
}

pub struct SignIn {
    pub oauth2_on: bool,
    pub providers: Vec<ProviderRow>,
    pub mfa_on: bool,
    pub mfa_duration: String,
    pub mfa_rule: String,
    /// Provider rows the form sends back (`p0.` to `p{rows-1}.`).
    pub rows: usize,
    pub oauth2_errors: Vec<String>,
    pub mfa_errors: Vec<String>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn blank(index: usize) -> ProviderRow {
    ProviderRow {
        index,
        name: String::new(),
        client_id: String::new(),
        has_secret: false,
        auth_url: String::new(),
        token_url: String::new(),
        user_info_url: String::new(),
        display_name: String::new(),
        pkce: String::new(),
        choices: Vec::new(),
        errors: Vec::new(),
    }
    .with_choices()
}

fn stored_secret(c: Option<&Collection>, name: &str) -> bool {
    providers_of(c)
        .iter()
        .any(|p| text(p, "name") == name && !text(p, "clientSecret").is_empty())
}

fn providers_of(c: Option<&Collection>) -> Vec<Value> {
    c.and_then(|c| c.options.get("oauth2"))
        .and_then(|o| o.get("providers"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

impl SignIn {
    fn counted(mut self) -> Self {
        self.rows = self.providers.last().map_or(0, |p| p.index + 1);
        self
    }
}

/// The section as `c` has it stored, with one blank provider row to add one.
pub(super) fn stored(c: &Collection) -> SignIn {
    let oauth2 = c.options.get("oauth2").cloned().unwrap_or(Value::Null);
    let mfa = c.options.get("mfa").cloned().unwrap_or(Value::Null);
    let mut providers: Vec<ProviderRow> = providers_of(Some(c))
        .iter()
        .enumerate()
        .map(|(index, p)| {
            ProviderRow {
                index,
                name: text(p, "name"),
                client_id: text(p, "clientId"),
                has_secret: !text(p, "clientSecret").is_empty(),
                auth_url: text(p, "authURL"),
                token_url: text(p, "tokenURL"),
                user_info_url: text(p, "userInfoURL"),
                display_name: text(p, "displayName"),
                pkce: p
                    .get("pkce")
                    .and_then(Value::as_bool)
                    .map_or(String::new(), |b| b.to_string()),
                choices: Vec::new(),
                errors: Vec::new(),
            }
            .with_choices()
        })
        .collect();
    providers.push(blank(providers.len()));
    SignIn {
        oauth2_on: oauth2.get("enabled").and_then(Value::as_bool) == Some(true),
        providers,
        mfa_on: mfa.get("enabled").and_then(Value::as_bool) == Some(true),
        mfa_duration: mfa
            .get("duration")
            .and_then(Value::as_i64)
            .map_or(String::new(), |d| d.to_string()),
        mfa_rule: text(&mfa, "rule"),
        rows: 0,
        oauth2_errors: Vec::new(),
        mfa_errors: Vec::new(),
    }
    .counted()
}

fn rows_sent(form: &Form) -> usize {
    form.get("oauth2.rows")
        .parse::<usize>()
        .unwrap_or(0)
        .min(64)
}

/// The section as submitted, with `more` blank provider rows after it.
pub(super) fn submitted(form: &Form, c: Option<&Collection>, more: usize) -> SignIn {
    let count = rows_sent(form);
    let mut providers: Vec<ProviderRow> = (0..count)
        .filter(|i| !form.checked(&format!("p{i}.remove")))
        .map(|i| {
            let f = |k: &str| form.get(&format!("p{i}.{k}")).trim().to_owned();
            let name = f("name");
            ProviderRow {
                index: i,
                has_secret: !f("clientSecret").is_empty() || stored_secret(c, &name),
                name,
                client_id: f("clientId"),
                auth_url: f("authURL"),
                token_url: f("tokenURL"),
                user_info_url: f("userInfoURL"),
                display_name: f("displayName"),
                pkce: f("pkce"),
                choices: Vec::new(),
                errors: Vec::new(),
            }
            .with_choices()
        })
        .collect();
    for _ in 0..more {
        let next = providers.last().map_or(count, |p| (p.index + 1).max(count));
        providers.push(blank(next));
    }
    SignIn {
        oauth2_on: form.checked("oauth2.enabled"),
        providers,
        mfa_on: form.checked("mfa.enabled"),
        mfa_duration: form.get("mfa.duration").trim().to_owned(),
        mfa_rule: form.get("mfa.rule").trim().to_owned(),
        rows: 0,
        oauth2_errors: Vec::new(),
        mfa_errors: Vec::new(),
    }
    .counted()
}

/// `oauth2` and `mfa` as the form sets them, into `body`; nothing when the form has no
/// sign-in section (not an auth collection). Which submitted row each sent provider came
/// from is answered, for the errors.
pub(super) fn read_into(form: &Form, body: &mut Map<String, Value>) -> Vec<usize> {
    if !form.has("oauth2.rows") {
        return Vec::new();
    }
    let mut providers = Vec::new();
    let mut rows = Vec::new();
    for i in 0..rows_sent(form) {
        let f = |k: &str| form.get(&format!("p{i}.{k}")).trim().to_owned();
        if form.checked(&format!("p{i}.remove")) || f("name").is_empty() {
            continue;
        }
        let mut p = json!({
            "name": f("name"), "clientId": f("clientId"), "authURL": f("authURL"),
            "tokenURL": f("tokenURL"), "userInfoURL": f("userInfoURL"),
            "displayName": f("displayName"),
            "pkce": match f("pkce").as_str() { "true" => json!(true), "false" => json!(false), _ => Value::Null },
        });
        // Blank keeps the stored secret (the schema merges it back by provider name).
        if !f("clientSecret").is_empty() {
            p["clientSecret"] = json!(f("clientSecret"));
        }
        providers.push(p);
        rows.push(i);
    }
    body.insert(
        "oauth2".into(),
        json!({"enabled": form.checked("oauth2.enabled"), "providers": providers}),
    );
    let duration = form.get("mfa.duration").trim().parse::<i64>().unwrap_or(0);
    body.insert(
        "mfa".into(),
        json!({"enabled": form.checked("mfa.enabled"), "duration": duration,
            "rule": form.get("mfa.rule").trim()}),
    );
    rows
}

/// Puts the schema's `oauth2.*` and `mfa.*` errors on the section: a provider's on its
/// row (`sent` maps each sent provider to its row), the rest on OAuth2 or MFA.
pub(super) fn place_errors(data: &FieldErrors, s: &mut SignIn, sent: &[usize]) {
    if let Some(tree) = data.get("mfa") {
        tree.flatten("", &mut s.mfa_errors);
    }
    let Some(tree) = data.get("oauth2") else {
        return;
    };
    let ErrorTree::Branch(parts) = tree else {
        tree.flatten("", &mut s.oauth2_errors);
        return;
    };
    for (key, part) in parts {
        match (key.as_str(), part) {
            ("providers", ErrorTree::Branch(items)) => {
                for (at, item) in items {
                    let row = at.parse::<usize>().ok().and_then(|n| sent.get(n));
                    match row.and_then(|r| s.providers.iter_mut().find(|p| p.index == *r)) {
                        Some(p) => item.flatten("", &mut p.errors),
                        None => item.flatten(&format!("providers.{at}"), &mut s.oauth2_errors),
                    }
                }
            }
            _ => part.flatten(key, &mut s.oauth2_errors),
        }
    }
}
