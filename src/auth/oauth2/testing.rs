//! Shared test fixtures: a provider set up from a config, a token with a given answer.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::exchange::Token;
use super::{Provider, ProviderConfig};

/// The named provider with client id `cid` and no other settings.
pub(super) fn provider(name: &str) -> Provider {
    provider_with(json!({ "name": name, "clientId": "cid" }))
}

pub(super) fn provider_with(config: Value) -> Provider {
    let config: ProviderConfig = serde_json::from_value(config).unwrap();
    Provider::new(&config).unwrap()
}

/// A bearer token (`at`, refresh `rt`, an hour past the epoch) whose answer was `raw`.
pub(super) fn token_with(raw: Value) -> Token {
    Token {
        access_token: "at".into(),
        token_type: "Bearer".into(),
        refresh_token: "rt".into(),
        expiry: Some(OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(3600)),
        raw: raw.as_object().cloned().unwrap_or_default(),
    }
}
