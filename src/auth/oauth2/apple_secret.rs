//! `POST /api/settings/apple/generate-client-secret`: the ES256 JWT Apple takes as the
//! client secret, signed with the developer's "Sign in with Apple" key, with PocketBase's
//! form rules (`forms.AppleClientSecretCreate`). The route itself lives with the settings
//! handlers.

use std::fmt;

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::null_default;
use crate::error::{Error, FieldError, FieldErrors, Result};

/// The longest validity Apple accepts for a client secret: about six months, in seconds.
const MAX_DURATION: i64 = 15_777_000;
const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// The request body, as PocketBase binds it.
#[derive(Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AppleClientSecretForm {
    /// The app's Services ID.
    #[serde(deserialize_with = "null_default")]
    pub client_id: String,
    /// The 10-character team id of the developer account.
    #[serde(deserialize_with = "null_default")]
    pub team_id: String,
    /// The 10-character id of the private key.
    #[serde(deserialize_with = "null_default")]
    pub key_id: String,
    /// The PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    #[serde(deserialize_with = "null_default")]
    pub private_key: String,
    /// Seconds the secret stays valid, 1 to 15777000.
    #[serde(deserialize_with = "null_default")]
    pub duration: i64,
}

impl fmt::Debug for AppleClientSecretForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppleClientSecretForm")
            .field("client_id", &self.client_id)
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .field("duration", &self.duration)
            .finish_non_exhaustive()
    }
}

impl AppleClientSecretForm {
    /// PocketBase's rules, one error per field, with its codes and messages.
    pub fn validate(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        let mut check = |field: &str, error: Option<FieldError>| {
            if let Some(e) = error {
                errors.insert(field.into(), e.into());
            }
        };
        check("clientId", required(&self.client_id));
        check(
            "teamId",
            required(&self.team_id).or_else(|| length_10(&self.team_id)),
        );
        check(
            "keyId",
            required(&self.key_id).or_else(|| length_10(&self.key_id)),
        );
        check(
            "privateKey",
            required(&self.private_key).or_else(|| {
                (!looks_like_pkcs8_pem(&self.private_key)).then(|| {
                    FieldError::new("validation_match_invalid", "Must be in a valid format.")
                })
            }),
        );
        let duration = if self.duration == 0 {
            Some(FieldError::required())
        } else if self.duration < 1 {
            Some(
                FieldError::new(
                    "validation_min_greater_equal_than_required",
                    "Must be no less than 1.",
                )
                .with_params(json!({"threshold": 1})),
            )
        } else if self.duration > MAX_DURATION {
            Some(
                FieldError::new(
                    "validation_max_less_equal_than_required",
                    &format!("Must be no greater than {MAX_DURATION}."),
                )
                .with_params(json!({"threshold": MAX_DURATION})),
            )
        } else {
            None
        };
        check("duration", duration);
        errors
    }
}

fn required(value: &str) -> Option<FieldError> {
    value.is_empty().then(FieldError::required)
}

/// ozzo's `Length(10, 10)`: the length in bytes, as Go's `len`.
fn length_10(value: &str) -> Option<FieldError> {
    (value.len() != 10).then(|| {
        FieldError::new(
            "validation_length_invalid",
            "The length must be exactly 10.",
        )
        .with_params(json!({"min": 10, "max": 10}))
    })
}

/// PocketBase's pattern `-----BEGIN PRIVATE KEY----[\s\S]+-----END PRIVATE KEY-----`,
/// searched anywhere: the begin marker, at least one character, then the end marker.
fn looks_like_pkcs8_pem(text: &str) -> bool {
    let Some(start) = text.find(PEM_BEGIN) else {
        return false;
    };
    let rest = &text[start + PEM_BEGIN.len()..];
    rest.char_indices()
        .nth(1)
        .is_some_and(|(second, _)| rest[second..].contains(PEM_END))
}

/// The DER inside the first PEM block of `text`.
fn pem_der(text: &str) -> std::result::Result<Vec<u8>, String> {
    let begin = text.find("-----BEGIN ").ok_or("no PEM data is found")?;
    let after_begin = &text[begin + "-----BEGIN ".len()..];
    let label_end = after_begin.find("-----").ok_or("no PEM data is found")?;
    let label = &after_begin[..label_end];
    let body = &after_begin[label_end + "-----".len()..];
    let end = body
        .find(&format!("-----END {label}-----"))
        .ok_or("no PEM data is found")?;
    let base64_text: String = body[..end]
        .lines()
        .filter(|line| !line.contains(':'))
        .flat_map(|line| line.split_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(base64_text)
        .map_err(|e| format!("invalid PEM body: {e}"))
}

/// The claims of golang-jwt's `RegisteredClaims` that PocketBase sets, in its order.
#[derive(Serialize)]
struct SecretClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: [&'a str; 1],
    exp: i64,
    iat: i64,
}

/// The client secret for `form`: an ES256 JWT with the key id in its header, issued by the
/// team for the client, for Apple's audience, valid `duration` seconds from now.
pub fn generate_apple_client_secret(form: &AppleClientSecretForm) -> Result<String> {
    let errors = form.validate();
    if !errors.is_empty() {
        return Err(Error::invalid("Invalid client secret data.", errors));
    }
    let failed = |e: &dyn fmt::Display| {
        Error::bad_request(format!(
            "Failed to generate client secret. Raw error: \n{e}"
        ))
    };
    let der = pem_der(form.private_key.trim()).map_err(|e| failed(&e))?;
    let now = crate::datetime::unix_seconds();
    let claims = SecretClaims {
        iss: &form.team_id,
        sub: &form.client_id,
        aud: ["https://appleid.apple.com"],
        exp: now + form.duration,
        iat: now,
    };
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(form.key_id.clone());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(&der)).map_err(|e| failed(&e))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use serde_json::Value;

    use super::*;

    /// A fresh P-256 key as a PKCS#8 PEM and its public point (SEC1, uncompressed).
    fn p256() -> (String, Vec<u8>) {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let body = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let pem = format!("{PEM_BEGIN}-\n{}\n{PEM_END}\n", lines.join("\n"));
        (pem, pair.public_key().as_ref().to_vec())
    }

    fn form(private_key: &str) -> AppleClientSecretForm {
        AppleClientSecretForm {
            client_id: "com.example.app".into(),
            team_id: "1234567890".into(),
            key_id: "1234567891".into(),
            private_key: private_key.into(),
            duration: 3600,
        }
    }

    fn codes(errors: &FieldErrors) -> Value {
        serde_json::to_value(errors).unwrap()
    }

    #[test]
    fn an_empty_form_fails_every_field() {
        let errors = codes(&AppleClientSecretForm::default().validate());
        for field in ["clientId", "teamId", "keyId", "privateKey", "duration"] {
            assert_eq!(errors[field]["code"], "validation_required", "{field}");
            assert_eq!(errors[field]["message"], "Cannot be blank.");
        }
    }

    #[test]
    fn invalid_values_answer_pocketbases_errors() {
        let bad = AppleClientSecretForm {
            client_id: String::new(),
            team_id: "123456789".into(),
            key_id: "12345678901".into(),
            private_key: "-----BEGIN PRIVATE KEY----- invalid".into(),
            duration: -1,
        };
        let errors = codes(&bad.validate());
        assert_eq!(errors["clientId"]["code"], "validation_required");
        assert_eq!(
            errors["teamId"],
            json!({"code": "validation_length_invalid", "message": "The length must be exactly 10.", "params": {"min": 10, "max": 10}})
        );
        assert_eq!(errors["keyId"]["code"], "validation_length_invalid");
        assert_eq!(
            errors["privateKey"],
            json!({"code": "validation_match_invalid", "message": "Must be in a valid format."})
        );
        assert_eq!(
            errors["duration"],
            json!({"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 1.", "params": {"threshold": 1}})
        );
        let too_long = AppleClientSecretForm {
            duration: MAX_DURATION + 1,
            ..form("x")
        };
        assert_eq!(
            codes(&too_long.validate())["duration"]["message"],
            "Must be no greater than 15777000."
        );
        let err = generate_apple_client_secret(&bad).unwrap_err();
        assert_eq!(err.to_string(), "Invalid client secret data.");
    }

    #[test]
    fn a_key_that_matches_the_pattern_but_is_no_key_fails_generation() {
        let err = generate_apple_client_secret(&form(
            "-----BEGIN PRIVATE KEY----- invalid -----END PRIVATE KEY-----",
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Failed to generate client secret. Raw error: \n")
        );
    }

    #[test]
    fn the_generated_secret_verifies_with_the_public_key() {
        let (pem, public) = p256();
        let secret = generate_apple_client_secret(&form(&format!("\n  {pem}  \n"))).unwrap();
        let header = jsonwebtoken::decode_header(&secret).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some("1234567891"));
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&["https://appleid.apple.com"]);
        validation.set_issuer(&["1234567890"]);
        let data =
            jsonwebtoken::decode::<Value>(&secret, &DecodingKey::from_ec_der(&public), &validation)
                .unwrap();
        let claims = data.claims;
        assert_eq!(claims["sub"], "com.example.app");
        assert_eq!(claims["aud"], json!(["https://appleid.apple.com"]));
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            3600
        );

        let (_, stranger) = p256();
        assert!(
            jsonwebtoken::decode::<Value>(
                &secret,
                &DecodingKey::from_ec_der(&stranger),
                &validation
            )
            .is_err()
        );
    }

    #[test]
    fn the_pattern_is_searched_anywhere() {
        assert!(looks_like_pkcs8_pem(
            "x -----BEGIN PRIVATE KEY----- a -----END PRIVATE KEY----- y"
        ));
        assert!(!looks_like_pkcs8_pem(
            "-----BEGIN PRIVATE KEY---------END PRIVATE KEY-----"
        ));
        assert!(!looks_like_pkcs8_pem(
            "-----BEGIN EC PRIVATE KEY----- a -----END EC PRIVATE KEY-----"
        ));
    }
}
