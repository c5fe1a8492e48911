//! The process itself: `hearth serve` runs itself again once, before anything else, with
//! mimalloc's purge delay set (see `main.rs`), keeping its pid and its arguments.

use std::fs;

use crate::crash::Server;

fn environment(pid: u32) -> Vec<String> {
    let raw = fs::read(format!("/proc/{pid}/environ")).unwrap();
    raw.split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

#[tokio::test]
async fn the_server_runs_again_with_the_allocator_option_under_the_same_pid() {
    let dir = tempfile::tempdir().unwrap();
    // The spawned child's pid answers HTTP on the port it was given: the exec kept both.
    let server = Server::start(dir.path()).await;
    let env = environment(server.pid());
    assert!(
        env.iter().any(|v| v == "MIMALLOC_PURGE_DELAY=100"),
        "the running image was started with the purge delay: {env:?}"
    );
    let args = fs::read(format!("/proc/{}/cmdline", server.pid())).unwrap();
    let args: Vec<&[u8]> = args.split(|b| *b == 0).collect();
    assert!(args.contains(&b"serve".as_slice()), "arguments kept");
    let status = reqwest::get(format!("{}/api/health", server.base))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}
