//! The OpenID Connect slots (`oidc`, `oidc2`, `oidc3`) and Microsoft's id_token emails.
//!
//! An OIDC slot reads its user from the user info URL when the config sets one, else from
//! the token answer's id_token: its claims checked (`aud` = client id, iat/exp with the
//! leeway), `iss` against `extra.issuers` when given, and the signature against
//! `extra.jwksURL` when given, as PocketBase's `oidc.go` does.

use serde_json::Value;

use super::exchange::{Http, Token};
use super::fields::{Cause, Obj, go_bool, go_string};
use super::id_token::{self, Claims, Expect, FetchJwks, LEEWAY_SECS};
use super::{AuthUser, ID_TOKEN_EMAIL_CLAIM, Provider};

/// The JWKS GET of PocketBase's `jwk.Fetch`: any 4xx or 5xx fails.
pub(super) fn fetch_jwks(http: &Http, url: &str) -> Result<Value, Cause> {
    let answer = http.send("GET", url, &[], None, 1 << 20)?;
    if answer.status >= 400 {
        return Err(format!(
            "failed to fetch JSON Web Key Set from {url} ({})",
            answer.status
        ));
    }
    answer.json()
}

pub(super) fn fetch(http: &Http, provider: &Provider, token: &Token) -> Result<AuthUser, Cause> {
    let raw = if provider.user_info_url.is_empty() {
        let fetch = |url: &str| fetch_jwks(http, url);
        Value::Object(claims(provider, token, &fetch, id_token::now())?)
    } else {
        http.user_call(token, "GET", &provider.user_info_url, &[], None)?
    };
    map(token, raw)
}

/// The id_token's claims, checked as PocketBase's `OIDC.parseIdToken` checks them.
pub(super) fn claims(
    provider: &Provider,
    token: &Token,
    fetch: FetchJwks,
    now: f64,
) -> Result<Claims, Cause> {
    let id_token = token
        .extra("id_token")
        .and_then(Value::as_str)
        .unwrap_or("");
    if id_token.is_empty() {
        return Err("empty id_token".into());
    }
    let claims = id_token::unverified_claims(id_token)?;
    let expect = Expect {
        check_iat: true,
        audience: Some(&provider.client_id),
        leeway: LEEWAY_SECS,
        ..Expect::default()
    };
    id_token::validate(&claims, &expect, now)?;

    let issuers = string_list(provider.extra.get("issuers"));
    if !issuers.is_empty() {
        let iss = id_token::issuer_of(&claims).unwrap_or_default();
        if !issuers.contains(&iss) {
            return Err(format!(
                "iss must be one of {issuers:?}, got {:?}",
                claims.get("iss")
            ));
        }
    }

    let jwks_url = go_string(provider.extra.get("jwksURL"));
    if !jwks_url.is_empty() {
        id_token::verify_signature(id_token, &jwks_url, fetch, now)
            .map_err(|e| format!("id_token validation failed: {e}"))?;
    }
    Ok(claims)
}

/// `cast.ToStringSlice`: a list's items as strings, a string split on whitespace.
fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().map(|v| go_string(Some(v))).collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// OIDC's standard claims to the user; the email only when `email_verified` says so
/// (a boolean or a string such as "true", as some providers send it).
fn map(token: &Token, raw: Value) -> Result<AuthUser, Cause> {
    let o = Obj::root(&raw)?;
    let verified = go_bool(o.any("email_verified"));
    Ok(AuthUser {
        id: o.str("sub")?,
        name: o.str("name")?,
        username: o.str("preferred_username")?,
        avatar_url: o.str("picture")?,
        email: if verified {
            o.str("email")?
        } else {
            String::new()
        },
        ..AuthUser::from_token(token, raw.clone())
    })
}

/// Microsoft's email as `extra.idTokenEmailClaim` chooses it: from the id_token (read
/// without its signature: it came straight from Microsoft over TLS) or, by default, the
/// Graph answer's `mail`.
pub(super) fn microsoft_email(provider: &Provider, token: &Token, mail: String) -> String {
    let claims = || {
        let id_token = token
            .extra("id_token")
            .and_then(Value::as_str)
            .unwrap_or("");
        if id_token.is_empty() {
            return Claims::new();
        }
        let expect = Expect {
            check_iat: true,
            leeway: LEEWAY_SECS,
            ..Expect::default()
        };
        id_token::unverified_claims(id_token)
            .ok()
            .filter(|c| id_token::validate(c, &expect, id_token::now()).is_ok())
            .unwrap_or_default()
    };
    let text = |c: &Claims, key: &str| c.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
    let xms_edov = |c: &Claims| {
        if go_bool(c.get("xms_edov")) {
            text(c, "email")
        } else {
            String::new()
        }
    };
    match provider
        .extra
        .get(ID_TOKEN_EMAIL_CLAIM)
        .and_then(Value::as_str)
    {
        Some("any_verified") => {
            let c = claims();
            let primary = text(&c, "verified_primary_email");
            if primary.is_empty() {
                xms_edov(&c)
            } else {
                primary
            }
        }
        Some("verified_primary_email") => text(&claims(), "verified_primary_email"),
        Some("email_and_xms_edov") => xms_edov(&claims()),
        Some("email") => text(&claims(), "email"),
        // Kept from the single-tenant days; Graph's `mail` follows the id_token's `email`,
        // which Microsoft leaves empty when unverified (since 2023).
        _ => mail,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::id_token::tests::{ed25519, sign};
    use super::super::testing::{provider, provider_with, token_with};
    use super::*;

    fn oidc(extra: Value) -> Provider {
        provider_with(json!({"name": "oidc2", "clientId": "cid", "extra": extra}))
    }

    fn with_id_token(id_token: &str) -> Token {
        token_with(json!({"access_token": "at", "id_token": id_token}))
    }

    #[test]
    fn the_standard_claims_map_with_a_loosely_verified_email() {
        let raw = json!({"sub": "248289761001", "name": "Jane Doe", "preferred_username": "j.doe",
            "email": "janedoe@example.com", "email_verified": "true", "picture": "http://example.com/janedoe/me.jpg"});
        let u = map(&token_with(json!({})), raw.clone()).unwrap();
        assert_eq!(
            [u.id.as_str(), &u.name, &u.username, &u.email, &u.avatar_url],
            [
                "248289761001",
                "Jane Doe",
                "j.doe",
                "janedoe@example.com",
                "http://example.com/janedoe/me.jpg"
            ]
        );
        let mut unverified = raw;
        unverified["email_verified"] = json!("no");
        assert_eq!(map(&token_with(json!({})), unverified).unwrap().email, "");
    }

    #[test]
    fn a_signed_id_token_is_accepted_and_its_claims_are_the_user() {
        let (key, jwks) = ed25519();
        let now = id_token::now();
        let fetch = |url: &str| {
            assert_eq!(url, "https://idp.example/jwks");
            Ok(jwks.clone())
        };
        let p = oidc(
            json!({"jwksURL": "https://idp.example/jwks", "issuers": ["https://idp.example"]}),
        );
        let good = json!({"sub": "u1", "aud": "cid", "iss": "https://idp.example", "iat": now,
            "exp": now + 60.0, "email": "u1@idp.example", "email_verified": true});
        let token = with_id_token(&sign(&key, "k1", good.clone()));
        let c = claims(&p, &token, &fetch, now).unwrap();
        assert_eq!(c.get("sub"), Some(&json!("u1")));
        let u = map(&token, Value::Object(c)).unwrap();
        assert_eq!(u.email, "u1@idp.example");

        let refused = |changes: Value| {
            let mut body = good.clone();
            for (k, v) in changes.as_object().unwrap() {
                body[k] = v.clone();
            }
            claims(&p, &with_id_token(&sign(&key, "k1", body)), &fetch, now).unwrap_err()
        };
        assert!(refused(json!({"aud": "someone-else"})).contains("audience"));
        assert!(refused(json!({"iss": "https://evil.example"})).contains("iss must be one of"));
        assert!(refused(json!({"exp": now - 3600.0})).contains("expired"));

        let (stranger, _) = ed25519();
        let forged = with_id_token(&sign(&stranger, "k1", good.clone()));
        assert!(
            claims(&p, &forged, &fetch, now)
                .unwrap_err()
                .contains("id_token validation failed")
        );

        // Without jwksURL the signature is not checked (PocketBase trusts the TLS answer).
        let lax = oidc(json!({}));
        assert!(claims(&lax, &forged, &fetch, now).is_ok());
        assert_eq!(
            claims(&lax, &token_with(json!({})), &fetch, now).unwrap_err(),
            "empty id_token"
        );
    }

    #[test]
    fn issuers_may_be_a_whitespace_separated_string() {
        assert_eq!(string_list(Some(&json!("a b"))), ["a", "b"]);
        assert_eq!(string_list(Some(&json!(["a", 1]))), ["a", "1"]);
        assert!(string_list(None).is_empty());
    }

    #[test]
    fn microsoft_picks_the_configured_claim() {
        let now = id_token::now();
        let unsigned = |claims: Value| {
            let (key, _) = ed25519();
            sign(&key, "any", claims)
        };
        let id = unsigned(
            json!({"iat": now, "email": "e@contoso.com", "xms_edov": true,
            "verified_primary_email": "p@contoso.com"}),
        );
        let token = with_id_token(&id);
        let ms = |mode: &str| {
            provider_with(json!({"name": "microsoft", "extra": {"idTokenEmailClaim": mode}}))
        };
        let email = |mode: &str| microsoft_email(&ms(mode), &token, "graph@contoso.com".into());
        assert_eq!(email("any_verified"), "p@contoso.com");
        assert_eq!(email("verified_primary_email"), "p@contoso.com");
        assert_eq!(email("email_and_xms_edov"), "e@contoso.com");
        assert_eq!(email("email"), "e@contoso.com");
        assert_eq!(
            microsoft_email(&provider("microsoft"), &token, "graph@contoso.com".into()),
            "graph@contoso.com"
        );

        let unverified = with_id_token(&unsigned(
            json!({"iat": now, "email": "e@x.com", "xms_edov": "false"}),
        ));
        assert_eq!(
            microsoft_email(&ms("any_verified"), &unverified, String::new()),
            ""
        );
        assert_eq!(
            microsoft_email(&ms("email"), &unverified, String::new()),
            "e@x.com"
        );
        // An id_token issued in the future (past the leeway) is ignored.
        let early = with_id_token(&unsigned(json!({"iat": now + 3600.0, "email": "e@x.com"})));
        assert_eq!(microsoft_email(&ms("email"), &early, String::new()), "");
    }
}
