//! A named provider with its URLs overridden, as an app points one at a self-hosted or
//! staging identity server: `google` aimed at the real OpenID Connect provider of
//! tests/oidc (which accepts Google's scopes and answers Google's userinfo shape at
//! `/plain-userinfo`), signing in through Google's own mapping (`sub`, `name`, `picture`,
//! the email only when verified), side by side with PocketBase 0.40.6.

use reqwest::Url;
use serde_json::{Value, json};

use crate::compat::{assert_same, outcome, pocketbase_bin, start_pocketbase};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, client, spawn_app, superuser_token_at};
use crate::oauth2_signin::{
    CLIENT_ID, CLIENT_SECRET, Oidc, auth_start, shown, sign_in_as, start_oidc,
};

async fn scenario(base: &str, oidc: &Oidc) -> Vec<(String, Value)> {
    let http = client();
    let admin = superuser_token_at(&http, base).await;
    let users = format!("{base}/api/collections/users");
    let google = json!({"name": "google", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
        "authURL": format!("{}/auth", oidc.issuer), "tokenURL": format!("{}/token", oidc.issuer),
        "userInfoURL": format!("{}/plain-userinfo", oidc.issuer)});
    let res = http
        .patch(&users)
        .header("Authorization", &admin)
        .json(&json!({"oauth2": {"enabled": true, "providers": [google],
            "mappedFields": {"name": "name"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let mut out = Vec::new();

    let (url, _) = auth_start(base, "google").await;
    let auth_url = Url::parse(&url).unwrap();
    let query = |key: &str| {
        auth_url
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    out.push((
        "auth-methods".into(),
        json!({
            "at": format!("{}{}", auth_url.origin().ascii_serialization(), auth_url.path()),
            "scope": query("scope"), "pkce": query("code_challenge_method"),
            "client_id": query("client_id"), "response_type": query("response_type")}),
    ));

    let (status, body) = sign_in_as(base, oidc, "google", "gina", &[]).await;
    out.push(("first sign-in creates".into(), shown(status, &body)));
    let (status, again) = sign_in_as(base, oidc, "google", "gina", &[]).await;
    out.push(("second sign-in finds".into(), shown(status, &again)));
    out.push((
        "the same record".into(),
        json!(body["record"]["id"] == again["record"]["id"]),
    ));
    let unverified = [("email_verified", "false")];
    let (status, body) = sign_in_as(base, oidc, "google", "hal", &unverified).await;
    out.push((
        "an unverified email is not taken".into(),
        shown(status, &body),
    ));
    out
}

#[tokio::test]
async fn a_named_provider_pointed_at_another_server_signs_in_as_on_pocketbase() {
    let Some(oidc) = start_oidc().await else {
        return;
    };
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let ours = scenario(&app.address, &oidc).await;
    let first = outcome(&ours, "first sign-in creates");
    assert_eq!(first[0], 200, "{ours:?}");
    assert_eq!(first[1]["record.email"], "gina@example.com");
    assert_eq!(first[1]["record.name"], "Gina");
    assert_eq!(outcome(&ours, "second sign-in finds")[1]["isNew"], false);
    assert_eq!(outcome(&ours, "the same record"), true);
    assert_eq!(
        outcome(&ours, "auth-methods")["scope"],
        "https://www.googleapis.com/auth/userinfo.profile https://www.googleapis.com/auth/userinfo.email"
    );

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase(&bin).await;
    let theirs = scenario(&pb.address, &oidc).await;
    assert_same(&ours, &theirs);
}
