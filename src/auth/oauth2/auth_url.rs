//! The authorization URL PocketBase's auth-methods answer carries for each provider, byte
//! for byte: golang.org/x/oauth2's `AuthCodeURL` (parameters sorted by name, Go's query
//! escaping) followed by an empty `&redirect_uri=` the client SDK completes. Also the
//! state and PKCE pair it answers beside the URL.

use base64::Engine;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Provider;

/// What Go's `url.QueryEscape` leaves alone: letters, digits and `-_.~`.
const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Go's `url.QueryEscape`: percent-encodes all but `[A-Za-z0-9-_.~]`, a space as `+`.
pub(super) fn query_escape(s: &str) -> String {
    utf8_percent_encode(s, QUERY_COMPONENT)
        .to_string()
        .replace("%20", "+")
}

/// Go's `url.Values.Encode`: `key=value` pairs sorted by key, joined with `&`.
pub(super) fn encode_form(mut pairs: Vec<(&str, String)>) -> String {
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The PKCE S256 challenge of `verifier`: unpadded base64url of its SHA-256.
pub fn code_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// One provider of the auth-methods answer (`oauth2.providers[]`), its keys in
/// PocketBase's order. The PKCE fields are "" when the provider does not use PKCE.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuthStart {
    pub name: String,
    #[serde(rename = "displayName")]
    pub display_name: String,
    pub logo: String,
    pub state: String,
    #[serde(rename = "authURL")]
    pub auth_url: String,
    /// The same URL under its pre-0.23 name, which PocketBase still answers.
    #[serde(rename = "authUrl")]
    pub auth_url_legacy: String,
    #[serde(rename = "codeVerifier")]
    pub code_verifier: String,
    #[serde(rename = "codeChallenge")]
    pub code_challenge: String,
    #[serde(rename = "codeChallengeMethod")]
    pub code_challenge_method: String,
}

impl Provider {
    /// The consent page URL for `state`, with the PKCE challenge when given, ending in an
    /// empty `redirect_uri=` for the client to complete.
    pub fn auth_url(&self, state: &str, code_challenge: Option<&str>) -> String {
        let mut params = vec![
            ("client_id", self.client_id.clone()),
            ("response_type", "code".to_owned()),
        ];
        if !self.scopes.is_empty() {
            params.push(("scope", self.scopes.join(" ")));
        }
        if !state.is_empty() {
            params.push(("state", state.to_owned()));
        }
        if self.name == "apple" {
            // Apple posts the code (and the user's name) back instead of a GET redirect.
            params.push(("response_mode", "form_post".to_owned()));
        }
        if let Some(challenge) = code_challenge {
            params.push(("code_challenge", challenge.to_owned()));
            params.push(("code_challenge_method", "S256".to_owned()));
        }
        let separator = if self.auth_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{separator}{}&redirect_uri=",
            self.auth_url,
            encode_form(params)
        )
    }

    /// The auth-methods entry for this provider: a fresh 30-character state and, when
    /// PKCE is on, a fresh 43-character verifier and its S256 challenge.
    pub fn auth_start(&self) -> AuthStart {
        let state = crate::ids::secret(30);
        let (verifier, challenge, method) = if self.pkce {
            let verifier = crate::ids::secret(43);
            let challenge = code_challenge(&verifier);
            (verifier, challenge, "S256".to_owned())
        } else {
            Default::default()
        };
        let url = self.auth_url(&state, self.pkce.then_some(challenge.as_str()));
        let display_name = if self.display_name.is_empty() {
            self.name.clone()
        } else {
            self.display_name.clone()
        };
        AuthStart {
            name: self.name.clone(),
            display_name,
            logo: self.logo.to_owned(),
            state,
            auth_url: url.clone(),
            auth_url_legacy: url,
            code_verifier: verifier,
            code_challenge: challenge,
            code_challenge_method: method,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ProviderConfig;
    use super::*;

    fn provider(json: &str) -> Provider {
        let config: ProviderConfig = serde_json::from_str(json).unwrap();
        Provider::new(&config).unwrap()
    }

    #[test]
    fn go_query_escaping() {
        assert_eq!(query_escape("a b+c/d:e~f*g"), "a+b%2Bc%2Fd%3Ae~f%2Ag");
        assert_eq!(query_escape("ВК"), "%D0%92%D0%9A");
    }

    #[test]
    fn without_pkce_the_url_has_sorted_params_and_an_empty_redirect_uri_last() {
        let p = provider(r#"{"name":"bitbucket","clientId":"my id"}"#);
        assert_eq!(
            p.auth_url("st4te", None),
            "https://bitbucket.org/site/oauth2/authorize?client_id=my+id&response_type=code&scope=account&state=st4te&redirect_uri="
        );
    }

    #[test]
    fn with_pkce_the_challenge_and_its_method_sort_in() {
        let p = provider(r#"{"name":"google","clientId":"cid"}"#);
        assert_eq!(
            p.auth_url("abc", Some("CH")),
            "https://accounts.google.com/o/oauth2/v2/auth?client_id=cid&code_challenge=CH&code_challenge_method=S256&response_type=code&scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fuserinfo.profile+https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fuserinfo.email&state=abc&redirect_uri="
        );
    }

    #[test]
    fn apple_asks_for_a_form_post() {
        let p = provider(r#"{"name":"apple","clientId":"com.example"}"#);
        assert_eq!(
            p.auth_url("s", Some("c")),
            "https://appleid.apple.com/auth/authorize?client_id=com.example&code_challenge=c&code_challenge_method=S256&response_mode=form_post&response_type=code&scope=name+email&state=s&redirect_uri="
        );
    }

    #[test]
    fn an_overridden_url_with_a_query_gets_an_ampersand_and_no_scopes_no_scope_param() {
        let p = provider(
            r#"{"name":"trakt","clientId":"x","authURL":"https://trakt.example/auth?lang=en"}"#,
        );
        assert_eq!(
            p.auth_url("s", None),
            "https://trakt.example/auth?lang=en&client_id=x&response_type=code&state=s&redirect_uri="
        );
    }

    #[test]
    fn pkce_challenge_is_rfc7636s_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn auth_start_matches_pocketbases_entry() {
        let p = provider(r#"{"name":"github","clientId":"gh"}"#);
        let start = p.auth_start();
        assert_eq!(start.state.len(), 30);
        assert_eq!(start.code_verifier.len(), 43);
        assert_eq!(start.code_challenge, code_challenge(&start.code_verifier));
        assert_eq!(start.code_challenge_method, "S256");
        assert_eq!(
            start.auth_url,
            p.auth_url(&start.state, Some(&start.code_challenge))
        );
        let json = serde_json::to_string(&start).unwrap();
        assert!(json.starts_with(r#"{"name":"github","displayName":"GitHub","logo":"<svg"#));

        let no_pkce = provider(r#"{"name":"vk","clientId":"v"}"#).auth_start();
        assert_eq!(no_pkce.code_verifier, "");
        assert_eq!(no_pkce.code_challenge_method, "");
        assert!(!no_pkce.auth_url.contains("code_challenge"));
    }
}
