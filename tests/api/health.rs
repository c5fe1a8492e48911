use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_answers_like_pocketbase_for_guests() {
    let app = spawn_app().await;

    let res = app.get("/api/health").await;

    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body = res.text().await.unwrap();
    assert_eq!(
        body,
        r#"{"message":"API is healthy.","code":200,"data":{}}"#
    );
}

#[tokio::test]
async fn health_shows_details_to_superusers() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;

    let res = app
        .get_with_token("/api/health", &format!("Bearer {token}"))
        .await;

    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["data"],
        json!({"realIP": "127.0.0.1", "possibleProxyHeader": "", "canBackup": true})
    );
}

#[tokio::test]
async fn a_forged_token_is_treated_as_a_guest() {
    let app = spawn_app().await;
    let token = app.superuser_token().await;
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });

    let res = app.get_with_token("/api/health", &forged).await;

    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"], json!({}));
}

#[tokio::test]
async fn every_response_has_a_request_id_and_security_headers() {
    let app = spawn_app().await;

    let first = app.get("/api/health").await;
    let second = app.get("/_/login").await;

    let id1 = first.headers()["x-request-id"].to_str().unwrap().to_owned();
    let id2 = second.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id1.len(), 12);
    assert_ne!(id1, id2);
    for res in [&first, &second] {
        let h = res.headers();
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "same-origin");
    }
}

#[tokio::test]
async fn head_health_works() {
    let app = spawn_app().await;

    let res = app.api.head(app.url("/api/health")).send().await.unwrap();

    assert_eq!(res.status(), 200);
}
