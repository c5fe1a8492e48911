//! Runs the official PocketBase JavaScript SDK (npm `pocketbase`, pinned in tests/sdk) with
//! node against a real hearth. Without node or the SDK (`npm ci` in tests/sdk) these tests
//! fail, unless `HEARTH_SKIP=sdk` (see `helpers::Tool`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Tool, spawn_app};

/// tests/sdk with node and its packages installed; None only when `HEARTH_SKIP` names the SDK.
pub fn sdk_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node {
        Tool::Sdk.missing("`node --version` does not run");
        return None;
    }
    for package in ["pocketbase", "eventsource"] {
        if !dir.join("node_modules").join(package).exists() {
            Tool::Sdk.missing(&format!("tests/sdk/node_modules/{package} is missing"));
            return None;
        }
    }
    Some(dir)
}

#[tokio::test]
async fn the_official_js_sdk_works_against_hearth() {
    let Some(dir) = sdk_dir() else { return };
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    run_sdk_test(&dir, &app.address).await;

    // The same script against the real PocketBase keeps the script itself honest.
    if let Some(bin) = crate::compat::pocketbase_bin() {
        let pb = crate::compat::start_pocketbase(&bin).await;
        run_sdk_test(&dir, &pb.address).await;
    }
}

#[tokio::test]
async fn the_sdk_uploads_and_reads_back_files() {
    let Some(dir) = sdk_dir() else { return };
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    run_sdk_file(&dir, "files.test.mjs", &app.address).await;
    // The same script against the real PocketBase keeps the script itself honest.
    if let Some(bin) = crate::compat::pocketbase_bin() {
        let pb = crate::compat::start_pocketbase(&bin).await;
        run_sdk_file(&dir, "files.test.mjs", &pb.address).await;
    }
}

async fn run_sdk_test(dir: &Path, url: &str) {
    run_sdk_file(dir, "sdk.test.mjs", url).await;
}

/// Runs one SDK script against `url`, signed in as the test superuser.
async fn run_sdk_file(dir: &Path, file: &str, url: &str) {
    node(
        dir,
        file,
        &[
            ("HEARTH_URL", url),
            ("HEARTH_ADMIN_EMAIL", ADMIN_EMAIL),
            ("HEARTH_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ],
    )
    .await;
}

#[tokio::test]
async fn the_sdk_auth_flows_work_including_a_reset_from_the_outbox() {
    let Some(dir) = sdk_dir() else { return };
    let app = spawn_app().await;
    let url = app.address.clone();

    let out = app.dir.path().join("old-token.txt");
    let out_path = out.to_string_lossy().into_owned();
    node(
        &dir,
        "auth.test.mjs",
        &[
            ("HEARTH_URL", &url),
            ("HEARTH_PHASE", "request"),
            ("HEARTH_OUT", &out_path),
        ],
    )
    .await;
    let old_token = std::fs::read_to_string(&out).expect("phase one wrote the token it held");
    let mails = app.db.data.read(|c| hearth::mail::outbox(c, 10)).unwrap();
    assert_eq!(
        mails.len(),
        1,
        "one reset mail, none for the unknown address"
    );
    let html = &mails[0].html;
    let start = html.find("confirm-password-reset/").unwrap() + "confirm-password-reset/".len();
    let reset = &html[start..start + html[start..].find('"').unwrap()];

    node(
        &dir,
        "auth.test.mjs",
        &[
            ("HEARTH_URL", &url),
            ("HEARTH_PHASE", "confirm"),
            ("HEARTH_RESET_TOKEN", reset),
            ("HEARTH_OLD_TOKEN", &old_token),
        ],
    )
    .await;
}

/// Runs one node test file; fails the test with node's output if it fails.
pub async fn node(dir: &Path, file: &str, env: &[(&str, &str)]) {
    let mut cmd = Command::new("node");
    cmd.args(["--test", file]).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("node runs"))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{file} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_sdk_realtime_subscriptions_work_against_hearth_and_pocketbase() {
    let Some(dir) = sdk_dir() else { return };
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    run_sdk_file(&dir, "realtime.test.mjs", &app.address).await;

    if let Some(bin) = crate::compat::pocketbase_bin() {
        let pb = crate::compat::start_pocketbase(&bin).await;
        run_sdk_file(&dir, "realtime.test.mjs", &pb.address).await;
    }
}
