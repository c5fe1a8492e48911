//! Runs the official PocketBase JavaScript SDK (npm `pocketbase`, pinned in tests/sdk) with
//! node against a real hearth. Skipped when the SDK is not installed (`npm ci` in
//! tests/sdk), unless HEARTH_REQUIRE_SDK is set (as in CI).

use std::path::Path;
use std::process::Command;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, spawn_app};

#[tokio::test]
async fn the_official_js_sdk_works_against_hearth() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    if !dir.join("node_modules/pocketbase").exists() {
        assert!(
            std::env::var_os("HEARTH_REQUIRE_SDK").is_none(),
            "HEARTH_REQUIRE_SDK is set but tests/sdk/node_modules is missing (run npm ci there)"
        );
        eprintln!("skipping: run `npm ci` in tests/sdk to install the PocketBase JS SDK");
        return;
    }
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    run_sdk_test(&dir, &app.address).await;

    // The same script against the real PocketBase keeps the script itself honest.
    if let Some(bin) = crate::compat::pocketbase_bin() {
        let pb = crate::compat::start_pocketbase(&bin).await;
        run_sdk_test(&dir, &pb.address).await;
    }
}

async fn run_sdk_test(dir: &Path, url: &str) {
    let (dir, url, url_for_message) = (dir.to_owned(), url.to_owned(), url.to_owned());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args(["--test", "sdk.test.mjs"])
            .current_dir(&dir)
            .env("HEARTH_URL", url)
            .env("HEARTH_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("HEARTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();

    assert!(
        out.status.success(),
        "SDK test failed against {url_for_message}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
