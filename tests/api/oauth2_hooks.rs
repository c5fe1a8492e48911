//! `onRecordAuthWithOAuth2Request` through the real OpenID Connect provider of tests/oidc,
//! side by side with PocketBase 0.40.6 loading the same hooks: a hook reads the event
//! (`providerName`, `oAuth2User`, `isNewRecord`, `e.record`), changes the create data of a
//! new user, refuses one user, answers for another by itself, and `meta` still reaches the
//! answer through an `onRecordAuthRequest` hook.

use serde_json::{Value, json};

use crate::compat::{assert_same, outcome, pocketbase_bin, start_pocketbase_with_hooks};
use crate::helpers::superuser_token_at;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, client, spawn_app_with_hooks};
use crate::oauth2_signin::{Oidc, configure, shown, sign_in_as, start_oidc};

const HOOKS: &str = r#"
onRecordAuthWithOAuth2Request((e) => {
  const who = e.oAuth2User.username;
  if (who === "mallory") {
    throw new BadRequestError("Not you.");
  }
  if (who === "custom") {
    return e.json(202, { provider: e.providerName, isNew: e.isNewRecord, email: e.oAuth2User.email });
  }
  if (e.isNewRecord) {
    // No createData in the body: PocketBase's is null, so the hook gives a new one.
    const name = "Hooked " + e.oAuth2User.name + " (record: " + e.record + ")";
    e.createData = Object.assign({}, e.createData || {}, { name: name });
  } else if (e.record.get("name") === "") {
    throw new BadRequestError("The found record has no name.");
  }
  e.next();
  // After e.next(), e.record is the record signed in, created or found.
  if (!e.record || !e.record.id) {
    throw new BadRequestError("No record after e.next().");
  }
}, "users")

onRecordAuthRequest((e) => {
  e.next();
}, "users")
"#;

async fn scenario(base: &str, oidc: &Oidc) -> Vec<(String, Value)> {
    let http = client();
    let admin = superuser_token_at(&http, base).await;
    configure(&http, base, &admin, oidc).await;
    let mut out = Vec::new();
    for (label, login) in [
        ("a new user, create data changed", "alice"),
        ("the same user again", "alice"),
        ("refused by the hook", "mallory"),
        ("answered by the hook", "custom"),
    ] {
        let (status, body) = sign_in_as(base, oidc, "oidc", login, &[]).await;
        let shown = match status {
            200 => json!([shown(status, &body), body["record"]["name"]]),
            _ => json!([status, body]),
        };
        out.push((label.to_owned(), shown));
    }
    out
}

#[tokio::test]
async fn oauth2_sign_in_hooks_answer_as_on_pocketbase() {
    let Some(oidc) = start_oidc().await else {
        return;
    };
    let hooks = tempfile::tempdir().unwrap();
    std::fs::write(hooks.path().join("oauth2.pb.js"), HOOKS).unwrap();
    let app = spawn_app_with_hooks(hooks.path()).await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let ours = scenario(&app.address, &oidc).await;
    let first = outcome(&ours, "a new user, create data changed");
    assert_eq!(first[0][0], 200, "{ours:?}");
    assert_eq!(first[0][1]["isNew"], true);
    assert_eq!(first[1], "Hooked Alice (record: null)");
    assert_eq!(
        outcome(&ours, "the same user again")[1],
        "Hooked Alice (record: null)"
    );
    assert_eq!(outcome(&ours, "refused by the hook")[0], 400);
    assert_eq!(outcome(&ours, "answered by the hook")[0], 202);

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase_with_hooks(&bin, &[("oauth2.pb.js", HOOKS)]).await;
    let theirs = scenario(&pb.address, &oidc).await;
    assert_same(&ours, &theirs);
}
