use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, hearth_cli, spawn_app, wait_until_blocking};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn superuser_upsert_works_while_the_server_runs() {
    let app = spawn_app().await;

    let out = app.hearth(&["superuser", "upsert", ADMIN_EMAIL, ADMIN_PASSWORD]);

    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Successfully saved superuser"));
    assert_eq!(
        app.auth_superuser(ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn superuser_create_update_delete() {
    let app = spawn_app().await;
    let second = "second@example.com";

    let created = app.hearth(&["superuser", "create", ADMIN_EMAIL, ADMIN_PASSWORD]);
    let duplicate = app.hearth(&["superuser", "create", ADMIN_EMAIL, ADMIN_PASSWORD]);
    let updated = app.hearth(&["superuser", "update", ADMIN_EMAIL, "changed-password-1"]);
    let missing = app.hearth(&[
        "superuser",
        "update",
        "ghost@example.com",
        "changed-password-1",
    ]);
    app.hearth(&["superuser", "create", second, ADMIN_PASSWORD]);
    let deleted = app.hearth(&["superuser", "delete", second]);
    let last = app.hearth(&["superuser", "delete", ADMIN_EMAIL]);

    assert!(created.status.success(), "{}", stderr(&created));
    assert!(!duplicate.status.success());
    assert!(stderr(&duplicate).contains("email: Value must be unique."));
    assert!(updated.status.success());
    assert!(!missing.status.success());
    assert!(deleted.status.success());
    assert!(!last.status.success(), "the last superuser stays");
    assert_eq!(
        app.auth_superuser(ADMIN_EMAIL, "changed-password-1")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.auth_superuser(second, ADMIN_PASSWORD).await.status(),
        400
    );
}

#[test]
fn bad_input_gives_one_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 4] = [
        &["superuser", "upsert", "not-an-email", ADMIN_PASSWORD],
        &["superuser", "upsert", ADMIN_EMAIL, "short"],
        &["serve", "--no-such-flag"],
        &["no-such-command"],
    ];

    for args in cases {
        let out = hearth_cli(dir.path(), args);

        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
    let weak = hearth_cli(dir.path(), &["superuser", "upsert", ADMIN_EMAIL, "short"]);
    assert!(stderr(&weak).contains("password: Must be at least 8 character(s)."));
}

#[test]
fn an_unusable_data_dir_is_a_one_line_error() {
    let file = tempfile::NamedTempFile::new().unwrap();
    // A regular file where the directory should be.
    let out = hearth_cli(&file.path().join("sub"), &["check"]);

    assert!(!out.status.success());
    assert_eq!(
        stderr(&out).trim_end().lines().count(),
        1,
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).starts_with("error: cannot create"));
}

#[tokio::test]
async fn a_second_server_on_the_same_dir_is_refused() {
    let app = spawn_app().await;

    let out = app.hearth(&["serve", "--http", "127.0.0.1:0"]);

    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("in use by another hearth server"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_and_version_succeed() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--help"][..],
        &["--version"],
        &["superuser", "--help"],
        &["migrate", "--help"],
    ] {
        let out = hearth_cli(dir.path(), args);
        assert!(out.status.success(), "{args:?}");
        assert!(!stdout(&out).is_empty());
    }
}

#[test]
fn migrate_status_down_and_up() {
    let dir = tempfile::tempdir().unwrap();

    let status = hearth_cli(dir.path(), &["migrate", "status"]);
    assert!(status.status.success(), "{}", stderr(&status));
    let text = stdout(&status);
    assert!(text.contains("data/0001_init") && text.contains("auxiliary/0001_logs"));
    assert!(!text.contains("pending"));

    let down = hearth_cli(dir.path(), &["migrate", "down", "4"]);
    assert!(down.status.success(), "{}", stderr(&down));
    let reverted: Vec<String> = stdout(&down).lines().map(str::to_owned).collect();
    assert_eq!(
        reverted,
        [
            "Reverted 0004_webhooks",
            "Reverted 0003_mail_outbox",
            "Reverted 0002_system_collections",
            "Reverted 0001_init"
        ]
    );
    let tables = rusqlite::Connection::open(dir.path().join("data.db"))
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = '_superusers'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap();
    assert_eq!(tables, 0);

    // Any command re-applies pending migrations on open; `up` says so explicitly.
    let up = hearth_cli(dir.path(), &["migrate", "up"]);
    assert!(up.status.success(), "{}", stderr(&up));
    let status = stdout(&hearth_cli(dir.path(), &["migrate", "status"]));
    assert!(!status.contains("pending"), "{status}");
}

#[test]
fn a_database_from_a_newer_hearth_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert!(hearth_cli(dir.path(), &["migrate", "up"]).status.success());
    rusqlite::Connection::open(dir.path().join("data.db"))
        .unwrap()
        .execute(
            "INSERT INTO _migrations (file, applied) VALUES ('9999_future', 0)",
            [],
        )
        .unwrap();

    let out = hearth_cli(dir.path(), &["check"]);

    assert!(!out.status.success());
    assert!(stderr(&out).contains("9999_future"), "{}", stderr(&out));
}

#[test]
fn check_passes_on_a_healthy_dir_and_fails_on_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let ok = hearth_cli(dir.path(), &["check"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).starts_with("ok"));

    let conn = rusqlite::Connection::open(dir.path().join("data.db")).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF;
         CREATE TABLE parent (id TEXT PRIMARY KEY);
         CREATE TABLE child (id TEXT PRIMARY KEY, parent TEXT REFERENCES parent(id));
         INSERT INTO child VALUES ('c1', 'missing');",
    )
    .unwrap();
    drop(conn);

    let broken = hearth_cli(dir.path(), &["check"]);

    assert_eq!(broken.status.code(), Some(1));
    assert!(
        stdout(&broken).contains("foreign key: table child"),
        "{}",
        stdout(&broken)
    );
    assert!(stderr(&broken).contains("1 problem(s) found"));
}

#[test]
fn sigterm_stops_the_server_gracefully_and_leaves_a_clean_database() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("--dir")
        .arg(dir.path())
        .args(["serve", "--http", "127.0.0.1:0"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The signal handlers go in as the server starts serving: wait for its log line (a
    // fixed sleep alone lost the race on a loaded machine), collecting stderr throughout.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some((_, port)) = line
                .split_once("starting service")
                .and_then(|(_, rest)| rest.rsplit_once(':'))
            {
                let _ = ready_tx.send(port.trim().to_owned());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let wal = dir.path().join("data.db-wal");
    let port = ready_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    // Serving requests means the workers are up; the handlers follow right after.
    let answered = || {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(format!("127.0.0.1:{port}"))?;
        conn.write_all(b"GET /api/health HTTP/1.0\r\n\r\n")?;
        let mut head = [0u8; 12];
        conn.read_exact(&mut head)?;
        Ok::<bool, std::io::Error>(head.ends_with(b"200"))
    };
    wait_until_blocking(Duration::from_secs(30), "the server to answer", || {
        answered().unwrap_or(false)
    });
    // The SIGTERM handler is in place before the server answers (App::build listens first).
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();

    assert!(status.success(), "exit {status:?}: {err}");
    assert!(err.contains("closed cleanly"), "{err}");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "WAL checkpointed on shutdown");
    assert!(hearth_cli(dir.path(), &["check"]).status.success());
}
