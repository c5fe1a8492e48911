//! OAuth2 sign-in providers as PocketBase 0.40 ships them (`tools/auth`): the named
//! providers' defaults, the collection's per-provider config over them, the authorization
//! URL the auth-methods answer carries, and the code exchange that ends in an [`AuthUser`]
//! mapped exactly as PocketBase maps each provider's user.
//!
//! No HTTP server types and no database here: the collection layer stores
//! [`ProviderConfig`]s, the handlers call [`Provider::auth_start`] and [`exchange`] (which
//! blocks; run it off the async workers). Tokens and client secrets are never logged.

mod apple;
mod apple_secret;
mod auth_url;
mod exchange;
mod fields;
mod forges;
mod id_token;
mod logos;
mod oidc;
mod providers;
#[cfg(test)]
mod testing;
mod users;

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

pub use apple::apple_redirect_name;
pub use apple_secret::{AppleClientSecretForm, generate_apple_client_secret};
pub use auth_url::{AuthStart, code_challenge};
pub use exchange::exchange;
pub use providers::{Defaults, ListItem, PROVIDERS, find, list};

/// One entry of an auth collection's `oauth2.providers`, as PocketBase stores it in the
/// collection JSON. Empty values (and a null `pkce`) leave the provider's defaults in place.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderConfig {
    /// Overrides the provider's PKCE default when set (some vendors refuse the extra
    /// parameters).
    pub pkce: Option<bool>,
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(rename = "clientId", deserialize_with = "null_default")]
    pub client_id: String,
    #[serde(
        rename = "clientSecret",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub client_secret: String,
    #[serde(rename = "authURL", deserialize_with = "null_default")]
    pub auth_url: String,
    #[serde(rename = "tokenURL", deserialize_with = "null_default")]
    pub token_url: String,
    #[serde(rename = "userInfoURL", deserialize_with = "null_default")]
    pub user_info_url: String,
    #[serde(rename = "displayName", deserialize_with = "null_default")]
    pub display_name: String,
    /// Provider-specific settings: `jwksURL` and `issuers` (OIDC), `idTokenEmailClaim`
    /// (Microsoft).
    pub extra: Option<Map<String, Value>>,
}

/// The `extra` key choosing which id_token claim Microsoft's email comes from.
const ID_TOKEN_EMAIL_CLAIM: &str = "idTokenEmailClaim";

/// Go decodes a JSON null into a field as its zero value, so a null is no error.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("client_secret", &redacted(&self.client_secret))
            .field("auth_url", &self.auth_url)
            .field("token_url", &self.token_url)
            .field("user_info_url", &self.user_info_url)
            .field("display_name", &self.display_name)
            .field("pkce", &self.pkce)
            .field("extra", &self.extra)
            .finish()
    }
}

fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { "<redacted>" }
}

/// A provider ready to use: its defaults with the config's non-empty values over them
/// (PocketBase's `InitProvider`).
#[derive(Clone)]
pub struct Provider {
    pub name: String,
    pub display_name: String,
    pub client_id: String,
    pub client_secret: String,
    pub auth_url: String,
    pub token_url: String,
    pub user_info_url: String,
    pub scopes: Vec<String>,
    pub pkce: bool,
    pub extra: Map<String, Value>,
    pub logo: &'static str,
}

impl Provider {
    /// The provider `config` names, set up from it; None when PocketBase has no provider of
    /// that name.
    pub fn new(config: &ProviderConfig) -> Option<Self> {
        let defaults = find(&config.name)?;
        let pick = |configured: &str, default: &str| {
            if configured.is_empty() {
                default.to_owned()
            } else {
                configured.to_owned()
            }
        };
        let extra = config.extra.clone().unwrap_or_default();
        let mut scopes: Vec<String> = defaults.scopes.iter().map(|s| s.to_string()).collect();
        // Microsoft returns an id_token (where the chosen email claim lives) only for `openid`.
        if defaults.name == "microsoft"
            && !fields::go_string(extra.get(ID_TOKEN_EMAIL_CLAIM)).is_empty()
            && !scopes.iter().any(|s| s == "openid")
        {
            scopes.push("openid".into());
        }
        Some(Self {
            name: defaults.name.to_owned(),
            display_name: pick(&config.display_name, defaults.display_name),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            auth_url: pick(&config.auth_url, defaults.auth_url),
            token_url: pick(&config.token_url, defaults.token_url),
            user_info_url: pick(&config.user_info_url, defaults.user_info_url),
            scopes,
            pkce: config.pkce.unwrap_or(defaults.pkce),
            extra,
            logo: defaults.logo,
        })
    }
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("client_secret", &redacted(&self.client_secret))
            .field("auth_url", &self.auth_url)
            .field("token_url", &self.token_url)
            .field("user_info_url", &self.user_info_url)
            .field("scopes", &self.scopes)
            .field("pkce", &self.pkce)
            .finish_non_exhaustive()
    }
}

/// The signed-in user as the provider describes it, normalized as PocketBase's `AuthUser`.
#[derive(Clone, Default, PartialEq)]
pub struct AuthUser {
    pub id: String,
    pub name: String,
    pub username: String,
    /// A VERIFIED address only: empty when the provider cannot vouch for it.
    pub email: String,
    pub avatar_url: String,
    pub access_token: String,
    pub refresh_token: String,
    /// When the access token expires, in PocketBase's date format (`2024-01-31
    /// 12:34:56.789Z`); empty when the provider did not say.
    pub expiry: String,
    /// The provider's own answer (or the id_token's claims), untouched.
    pub raw_user: Value,
}

impl AuthUser {
    /// A user with the token's part filled in and the rest for the provider's mapping.
    fn from_token(token: &exchange::Token, raw_user: Value) -> Self {
        Self {
            access_token: token.access_token.clone(),
            refresh_token: token.refresh_token.clone(),
            expiry: token
                .expiry
                .map(crate::datetime::format)
                .unwrap_or_default(),
            raw_user,
            ..Self::default()
        }
    }
}

impl fmt::Debug for AuthUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthUser")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("avatar_url", &self.avatar_url)
            .field("access_token", &redacted(&self.access_token))
            .field("refresh_token", &redacted(&self.refresh_token))
            .field("expiry", &self.expiry)
            .finish_non_exhaustive()
    }
}

/// PocketBase's `meta` of an OAuth2 sign-in: its keys in PocketBase's order, with the
/// legacy `avatarUrl` beside `avatarURL`.
impl AuthUser {
    /// The user as a JS hook left it (`e.oAuth2User`, serialized as above); a value it
    /// removed or gave another type keeps `self`'s.
    pub fn changed_by(&self, given: &Value) -> Self {
        let text = |key: &str, old: &String| {
            given
                .get(key)
                .and_then(Value::as_str)
                .map_or_else(|| old.clone(), str::to_owned)
        };
        Self {
            id: text("id", &self.id),
            name: text("name", &self.name),
            username: text("username", &self.username),
            email: text("email", &self.email),
            avatar_url: text("avatarURL", &self.avatar_url),
            access_token: text("accessToken", &self.access_token),
            refresh_token: text("refreshToken", &self.refresh_token),
            expiry: text("expiry", &self.expiry),
            raw_user: given
                .get("rawUser")
                .cloned()
                .unwrap_or_else(|| self.raw_user.clone()),
        }
    }
}

impl Serialize for AuthUser {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("AuthUser", 10)?;
        m.serialize_field("expiry", &self.expiry)?;
        m.serialize_field("rawUser", &self.raw_user)?;
        m.serialize_field("id", &self.id)?;
        m.serialize_field("name", &self.name)?;
        m.serialize_field("username", &self.username)?;
        m.serialize_field("avatarURL", &self.avatar_url)?;
        m.serialize_field("accessToken", &self.access_token)?;
        m.serialize_field("refreshToken", &self.refresh_token)?;
        m.serialize_field("email", &self.email)?;
        m.serialize_field("avatarUrl", &self.avatar_url)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> ProviderConfig {
        serde_json::from_str(json).unwrap_or_default()
    }

    #[test]
    fn the_config_reads_and_writes_pocketbases_json() {
        let c = config(
            r#"{"name":"google","clientId":"id","clientSecret":"s","authURL":"",
                "tokenURL":null,"userInfoURL":"","displayName":"","pkce":null,"extra":null}"#,
        );
        assert_eq!(c.name, "google");
        assert_eq!(c.client_secret, "s");
        assert_eq!(c.pkce, None);
        let text = serde_json::to_string(&c).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"pkce":null,"name":"google","clientId":"id","clientSecret":"s","authURL":"","tokenURL":"","userInfoURL":"","displayName":"","extra":null}"#
        );
        let no_secret = ProviderConfig {
            client_secret: String::new(),
            ..c
        };
        let text = serde_json::to_string(&no_secret).unwrap_or_default();
        assert!(!text.contains("clientSecret"));
    }

    #[test]
    fn configured_values_win_and_empty_ones_keep_the_defaults() {
        let p = Provider::new(&config(
            r#"{"name":"gitlab","clientId":"id","authURL":"https://git.example.com/oauth/authorize",
                "displayName":"Our GitLab","pkce":false}"#,
        ));
        let Some(p) = p else {
            panic!("gitlab is a provider");
        };
        assert_eq!(p.auth_url, "https://git.example.com/oauth/authorize");
        assert_eq!(p.token_url, "https://gitlab.com/oauth/token");
        assert_eq!(p.user_info_url, "https://gitlab.com/api/v4/user");
        assert_eq!(p.display_name, "Our GitLab");
        assert!(!p.pkce);
        assert_eq!(p.scopes, ["read_user"]);
        assert!(Provider::new(&config(r#"{"name":"nope"}"#)).is_none());
    }

    #[test]
    fn microsoft_asks_for_openid_when_an_id_token_email_claim_is_chosen() {
        let plain = Provider::new(&config(r#"{"name":"microsoft"}"#)).map(|p| p.scopes);
        assert_eq!(plain, Some(vec!["User.Read".to_owned()]));
        let with_claim = Provider::new(&config(
            r#"{"name":"microsoft","extra":{"idTokenEmailClaim":"verified_primary_email"}}"#,
        ))
        .map(|p| p.scopes);
        assert_eq!(
            with_claim,
            Some(vec!["User.Read".to_owned(), "openid".to_owned()])
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = config(r#"{"name":"github","clientId":"id","clientSecret":"hunter2"}"#);
        assert!(!format!("{c:?}").contains("hunter2"));
        let p = Provider::new(&c)
            .map(|p| format!("{p:?}"))
            .unwrap_or_default();
        assert!(p.contains("github") && !p.contains("hunter2"));
        let user = AuthUser {
            access_token: "tok-123".into(),
            ..AuthUser::default()
        };
        assert!(!format!("{user:?}").contains("tok-123"));
    }

    #[test]
    fn the_user_serializes_as_pocketbases_meta() {
        let user = AuthUser {
            id: "1".into(),
            avatar_url: "https://a/b.png".into(),
            raw_user: serde_json::json!({"k": 1}),
            ..AuthUser::default()
        };
        assert_eq!(
            serde_json::to_string(&user).unwrap_or_default(),
            r#"{"expiry":"","rawUser":{"k":1},"id":"1","name":"","username":"","avatarURL":"https://a/b.png","accessToken":"","refreshToken":"","email":"","avatarUrl":"https://a/b.png"}"#
        );
    }
}
