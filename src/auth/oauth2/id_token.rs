//! id_token checks as PocketBase makes them with golang-jwt v5: the claims read without
//! the signature, its validator's rules (exp/nbf/iat with a leeway, `aud` containing the
//! client id, an exact `iss`), and the signature checked against the provider's JWKS
//! (RSA or Ed25519 keys, the key picked by `kid`, the token's `alg` the key's own).

use std::str::FromStr;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::fields::{Cause, Obj};

/// The clock skew PocketBase allows on id_token times (its `PB_ID_TOKEN_LEEWAY` default).
pub(super) const LEEWAY_SECS: f64 = 300.0;

pub(super) type Claims = Map<String, Value>;

/// Fetches a JWKS document by URL (over HTTP in use, a fixed answer in tests).
pub(super) type FetchJwks<'a> = &'a dyn Fn(&str) -> Result<Value, Cause>;

/// The token's claims, its signature unchecked (golang-jwt's `ParseUnverified`).
pub(super) fn unverified_claims(token: &str) -> Result<Claims, Cause> {
    jsonwebtoken::dangerous::insecure_decode::<Claims>(token)
        .map(|data| data.claims)
        .map_err(|e| format!("malformed id_token: {e}"))
}

/// What a token's claims must satisfy (golang-jwt's validator options).
#[derive(Default)]
pub(super) struct Expect<'a> {
    pub require_exp: bool,
    pub check_iat: bool,
    pub audience: Option<&'a str>,
    pub issuer: Option<&'a str>,
    pub leeway: f64,
}

/// golang-jwt's `Validator.Validate` on map claims at `now` (Unix seconds).
pub(super) fn validate(claims: &Claims, expect: &Expect, now: f64) -> Result<(), Cause> {
    match numeric_date(claims, "exp")? {
        Some(exp) if now >= exp + expect.leeway => return Err("token is expired".into()),
        None if expect.require_exp => return Err("exp claim is required".into()),
        _ => {}
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && now < nbf - expect.leeway
    {
        return Err("token is not valid yet".into());
    }
    if expect.check_iat
        && let Some(iat) = numeric_date(claims, "iat")?
        && now < iat - expect.leeway
    {
        return Err("token used before issued".into());
    }
    if let Some(audience) = expect.audience {
        let aud = audiences(claims)?;
        if aud.is_empty() || aud == [""] {
            return Err("aud claim is required".into());
        }
        if !aud.iter().any(|a| a == audience) {
            return Err("token has invalid audience".into());
        }
    }
    if let Some(issuer) = expect.issuer {
        let iss = issuer_of(claims)?;
        if iss.is_empty() {
            return Err("iss claim is required".into());
        }
        if iss != issuer {
            return Err("token has invalid issuer".into());
        }
    }
    Ok(())
}

/// A NumericDate claim: a JSON number, or absent; anything else is an invalid claim.
fn numeric_date(claims: &Claims, key: &str) -> Result<Option<f64>, Cause> {
    match claims.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(format!("{key} has an invalid type")),
    }
}

/// `aud` as one string or a list of strings.
fn audiences(claims: &Claims) -> Result<Vec<String>, Cause> {
    match claims.get("aud") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or("aud has an invalid type".to_owned())
            })
            .collect(),
        Some(_) => Err("aud has an invalid type".into()),
    }
}

/// The `iss` claim ("" when absent); not a string is an invalid claim.
pub(super) fn issuer_of(claims: &Claims) -> Result<String, Cause> {
    Obj::of(claims)
        .str("iss")
        .map_err(|_| "iss has an invalid type".into())
}

/// Now, as fractional Unix seconds.
pub(super) fn now() -> f64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9
}

/// Checks `token`'s signature with the key of its `kid` from the JWKS at `jwks_url`
/// (PocketBase's `jwk.ValidateTokenSignature`). As there, the signed token's exp and nbf
/// are then held to the clock without leeway.
pub(super) fn verify_signature(
    token: &str,
    jwks_url: &str,
    fetch: FetchJwks,
    now: f64,
) -> Result<(), Cause> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| format!("malformed id_token: {e}"))?;
    let kid = header.kid.unwrap_or_default();
    if kid.is_empty() {
        return Err("missing kid header value".into());
    }
    let jwks = fetch(jwks_url)?;
    let (alg, key) = key_for(&jwks, &kid)?;
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|e| format!("signature check failed: {e}"))?;
    validate(&data.claims, &Expect::default(), now)
}

/// The first key of the set with this `kid` and a non-empty `alg`, and that `alg`.
fn key_for(jwks: &Value, kid: &str) -> Result<(Algorithm, DecodingKey), Cause> {
    let set = Obj::root(jwks)?;
    for key in set.objects("keys")? {
        let alg = key.str("alg")?;
        if key.str("kid")? != kid || alg.is_empty() {
            continue;
        }
        let alg = Algorithm::from_str(&alg).map_err(|_| format!("unsupported JWK alg {alg:?}"))?;
        let unpadded = |k: &str| key.str(k).map(|v| v.trim_end_matches('=').to_owned());
        let decoding = match key.str("kty")?.as_str() {
            "RSA" => DecodingKey::from_rsa_components(&unpadded("n")?, &unpadded("e")?)
                .map_err(|e| format!("invalid RSA JWK: {e}"))?,
            "OKP" => {
                let crv = key.str("crv")?;
                if crv != "Ed25519" {
                    return Err(format!("unsupported OKP curve (must be Ed25519): {crv:?}"));
                }
                let x = unpadded("x")?;
                let decoded =
                    base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &x)
                        .map_err(|e| format!("invalid Ed25519 JWK: {e}"))?;
                if decoded.len() != 32 {
                    return Err(format!("invalid Ed25519 key length: {}", decoded.len()));
                }
                DecodingKey::from_ed_components(&x)
                    .map_err(|e| format!("invalid Ed25519 JWK: {e}"))?
            }
            other => return Err(format!("unsupported kty (must be RSA or OKP): {other:?}")),
        };
        return Ok((alg, decoding));
    }
    Err(format!("missing JWK with kid {kid:?} and non-empty alg"))
}

#[cfg(test)]
pub(super) mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{EncodingKey, Header};
    use ring::signature::{Ed25519KeyPair, KeyPair};
    use serde_json::json;

    use super::*;

    /// A fresh Ed25519 signer and the JWKS (kid `k1`) that verifies it.
    pub(in super::super) fn ed25519() -> (EncodingKey, Value) {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let jwks = json!({"keys": [
            {"kty": "OKP", "kid": "other", "alg": "EdDSA", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode([0u8; 32])},
            {"kty": "OKP", "kid": "k1", "alg": "EdDSA", "crv": "Ed25519", "x": x, "use": "sig"}
        ]});
        (EncodingKey::from_ed_der(pkcs8.as_ref()), jwks)
    }

    pub(in super::super) fn sign(key: &EncodingKey, kid: &str, claims: Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, &claims, key).unwrap()
    }

    fn claims(v: Value) -> Claims {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn validator_rules() {
        let now = 1_000_000.0;
        let strict = Expect {
            require_exp: true,
            check_iat: true,
            audience: Some("cid"),
            issuer: Some("https://iss"),
            leeway: LEEWAY_SECS,
        };
        let good = json!({"exp": now + 10.0, "iat": now, "aud": "cid", "iss": "https://iss"});
        assert!(validate(&claims(good.clone()), &strict, now).is_ok());
        let with = |k: &str, v: Value| {
            let mut c = claims(good.clone());
            c.insert(k.into(), v);
            validate(&c, &strict, now)
        };
        assert!(with("aud", json!(["x", "cid"])).is_ok());
        assert!(with("aud", json!("other")).is_err());
        assert!(with("aud", json!("")).is_err());
        assert!(with("iss", json!("https://evil")).is_err());
        // Inside the leeway still passes; past it fails.
        assert!(with("exp", json!(now - 100.0)).is_ok());
        assert!(with("exp", json!(now - 301.0)).is_err());
        assert!(with("exp", json!("tomorrow")).is_err());
        assert!(with("iat", json!(now + 600.0)).is_err());
        assert!(with("nbf", json!(now + 600.0)).is_err());
        let mut no_exp = claims(good);
        no_exp.remove("exp");
        assert!(validate(&no_exp, &strict, now).is_err());
        assert!(validate(&no_exp, &Expect::default(), now).is_ok());
    }

    #[test]
    fn signatures_verify_against_the_kid_key_only() {
        let (key, jwks) = ed25519();
        let fetch = |_: &str| Ok(jwks.clone());
        let now = now();
        let token = sign(&key, "k1", json!({"sub": "1", "exp": now + 60.0}));
        assert!(verify_signature(&token, "https://jwks", &fetch, now).is_ok());
        // Signed by another key than the one the kid names.
        let (other, _) = ed25519();
        let forged = sign(&other, "k1", json!({"sub": "1", "exp": now + 60.0}));
        assert!(verify_signature(&forged, "https://jwks", &fetch, now).is_err());
        let unknown = sign(&key, "nope", json!({"sub": "1"}));
        assert!(
            verify_signature(&unknown, "https://jwks", &fetch, now)
                .unwrap_err()
                .contains("missing JWK")
        );
        let no_kid =
            jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &json!({}), &key).unwrap();
        assert!(verify_signature(&no_kid, "https://jwks", &fetch, now).is_err());
        // The signature check holds exp to the clock, without the leeway.
        let stale = sign(&key, "k1", json!({"sub": "1", "exp": now - 10.0}));
        assert!(verify_signature(&stale, "https://jwks", &fetch, now).is_err());
    }

    /// A 2048-bit RSA test key (PKCS#1 DER, base64) and its JWK modulus: RSA keys come
    /// as `n`/`e` in JWKS and must verify RS256 tokens.
    const RSA_PKCS1: &str = include_str!("testdata/rsa2048.pkcs1.b64");
    const RSA_N: &str = include_str!("testdata/rsa2048.n.b64url");

    #[test]
    fn rsa_keys_from_jwks_verify_rs256() {
        let der = base64::engine::general_purpose::STANDARD
            .decode(RSA_PKCS1.split_whitespace().collect::<String>())
            .unwrap();
        let key = EncodingKey::from_rsa_der(&der);
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("rsa".into());
        let now = now();
        let token = jsonwebtoken::encode(&header, &json!({"exp": now + 60.0}), &key).unwrap();
        let jwks = json!({"keys": [{"kty": "RSA", "kid": "rsa", "alg": "RS256", "n": RSA_N.trim(), "e": "AQAB"}]});
        let fetch = |_: &str| Ok(jwks.clone());
        assert!(verify_signature(&token, "u", &fetch, now).is_ok());
        // The token's alg must be the key's own.
        let ps = json!({"keys": [{"kty": "RSA", "kid": "rsa", "alg": "PS256", "n": RSA_N.trim(), "e": "AQAB"}]});
        let fetch_ps = |_: &str| Ok(ps.clone());
        assert!(verify_signature(&token, "u", &fetch_ps, now).is_err());
    }
}
