//! The code exchange over HTTP: the token request as golang.org/x/oauth2 sends it (form
//! body; client credentials tried in a Basic header first, then in the body, PocketBase
//! leaving the style to auto-detection for every provider), then the provider's user
//! calls. Blocking; the whole exchange has PocketBase's 30 s budget.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::auth_url::{encode_form, query_escape};
use super::fields::{Cause, Obj};
use super::{AuthUser, Provider, users};
use crate::error::{Error, Result};

/// PocketBase's deadline for the token and user requests together.
const BUDGET: Duration = Duration::from_secs(30);
/// x/oauth2 reads at most 1 MiB of a token answer.
const TOKEN_BODY_LIMIT: u64 = 1 << 20;
const BODY_LIMIT: u64 = 10 << 20;

/// Exchanges an authorization `code` (and the PKCE `code_verifier`, sent when the provider
/// uses PKCE) for the provider's user, as PocketBase's `authWithOAuth2` does. Blocks for
/// up to 30 s. A failure is a 400 with PocketBase's message; its cause goes to the debug
/// log (never a token or secret).
pub fn exchange(
    provider: &Provider,
    code: &str,
    code_verifier: &str,
    redirect_url: &str,
) -> Result<AuthUser> {
    let http = Http::new(BUDGET);
    let token =
        fetch_token(&http, provider, code, code_verifier, redirect_url).map_err(|cause| {
            log::debug!("OAuth2 {}: token request failed: {cause}", provider.name);
            Error::bad_request("Failed to fetch OAuth2 token.")
        })?;
    users::fetch(&http, provider, &token).map_err(|cause| {
        log::debug!("OAuth2 {}: user request failed: {cause}", provider.name);
        Error::bad_request("Failed to fetch OAuth2 user.")
    })
}

/// The token answer, as x/oauth2's `Token` keeps it.
#[derive(Clone, Default)]
pub(super) struct Token {
    pub access_token: String,
    pub token_type: String,
    pub refresh_token: String,
    pub expiry: Option<OffsetDateTime>,
    /// The whole answer, for provider extras (`id_token`, VK's `email`, ...).
    pub raw: Map<String, Value>,
}

/// Names the answer's keys only: every value may be a credential.
impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("token_type", &self.token_type)
            .field("expiry", &self.expiry)
            .field("keys", &self.raw.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Token {
    /// x/oauth2's `Token.Extra`: a value of the token answer beyond the standard ones.
    pub fn extra(&self, key: &str) -> Option<&Value> {
        self.raw.get(key).filter(|v| !v.is_null())
    }

    /// The `Authorization` header value: the token type normalized as x/oauth2 does.
    pub fn authorization(&self) -> String {
        let kind = match self.token_type.to_ascii_lowercase().as_str() {
            "" | "bearer" => "Bearer",
            "mac" => "MAC",
            "basic" => "Basic",
            _ => self.token_type.as_str(),
        };
        format!("{kind} {}", self.access_token)
    }
}

/// An HTTP answer read whole.
pub(super) struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> std::result::Result<Value, Cause> {
        serde_json::from_slice(&self.body).map_err(|e| format!("invalid JSON answer: {e}"))
    }
}

/// The client of one exchange: every request gets what is left of the budget.
pub(super) struct Http {
    agent: ureq::Agent,
    deadline: Instant,
}

impl Http {
    pub fn new(budget: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(budget.min(Duration::from_secs(10))))
            .http_status_as_error(false)
            .user_agent(format!("hearth/{}", crate::VERSION))
            .build()
            .into();
        Self {
            agent,
            deadline: Instant::now() + budget,
        }
    }

    /// Sends one request; any status is an answer, only transport failures are errors.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
        limit: u64,
    ) -> std::result::Result<Answer, Cause> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("the 30s OAuth2 budget ran out".into());
        }
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let invalid = |e: ureq::http::Error| format!("invalid request to {url}: {e}");
        let failed = |e: ureq::Error| format!("{method} {url}: {e}");
        // A GET goes without a body (no `Content-Length: 0`), as Go sends it.
        let mut res = match body {
            Some(body) => {
                let req = req.body(body).map_err(invalid)?;
                let req = self
                    .agent
                    .configure_request(req)
                    .timeout_global(Some(left))
                    .build();
                self.agent.run(req).map_err(failed)?
            }
            None => {
                let req = req.body(()).map_err(invalid)?;
                let req = self
                    .agent
                    .configure_request(req)
                    .timeout_global(Some(left))
                    .build();
                self.agent.run(req).map_err(failed)?
            }
        };
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = res
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| format!("reading the answer of {url}: {e}"))?;
        Ok(Answer {
            status,
            content_type,
            body,
        })
    }

    /// A user call with the access token (`sendRawUserInfoRequest`): 4xx and 5xx fail.
    pub fn user_call(
        &self,
        token: &Token,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> std::result::Result<Value, Cause> {
        let answer = self.authorized(token, method, url, headers, body)?;
        if answer.status >= 400 {
            return Err(format!("{url} answered {}", answer.status));
        }
        answer.json()
    }

    /// A request with the access token whose status the caller judges.
    pub fn authorized(
        &self,
        token: &Token,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> std::result::Result<Answer, Cause> {
        let authorization = token.authorization();
        let mut all = vec![("Authorization", authorization.as_str())];
        all.extend_from_slice(headers);
        self.send(method, url, &all, body, BODY_LIMIT)
    }
}

/// The token request: x/oauth2's `Exchange` with its auth-style probe.
fn fetch_token(
    http: &Http,
    provider: &Provider,
    code: &str,
    code_verifier: &str,
    redirect_url: &str,
) -> std::result::Result<Token, Cause> {
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
    ];
    if !redirect_url.is_empty() {
        form.push(("redirect_uri", redirect_url.to_owned()));
    }
    if provider.pkce {
        form.push(("code_verifier", code_verifier.to_owned()));
    }
    // Credentials in a Basic header first; on any failure, once more in the body.
    token_request(http, provider, form.clone(), false).or_else(|first| {
        log::debug!(
            "OAuth2 {}: token request with a Basic header failed ({first}); retrying with the credentials in the body",
            provider.name
        );
        token_request(http, provider, form, true)
    })
}

fn token_request(
    http: &Http,
    provider: &Provider,
    mut form: Vec<(&str, String)>,
    credentials_in_body: bool,
) -> std::result::Result<Token, Cause> {
    let mut basic = String::new();
    if credentials_in_body {
        if !provider.client_id.is_empty() {
            form.push(("client_id", provider.client_id.clone()));
        }
        if !provider.client_secret.is_empty() {
            form.push(("client_secret", provider.client_secret.clone()));
        }
    } else {
        let pair = format!(
            "{}:{}",
            query_escape(&provider.client_id),
            query_escape(&provider.client_secret)
        );
        basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        );
    }
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if !basic.is_empty() {
        headers.push(("Authorization", basic.as_str()));
    }
    let body = encode_form(form).into_bytes();
    let answer = http.send(
        "POST",
        &provider.token_url,
        &headers,
        Some(body),
        TOKEN_BODY_LIMIT,
    )?;
    parse_token(&answer, OffsetDateTime::now_utc())
}

/// Reads a token answer as x/oauth2's `doTokenRoundTrip` does: form-encoded or JSON by
/// its content type; an error status or an `error` field fails; an access token is a must.
/// Causes carry the OAuth error fields, never the body (it may hold a token).
pub(super) fn parse_token(
    answer: &Answer,
    now: OffsetDateTime,
) -> std::result::Result<Token, Cause> {
    let failed = !(200..300).contains(&answer.status);
    let media = answer
        .content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (raw, expires_in) = if media == "application/x-www-form-urlencoded" || media == "text/plain"
    {
        let raw: Map<String, Value> = form_values(&answer.body);
        let expires_in = raw
            .get("expires_in")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0);
        (raw, expires_in)
    } else {
        let raw = match serde_json::from_slice::<Value>(&answer.body) {
            Ok(Value::Object(map)) => map,
            Ok(_) | Err(_) if failed => return Err(format!("status {}", answer.status)),
            _ => return Err("cannot parse the token answer as JSON".into()),
        };
        let expires_in = expires_in(raw.get("expires_in"))?;
        (raw, expires_in)
    };
    let o = Obj::of(&raw);
    let error = o.str("error").unwrap_or_default();
    if failed || !error.is_empty() {
        let description = o.str("error_description").unwrap_or_default();
        return Err(if error.is_empty() {
            format!("status {}", answer.status)
        } else {
            format!("status {}: {error:?} {description:?}", answer.status)
        });
    }
    let token = Token {
        access_token: o.str("access_token")?,
        token_type: o.str("token_type")?,
        refresh_token: o.str("refresh_token")?,
        expiry: (expires_in != 0).then(|| now + time::Duration::seconds(expires_in)),
        raw,
    };
    if token.access_token.is_empty() {
        return Err("server response missing access_token".into());
    }
    Ok(token)
}

/// A form-encoded answer as a map of each key's first value.
fn form_values(body: &[u8]) -> Map<String, Value> {
    let mut map = Map::new();
    for (k, v) in form_urlencoded_pairs(body) {
        map.entry(k).or_insert(Value::String(v));
    }
    map
}

fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default()
}

/// `expires_in` as x/oauth2 reads it: a number or a numeric string (PayPal), capped at
/// i32::MAX; null or missing is 0.
fn expires_in(value: Option<&Value>) -> std::result::Result<i64, Cause> {
    let n = match value {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        Some(_) => None,
    };
    n.map(|n| n.min(i64::from(i32::MAX)))
        .ok_or_else(|| "invalid expires_in in the token answer".into())
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use serde_json::json;

    use super::super::ProviderConfig;
    use super::*;

    fn answer(status: u16, content_type: &str, body: &str) -> Answer {
        Answer {
            status,
            content_type: content_type.into(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn json_token_answers() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let t = parse_token(
            &answer(
                200,
                "application/json; charset=utf-8",
                r#"{"access_token":"at","token_type":"bearer","refresh_token":"rt","expires_in":3600,"id_token":"x.y.z"}"#,
            ),
            now,
        )
        .unwrap();
        assert_eq!(t.access_token, "at");
        assert_eq!(t.refresh_token, "rt");
        assert_eq!(t.authorization(), "Bearer at");
        assert_eq!(t.extra("id_token"), Some(&json!("x.y.z")));
        assert_eq!(
            t.expiry.map(crate::datetime::format).as_deref(),
            Some("1970-01-01 01:00:00.000Z")
        );

        let paypal = parse_token(
            &answer(
                200,
                "application/json",
                r#"{"access_token":"a","expires_in":"60"}"#,
            ),
            now,
        )
        .unwrap();
        assert_eq!(paypal.expiry, Some(now + time::Duration::seconds(60)));

        let no_expiry = parse_token(&answer(200, "", r#"{"access_token":"a"}"#), now).unwrap();
        assert_eq!(no_expiry.expiry, None);
    }

    #[test]
    fn form_token_answers_as_github_sends_them() {
        let t = parse_token(
            &answer(
                200,
                "application/x-www-form-urlencoded; charset=utf-8",
                "access_token=gho_x&scope=read%3Auser&token_type=bearer",
            ),
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(t.access_token, "gho_x");
        assert_eq!(t.extra("scope"), Some(&json!("read:user")));
        // GitHub answers an error with 200 and an `error` field.
        let err = parse_token(
            &answer(
                200,
                "application/x-www-form-urlencoded",
                "error=bad_verification_code&error_description=The+code+is+wrong",
            ),
            OffsetDateTime::UNIX_EPOCH,
        );
        assert!(err.unwrap_err().contains("bad_verification_code"));
    }

    #[test]
    fn failed_token_answers() {
        let now = OffsetDateTime::UNIX_EPOCH;
        assert!(
            parse_token(
                &answer(400, "application/json", r#"{"error":"invalid_grant"}"#),
                now
            )
            .is_err()
        );
        assert!(parse_token(&answer(500, "text/html", "<html>"), now).is_err());
        assert!(
            parse_token(&answer(200, "application/json", "{}"), now)
                .unwrap_err()
                .contains("missing access_token")
        );
        assert!(parse_token(&answer(200, "application/json", "nope"), now).is_err());
        // The cause never repeats a body that may carry a token.
        let cause = parse_token(
            &answer(
                200,
                "application/json",
                r#"{"access_token":"secret-at","expires_in":"soon"}"#,
            ),
            now,
        )
        .unwrap_err();
        assert!(!cause.contains("secret-at"));
    }

    /// One recorded request: its request line and headers, and its body.
    type Seen = Arc<Mutex<Vec<(String, String)>>>;

    /// A tiny HTTP/1.1 server on a free port answering each request with the answer
    /// `route` picks for its request line; records what it saw.
    fn serve(
        route: impl Fn(&str, &str) -> (u16, &'static str, String) + Send + 'static,
    ) -> (String, Seen) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen: Seen = Arc::default();
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let body = String::from_utf8_lossy(&body).into_owned();
                let (status, content_type, text) = route(&head, &body);
                log.lock().unwrap().push((head, body));
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                stream.write_all(reply.as_bytes()).unwrap();
            }
        });
        (base, seen)
    }

    fn github_at(base: &str) -> Provider {
        let config: ProviderConfig = serde_json::from_value(json!({
            "name": "github",
            "clientId": "cid",
            "clientSecret": "s3cr3t",
            "tokenURL": format!("{base}/token"),
            "userInfoURL": format!("{base}/user"),
        }))
        .unwrap();
        Provider::new(&config).unwrap()
    }

    #[test]
    fn a_whole_exchange_against_a_local_server() {
        let (base, seen) = serve(|head, _| {
            let line = head.lines().next().unwrap_or("");
            match line.split(' ').nth(1).unwrap_or("") {
                // Refuses the Basic header, as some providers do; the retry carries the
                // credentials in the body.
                "/token" if head.to_ascii_lowercase().contains("authorization: basic") => {
                    (401, "application/json", r#"{"error":"invalid_client"}"#.into())
                }
                "/token" => (
                    200,
                    "application/json",
                    r#"{"access_token":"at-1","token_type":"bearer","expires_in":60}"#.into(),
                ),
                "/user" => (
                    200,
                    "application/json",
                    r#"{"id":42,"login":"octo","name":"Octo Cat","avatar_url":"https://a/42"}"#
                        .into(),
                ),
                "/user/emails" => (
                    200,
                    "application/json",
                    r#"[{"email":"old@x.io","verified":true,"primary":false},{"email":"o@x.io","verified":true,"primary":true}]"#.into(),
                ),
                _ => (404, "text/plain", "no".into()),
            }
        });
        let user = exchange(&github_at(&base), "the code", "verif", "https://app/cb").unwrap();
        assert_eq!(user.id, "42");
        assert_eq!(user.username, "octo");
        assert_eq!(user.email, "o@x.io");
        assert_eq!(user.access_token, "at-1");
        assert!(!user.expiry.is_empty());

        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 4, "{seen:#?}");
        let heads: Vec<String> = seen.iter().map(|(h, _)| h.to_ascii_lowercase()).collect();
        let (_, first_body) = &seen[0];
        assert!(heads[0].starts_with("post /token "));
        assert!(heads[0].contains("authorization: basic y2lkonmzy3izda=="));
        assert!(heads[0].contains("content-type: application/x-www-form-urlencoded"));
        assert_eq!(
            first_body,
            "code=the+code&code_verifier=verif&grant_type=authorization_code&redirect_uri=https%3A%2F%2Fapp%2Fcb"
        );
        let (_, second_body) = &seen[1];
        assert!(!heads[1].contains("authorization"));
        assert_eq!(
            second_body,
            "client_id=cid&client_secret=s3cr3t&code=the+code&code_verifier=verif&grant_type=authorization_code&redirect_uri=https%3A%2F%2Fapp%2Fcb"
        );
        assert!(heads[2].starts_with("get /user "));
        assert!(heads[2].contains("authorization: bearer at-1"));
        assert!(!heads[2].contains("content-length"));
        assert!(heads[3].starts_with("get /user/emails "));
    }

    #[test]
    fn failures_answer_pocketbases_messages() {
        let (base, _) = serve(|head, _| {
            if head.starts_with("POST /token") {
                (200, "application/json", r#"{"access_token":"at"}"#.into())
            } else {
                (500, "text/plain", "down".into())
            }
        });
        let err = exchange(&github_at(&base), "c", "v", "").unwrap_err();
        assert_eq!(err.to_string(), "Failed to fetch OAuth2 user.");

        let (base, _) = serve(|_, _| {
            (
                400,
                "application/json",
                r#"{"error":"invalid_grant"}"#.into(),
            )
        });
        let err = exchange(&github_at(&base), "c", "v", "").unwrap_err();
        assert_eq!(err.to_string(), "Failed to fetch OAuth2 token.");
    }

    #[test]
    fn twitch_sends_its_client_id_and_linear_its_graphql_query() {
        let (base, seen) = serve(|head, _| {
            if head.starts_with("POST /token") {
                (200, "application/json", r#"{"access_token":"at"}"#.into())
            } else if head.starts_with("POST /graphql") {
                let viewer = r#"{"data":{"viewer":{"id":"l1","name":"L","active":true}}}"#;
                (200, "application/json", viewer.into())
            } else {
                (
                    200,
                    "application/json",
                    r#"{"data":[{"id":"t1","login":"tw"}]}"#.into(),
                )
            }
        });
        let twitch = super::super::testing::provider_with(json!({"name": "twitch",
            "clientId": "cid", "tokenURL": format!("{base}/token"), "userInfoURL": format!("{base}/users")}));
        assert_eq!(exchange(&twitch, "c", "v", "").unwrap().username, "tw");
        let linear = super::super::testing::provider_with(json!({"name": "linear",
            "clientId": "cid", "tokenURL": format!("{base}/token"), "userInfoURL": format!("{base}/graphql")}));
        assert_eq!(exchange(&linear, "c", "v", "").unwrap().id, "l1");

        let seen = seen.lock().unwrap();
        let users = seen[1].0.to_ascii_lowercase();
        assert!(users.contains("client-id: cid") && users.contains("authorization: bearer at"));
        // Linear goes without PKCE: no code_verifier in its token request.
        assert_eq!(seen[2].1, "code=c&grant_type=authorization_code");
        assert_eq!(
            seen[3].1,
            r#"{"query": "query Me { viewer { id displayName name email avatarUrl active } }"}"#
        );
    }

    #[test]
    fn oidc_reads_a_verified_id_token_with_keys_fetched_from_jwks_url() {
        use super::super::id_token::tests::{ed25519, sign};
        let (key, jwks) = ed25519();
        let now = crate::datetime::unix_seconds();
        let id_token = sign(
            &key,
            "k1",
            json!({"sub": "o1", "aud": "cid", "iss": "https://idp",
            "iat": now, "exp": now + 60, "email": "o1@idp", "email_verified": true}),
        );
        let token_answer =
            json!({"access_token": "at", "token_type": "Bearer", "id_token": id_token}).to_string();
        let jwks = jwks.to_string();
        let (base, seen) = serve(move |head, _| {
            if head.starts_with("POST /token") {
                (200, "application/json", token_answer.clone())
            } else {
                (200, "application/json", jwks.clone())
            }
        });
        let oidc = super::super::testing::provider_with(json!({"name": "oidc", "clientId": "cid",
            "tokenURL": format!("{base}/token"),
            "extra": {"jwksURL": format!("{base}/jwks"), "issuers": ["https://idp"]}}));
        let user = exchange(&oidc, "c", "v", "").unwrap();
        assert_eq!((user.id.as_str(), user.email.as_str()), ("o1", "o1@idp"));
        assert_eq!(user.raw_user["iss"], "https://idp");
        let seen = seen.lock().unwrap();
        assert!(seen[1].0.starts_with("GET /jwks "));
        assert!(!seen[1].0.to_ascii_lowercase().contains("authorization"));
    }
}
