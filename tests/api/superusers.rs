use serde_json::{Value, json};

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, claims, spawn_app};

const AUTH: &str = "/api/collections/_superusers/auth-with-password";

#[tokio::test]
async fn right_password_gives_a_token_and_the_record() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    let res = app.auth_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let record = &body["record"];
    assert_eq!(record["collectionId"], "pbc_3142635823");
    assert_eq!(record["collectionName"], "_superusers");
    assert_eq!(record["email"], ADMIN_EMAIL);
    assert_eq!(record["verified"], true);
    assert_eq!(record["emailVisibility"], false);
    let id = record["id"].as_str().unwrap();
    assert_eq!(id.len(), 15);
    assert!(
        id.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    );
    assert!(record.get("password").is_none() && record.get("tokenKey").is_none());
    let created = record["created"].as_str().unwrap();
    assert_eq!(created.len(), "2024-01-01 00:00:00.000Z".len());
    assert!(created.ends_with('Z'));

    let claims = claims(body["token"].as_str().unwrap());
    assert_eq!(claims["id"], id);
    assert_eq!(claims["type"], "auth");
    assert_eq!(claims["collectionId"], "pbc_3142635823");
    assert_eq!(claims["refreshable"], true);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let lifetime = claims["exp"].as_u64().unwrap() - now;
    assert!((86_300..=86_400).contains(&lifetime), "lifetime {lifetime}");
}

#[tokio::test]
async fn email_matching_ignores_case() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    let res = app
        .auth_superuser(&ADMIN_EMAIL.to_uppercase(), ADMIN_PASSWORD)
        .await;

    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_fail_the_same_way() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let expected = json!({"data": {}, "message": "Failed to authenticate.", "status": 400});

    let wrong = app.auth_superuser(ADMIN_EMAIL, "not-the-password").await;
    let unknown = app
        .auth_superuser("nobody@example.com", ADMIN_PASSWORD)
        .await;

    assert_eq!(wrong.status(), 400);
    assert_eq!(unknown.status(), 400);
    assert_eq!(wrong.json::<Value>().await.unwrap(), expected);
    assert_eq!(unknown.json::<Value>().await.unwrap(), expected);
}

#[tokio::test]
async fn missing_fields_are_reported_per_field() {
    let app = spawn_app().await;

    let res = app.post_json(AUTH, &json!({})).await;

    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["message"],
        "An error occurred while validating the submitted data."
    );
    assert_eq!(body["data"]["identity"]["code"], "validation_required");
    assert_eq!(body["data"]["password"]["code"], "validation_required");
}

#[tokio::test]
async fn form_encoded_credentials_work_too() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let body = format!("identity={ADMIN_EMAIL}&password={ADMIN_PASSWORD}");

    let res = app
        .post_raw(AUTH, body, "application/x-www-form-urlencoded")
        .await;

    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn the_collection_id_works_in_place_of_its_name() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    let res = app
        .post_json(
            "/api/collections/pbc_3142635823/auth-with-password",
            &json!({"identity": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
        )
        .await;

    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn an_unknown_collection_is_404() {
    let app = spawn_app().await;

    let res = app
        .post_json(
            "/api/collections/nope/auth-with-password",
            &json!({"identity": "a", "password": "b"}),
        )
        .await;

    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "Missing or invalid collection context.");
}

#[tokio::test]
async fn changing_the_password_revokes_earlier_tokens() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    let before: Value = app
        .get_with_token("/api/health", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(before["data"]["canBackup"], true);

    app.create_superuser(ADMIN_EMAIL, "a-brand-new-password")
        .await;

    let after: Value = app
        .get_with_token("/api/health", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["data"], json!({}));
    assert_eq!(
        app.auth_superuser(ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .status(),
        400
    );
    assert_eq!(
        app.auth_superuser(ADMIN_EMAIL, "a-brand-new-password")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    let hash: String = app
        .db
        .data
        .read(|c| Ok(c.query_row("SELECT password FROM _superusers", [], |r| r.get(0))?))
        .unwrap();

    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(ADMIN_PASSWORD));
}
