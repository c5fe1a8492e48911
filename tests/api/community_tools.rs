//! The community's PocketBase tools, pinned in tests/tools, run against hearth and against
//! the real PocketBase 0.40.6 on the same schema: pocketbase-typegen (npm) must write the
//! same TypeScript from either server's `data.db` and from either API, and the Python SDK
//! (PyPI `pocketbase`) must see the same things through tests/tools/python_sdk.py. Without
//! node, python3 or the pinned packages this fails, unless `HEARTH_SKIP=tools` (and without
//! PocketBase, unless `HEARTH_SKIP=pocketbase`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::compat::{pocketbase_bin, start_pocketbase};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Tool, client, spawn_app, superuser_token_at};

/// tests/tools, with typegen installed and python3 holding the pinned SDK; None only when
/// `HEARTH_SKIP` names the tools.
fn tools_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools");
    let runs = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    if runs("node", &["--version"]).is_none() {
        Tool::Tools.missing("`node --version` does not run");
        return None;
    }
    if !typegen(&dir).exists() {
        Tool::Tools.missing("tests/tools/node_modules/pocketbase-typegen is missing");
        return None;
    }
    let requirements = std::fs::read_to_string(dir.join("requirements.txt")).unwrap();
    let pinned = requirements
        .lines()
        .find_map(|l| l.strip_prefix("pocketbase=="))
        .expect("requirements.txt pins pocketbase")
        .trim();
    let installed = runs(
        "python3",
        &[
            "-c",
            "import importlib.metadata as m; print(m.version('pocketbase'))",
        ],
    );
    if installed.as_deref() != Some(pinned) {
        Tool::Tools.missing(&format!(
            "python3 has the pocketbase SDK {installed:?}, not the pinned {pinned}"
        ));
        return None;
    }
    Some(dir)
}

fn typegen(dir: &Path) -> PathBuf {
    dir.join("node_modules/pocketbase-typegen/dist/cli.js")
}

/// Every field type hearth has, in a base collection; an auth collection with fields of its
/// own; a view over both. Ids are given so relations name the same collections on both.
fn schema() -> Vec<Value> {
    vec![
        json!({
            "id": "pbc_tags00000001", "name": "tags", "type": "base",
            "listRule": "", "viewRule": "",
            "fields": [{"name": "label", "type": "text", "required": true, "max": 40}]
        }),
        json!({
            "id": "pbc_authors00001", "name": "authors", "type": "auth",
            "listRule": "", "viewRule": "", "createRule": "",
            "updateRule": "id = @request.auth.id",
            "fields": [
                {"name": "name", "type": "text", "required": true},
                {"name": "avatar", "type": "file", "maxSelect": 1, "maxSize": 1048576},
                {"name": "role", "type": "select", "values": ["admin", "editor"], "maxSelect": 1},
                {"name": "born", "type": "date"}
            ]
        }),
        json!({
            "id": "pbc_posts0000001", "name": "posts", "type": "base",
            "listRule": "", "viewRule": "", "createRule": "@request.auth.id != ''",
            "updateRule": "author = @request.auth.id", "deleteRule": "author = @request.auth.id",
            "fields": [
                {"name": "title", "type": "text", "required": true, "max": 100},
                {"name": "views", "type": "number", "onlyInt": true},
                {"name": "published", "type": "bool"},
                {"name": "contact", "type": "email"},
                {"name": "link", "type": "url"},
                {"name": "body", "type": "editor"},
                {"name": "due", "type": "date"},
                {"name": "status", "type": "select", "values": ["draft", "published"],
                 "maxSelect": 1, "required": true},
                {"name": "labels", "type": "select", "values": ["red", "green", "blue", "1"],
                 "maxSelect": 3},
                {"name": "meta", "type": "json"},
                {"name": "cover", "type": "file", "maxSelect": 1, "maxSize": 1048576},
                {"name": "attachments", "type": "file", "maxSelect": 5, "maxSize": 1048576},
                {"name": "author", "type": "relation", "collectionId": "pbc_authors00001",
                 "maxSelect": 1},
                {"name": "tags", "type": "relation", "collectionId": "pbc_tags00000001",
                 "maxSelect": 10},
                {"name": "created", "type": "autodate", "onCreate": true},
                {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true},
                {"name": "edited", "type": "autodate", "onUpdate": true}
            ]
        }),
        json!({
            "id": "pbc_poststats001", "name": "post_stats", "type": "view",
            "listRule": "", "viewRule": "",
            "viewQuery": "SELECT p.id, p.title, p.views, p.published, p.status, p.author, \
                a.name AS author_name, p.created, (p.views * 2) AS double_views, \
                count(p.id) AS n FROM posts p LEFT JOIN authors a ON a.id = p.author \
                GROUP BY p.id"
        }),
    ]
}

/// One server under test: where its API answers and where its `data.db` is.
struct Server {
    name: &'static str,
    url: String,
    data_db: PathBuf,
}

async fn create_schema(server: &Server) {
    let client = client();
    let token = superuser_token_at(&client, &server.url).await;
    for def in schema() {
        let res = client
            .post(format!("{}/api/collections", server.url))
            .header("Authorization", &token)
            .json(&def)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body = res.text().await.unwrap();
        assert_eq!(
            status, 200,
            "{}: creating {}: {body}",
            server.name, def["name"]
        );
    }
}

/// Runs `program args` off the async workers: its stdout, or Err with what it printed.
async fn run(program: &str, args: Vec<String>) -> Result<String, String> {
    let program = program.to_owned();
    let out = tokio::task::spawn_blocking(move || Command::new(&program).args(&args).output())
        .await
        .unwrap()
        .expect("the tool starts");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "exit {:?}\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The arguments naming where typegen reads a server's schema (given a superuser token).
type TypegenSource = fn(&Server, &str) -> Vec<String>;

/// pocketbase-typegen with `source` arguments: the TypeScript it wrote.
async fn typegen_output(tools: &Path, source: &[String], out: &Path) -> Result<String, String> {
    let mut args = vec![typegen(tools).display().to_string()];
    args.extend(source.iter().cloned());
    args.extend(["--out".to_owned(), out.display().to_string()]);
    run("node", args).await?;
    std::fs::read_to_string(out).map_err(|e| format!("no output file: {e}"))
}

/// What one tool run gave on each server, kept under target/tmp for reading after a failure.
struct Outcome {
    check: String,
    answers: Vec<(&'static str, Result<String, String>)>,
}

impl Outcome {
    /// None when every server gave the same output; else what differs.
    fn difference(&self, keep: &Path) -> Option<String> {
        let mut texts = Vec::new();
        for (server, answer) in &self.answers {
            let file = keep.join(format!("{}.{server}.txt", self.check.replace(' ', "_")));
            let text = match answer {
                Ok(text) => text.clone(),
                Err(failure) => format!("FAILED: {failure}"),
            };
            std::fs::write(&file, &text).unwrap();
            texts.push((server, text, file));
        }
        let (first, rest) = texts.split_first().unwrap();
        let failed: Vec<_> = texts
            .iter()
            .filter(|(_, t, _)| t.starts_with("FAILED"))
            .collect();
        if !failed.is_empty() {
            return Some(
                failed
                    .iter()
                    .map(|(server, text, _)| format!("{}: {server} {text}", self.check))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        rest.iter()
            .find(|(_, text, _)| *text != first.1)
            .map(|other| {
                format!(
                    "{}: {} and {} differ first at\n{}\n(whole outputs: {} and {})",
                    self.check,
                    first.0,
                    other.0,
                    first_difference(&first.1, &other.1),
                    first.2.display(),
                    other.2.display()
                )
            })
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The first differing line of two texts, with its line number.
fn first_difference(a: &str, b: &str) -> String {
    let (a, b): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
    let n = (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .unwrap_or(0);
    format!(
        "  line {}:\n  - {}\n  + {}",
        n + 1,
        a.get(n).unwrap_or(&"<end>"),
        b.get(n).unwrap_or(&"<end>")
    )
}

#[tokio::test]
async fn typegen_and_the_python_sdk_see_hearth_as_they_see_pocketbase() {
    let Some(tools) = tools_dir() else { return };
    let Some(bin) = pocketbase_bin() else { return };
    let pb = start_pocketbase(&bin).await;
    let hearth = spawn_app().await;
    hearth.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let servers = [
        Server {
            name: "pocketbase",
            url: pb.address.clone(),
            data_db: pb.dir().join("data.db"),
        },
        Server {
            name: "hearth",
            url: hearth.address.clone(),
            data_db: hearth.dir.path().join("data.db"),
        },
    ];
    for server in &servers {
        create_schema(server).await;
    }
    let scratch = tempfile::tempdir().unwrap();
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("community_tools");
    std::fs::create_dir_all(&keep).unwrap();

    let http = client();
    let mut tokens = Vec::new();
    for server in &servers {
        tokens.push(superuser_token_at(&http, &server.url).await);
    }
    let mut outcomes = Vec::new();
    // Typegen first: it only reads, and the Python run adds records.
    let modes: [(&str, TypegenSource); 3] = [
        ("typegen --db", |s, _| {
            strings(&["--db", &s.data_db.display().to_string()])
        }),
        ("typegen --url --email --password", |s, _| {
            strings(&[
                "--url",
                &s.url,
                "--email",
                ADMIN_EMAIL,
                "--password",
                ADMIN_PASSWORD,
            ])
        }),
        ("typegen --url --token", |s, token| {
            strings(&["--url", &s.url, "--token", token])
        }),
    ];
    for (check, args) in modes {
        let mut answers = Vec::new();
        for (server, token) in servers.iter().zip(&tokens) {
            let out = scratch.path().join(format!("{}.ts", server.name));
            let ts = typegen_output(&tools, &args(server, token), &out).await;
            answers.push((server.name, ts));
        }
        outcomes.push(Outcome {
            check: check.to_owned(),
            answers,
        });
    }
    let mut answers = Vec::new();
    for server in &servers {
        let script = tools.join("python_sdk.py").display().to_string();
        let args = strings(&[&script, &server.url, ADMIN_EMAIL, ADMIN_PASSWORD]);
        answers.push((server.name, run("python3", args).await));
    }
    outcomes.push(Outcome {
        check: "python sdk".to_owned(),
        answers,
    });

    // The outputs are about this schema, not empty or generic.
    let db_mode = outcomes[0].answers[0]
        .1
        .as_ref()
        .expect("typegen reads PocketBase's data.db");
    for expected in [
        "export type PostsRecord<Tmeta = unknown> = {",
        "\tattachments?: FileNameString[]",
        "\tedited?: IsoAutoDateString",
        "\tstatus: PostsStatusOptions",
        "\ttags?: RecordIdString[]",
        "export type AuthorsRecord = {",
        "export type PostStatsRecord<Tdouble_views = unknown> = {",
    ] {
        assert!(
            db_mode.contains(expected),
            "typegen wrote no `{expected}`:\n{db_mode}"
        );
    }
    let sdk: Value = serde_json::from_str(
        outcomes[3].answers[0]
            .1
            .as_ref()
            .expect("the Python script runs against PocketBase"),
    )
    .unwrap();
    assert_eq!(sdk["realtime events"].as_array().map(Vec::len), Some(6));
    assert_eq!(
        sdk["uploaded bytes match"],
        json!({"attachment": true, "cover": true})
    );

    let differences: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.difference(&keep))
        .collect();
    assert!(
        differences.is_empty(),
        "hearth and PocketBase differ for the community tools:\n{}",
        differences.join("\n\n")
    );
}
