//! Sign in with Apple: no user endpoint, the user is the id_token's claims, checked as
//! PocketBase's `apple.go` checks them (exp required, iat, `iss` Apple, `aud` the client
//! id, the signature against Apple's JWKS). Apple sends the user's name only once, with
//! the redirect (`user` form field), which [`apple_redirect_name`] reads.

use serde_json::Value;

use super::exchange::{Http, Token};
use super::fields::{Cause, Obj, go_bool};
use super::id_token::{self, Claims, Expect, FetchJwks, LEEWAY_SECS};
use super::oidc::fetch_jwks;
use super::{AuthUser, Provider};

const ISSUER: &str = "https://appleid.apple.com";
const JWKS_URL: &str = "https://appleid.apple.com/auth/keys";

pub(super) fn fetch(http: &Http, provider: &Provider, token: &Token) -> Result<AuthUser, Cause> {
    let fetch = |url: &str| fetch_jwks(http, url);
    let claims = claims(&provider.client_id, token, &fetch, id_token::now())?;
    map(token, Value::Object(claims))
}

fn claims(client_id: &str, token: &Token, fetch: FetchJwks, now: f64) -> Result<Claims, Cause> {
    let id_token = token
        .extra("id_token")
        .and_then(Value::as_str)
        .unwrap_or("");
    if id_token.is_empty() {
        return Err("empty id_token".into());
    }
    let claims = id_token::unverified_claims(id_token)?;
    let expect = Expect {
        require_exp: true,
        check_iat: true,
        audience: Some(client_id),
        issuer: Some(ISSUER),
        leeway: LEEWAY_SECS,
    };
    id_token::validate(&claims, &expect, now)?;
    id_token::verify_signature(id_token, JWKS_URL, fetch, now)
        .map_err(|e| format!("id_token validation failed: {e}"))?;
    Ok(claims)
}

/// The claims to the user; `email_verified` is a boolean or a string ("true").
fn map(token: &Token, raw: Value) -> Result<AuthUser, Cause> {
    let o = Obj::root(&raw)?;
    let verified = go_bool(o.any("email_verified"));
    Ok(AuthUser {
        id: o.str("sub")?,
        // Not in Apple's claims today; the name comes from the redirect instead.
        name: o.str("name")?,
        email: if verified {
            o.str("email")?
        } else {
            String::new()
        },
        ..AuthUser::from_token(token, raw.clone())
    })
}

/// The full name in the `user` JSON Apple posts with its first redirect
/// (`{"name":{"firstName":..,"lastName":..}}`), trimmed and cut to 150 bytes as PocketBase
/// stores it for the sign-in that follows; None when it holds no name or is not that JSON.
pub fn apple_redirect_name(user_json: &str) -> Option<String> {
    let value: Value = serde_json::from_str(user_json).ok()?;
    let name = Obj::root(&value).ok()?.obj("name").ok()?;
    let mut full = format!(
        "{} {}",
        name.str("firstName").ok()?,
        name.str("lastName").ok()?
    );
    if full.len() > 150 {
        let mut cut = 150;
        while !full.is_char_boundary(cut) {
            cut -= 1;
        }
        full.truncate(cut);
    }
    let full = full.trim();
    (!full.is_empty()).then(|| full.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::id_token::tests::{ed25519, sign};
    use super::super::testing::token_with;
    use super::*;

    fn apple_claims(now: f64) -> Value {
        // https://developer.apple.com/documentation/signinwithapple/authenticating-users-with-sign-in-with-apple
        json!({"iss": "https://appleid.apple.com", "aud": "com.example.app", "exp": now + 600.0, "iat": now,
            "sub": "001234.abcd.1234", "email": "x7@privaterelay.appleid.com", "email_verified": "true",
            "is_private_email": "true", "auth_time": now, "nonce_supported": true})
    }

    #[test]
    fn a_verified_id_token_is_the_user() {
        let (key, jwks) = ed25519();
        let now = id_token::now();
        let fetch = |url: &str| {
            assert_eq!(url, JWKS_URL);
            Ok(jwks.clone())
        };
        let token = token_with(json!({"id_token": sign(&key, "k1", apple_claims(now))}));
        let c = claims("com.example.app", &token, &fetch, now).unwrap();
        let u = map(&token, Value::Object(c)).unwrap();
        assert_eq!(
            [u.id.as_str(), &u.name, &u.username, &u.email, &u.avatar_url],
            [
                "001234.abcd.1234",
                "",
                "",
                "x7@privaterelay.appleid.com",
                ""
            ]
        );
        assert_eq!(u.raw_user["is_private_email"], "true");
    }

    #[test]
    fn refused_id_tokens() {
        let (key, jwks) = ed25519();
        let now = id_token::now();
        let fetch = |_: &str| Ok(jwks.clone());
        let check = |changes: Value| {
            let mut body = apple_claims(now);
            for (k, v) in changes.as_object().unwrap() {
                body[k] = v.clone();
            }
            let token = token_with(json!({"id_token": sign(&key, "k1", body)}));
            claims("com.example.app", &token, &fetch, now)
        };
        assert!(check(json!({})).is_ok());
        assert!(check(json!({"aud": "com.other.app"})).is_err());
        assert!(check(json!({"iss": "https://example.com"})).is_err());
        assert!(check(json!({"exp": null})).is_err());
        assert!(check(json!({"exp": now - 3600.0})).is_err());
        let (stranger, _) = ed25519();
        let forged = token_with(json!({"id_token": sign(&stranger, "k1", apple_claims(now))}));
        assert!(claims("com.example.app", &forged, &fetch, now).is_err());
        assert!(claims("com.example.app", &token_with(json!({})), &fetch, now).is_err());
    }

    #[test]
    fn an_unverified_email_is_dropped() {
        let raw = json!({"sub": "1", "email": "a@b.c", "email_verified": false});
        assert_eq!(map(&token_with(json!({})), raw).unwrap().email, "");
    }

    #[test]
    fn the_redirect_name() {
        let name = apple_redirect_name(
            r#"{"name":{"firstName":"Jane","lastName":"Appleseed"},"email":"j@x.com"}"#,
        );
        assert_eq!(name.as_deref(), Some("Jane Appleseed"));
        assert_eq!(
            apple_redirect_name(r#"{"name":{"firstName":"Jane"}}"#).as_deref(),
            Some("Jane")
        );
        assert_eq!(apple_redirect_name(r#"{"name":{}}"#), None);
        assert_eq!(apple_redirect_name("not json"), None);
        let long = format!(
            r#"{{"name":{{"firstName":"{}","lastName":"X"}}}}"#,
            "é".repeat(100)
        );
        assert!(apple_redirect_name(&long).is_some_and(|n| n.len() <= 150));
    }
}
