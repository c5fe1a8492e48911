//! Restores that cannot break the instance (#23), with the real binary: hand-edited archives
//! (foreign, broken, truncated or swapped databases, a missing table, a future migration,
//! no superuser, a truncated or damaged zip, links, `../`, stray entries) are refused with a
//! 400 through the API and the CLI, and the instance still serves, signs its superuser in
//! and restarts; a swap killed at any step starts on the old or the new data, whole; a
//! failed start on restored data puts the old data back.

use std::io::{Cursor, Read, Write};
use std::path::Path;

use reqwest::Client;
use serde_json::{Value, json};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::crash::{Server, set_up};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, hearth_cli, superuser_token_at};

const REFUSED: &str = "The backup is not a valid hearth backup";

/// Every entry of a zip, in order.
fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = ZipArchive::new(Cursor::new(zip)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (entry.name().unwrap().into_owned(), bytes)
        })
        .collect()
}

fn zip_of(
    entries: &[(String, Vec<u8>)],
    extra: impl FnOnce(&mut ZipWriter<Cursor<Vec<u8>>>),
) -> Vec<u8> {
    let mut out = ZipWriter::new(Cursor::new(Vec::new()));
    // Stored, so a test can find a member's bytes in the archive.
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for (name, bytes) in entries {
        out.start_file(name.as_str(), options).unwrap();
        out.write_all(bytes).unwrap();
    }
    extra(&mut out);
    out.finish().unwrap().into_inner()
}

/// `entries` with the member `name` replaced by `bytes`.
fn replaced(entries: &[(String, Vec<u8>)], name: &str, bytes: Vec<u8>) -> Vec<u8> {
    let mut out = entries.to_vec();
    out.iter_mut().find(|(n, _)| n == name).unwrap().1 = bytes;
    zip_of(&out, |_| {})
}

/// The database `bytes` after `sql` ran on it.
fn edited(bytes: &[u8], sql: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    std::fs::write(&path, bytes).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(sql).unwrap();
    drop(conn);
    std::fs::read(&path).unwrap()
}

/// A sound SQLite file that is no hearth database.
fn foreign() -> Vec<u8> {
    edited(
        &[],
        "CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('hi');",
    )
}

fn member<'a>(entries: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &entries.iter().find(|(n, _)| n == name).unwrap().1
}

/// Each hand-edited archive of `good` and what its refusal must say.
fn crafted(good: &[u8]) -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let e = entries(good);
    let data = member(&e, "data.db").to_vec();
    let aux = member(&e, "auxiliary.db").to_vec();
    let swapped = {
        let mut s = e.clone();
        for (name, bytes) in &mut s {
            match name.as_str() {
                "data.db" => *bytes = aux.clone(),
                "auxiliary.db" => *bytes = data.clone(),
                _ => {}
            }
        }
        zip_of(&s, |_| {})
    };
    let damaged = {
        let mut bytes = zip_of(&e, |_| {});
        let at = bytes
            .windows(16)
            .position(|w| w == b"SQLite format 3\0")
            .unwrap();
        bytes[at + 2000] ^= 0xff;
        bytes
    };
    let plain = SimpleFileOptions::default();
    vec![
        (
            "foreign-data.zip",
            replaced(&e, "data.db", foreign()),
            "data.db is not hearth's data.db",
        ),
        (
            "foreign-aux.zip",
            replaced(&e, "auxiliary.db", foreign()),
            "auxiliary.db is not hearth's auxiliary.db",
        ),
        (
            "broken-data.zip",
            replaced(&e, "data.db", vec![7u8; 8192]),
            "data.db is not a sound SQLite database",
        ),
        (
            "broken-aux.zip",
            replaced(&e, "auxiliary.db", b"not a database".repeat(500)),
            "auxiliary.db is not a sound SQLite database",
        ),
        (
            "truncated-data.zip",
            replaced(&e, "data.db", data[..data.len() / 2].to_vec()),
            "data.db",
        ),
        (
            "truncated-aux.zip",
            replaced(&e, "auxiliary.db", aux[..aux.len() / 2].to_vec()),
            "auxiliary.db",
        ),
        ("swapped.zip", swapped, "the two databases are swapped"),
        (
            "missing-table.zip",
            replaced(&e, "data.db", edited(&data, "DROP TABLE _mails")),
            "data.db has no _mails table",
        ),
        (
            "missing-column.zip",
            replaced(
                &e,
                "data.db",
                edited(&data, "ALTER TABLE _superusers DROP COLUMN verified"),
            ),
            "has no column verified",
        ),
        (
            "future.zip",
            replaced(
                &e,
                "data.db",
                edited(&data, "INSERT INTO _migrations VALUES ('9999_future', 0)"),
            ),
            "9999_future, which this hearth does not know",
        ),
        (
            "no-superuser.zip",
            replaced(&e, "data.db", edited(&data, "DELETE FROM _superusers")),
            "no superuser",
        ),
        ("truncated.zip", good[..good.len() * 2 / 3].to_vec(), ""),
        ("damaged.zip", damaged, "is damaged"),
        (
            "symlink.zip",
            zip_of(&e, |z| {
                z.add_symlink("storage/passwd", "/etc/passwd", plain)
                    .unwrap()
            }),
            "symbolic link",
        ),
        (
            "dotdot.zip",
            zip_of(&e, |z| {
                z.start_file("../escape.txt", plain).unwrap();
                z.write_all(b"x").unwrap();
            }),
            "not a plain relative path",
        ),
        (
            "stray.zip",
            zip_of(&e, |z| {
                z.start_file("extra.txt", plain).unwrap();
                z.write_all(b"x").unwrap();
            }),
            "holds \"extra.txt\"",
        ),
    ]
}

async fn texts(client: &Client, base: &str, token: &str) -> Vec<String> {
    let res: Value = client
        .get(format!("{base}/api/collections/events/records?sort=n"))
        .header("Authorization", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = res["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|i| i["n"].as_str().unwrap().to_owned())
        .collect()
}

async fn add(client: &Client, base: &str, n: &str) {
    let res = client
        .post(format!("{base}/api/collections/events/records"))
        .json(&json!({ "n": n }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// The server answers, its superuser signs in, and the records are `want`.
async fn serves(server: &Server, want: &[&str]) {
    let client = crate::helpers::client();
    let token = superuser_token_at(&client, &server.base).await;
    assert_eq!(texts(&client, &server.base, &token).await, want);
}

fn no_restore_leftovers(dir: &Path) {
    assert!(!dir.join(".restore-journal").exists());
    let left: Vec<_> = std::fs::read_dir(dir.join("backups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n != ".lock")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_edited_archives_are_refused_and_the_instance_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client, token) = set_up(dir.path()).await;
    add(&client, &server.base, "kept").await;
    let res = client
        .post(format!("{}/api/backups", server.base))
        .header("Authorization", &token)
        .json(&json!({"name": "good.zip"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    add(&client, &server.base, "later").await;
    let backups = dir.path().join("backups");
    let cases = crafted(&std::fs::read(backups.join("good.zip")).unwrap());
    for (key, bytes, _) in &cases {
        std::fs::write(backups.join(key), bytes).unwrap();
    }

    for (key, _, says) in &cases {
        let res = client
            .post(format!("{}/api/backups/{key}/restore", server.base))
            .header("Authorization", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{key}");
        let body: Value = res.json().await.unwrap();
        let message = body["message"].as_str().unwrap_or_default();
        assert_eq!(body["status"], 400, "{key}: {body}");
        assert!(
            message.starts_with(REFUSED) && message.contains(says),
            "{key}: {message}"
        );
        assert_eq!(
            texts(&client, &server.base, &token).await,
            ["kept", "later"],
            "{key}"
        );
    }
    serves(&server, &["kept", "later"]).await;
    no_restore_leftovers(dir.path());

    // The CLI refuses them the same way, with the server stopped.
    server.terminate();
    for (key, _, says) in &cases {
        let out = hearth_cli(dir.path(), &["backup", "restore", key]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{key}");
        assert!(
            stderr.contains(REFUSED) && stderr.contains(says),
            "{key}: {stderr}"
        );
    }
    no_restore_leftovers(dir.path());
    let server = Server::start(dir.path()).await;
    serves(&server, &["kept", "later"]).await;

    // The genuine archive still restores, and the restored data survives a restart.
    let res = client
        .post(format!("{}/api/backups/good.zip/restore", server.base))
        .header(
            "Authorization",
            superuser_token_at(&client, &server.base).await,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    serves(&server, &["kept"]).await;
    server.terminate();
    let server = Server::start(dir.path()).await;
    serves(&server, &["kept"]).await;
    server.terminate();
    crate::crash::check_passes(dir.path());
}

/// The data dir `from` copied to a new temp dir (the server stopped).
fn copy_of(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to.path())
        .status()
        .unwrap();
    assert!(status.success());
    to
}

/// Unpacks and verifies `key` into a restore's staging folder, as a restore does.
fn staged(dir: &Path, key: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let scratch = dir.join("backups/.tmp-restore-test");
    let unpacked = scratch.join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    hearth::backups::archive::extract(&dir.join("backups").join(key), &unpacked).unwrap();
    hearth::backups::verify::prepare(&unpacked).unwrap();
    (unpacked, dir.join("backups/.before_restore_test"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_killed_at_any_step_starts_on_old_or_new_data_whole() {
    let base = tempfile::tempdir().unwrap();
    let (server, client, token) = set_up(base.path()).await;
    add(&client, &server.base, "a").await;
    let res = client
        .post(format!("{}/api/backups", server.base))
        .header("Authorization", &token)
        .json(&json!({"name": "snap.zip"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    add(&client, &server.base, "b").await;
    std::fs::write(base.path().join("storage/old.txt"), "old").unwrap();
    server.terminate();

    let check = async |dir: &Path, old: bool| {
        let server = Server::start(dir).await;
        serves(&server, if old { &["a", "b"] } else { &["a"] }).await;
        assert_eq!(dir.join("storage/old.txt").exists(), old);
        server.terminate();
        assert!(!dir.join(".restore-journal").exists());
        crate::crash::check_passes(dir);
    };

    // Killed while writing the journal: nothing had moved.
    let dir = copy_of(base.path());
    staged(dir.path(), "snap.zip");
    std::fs::write(dir.path().join(".restore-journal.tmp"), b"{\"sta").unwrap();
    check(dir.path(), true).await;

    // Killed after the journal and k renames, for every k: rolled back to the old data.
    let steps = {
        let dir = copy_of(base.path());
        let (unpacked, kept) = staged(dir.path(), "snap.zip");
        hearth::backups::swap::Swap::begin(dir.path(), &unpacked, &kept)
            .unwrap()
            .steps(dir.path())
            .len()
    };
    assert!(steps >= 6, "{steps} steps");
    for k in 0..=steps {
        let dir = copy_of(base.path());
        let (unpacked, kept) = staged(dir.path(), "snap.zip");
        let swap = hearth::backups::swap::Swap::begin(dir.path(), &unpacked, &kept).unwrap();
        for (from, to) in swap.steps(dir.path()).into_iter().take(k) {
            // As `Swap::run`: a sidecar SQLite removed on the last close is not moved.
            match std::fs::rename(&from, to) {
                Err(e) if hearth::backups::swap::is_sidecar(&from) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
                }
                done => done.unwrap(),
            }
        }
        check(dir.path(), true).await;
    }

    // Killed after the commit (the journal gone): the new data, whole.
    let dir = copy_of(base.path());
    let (unpacked, kept) = staged(dir.path(), "snap.zip");
    let swap = hearth::backups::swap::Swap::run(dir.path(), &unpacked, &kept).unwrap();
    swap.commit(dir.path()).unwrap();
    check(dir.path(), false).await;
}

#[test]
fn a_failed_start_on_restored_data_puts_the_old_data_back() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| assert!(hearth_cli(dir.path(), args).status.success(), "{args:?}");
    run(&["superuser", "upsert", ADMIN_EMAIL, ADMIN_PASSWORD]);
    run(&["backup", "create", "one.zip"]);
    run(&["superuser", "upsert", "second@example.com", ADMIN_PASSWORD]);
    let db = hearth::db::Db::open(dir.path(), &hearth::db::PoolOptions::default()).unwrap();

    let err = hearth::backups::restore(&db, "one.zip", &|_| {}, &|| {
        Err(hearth::Error::internal("the test refuses to start"))
    })
    .unwrap_err();

    let message = err.body()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("the test refuses to start")
            && message.contains("previous data was put back"),
        "{message}"
    );
    // The old data, served by the same pools, reopened.
    let superusers: i64 = db
        .data
        .read(|c| Ok(c.query_row("SELECT count(*) FROM _superusers", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(superusers, 2);
    drop(db);
    assert!(!dir.path().join(".restore-journal").exists());
    run(&["check"]);
    run(&["superuser", "delete", "second@example.com"]);
}
