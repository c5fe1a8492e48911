//! PocketBase-shaped JWTs (HS256). The signing key of every token is the record's
//! `tokenKey` followed by the collection's secret for that token kind, so rotating a
//! record's `tokenKey` revokes every token issued to it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// API auth tokens, as PocketBase issues them.
pub const KIND_AUTH: &str = "auth";
/// The admin UI's cookie session; not accepted by the JSON API.
pub const KIND_ADMIN_SESSION: &str = "adminSession";
pub const KIND_VERIFICATION: &str = "verification";
pub const KIND_PASSWORD_RESET: &str = "passwordReset";
pub const KIND_EMAIL_CHANGE: &str = "emailChange";
/// Short-lived tokens for protected files (`?token=`), from `POST /api/files/token`.
pub const KIND_FILE: &str = "file";

/// The claims, in the order (alphabetical) PocketBase writes them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    #[serde(rename = "collectionId")]
    pub collection_id: String,
    /// The address a verification, reset or email-change token was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub exp: i64,
    pub id: String,
    #[serde(rename = "newEmail", default, skip_serializing_if = "Option::is_none")]
    pub new_email: Option<String>,
    /// Only auth tokens carry it (false for an impersonation); PocketBase's file,
    /// verification, reset and email-change tokens have no such claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshable: Option<bool>,
    #[serde(rename = "type")]
    pub kind: String,
}

impl Claims {
    pub fn new(kind: &str, collection_id: &str, record_id: &str, lifetime_secs: i64) -> Self {
        Self {
            collection_id: collection_id.to_owned(),
            email: None,
            exp: crate::datetime::unix_seconds() + lifetime_secs,
            id: record_id.to_owned(),
            new_email: None,
            refreshable: (kind == KIND_AUTH).then_some(true),
            kind: kind.to_owned(),
        }
    }
}

pub fn sign(claims: &Claims, token_key: &str, secret: &str) -> Result<String> {
    let key = EncodingKey::from_secret(format!("{token_key}{secret}").as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key)
        .map_err(|e| Error::internal(format!("token signing failed: {e}")))
}

/// Reads the claims without checking the signature, only to find which record and
/// collection hold the key to check it with. Never trust the result on its own.
pub fn peek(token: &str) -> Option<Claims> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// One text claim read without checking the signature ("" when absent), for PocketBase's
/// checks of a token's payload before its signature. Never trust the result on its own.
pub fn peek_text(token: &str, claim: &str) -> String {
    let payload = token.split('.').nth(1).unwrap_or_default();
    URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|claims| claims.get(claim)?.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Checks signature, algorithm and expiry (no leeway), then returns the claims.
pub fn verify(token: &str, token_key: &str, secret: &str) -> Option<Claims> {
    let key = DecodingKey::from_secret(format!("{token_key}{secret}").as_bytes());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .ok()
        .map(|d| d.claims)
}
