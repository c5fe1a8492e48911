//! `onRecordAuthRequest`: sign-ins and refreshes answer through the hooks bound to the auth
//! collection; the same hooks file on hearth and PocketBase 0.40.6 gives the same answers
//! (tokens aside).

use serde_json::{Value, json};

use crate::compat::{pocketbase_bin, start_pocketbase_with_hooks};
use crate::helpers::{client, spawn_app_with};

const AUTH: &str = r#"
onRecordAuthRequest((e) => {
  if (e.record.getString("email").startsWith("blocked")) throw new ForbiddenError("Blocked.");
  e.meta = { method: e.authMethod, hooked: true };
  e.next();
}, "users");
"#;

async fn scenario(base: &str) -> Vec<(String, Value)> {
    let http = client();
    let users = format!("{base}/api/collections/users");
    for email in ["ann@example.com", "blocked@example.com"] {
        let body = json!({"email": email, "password": "secret-pass-1", "passwordConfirm": "secret-pass-1"});
        let res = http
            .post(format!("{users}/records"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let mut out = Vec::new();
    let mut token = String::new();
    for email in ["ann@example.com", "blocked@example.com"] {
        let res = http
            .post(format!("{users}/auth-with-password"))
            .json(&json!({"identity": email, "password": "secret-pass-1"}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        if let Some(t) = body["token"].as_str().filter(|_| token.is_empty()) {
            token = t.to_owned();
        }
        let keys: Vec<String> = body
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        out.push((
            email.to_owned(),
            json!([
                status,
                keys,
                body["meta"],
                body["record"]["email"],
                body["message"]
            ]),
        ));
    }
    let res = http
        .post(format!("{users}/auth-refresh"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    out.push((
        "refresh".to_owned(),
        json!([status, body["meta"], body["record"]["email"]]),
    ));
    out
}

#[tokio::test]
async fn auth_hooks_answer_as_on_pocketbase() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("auth.pb.js"), AUTH).unwrap();
    let hooks = dir.path().to_path_buf();
    let app = spawn_app_with(move |c| {
        c.hooks.dir = hooks;
        c.hooks.watch = false;
    })
    .await;
    let ours = scenario(&app.address).await;
    assert_eq!(ours[0].1[0], 200);
    assert_eq!(ours[0].1[2], json!({"method": "password", "hooked": true}));
    assert_eq!(ours[1].1[0], 403);

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase_with_hooks(&bin, &[("auth.pb.js", AUTH)]).await;
    let theirs = scenario(&pb.address).await;
    for ((label, a), (_, b)) in ours.iter().zip(&theirs) {
        assert_eq!(a, b, "{label}: hearth (left) vs PocketBase (right)");
    }
}
