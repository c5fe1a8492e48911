//! OAuth2 and MFA settings of an auth collection, side by side with PocketBase 0.40.6: the
//! providers as the collections API stores and answers them (client secrets never shown,
//! kept when a PATCH leaves them out), their validation, MFA's, the auth-methods entries
//! a client starts a sign-in from, the providers list and Apple's client secret.

use serde_json::{Value, json};

use crate::compat::{assert_same, pocketbase_bin, start_pocketbase};
use crate::helpers::{client, spawn_app, superuser_token_at};

const SECRET: &str = "a-client-secret-never-shown";

fn provider(name: &str) -> Value {
    json!({
        "name": name,
        "clientId": "client-1",
        "clientSecret": SECRET,
        "authURL": "https://id.example.com/auth",
        "tokenURL": "https://id.example.com/token",
        "userInfoURL": "https://id.example.com/me",
        "displayName": "Example ID",
        "pkce": true,
    })
}

/// An auth-methods provider entry with its random parts reduced to their shape.
fn started(p: &Value) -> Value {
    let url = p["authURL"].as_str().unwrap_or_default();
    let state = p["state"].as_str().unwrap_or_default();
    let verifier = p["codeVerifier"].as_str().unwrap_or_default();
    let challenge = p["codeChallenge"].as_str().unwrap_or_default();
    let expected = format!(
        "https://id.example.com/auth?client_id=client-1&code_challenge={challenge}&code_challenge_method=S256&response_type=code&scope=openid+email+profile&state={state}&redirect_uri="
    );
    json!({
        "name": p["name"],
        "displayName": p["displayName"],
        "logo": p["logo"].as_str().map(|l| l.starts_with("<svg")),
        "state": state.len(),
        "codeVerifier": verifier.len(),
        "challengeIsS256": challenge == hearth::auth::oauth2::code_challenge(verifier),
        "codeChallengeMethod": p["codeChallengeMethod"],
        "authURL": url == expected,
        "authUrl": p["authUrl"] == p["authURL"],
    })
}

async fn scenario(base: &str) -> Vec<(String, Value)> {
    let http = client();
    let token = superuser_token_at(&http, base).await;
    let users = format!("{base}/api/collections/users");
    let mut out = Vec::new();
    let mut patch = async |label: &str, body: Value| {
        let res = http
            .patch(&users)
            .header("Authorization", &token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        let shown = if status == 200 {
            json!({"oauth2": body["oauth2"], "mfa": body["mfa"], "secret shown": body.to_string().contains(SECRET)})
        } else {
            let mut body = body;
            // The parser's own words differ; the code and where it is are compared.
            if let Some(rule) = body.pointer_mut("/data/mfa/rule/message") {
                *rule = json!(
                    rule.as_str()
                        .map(|m| m.starts_with("Invalid rule. Raw error: "))
                );
            }
            body
        };
        out.push((label.to_owned(), json!([status, shown])));
    };
    patch(
        "unknown provider, missing secret, duplicate, bad URL",
        json!({"oauth2": {"enabled": true, "providers": [
            {"name": "nope", "clientId": "x", "clientSecret": "y"},
            {"name": "oidc", "clientId": "x"},
            {"name": "oidc2", "clientId": "x", "clientSecret": "y", "authURL": "not a url"},
            {"name": "oidc2", "clientId": "x", "clientSecret": "y"},
        ]}}),
    )
    .await;
    patch(
        "a disabled config is not checked",
        json!({"oauth2": {"enabled": false, "providers": [{"name": "nope"}]}}),
    )
    .await;
    patch(
        "enabled with one provider",
        json!({"oauth2": {"enabled": true, "providers": [provider("oidc")],
            "mappedFields": {"id": "", "name": "name", "username": "nosuchfield", "avatarURL": "avatar"}}}),
    )
    .await;
    patch(
        "the provider again without its secret",
        json!({"oauth2": {"providers": [{"name": "oidc", "clientId": "client-1",
            "authURL": "https://id.example.com/auth", "tokenURL": "https://id.example.com/token",
            "userInfoURL": "https://id.example.com/me", "displayName": "Example ID", "pkce": true}]}}),
    )
    .await;
    patch(
        "MFA with one method",
        json!({"oauth2": {"enabled": false}, "mfa": {"enabled": true, "duration": 600}}),
    )
    .await;
    patch(
        "MFA too short",
        json!({"mfa": {"enabled": true, "duration": 5}}),
    )
    .await;
    patch(
        "MFA with a broken rule",
        json!({"mfa": {"enabled": true, "duration": 600, "rule": "email ~~~ 1"}}),
    )
    .await;
    patch(
        "MFA on",
        json!({"mfa": {"enabled": true, "duration": 900, "rule": ""}}),
    )
    .await;

    let methods: Value = http
        .get(format!("{users}/auth-methods"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let providers: Vec<Value> = methods["oauth2"]["providers"]
        .as_array()
        .map(|a| a.iter().map(started).collect())
        .unwrap_or_default();
    let legacy_logos: Vec<Value> = methods["authProviders"]
        .as_array()
        .map(|a| a.iter().map(|p| p["logo"].clone()).collect())
        .unwrap_or_default();
    out.push((
        "auth-methods".into(),
        json!({"enabled": methods["oauth2"]["enabled"], "providers": providers,
            "legacy logos": legacy_logos, "mfa": methods["mfa"], "keys": methods.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>())}),
    ));

    let guest = http
        .get(format!("{base}/api/collections/meta/oauth2-providers"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    let listed: Value = http
        .get(format!("{base}/api/collections/meta/oauth2-providers"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<Value> = listed
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| json!([p["name"], p["displayName"]]))
                .collect()
        })
        .unwrap_or_default();
    out.push((
        "providers list".into(),
        json!({"guest": guest, "names": names}),
    ));

    let apple = http
        .post(format!("{base}/api/settings/apple/generate-client-secret"))
        .header("Authorization", &token)
        .json(&json!({"clientId": "", "teamId": "short", "keyId": "KEY1234567", "privateKey": "nope", "duration": 0}))
        .send()
        .await
        .unwrap();
    let status = apple.status().as_u16();
    let body: Value = apple.json().await.unwrap();
    out.push(("apple secret, bad input".into(), json!([status, body])));
    out
}

#[tokio::test]
async fn oauth2_and_mfa_settings_answer_as_on_pocketbase() {
    let app = spawn_app().await;
    app.create_superuser(crate::helpers::ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let ours = scenario(&app.address).await;
    let find = |label: &str| crate::compat::outcome(&ours, label);
    assert_eq!(find("enabled with one provider")[1]["secret shown"], false);
    assert_eq!(
        find("enabled with one provider")[1]["oauth2"]["mappedFields"]["username"],
        ""
    );
    assert_eq!(find("MFA on")[0], 200);
    let methods = find("auth-methods");
    assert_eq!(methods["providers"][0]["authURL"], true);
    assert_eq!(methods["providers"][0]["state"], 30);

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase(&bin).await;
    let theirs = scenario(&pb.address).await;
    assert_same(&ours, &theirs);
}
