//! Disk faults with the real binary on a small tmpfs: a full disk refuses writes with a clear
//! 507 (nothing half-saved), keeps serving reads, and takes writes again once there is room,
//! with `hearth check` clean; a read-only data dir is refused at start-up with one line.
//! Needs `mount` (root); fails elsewhere unless `HEARTH_SKIP=mount` (see `helpers::Tool`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::crash::Server;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Tool, hearth_cli, superuser_token_at};

/// A tmpfs of a fixed size, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(megabytes: u32) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            Tool::Mount.missing("cannot mount a tmpfs here");
            return None;
        }
        Some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(self.path())
            .status()
            .unwrap();
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn data_dir(fs: &Tmpfs) -> PathBuf {
    let dir = fs.path().join("data");
    let out = hearth_cli(&dir, &["superuser", "upsert", ADMIN_EMAIL, ADMIN_PASSWORD]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

#[tokio::test]
async fn a_full_disk_refuses_writes_clearly_keeps_reading_and_recovers() {
    let Some(fs) = Tmpfs::mount(4) else { return };
    let dir = data_dir(&fs);
    let server = Server::start(&dir).await;
    let client = crate::helpers::client();
    let token = superuser_token_at(&client, &server.base).await;
    let res = client
        .post(format!("{}/api/collections", server.base))
        .header("Authorization", &token)
        .json(
            &json!({"name": "blobs", "listRule": "", "viewRule": "", "createRule": "",
            "fields": [{"name": "t", "type": "text", "max": 200000}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let url = format!("{}/api/collections/blobs/records", server.base);
    let mut saved = Vec::new();
    let refusal = loop {
        let res = client
            .post(&url)
            .json(&json!({"t": "x".repeat(100_000)}))
            .send()
            .await
            .unwrap();
        if res.status() != 200 {
            break res;
        }
        saved.push(
            res.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        assert!(saved.len() < 200, "the disk never filled up");
    };
    assert_eq!(refusal.status(), 507);
    assert!(refusal.headers().contains_key("retry-after"));
    let body: Value = refusal.json().await.unwrap();
    assert_eq!(body["status"], 507);
    assert!(body["message"].as_str().unwrap().contains("disk is full"));

    // Reads keep working, and every acknowledged write is there.
    let list: Value = client
        .get(format!("{url}?perPage=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["totalItems"], saved.len());
    let one = client
        .get(format!("{url}/{}", saved[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);

    // Room again: writes succeed without a restart.
    fs.remount("size=32m");
    let res = client
        .post(&url)
        .json(&json!({"t": "after"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    server.kill();
    let out = hearth_cli(&dir, &["check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn a_read_only_data_dir_is_refused_at_start_up() {
    let Some(fs) = Tmpfs::mount(16) else { return };
    let dir = data_dir(&fs);
    fs.remount("ro");
    let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("--dir")
        .arg(&dir)
        .args(["serve", "--http", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("Read-only file system"), "{err}");
}

/// A backup that fills the disk answers 507, leaves no half archive or scratch behind, and
/// the server goes on taking writes (the room the backup took is given back).
#[tokio::test]
async fn a_backup_on_a_full_disk_answers_507_and_leaves_nothing_behind() {
    let Some(fs) = Tmpfs::mount(14) else { return };
    let dir = data_dir(&fs);
    // ~6 MB that does not compress: the copy and the zip cannot both fit beside it.
    let conn = rusqlite::Connection::open(dir.join("data.db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE filler (b BLOB);
         WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3000)
         INSERT INTO filler SELECT randomblob(2000) FROM c;",
    )
    .unwrap();
    drop(conn);
    let server = Server::start(&dir).await;
    let client = crate::helpers::client();
    let token = superuser_token_at(&client, &server.base).await;

    let res = client
        .post(format!("{}/api/backups", server.base))
        .header("Authorization", &token)
        .json(&json!({"name": "full.zip"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 507);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], 507);
    let left: Vec<_> = std::fs::read_dir(dir.join("backups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".lock")
        .collect();
    assert!(left.is_empty(), "{left:?}");

    let res = client
        .post(format!("{}/api/collections", server.base))
        .header("Authorization", &token)
        .json(&json!({"name": "after", "fields": [{"name": "t", "type": "text"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "writes go on after the failed backup");
    drop(server);
    let out = hearth_cli(&dir, &["check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A backup that would unpack to more than the disk can spare (a zip bomb: 256 MB of zeros
/// in a few hundred KB) is refused before anything is unpacked, and nothing is left.
#[test]
fn a_backup_larger_than_the_disk_is_refused_before_unpacking() {
    use std::io::{Cursor, Write};
    use zip::write::SimpleFileOptions;

    let Some(fs) = Tmpfs::mount(32) else { return };
    let dir = data_dir(&fs);
    let out = hearth_cli(&dir, &["backup", "create", "good.zip"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let good = std::fs::read(dir.join("backups/good.zip")).unwrap();
    let mut archive = zip::ZipArchive::new(Cursor::new(good)).unwrap();
    let mut bomb = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        bomb.raw_copy_file(archive.by_index_raw(i).unwrap())
            .unwrap();
    }
    let deflated = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    bomb.start_file("storage/bomb.bin", deflated).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        bomb.write_all(&zeros).unwrap();
    }
    let bytes = bomb.finish().unwrap().into_inner();
    assert!(bytes.len() < 4 << 20, "{} bytes", bytes.len());
    std::fs::write(dir.join("backups/bomb.zip"), bytes).unwrap();

    let out = hearth_cli(&dir, &["backup", "restore", "bomb.zip"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("more than the"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.join("backups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp") || n.starts_with(".before"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let out = hearth_cli(&dir, &["check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
