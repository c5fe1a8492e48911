//! A new OAuth2 user's avatar, through the real OpenID Connect provider of tests/oidc (its
//! `picture` claim points at a small PNG it serves). Mapped to a url field, the URL is
//! stored; mapped to a file field, the image is downloaded into it, but only from a public
//! address: the provider here is on loopback, so by default neither hearth nor PocketBase
//! 0.40.6 downloads it (compared side by side), and hearth does with
//! `--oauth2-avatar-allow-private`. A download that fails or is too large leaves the record
//! without an avatar and nothing behind in the upload staging.

use reqwest::Client;
use serde_json::{Value, json};

use crate::compat::{assert_same, pocketbase_bin, start_pocketbase};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, client, spawn_app, spawn_app_with};
use crate::helpers::{TestApp, superuser_token_at};
use crate::oauth2_signin::{CLIENT_ID, CLIENT_SECRET, Oidc, sign_in_as, start_oidc};

/// OAuth2 on for `users`, its avatar mapped to `field`, which is added with `kind`.
async fn map_avatar(http: &Client, base: &str, admin: &str, oidc: &Oidc, field: Value) {
    let users = format!("{base}/api/collections/users");
    let current: Value = http
        .get(&users)
        .header("Authorization", admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut fields = current["fields"].as_array().cloned().unwrap_or_default();
    fields.retain(|f| f["name"] != field["name"]);
    fields.push(field.clone());
    let provider = json!({"name": "oidc", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
        "authURL": format!("{}/auth", oidc.issuer), "tokenURL": format!("{}/token", oidc.issuer),
        "userInfoURL": format!("{}/me", oidc.issuer), "pkce": true});
    let res = http
        .patch(&users)
        .header("Authorization", admin)
        .json(
            &json!({"fields": fields, "oauth2": {"enabled": true, "providers": [provider],
            "mappedFields": {"avatarURL": field["name"]}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
}

fn file_field(max_size: u64) -> Value {
    json!({"name": "avatar", "type": "file", "maxSelect": 1, "maxSize": max_size,
        "mimeTypes": ["image/png", "image/jpeg"]})
}

/// What both servers do without private downloads allowed.
async fn scenario(base: &str, oidc: &Oidc) -> Vec<(String, Value)> {
    let http = client();
    let admin = superuser_token_at(&http, base).await;
    let mut out = Vec::new();

    map_avatar(&http, base, &admin, oidc, file_field(1 << 20)).await;
    let (status, body) = sign_in_as(base, oidc, "oidc", "ava", &[]).await;
    out.push((
        "file field, provider on loopback".into(),
        json!([status, body["record"]["avatar"], body["meta"]["isNew"]]),
    ));

    let url_field = json!({"name": "picture", "type": "url"});
    map_avatar(&http, base, &admin, oidc, url_field).await;
    let (status, body) = sign_in_as(base, oidc, "oidc", "bea", &[]).await;
    out.push((
        "url field".into(),
        json!([status, body["record"]["picture"], body["meta"]["avatarURL"]]),
    ));
    out
}

#[tokio::test]
async fn an_avatar_is_stored_as_pocketbase_stores_it_and_never_fetched_from_a_private_address() {
    let Some(oidc) = start_oidc().await else {
        return;
    };
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let ours = scenario(&app.address, &oidc).await;
    let picture = |login: &str| format!("{}/avatar/{login}.png", oidc.issuer);
    assert_eq!(
        crate::compat::outcome(&ours, "file field, provider on loopback"),
        json!([200, "", true])
    );
    assert_eq!(
        crate::compat::outcome(&ours, "url field"),
        json!([200, picture("bea"), picture("bea")])
    );
    assert_no_staged_files(&app);

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase(&bin).await;
    let theirs = scenario(&pb.address, &oidc).await;
    assert_same(&ours, &theirs);
}

#[tokio::test]
async fn with_private_addresses_allowed_the_avatar_is_downloaded_into_the_file_field() {
    let Some(oidc) = start_oidc().await else {
        return;
    };
    let app = spawn_app_with(|c| c.oauth2_avatar_allow_private = true).await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (base, http) = (&app.address, client());
    let admin = superuser_token_at(&http, base).await;
    map_avatar(&http, base, &admin, &oidc, file_field(1 << 20)).await;

    let (status, body) = sign_in_as(base, &oidc, "oidc", "ava", &[]).await;
    assert_eq!(status, 200, "{body}");
    let record = &body["record"];
    let name = record["avatar"].as_str().unwrap_or_default().to_owned();
    assert!(
        name.starts_with("ava") && name.ends_with(".png"),
        "{record}"
    );
    let stored = http
        .get(format!(
            "{base}/api/files/users/{}/{name}",
            record["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);
    let stored = stored.bytes().await.unwrap();
    let served = http
        .get(format!("{}/avatar/ava.png", oidc.issuer))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(stored, served, "the stored avatar is the provider's image");

    // Signing in again finds the record and leaves its avatar alone.
    let (status, again) = sign_in_as(base, &oidc, "oidc", "ava", &[]).await;
    assert_eq!((status, &again["meta"]["isNew"]), (200, &json!(false)));
    assert_eq!(again["record"]["avatar"], name);

    // A picture the provider does not have: signed in, no avatar.
    let missing = format!("{}/avatar-that-is-not-there.png", oidc.issuer);
    let (status, body) = sign_in_as(base, &oidc, "oidc", "cid", &[("picture", &missing)]).await;
    assert_eq!(
        (status, &body["record"]["avatar"]),
        (200, &json!("")),
        "{body}"
    );

    // An avatar larger than the field takes: signed in, no avatar.
    map_avatar(&http, base, &admin, &oidc, file_field(16)).await;
    let (status, body) = sign_in_as(base, &oidc, "oidc", "dee", &[]).await;
    assert_eq!(
        (status, &body["record"]["avatar"]),
        (200, &json!("")),
        "{body}"
    );
    assert_no_staged_files(&app);
}

/// Nothing of a download waits in the upload staging after the sign-ins.
fn assert_no_staged_files(app: &TestApp) {
    let uploads = app.dir.path().join("storage/.uploads");
    let left: Vec<_> = std::fs::read_dir(&uploads)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in {uploads:?}: {left:?}");
}
