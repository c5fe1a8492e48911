use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_app_with};

const AUTH: &str = "/api/collections/_superusers/auth-with-password";

async fn body(res: reqwest::Response) -> Value {
    res.json().await.expect("error bodies are JSON")
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app().await;

    let res = app
        .post_raw(AUTH, r#"{"identity":"#, "application/json")
        .await;

    assert_eq!(res.status(), 400);
    assert_eq!(
        body(res).await,
        json!({"data": {}, "message": "An error occurred while loading the submitted data.", "status": 400})
    );
}

#[tokio::test]
async fn wrong_json_types_are_a_400() {
    let app = spawn_app().await;

    for raw in [
        r#"{"identity":123,"password":true}"#,
        "[1,2]",
        "null",
        "\"str\"",
    ] {
        let res = app.post_raw(AUTH, raw, "application/json").await;
        assert_eq!(res.status(), 400, "{raw}");
        assert_eq!(body(res).await["status"], 400);
    }
}

#[tokio::test]
async fn invalid_utf8_is_a_400() {
    let app = spawn_app().await;

    let res = app
        .post_raw(AUTH, vec![b'{', 0xff, 0xfe, b'}'], "application/json")
        .await;

    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn an_oversized_body_is_a_413_before_it_is_read() {
    let app = spawn_app_with(|c| c.body_limit = 1024).await;
    let big = format!(r#"{{"identity":"{}","password":"x"}}"#, "a".repeat(4096));

    let res = app.post_raw(AUTH, big, "application/json").await;

    assert_eq!(res.status(), 413);
    assert_eq!(
        body(res).await,
        json!({"data": {}, "message": "Request entity too large.", "status": 413})
    );
}

#[tokio::test]
async fn an_oversized_chunked_body_is_a_413() {
    let app = spawn_app_with(|c| c.body_limit = 1024).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b' '; 512])).collect();
    let stream = futures_util::stream::iter(chunks);

    let res = app
        .api
        .post(app.url(AUTH))
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), 413);
}

#[tokio::test]
async fn unknown_api_routes_are_404_in_pocketbase_shape() {
    let app = spawn_app().await;

    let get = app.get("/api/nope").await;
    let post = app.post_json("/api/nope", &json!({})).await;
    let delete = app.api.delete(app.url("/api/a/b/c")).send().await.unwrap();

    assert_eq!(get.status(), 404);
    assert_eq!(
        body(get).await,
        json!({"data": {}, "message": "File not found.", "status": 404})
    );
    for res in [post, delete] {
        assert_eq!(res.status(), 404);
        assert_eq!(
            body(res).await,
            json!({"data": {}, "message": "The requested resource wasn't found.", "status": 404})
        );
    }
}

#[tokio::test]
async fn a_wrong_method_on_a_known_route_is_not_a_5xx() {
    let app = spawn_app().await;

    let res = app.get(AUTH).await;

    assert_eq!(res.status(), 404);
    assert_eq!(body(res).await["status"], 404);
}

#[tokio::test]
async fn hostile_paths_never_reach_the_disk() {
    let app = spawn_app().await;

    for path in [
        "/_/static/../../Cargo.toml",
        "/_/static/%2e%2e/%2e%2e/Cargo.toml",
        "/_/static/..%2fsrc/main.rs",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
    }
}
