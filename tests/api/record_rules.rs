//! Record access rules: null rules are superuser-only and empty ones public, rule expressions
//! decide row by row, filters and rules never reach SQL as text, and users see only themselves.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{SuperuserApp, url_encode};
use crate::records::posts;

#[tokio::test]
async fn null_rules_are_superuser_only_and_empty_rules_are_public() {
    let ctx = SuperuserApp::spawn().await;
    ctx.collection(posts(json!({}))).await;
    ctx.collection(json!({"name": "notes", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [{"name": "text", "type": "text"}]}))
    .await;

    let (list, body) = ctx
        .guest(Method::GET, "/api/collections/posts/records", None)
        .await;
    let (create, _) = ctx
        .guest(
            Method::POST,
            "/api/collections/posts/records",
            Some(json!({"title": "x"})),
        )
        .await;

    assert_eq!(list, 403);
    assert_eq!(body["message"], "Only superusers can perform this action.");
    assert_eq!(create, 403);

    let (status, note) = ctx
        .guest(
            Method::POST,
            "/api/collections/notes/records",
            Some(json!({"text": "hi"})),
        )
        .await;
    assert_eq!(status, 200);
    let id = note["id"].as_str().unwrap();
    assert_eq!(
        ctx.guest(Method::GET, "/api/collections/notes/records", None)
            .await
            .1["totalItems"],
        1
    );
    let path = format!("/api/collections/notes/records/{id}");
    assert_eq!(
        ctx.guest(Method::PATCH, &path, Some(json!({"text": "edit"})))
            .await
            .0,
        200
    );
    assert_eq!(ctx.guest(Method::DELETE, &path, None).await.0, 204);
}

#[tokio::test]
async fn rule_expressions_decide_per_row() {
    let ctx = SuperuserApp::spawn().await;
    ctx.collection(posts(json!({"listRule": "published = true", "viewRule": "published = true",
        "createRule": "@request.auth.id != ''", "updateRule": "published = true && @request.body.title != 'x'",
        "deleteRule": "published = true"})))
    .await;
    let mut paths = Vec::new();
    for published in [true, false] {
        let (_, created) = ctx
            .su(
                Method::POST,
                "/api/collections/posts/records",
                Some(json!({"title": "t", "published": published})),
            )
            .await;
        paths.push(format!(
            "/api/collections/posts/records/{}",
            created["id"].as_str().unwrap()
        ));
    }
    let (open, hidden) = (&paths[0], &paths[1]);

    let (list, body) = ctx
        .guest(Method::GET, "/api/collections/posts/records", None)
        .await;
    let (create, create_body) = ctx
        .guest(
            Method::POST,
            "/api/collections/posts/records",
            Some(json!({"title": "x"})),
        )
        .await;

    assert_eq!(list, 200);
    assert_eq!(body["totalItems"], 1);
    assert_eq!(body["items"][0]["published"], true);
    assert_eq!(create, 400);
    assert_eq!(create_body["message"], "Failed to create record.");
    let (_, all) = ctx
        .su(Method::GET, "/api/collections/posts/records", None)
        .await;
    assert_eq!(
        all["totalItems"], 2,
        "the refused create left nothing behind"
    );
    assert_eq!(ctx.guest(Method::GET, open, None).await.0, 200);
    assert_eq!(ctx.guest(Method::GET, hidden, None).await.0, 404);
    assert_eq!(
        ctx.guest(Method::PATCH, hidden, Some(json!({"title": "y"})))
            .await
            .0,
        404
    );
    assert_eq!(
        ctx.guest(Method::PATCH, open, Some(json!({"title": "x"})))
            .await
            .0,
        404,
        "the body is part of the rule"
    );
    assert_eq!(
        ctx.guest(Method::PATCH, open, Some(json!({"title": "y"})))
            .await
            .0,
        200
    );
    assert_eq!(ctx.guest(Method::DELETE, hidden, None).await.0, 404);
    assert_eq!(ctx.guest(Method::DELETE, open, None).await.0, 204);
}

#[tokio::test]
async fn filters_never_reach_sql_as_text() {
    let ctx = SuperuserApp::spawn().await;
    ctx.collection(posts(json!({}))).await;
    ctx.su(
        Method::POST,
        "/api/collections/posts/records",
        Some(json!({"title": "a'b"})),
    )
    .await;

    let hostile = [
        "title = 'x' OR 1=1",
        "title = \"a'b\"",
        "title = '1'; DROP TABLE posts; --'",
        "title ~ '%'",
        "title = 'a' || (SELECT 1) = 1",
        "_superusers.email != ''",
        "@collection._superusers.password != ''",
        "password != ''",
    ];
    let mut answers = Vec::new();
    for f in hostile {
        let url = format!("/api/collections/posts/records?filter={}", url_encode(f));
        answers.push(ctx.su(Method::GET, &url, None).await);
    }

    assert_eq!(answers[0].0, 400, "OR is not an operator");
    assert_eq!(
        answers[1].1["totalItems"], 1,
        "quotes stay inside the value"
    );
    assert_eq!(
        answers[2].0, 400,
        "a statement separator is not part of the language"
    );
    assert_eq!(answers[3].1["totalItems"], 1);
    assert_eq!(answers[4].0, 400);
    assert_eq!(answers[5].0, 400, "a table is not a field");
    // A superuser's filter reaches hidden fields, as in PocketBase (guests: see access::).
    assert_eq!(answers[6].0, 200);
    assert_eq!(answers[7].0, 400, "posts have no password");
    let (_, still) = ctx
        .su(Method::GET, "/api/collections/posts/records", None)
        .await;
    assert_eq!(still["totalItems"], 1);
}

#[tokio::test]
async fn users_sign_up_sign_in_and_see_only_themselves() {
    let ctx = SuperuserApp::spawn().await;
    for email in ["ann@example.com", "bob@example.com"] {
        let (status, body) = ctx
            .guest(Method::POST, "/api/collections/users/records",
                Some(json!({"email": email, "password": "password123", "passwordConfirm": "password123"})))
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.get("email").is_none(),
            "email hidden from a guest: {body}"
        );
    }

    let res = ctx
        .app
        .post_json(
            "/api/collections/users/auth-with-password",
            &json!({"identity": "ann@example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let auth: Value = res.json().await.unwrap();
    let token = auth["token"].as_str().unwrap();
    assert_eq!(auth["record"]["email"], "ann@example.com");
    let wrong = ctx
        .app
        .post_json(
            "/api/collections/users/auth-with-password",
            &json!({"identity": "ann@example.com", "password": "nope-nope"}),
        )
        .await;
    assert_eq!(wrong.status(), 400);

    let list: Value = ctx
        .app
        .api
        .get(ctx.app.url("/api/collections/users/records"))
        .header("Authorization", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["totalItems"], 1, "{list}");
    assert_eq!(list["items"][0]["email"], "ann@example.com");
    let guest_list = ctx
        .guest(Method::GET, "/api/collections/users/records", None)
        .await
        .1;
    assert_eq!(guest_list["totalItems"], 0);
    let collections = ctx.app.get_with_token("/api/collections", token).await;
    assert_eq!(collections.status(), 403);
}
