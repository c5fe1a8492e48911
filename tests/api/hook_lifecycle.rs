//! The app lifecycle hooks: `onBootstrap` runs at start, before the first request is
//! answered; the same hooks file on hearth and PocketBase 0.40.6 leaves the same records
//! behind. (PocketBase's JS has no `onServe`.)

use serde_json::Value;

use crate::compat::{pocketbase_bin, start_pocketbase_with_hooks};
use crate::helpers::{client, hooks_folder, superuser_token_at};

// PocketBase bootstraps for every command (`superuser upsert` too), so a bootstrap hook
// that writes must be idempotent. (A handler sees no top-level function of its file.)
const LIFECYCLE: &str = r#"
onBootstrap((e) => {
  e.next();
  try {
    $app.findAuthRecordByEmail("users", "boot@example.com");
  } catch (err) {
    const u = new Record($app.findCollectionByNameOrId("users"));
    u.set("email", "boot@example.com");
    u.setPassword("password123");
    $app.save(u);
  }
});

onTerminate((e) => {
  console.log("stopping");
  e.next();
});
"#;

async fn emails(base: &str) -> Vec<String> {
    let http = client();
    let token = superuser_token_at(&http, base).await;
    let users: Value = http
        .get(format!("{base}/api/collections/users/records?sort=email"))
        .header("Authorization", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    users["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn bootstrap_hooks_run_at_start_as_on_pocketbase() {
    let dir = hooks_folder(&[("life.pb.js", LIFECYCLE)]);
    let app = crate::helpers::spawn_app_with_hooks_and_superuser(dir.path()).await;
    let ours = emails(&app.address).await;
    assert_eq!(ours, ["boot@example.com"]);

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase_with_hooks(&bin, &[("life.pb.js", LIFECYCLE)]).await;
    assert_eq!(ours, emails(&pb.address).await);
}
