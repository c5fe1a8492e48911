//! Crash durability and concurrency with the real binary: 64 writers, SIGKILL mid-load,
//! restart, and every acknowledged write is still there; schema changes killed half-way
//! are either whole or absent; `hearth check` passes after each crash.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, free_port, hearth_cli, superuser_token_at, wait_until,
};

/// Bound on waiting for a load to have run far enough to crash it, on a slow, busy machine.
const LOADED: Duration = Duration::from_secs(60);

pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub async fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[]).await
    }

    /// Starts `hearth serve` with `args` added.
    pub async fn start_with(dir: &Path, args: &[&str]) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_hearth"))
            .arg("--dir")
            .arg(dir)
            .args([
                "serve",
                "--http",
                &format!("127.0.0.1:{port}"),
                "--auth-ip-limit",
                "0",
            ])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        wait_until(Duration::from_secs(20), "the server to start", async || {
            crate::helpers::http_get(format!("{}/api/health", server.base))
                .await
                .is_ok()
        })
        .await;
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no checkpoint, exactly like a crash.
    pub fn kill(mut self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-KILL", &pid])
                .status()
                .unwrap()
                .success()
        );
        let _ = self.child.wait();
    }
}

impl Server {
    /// SIGTERM (a graceful stop); returns how long the process took to exit.
    pub fn terminate(mut self) -> Duration {
        let started = Instant::now();
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let _ = self.child.wait();
        started.elapsed()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn all_ids(client: &Client, base: &str, token: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    for page in 1.. {
        let res: Value = client
            .get(format!("{base}/api/collections/events/records?perPage=1000&page={page}&skipTotal=1&fields=id"))
            .header("Authorization", token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = res["items"].as_array().unwrap();
        ids.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        if items.len() < 1000 {
            break;
        }
    }
    ids
}

pub fn check_passes(dir: &Path) {
    let out = hearth_cli(dir, &["check"]);
    assert!(
        out.status.success(),
        "hearth check after the crash: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// 64 writers create records until told to stop, adding the ids the server acknowledged to
/// `acked` as they come; returns them all and the count of 5xx answers.
async fn write_until(
    client: &Client,
    base: &str,
    stop: Arc<Mutex<bool>>,
    acked: Arc<Mutex<Vec<String>>>,
) -> (Vec<String>, usize) {
    let server_errors = Arc::new(Mutex::new(0usize));
    let mut tasks = Vec::new();
    for w in 0..64 {
        let (client, base, stop, acked, errors) = (
            client.clone(),
            base.to_owned(),
            stop.clone(),
            acked.clone(),
            server_errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for k in 0.. {
                if *stop.lock().unwrap() {
                    break;
                }
                let res = client
                    .post(format!("{base}/api/collections/events/records"))
                    .json(&json!({"n": format!("w{w}-{k}")}))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => {
                        let body: Value = r.json().await.unwrap_or(Value::Null);
                        if let Some(id) = body["id"].as_str() {
                            acked.lock().unwrap().push(id.to_owned());
                        }
                    }
                    Ok(r) if r.status().is_server_error() => *errors.lock().unwrap() += 1,
                    Ok(_) => {}
                    // The server died under us: this writer is done.
                    Err(_) => break,
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let ids = acked.lock().unwrap().clone();
    let errors = *server_errors.lock().unwrap();
    (ids, errors)
}

pub async fn set_up(dir: &Path) -> (Server, Client, String) {
    set_up_with(dir, &[]).await
}

/// `set_up` with `args` added to `hearth serve`.
pub async fn set_up_with(dir: &Path, args: &[&str]) -> (Server, Client, String) {
    let out = hearth_cli(dir, &["superuser", "upsert", ADMIN_EMAIL, ADMIN_PASSWORD]);
    assert!(out.status.success());
    let server = Server::start_with(dir, args).await;
    let client = crate::helpers::client();
    let token = superuser_token_at(&client, &server.base).await;
    let res = client
        .post(format!("{}/api/collections", server.base))
        .header("Authorization", &token)
        .json(
            &json!({"name": "events", "createRule": "", "fields": [{"name": "n", "type": "text"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    (server, client, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client, _) = set_up(dir.path()).await;

    let stop = Arc::new(Mutex::new(false));
    let progress = Arc::new(Mutex::new(Vec::new()));
    let base = server.base.clone();
    let writers = {
        let (client, base, stop, acked) =
            (client.clone(), base.clone(), stop.clone(), progress.clone());
        tokio::spawn(async move { write_until(&client, &base, stop, acked).await })
    };
    wait_until(LOADED, "300 acknowledged writes", async || {
        progress.lock().unwrap().len() >= 300
    })
    .await;
    server.kill();
    let (acked, server_errors) = writers.await.unwrap();
    *stop.lock().unwrap() = true;

    assert!(
        acked.len() > 100,
        "the load really ran: {} writes acknowledged",
        acked.len()
    );
    eprintln!("{} writes acknowledged before SIGKILL", acked.len());
    assert_eq!(server_errors, 0, "no 5xx under 64 concurrent writers");
    check_passes(dir.path());
    let server = Server::start(dir.path()).await;
    let token = superuser_token_at(&client, &server.base).await;
    let present = all_ids(&client, &server.base, &token).await;
    let lost: Vec<&String> = acked.iter().filter(|id| !present.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost",
        lost.len(),
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_change_killed_half_way_is_whole_or_absent() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, client, mut token) = set_up(dir.path()).await;

    for round in 0..4 {
        // Fire schema changes back to back and kill the server while they run.
        let (c, base, t) = (client.clone(), server.base.clone(), token.clone());
        let applied = Arc::new(Mutex::new(0usize));
        let progress = applied.clone();
        let changes = tokio::spawn(async move {
            for k in 0..1000 {
                let fields = json!([{"name": "n", "type": "text"}, {"name": format!("f{round}_{k}"), "type": "number"}]);
                let res = c
                    .patch(format!("{base}/api/collections/events"))
                    .header("Authorization", &t)
                    .json(&json!({"fields": fields, "indexes": [format!("CREATE INDEX idx_n_{round}_{k} ON events (n)")]}))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => *applied.lock().unwrap() += 1,
                    Ok(r) => panic!("schema change refused: {}", r.status()),
                    Err(_) => break,
                }
            }
        });
        // Each round dies a little further in: after round + 1 changes, with the next one
        // already sent.
        wait_until(LOADED, "schema changes to be applied", async || {
            *progress.lock().unwrap() > round
        })
        .await;
        server.kill();
        changes.await.unwrap();
        check_passes(dir.path());

        // The stored definition and the real table agree, column for column.
        let conn = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
        let fields: String = conn
            .query_row(
                "SELECT fields FROM _collections WHERE name = 'events'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let mut defined: Vec<String> = serde_json::from_str::<Vec<Value>>(&fields)
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect();
        let mut columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('events')")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        defined.sort();
        columns.sort();
        assert_eq!(
            defined, columns,
            "round {round}: definition and table diverged"
        );
        drop(conn);

        server = Server::start(dir.path()).await;
        token = superuser_token_at(&client, &server.base).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_writers_and_sixty_four_readers_see_no_server_error() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client, token) = set_up(dir.path()).await;
    let stop = Arc::new(Mutex::new(false));
    let bad = Arc::new(Mutex::new(Vec::<u16>::new()));
    let reads = Arc::new(Mutex::new(0usize));
    let mut readers = Vec::new();
    for r in 0..64 {
        let (client, base, token, stop, bad, reads) = (
            client.clone(),
            server.base.clone(),
            token.clone(),
            stop.clone(),
            bad.clone(),
            reads.clone(),
        );
        readers.push(tokio::spawn(async move {
            while !*stop.lock().unwrap() {
                let url = if r % 2 == 0 {
                    format!(
                        "{base}/api/collections/events/records?perPage=20&sort=-n&filter=n~'w1'"
                    )
                } else {
                    format!("{base}/api/collections/events/records?perPage=50&skipTotal=1")
                };
                match client.get(url).header("Authorization", &token).send().await {
                    Ok(res) if res.status().is_success() => *reads.lock().unwrap() += 1,
                    Ok(res) => bad.lock().unwrap().push(res.status().as_u16()),
                    Err(e) => panic!("a reader lost its connection: {e}"),
                }
            }
        }));
    }
    let progress = Arc::new(Mutex::new(Vec::new()));
    let writers = {
        let (client, base, stop, acked) = (
            client.clone(),
            server.base.clone(),
            stop.clone(),
            progress.clone(),
        );
        tokio::spawn(async move { write_until(&client, &base, stop, acked).await })
    };

    wait_until(LOADED, "500 writes and 500 reads", async || {
        progress.lock().unwrap().len() >= 500 && *reads.lock().unwrap() >= 500
    })
    .await;
    *stop.lock().unwrap() = true;
    let (acked, server_errors) = writers.await.unwrap();
    for r in readers {
        r.await.unwrap();
    }

    assert_eq!(server_errors, 0);
    assert!(
        bad.lock().unwrap().is_empty(),
        "non-2xx reads: {:?}",
        bad.lock().unwrap()
    );
    assert!(
        acked.len() > 100 && *reads.lock().unwrap() > 100,
        "{} writes, {} reads",
        acked.len(),
        reads.lock().unwrap()
    );
    drop(server);
    check_passes(dir.path());
}

/// 16 clients send batches of 8 creates (each record names its batch) and the server is
/// killed mid-load: every acknowledged batch is whole after restart, and no batch is ever
/// half there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_killed_mid_load_is_whole_or_absent() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client, token) = set_up(dir.path()).await;
    let res = client
        .patch(format!("{}/api/settings", server.base))
        .header("Authorization", &token)
        .json(&json!({"batch": {"enabled": true, "maxRequests": 50}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (client, base, acked) = (client.clone(), server.base.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for k in 0.. {
                let batch = format!("b{w}-{k}");
                let requests: Vec<Value> = (0..8)
                    .map(|i| json!({"method": "POST", "url": "/api/collections/events/records", "body": {"n": format!("{batch}:{i}")}}))
                    .collect();
                let res = client
                    .post(format!("{base}/api/batch"))
                    .json(&json!({"requests": requests}))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => acked.lock().unwrap().push(batch),
                    Ok(r) => panic!("batch answered {}", r.status()),
                    Err(_) => break,
                }
            }
        }));
    }
    wait_until(LOADED, "40 acknowledged batches", async || {
        acked.lock().unwrap().len() >= 40
    })
    .await;
    server.kill();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 10, "the load ran: {} batches", acked.len());
    check_passes(dir.path());

    let server = Server::start(dir.path()).await;
    let token = superuser_token_at(&client, &server.base).await;
    let mut per_batch: std::collections::HashMap<String, usize> = Default::default();
    for page in 1.. {
        let res: Value = client
            .get(format!(
                "{}/api/collections/events/records?perPage=1000&page={page}&skipTotal=1&fields=n",
                server.base
            ))
            .header("Authorization", &token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = res["items"].as_array().unwrap();
        for item in items {
            let n = item["n"].as_str().unwrap();
            let batch = n.split(':').next().unwrap().to_owned();
            *per_batch.entry(batch).or_default() += 1;
        }
        if items.len() < 1000 {
            break;
        }
    }
    for batch in &acked {
        assert_eq!(
            per_batch.get(batch),
            Some(&8),
            "acknowledged batch {batch} is whole"
        );
    }
    for (batch, n) in &per_batch {
        assert_eq!(*n, 8, "batch {batch} is half there");
    }
}

/// A backup killed half-way: the archive is whole or absent, what it left is swept away at
/// the next start, the databases pass `hearth check`, and the next backup works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_killed_half_way_leaves_no_half_archive() {
    let dir = tempfile::tempdir().unwrap();
    let out = hearth_cli(
        dir.path(),
        &["superuser", "upsert", ADMIN_EMAIL, ADMIN_PASSWORD],
    );
    assert!(out.status.success());
    // ~24 MB of filler, so the backup takes long enough to be killed in the middle.
    let conn = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE filler (b BLOB);
         WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 12000)
         INSERT INTO filler SELECT randomblob(2000) FROM c;",
    )
    .unwrap();
    drop(conn);
    let (server, client, token) = set_up(dir.path()).await;
    let backups = dir.path().join("backups");

    let request = {
        let (client, base, token) = (client.clone(), server.base.clone(), token.clone());
        tokio::spawn(async move {
            client
                .post(format!("{base}/api/backups"))
                .header("Authorization", token)
                .json(&json!({"name": "big.zip"}))
                .send()
                .await
        })
    };
    wait_until(Duration::from_secs(20), "the backup to start", async || {
        std::fs::read_dir(&backups).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".tmp-")
        })
    })
    .await;
    // Time is the point here: die at some moment in the middle of the backup, not at its
    // first step (its scratch files have no progress to wait on that holds on every machine).
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.kill();
    let _ = request.await;

    let server = Server::start(dir.path()).await;
    let token = superuser_token_at(&client, &server.base).await;
    let list: Value = client
        .get(format!("{}/api/backups", server.base))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Whatever is listed opens as a whole archive with both databases.
    for item in list.as_array().unwrap() {
        let key = item["key"].as_str().unwrap();
        let file = std::fs::File::open(backups.join(key)).unwrap();
        let mut zip = zip::ZipArchive::new(file).unwrap();
        assert!(zip.by_name("data.db").is_ok() && zip.by_name("auxiliary.db").is_ok());
    }
    eprintln!("listed after the crash: {list}");
    let left: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert!(left.is_empty(), "swept at start: {left:?}");

    let res = client
        .post(format!("{}/api/backups", server.base))
        .header("Authorization", &token)
        .json(&json!({"name": "after.zip"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204, "the killed backup's lock died with it");
    drop(server);
    check_passes(dir.path());
}
