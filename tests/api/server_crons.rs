//! The server's own scheduled jobs (issue #19): one registry lists PocketBase's built-in
//! jobs under PocketBase's ids and schedules (the scheduled backup following the settings),
//! side by side with PocketBase 0.40.6; each runs on demand; the OTP cleanup removes only
//! expired codes; the admin UI's Crons page lists the jobs and runs one.

use std::time::Duration;

use serde_json::{Value, json};

use crate::compat::{pocketbase_bin, start_pocketbase};
use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, client, spawn_app, superuser_token_at, wait_for,
};

/// PocketBase's own jobs (`__pb...`) as `[id, expression]`, by id.
async fn builtin(http: &reqwest::Client, base: &str, token: &str) -> Vec<(String, String)> {
    let list: Value = http
        .get(format!("{base}/api/crons"))
        .header("Authorization", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut jobs: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|j| {
            let id = j["id"].as_str()?;
            id.starts_with("__pb").then(|| {
                (
                    id.to_owned(),
                    j["expression"].as_str().unwrap_or("").to_owned(),
                )
            })
        })
        .collect();
    jobs.sort();
    jobs
}

async fn set_backup_cron(http: &reqwest::Client, base: &str, token: &str, cron: &str) {
    let res = http
        .patch(format!("{base}/api/settings"))
        .header("Authorization", token)
        .json(&json!({"backups": {"cron": cron, "cronMaxKeep": 2}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn the_builtin_jobs_are_pocketbases_and_follow_the_backup_schedule() {
    let Some(bin) = pocketbase_bin() else { return };
    let pb = start_pocketbase(&bin).await;
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let http = client();
    let mut seen = Vec::new();
    for base in [pb.address.clone(), app.address.clone()] {
        let token = superuser_token_at(&http, &base).await;
        let plain = builtin(&http, &base, &token).await;
        set_backup_cron(&http, &base, &token, "0 3 * * *").await;
        // hearth's schedule follows the settings within two seconds.
        let scheduled = wait_for(Duration::from_secs(10), "the backup job", async || {
            let jobs = builtin(&http, &base, &token).await;
            if jobs.iter().any(|(id, _)| id == "__pbAutoBackup__") {
                Ok(jobs)
            } else {
                Err(jobs)
            }
        })
        .await;
        let mut runs = Vec::new();
        for (id, _) in &plain {
            let res = http
                .post(format!("{base}/api/crons/{id}"))
                .header("Authorization", &token)
                .send()
                .await
                .unwrap();
            runs.push((id.clone(), res.status().as_u16()));
        }
        set_backup_cron(&http, &base, &token, "").await;
        let unscheduled = wait_for(Duration::from_secs(10), "no backup job", async || {
            let jobs = builtin(&http, &base, &token).await;
            if jobs.iter().any(|(id, _)| id == "__pbAutoBackup__") {
                Err(jobs)
            } else {
                Ok(jobs)
            }
        })
        .await;
        seen.push((plain, scheduled, runs, unscheduled));
    }
    assert!(!seen[0].0.is_empty(), "PocketBase lists its own jobs");
    assert_eq!(seen[1], seen[0], "hearth (left) vs PocketBase (right)");
}

#[tokio::test]
async fn the_scheduled_backup_job_writes_archives_and_keeps_the_newest() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let token = app.superuser_token().await;
    let http = client();
    set_backup_cron(&http, &app.address, &token, "0 3 * * *").await;
    let autos = || {
        let folder = app.dir.path().join("backups");
        let mut names: Vec<String> = std::fs::read_dir(folder)
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n.starts_with("@auto_"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let mut newest = String::new();
    for n in 1..=3usize {
        wait_for(
            Duration::from_secs(10),
            "the job to be scheduled",
            async || {
                let res = http
                    .post(app.url("/api/crons/__pbAutoBackup__"))
                    .header("Authorization", &token)
                    .send()
                    .await
                    .unwrap();
                if res.status() == 204 {
                    Ok(())
                } else {
                    Err(res.status())
                }
            },
        )
        .await;
        let want = n.min(2);
        let names = wait_for(Duration::from_secs(20), "a new archive", async || {
            let names = autos();
            let new = names.last().is_some_and(|last| *last > newest);
            if new && names.len() == want && names.iter().all(|n| !n.ends_with(".tmp")) {
                Ok(names)
            } else {
                Err(names)
            }
        })
        .await;
        newest = names.last().cloned().unwrap_or_default();
        // Archive names carry the second they were made.
        std::thread::sleep(Duration::from_millis(1100));
    }
}

/// The `_otps` rows of the app, as (id, created).
fn otps(db: &std::path::Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, created FROM _otps ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn the_otp_cleanup_removes_only_expired_codes() {
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let token = app.superuser_token().await;
    let http = client();
    let res = http
        .patch(app.url("/api/collections/users"))
        .header("Authorization", &token)
        .json(&json!({"otp": {"enabled": true, "duration": 300}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.sign_up("ann@example.com", "password123").await;
    for _ in 0..2 {
        let res = http
            .post(app.url("/api/collections/users/request-otp"))
            .json(&json!({"email": "ann@example.com"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let db = app.dir.path().join("data.db");
    let rows = otps(&db);
    assert_eq!(rows.len(), 2);
    // One code is an hour old: past its 300 seconds.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE _otps SET created = strftime('%Y-%m-%d %H:%M:%fZ', 'now', '-1 hour') WHERE id = ?1",
            [&rows[0].0],
        )
        .unwrap();
    let res = http
        .post(app.url("/api/crons/__pbOTPCleanup__"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let left = wait_for(
        Duration::from_secs(10),
        "the expired code to go",
        async || {
            let left = otps(&db);
            if left.len() == 1 { Ok(left) } else { Err(left) }
        },
    )
    .await;
    assert_eq!(left[0].0, rows[1].0, "the fresh code stays");
}

#[tokio::test]
async fn the_crons_page_lists_the_jobs_and_runs_one() {
    let app = spawn_app().await;
    let (browser, csrf) = app.admin_browser().await;
    let page = browser.get(app.url("/_/crons")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for id in [
        "__pbDBOptimize__",
        "__pbLogsCleanup__",
        "__pbMFACleanup__",
        "__pbOTPCleanup__",
    ] {
        assert!(html.contains(id), "{id} listed");
    }
    assert!(!html.contains("ms)"), "no job has run yet");
    let res = browser
        .post(app.url("/_/crons/__pbDBOptimize__/run"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    wait_for(
        Duration::from_secs(10),
        "the last run to show",
        async || {
            let html = browser
                .get(app.url("/_/crons"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if html.contains("ms)") && !html.contains("failed:") {
                Ok(())
            } else {
                Err(html)
            }
        },
    )
    .await;
}
