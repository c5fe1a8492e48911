//! Scenarios replayed side by side against hearth and the real PocketBase: records (collections,
//! filters, rules, expand, import, settings, sign-up, sign-in, mail flows, OTP), batches and
//! backups, each step's status and JSON compared with ids and times normalized. The PocketBase
//! harness is in `compat.rs`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::compat::{pocketbase_bin, start_pocketbase};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, key_paths, spawn_app, superuser_token_at};

/// One step of the side-by-side scenario. `{name}` in the path or body is replaced by the
/// id captured under that name on the same server.
struct Step {
    method: Method,
    path: &'static str,
    body: Option<Value>,
    superuser: bool,
    capture: Option<&'static str>,
}

fn su(method: Method, path: &'static str, body: Option<Value>) -> Step {
    Step {
        method,
        path,
        body,
        superuser: true,
        capture: None,
    }
}

fn guest(method: Method, path: &'static str, body: Option<Value>) -> Step {
    Step {
        method,
        path,
        body,
        superuser: false,
        capture: None,
    }
}

fn capture(mut step: Step, name: &'static str) -> Step {
    step.capture = Some(name);
    step
}

fn scenario() -> Vec<Step> {
    use Method as M;
    let posts = json!({
        "name": "posts",
        "listRule": "published = true || @request.auth.id != ''",
        "viewRule": "published = true",
        "createRule": "",
        "updateRule": "@request.body.title:isset = false || @request.body.title != 'locked'",
        "deleteRule": null,
        "fields": [
            {"name": "title", "type": "text", "required": true, "max": 50},
            {"name": "views", "type": "number", "min": 0, "onlyInt": true},
            {"name": "published", "type": "bool"},
            {"name": "tags", "type": "select", "values": ["go", "rust", "sql"], "maxSelect": 3},
            {"name": "meta", "type": "json"},
            {"name": "when", "type": "date"},
            {"name": "site", "type": "url"},
            {"name": "contact", "type": "email"},
            {"name": "created", "type": "autodate", "onCreate": true},
            {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true}
        ]
    });
    let comments = json!({
        "name": "comments",
        "listRule": "",
        "viewRule": "",
        "createRule": "",
        "fields": [
            {"name": "text", "type": "text"},
            {"name": "post", "type": "relation", "collectionId": "pbc_1125843985", "maxSelect": 1, "cascadeDelete": true}
        ]
    });
    vec![
        guest(M::GET, "/api/collections", None),
        guest(M::GET, "/api/settings", None),
        su(M::GET, "/api/settings", None),
        su(
            M::PATCH,
            "/api/settings",
            Some(json!({"meta": {"appName": ""}})),
        ),
        su(
            M::PATCH,
            "/api/settings",
            Some(
                json!({"meta": {"appName": "Side by side"}, "smtp": {"password": "hidden-secret"}}),
            ),
        ),
        su(
            M::PATCH,
            "/api/settings",
            Some(json!({"smtp": {"enabled": true, "host": ""}})),
        ),
        su(M::POST, "/api/collections", Some(posts)),
        su(M::POST, "/api/collections", Some(json!({"name": "posts"}))),
        su(
            M::POST,
            "/api/collections",
            Some(json!({"name": "bad name!"})),
        ),
        su(
            M::POST,
            "/api/collections",
            Some(json!({"name": "x", "fields": [{"name": "t", "type": "select"}]})),
        ),
        su(M::POST, "/api/collections", Some(comments)),
        // An auth collection's missing system fields: id first, the rest after its own
        // fields, and a field error indexed in that order.
        su(
            M::POST,
            "/api/collections",
            Some(json!({"name": "members", "type": "auth", "fields": [
                {"name": "nick", "type": "text"}, {"name": "kind", "type": "select"}
            ]})),
        ),
        su(
            M::POST,
            "/api/collections",
            Some(json!({"name": "members", "type": "auth", "fields": [
                {"name": "nick", "type": "text"}, {"name": "email", "type": "email"},
                {"name": "kind", "type": "select", "values": ["a"]}
            ]})),
        ),
        su(M::GET, "/api/collections/posts", None),
        su(M::GET, "/api/collections/pbc_1125843985", None),
        su(
            M::GET,
            "/api/collections?filter=system=false&sort=name",
            None,
        ),
        su(M::GET, "/api/collections?sort=-name&perPage=3&page=2", None),
        su(
            M::GET,
            "/api/collections?filter=name~'_'%26%26type='auth'",
            None,
        ),
        su(M::GET, "/api/collections?filter=nope=1", None),
        su(M::GET, "/api/collections/nope", None),
        capture(
            su(
                M::POST,
                "/api/collections/posts/records",
                Some(
                    json!({"title": "Alpha", "views": 10, "published": true, "tags": ["go", "rust"], "meta": {"a": 1}, "when": "2024-01-02 03:04:05.000Z"}),
                ),
            ),
            "alpha",
        ),
        capture(
            su(
                M::POST,
                "/api/collections/posts/records",
                Some(
                    json!({"title": "beta", "views": 5, "published": false, "tags": "sql", "site": "https://example.com/x"}),
                ),
            ),
            "beta",
        ),
        capture(
            guest(
                M::POST,
                "/api/collections/posts/records",
                Some(
                    json!({"title": "Gamma", "views": "7", "published": "true", "contact": "g@example.com"}),
                ),
            ),
            "gamma",
        ),
        guest(
            M::POST,
            "/api/collections/posts/records",
            Some(json!({"views": -1, "tags": ["nope"], "site": "notaurl", "contact": "bad"})),
        ),
        guest(
            M::POST,
            "/api/collections/posts/records",
            Some(json!({"title": "x", "views": 1.5})),
        ),
        guest(
            M::POST,
            "/api/collections/posts/records",
            Some(json!({"title": "y".repeat(51)})),
        ),
        capture(
            guest(
                M::POST,
                "/api/collections/comments/records",
                Some(json!({"text": "first", "post": "{alpha}"})),
            ),
            "c1",
        ),
        guest(
            M::POST,
            "/api/collections/comments/records",
            Some(json!({"text": "second", "post": "{gamma}"})),
        ),
        guest(
            M::POST,
            "/api/collections/comments/records",
            Some(json!({"text": "orphan", "post": "missing"})),
        ),
        guest(M::GET, "/api/collections/posts/records", None),
        su(M::GET, "/api/collections/posts/records?sort=title", None),
        su(M::GET, "/api/collections/posts/records?sort=-views", None),
        su(
            M::GET,
            "/api/collections/posts/records?sort=-views,title&perPage=2",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?sort=title&perPage=2&page=2",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?sort=title&skipTotal=1",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=views>6&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=(views>6%20%26%26%20published=true)&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=title~'ALP'",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=title!~'a'&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=tags?='rust'",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=tags:length=2",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=site=''&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=site!=null",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=meta.a=1",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=when>'2024-01-01'",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=created<=@now&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=title='Alpha'||title='beta'&sort=-title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/comments/records?filter=post.title='Alpha'",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=comments_via_post.text?='second'",
            None,
        ),
        su(
            M::GET,
            "/api/collections/comments/records/{c1}?expand=post",
            None,
        ),
        guest(
            M::GET,
            "/api/collections/comments/records?expand=post&sort=text",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records/{alpha}?expand=comments_via_post",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?fields=title,views&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/comments/records?expand=post&fields=text,expand.post.title&sort=text",
            None,
        ),
        su(
            M::GET,
            "/api/collections/comments/records?expand=post.comments_via_post&sort=text&fields=id,expand.post.expand",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=@collection.comments.text='first'&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=@collection.comments.text='none'",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=title:lower='alpha'",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=created<@now%26%26created>@yesterday&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=tags:each~'s'",
            None,
        ),
        su(
            M::GET,
            "/api/collections/posts/records?filter=(title='beta'||views>=10)%26%26published!=false&sort=title",
            None,
        ),
        su(
            M::GET,
            "/api/collections/comments/records?filter=post.views>5%26%26post.published=true&sort=text",
            None,
        ),
        su(M::GET, "/api/collections/posts/records?filter=nope=1", None),
        su(M::GET, "/api/collections/posts/records?filter=title=", None),
        su(M::GET, "/api/collections/posts/records?sort=nope", None),
        guest(M::GET, "/api/collections/posts/records?sort=title", None),
        guest(M::GET, "/api/collections/posts/records/{alpha}", None),
        guest(M::GET, "/api/collections/posts/records/{beta}", None),
        guest(M::GET, "/api/collections/posts/records/nope", None),
        guest(
            M::PATCH,
            "/api/collections/posts/records/{beta}",
            Some(json!({"title": "locked"})),
        ),
        guest(
            M::PATCH,
            "/api/collections/posts/records/{beta}",
            Some(json!({"views+": 2, "tags+": "go"})),
        ),
        guest(
            M::PATCH,
            "/api/collections/posts/records/{beta}",
            Some(json!({"tags-": "sql"})),
        ),
        su(
            M::PATCH,
            "/api/collections/posts/records/{alpha}",
            Some(json!({"title": ""})),
        ),
        guest(M::DELETE, "/api/collections/posts/records/{gamma}", None),
        su(M::DELETE, "/api/collections/posts/records/{gamma}", None),
        su(M::GET, "/api/collections/posts/records/{gamma}", None),
        guest(M::GET, "/api/collections/comments/records?sort=text", None),
        su(M::GET, "/api/collections/comments/records/{c1}", None),
        su(
            M::PATCH,
            "/api/collections/posts",
            Some(json!({"listRule": "nope = 1"})),
        ),
        su(
            M::PATCH,
            "/api/collections/_superusers",
            Some(json!({"name": "admins"})),
        ),
        su(M::DELETE, "/api/collections/posts", None),
        su(M::DELETE, "/api/collections/comments/truncate", None),
        su(M::GET, "/api/collections/comments/records", None),
        su(M::DELETE, "/api/collections/comments", None),
        su(M::DELETE, "/api/collections/posts", None),
        su(M::GET, "/api/collections/posts", None),
    ]
}

/// Replaces `{name}` with the id captured under that name.
fn fill(text: &str, ids: &std::collections::HashMap<&str, String>) -> String {
    let mut out = text.to_owned();
    for (name, id) in ids {
        out = out.replace(&format!("{{{name}}}"), id);
    }
    out
}

/// Hides what legitimately differs between two servers: record ids (mapped back to their
/// capture names), timestamps, tokens, and PocketBase's generic filter-error message.
pub(crate) fn normalize(v: &Value, ids: &std::collections::HashMap<&str, String>) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match k.as_str() {
                        "created" | "updated" | "token" if v.is_string() => json!("<t>"),
                        // A backup's time and size (the archives' contents differ).
                        "modified" if v.is_string() => json!("<t>"),
                        "size" if v.is_number() => json!("<n>"),
                        _ => normalize(v, ids),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| normalize(i, ids)).collect()),
        // The parser's own words after "Raw error:" are not part of the contract.
        Value::String(s) if s.starts_with("Invalid rule. Raw error:") => {
            json!("Invalid rule. Raw error: <raw>")
        }
        Value::String(s) if s.starts_with("Invalid or already deleted backup file.") => {
            json!("Invalid or already deleted backup file.")
        }
        Value::String(s) => match ids.iter().find(|(_, id)| *id == s) {
            Some((name, _)) => json!(format!("<{name}>")),
            None if s.len() == 15
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) =>
            {
                json!("<id>")
            }
            None => v.clone(),
        },
        other => other.clone(),
    }
}

#[tokio::test]
async fn a_records_scenario_gets_the_same_answers() {
    let steps = scenario();
    assert!(steps.len() >= 50);
    replay(&steps).await;
}

/// Runs `steps` against a fresh PocketBase and a fresh hearth and fails with every
/// difference in status, key paths or (normalised) values.
async fn replay(steps: &[Step]) {
    let Some(bin) = pocketbase_bin() else { return };
    let pb = start_pocketbase(&bin).await;
    let hearth = spawn_app().await;
    hearth.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let client = crate::helpers::client();
    let servers = [
        (
            pb.address.clone(),
            superuser_token_at(&client, &pb.address).await,
        ),
        (
            hearth.address.clone(),
            superuser_token_at(&client, &hearth.address).await,
        ),
    ];
    let mut ids: [std::collections::HashMap<&str, String>; 2] = Default::default();

    let mut mismatches = Vec::new();
    for (n, step) in steps.iter().enumerate() {
        let mut answers = Vec::new();
        for (side, (base, token)) in servers.iter().enumerate() {
            let mut req = client.request(
                step.method.clone(),
                format!("{base}{}", fill(step.path, &ids[side])),
            );
            if step.superuser {
                req = req.header("Authorization", token);
            }
            if let Some(body) = &step.body {
                req = req
                    .header("Content-Type", "application/json")
                    .body(fill(&body.to_string(), &ids[side]));
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap();
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if let (Some(name), Some(id)) = (step.capture, body["id"].as_str()) {
                ids[side].insert(name, id.to_owned());
            }
            answers.push((status, normalize(&body, &ids[side])));
        }
        let (pb_answer, hearth_answer) = (&answers[0], &answers[1]);
        let label = format!("step {n}: {} {}", step.method, step.path);
        if pb_answer.0 != hearth_answer.0 {
            mismatches.push(format!(
                "{label}: status pocketbase {} hearth {}\n  pocketbase {}\n  hearth     {}",
                pb_answer.0, hearth_answer.0, pb_answer.1, hearth_answer.1
            ));
        } else if key_paths(&pb_answer.1) != key_paths(&hearth_answer.1) {
            mismatches.push(format!(
                "{label}: keys\n  pocketbase {}\n  hearth     {}",
                pb_answer.1, hearth_answer.1
            ));
        } else if pb_answer.1 != hearth_answer.1
            && !(pb_answer.0 >= 400 && step.path.contains("filter="))
        {
            mismatches.push(format!(
                "{label}: values\n  pocketbase {}\n  hearth     {}",
                pb_answer.1, hearth_answer.1
            ));
        }
    }

    assert!(
        mismatches.is_empty(),
        "{} differences:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// PocketBase's batch API: disabled by default, its limits and error shapes, all-or-nothing
/// transactions, upserts, and `fields` on sub-request answers.
#[tokio::test]
async fn a_batch_scenario_gets_the_same_answers() {
    use Method as M;
    let todos = json!({
        "name": "todos",
        "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [
            {"name": "title", "type": "text", "required": true, "max": 10},
            {"name": "done", "type": "bool"}
        ]
    });
    let create = |title: &str| json!({"method": "POST", "url": "/api/collections/todos/records", "body": {"title": title}});
    let steps = vec![
        su(M::POST, "/api/collections", Some(todos)),
        guest(
            M::POST,
            "/api/batch",
            Some(json!({"requests": [create("a")]})),
        ),
        su(
            M::PATCH,
            "/api/settings",
            Some(json!({"batch": {"enabled": true, "maxRequests": 3}})),
        ),
        guest(M::POST, "/api/batch", Some(json!({}))),
        guest(M::POST, "/api/batch", Some(json!({"requests": []}))),
        guest(
            M::POST,
            "/api/batch",
            Some(json!({"requests": [create("a"), create("b"), create("c"), create("d")]})),
        ),
        guest(
            M::POST,
            "/api/batch",
            Some(json!({"requests": [
                create("a"),
                {"method": "POST", "url": "/api/collections/todos/records?fields=title", "body": {"title": "b"}},
                {"method": "PUT", "url": "/api/collections/todos/records", "body": {"id": "upsertedrecord1", "title": "u1"}}
            ]})),
        ),
        guest(M::GET, "/api/collections/todos/records?sort=title", None),
        // A failure rolls back the whole batch and says which request failed and why.
        guest(
            M::POST,
            "/api/batch",
            Some(json!({"requests": [create("c"), create("far too long a title")]})),
        ),
        guest(
            M::GET,
            "/api/collections/todos/records?sort=title&fields=title",
            None,
        ),
        guest(
            M::POST,
            "/api/batch",
            Some(json!({"requests": [
                {"method": "PUT", "url": "/api/collections/todos/records", "body": {"id": "upsertedrecord1", "title": "u1b"}},
                {"method": "PATCH", "url": "/api/collections/todos/records/upsertedrecord1", "body": {"done": true}},
                {"method": "DELETE", "url": "/api/collections/todos/records/upsertedrecord1"}
            ]})),
        ),
        guest(
            M::GET,
            "/api/collections/todos/records?sort=title&fields=title,done",
            None,
        ),
        guest(
            M::POST,
            "/api/batch",
            Some(json!({"requests": [{"method": "GET", "url": "/api/health"}]})),
        ),
        guest(
            M::POST,
            "/api/batch",
            Some(
                json!({"requests": [{"method": "POST", "url": "/api/collections/nope/records", "body": {}}]}),
            ),
        ),
        guest(
            M::POST,
            "/api/batch",
            Some(
                json!({"requests": [{"method": "DELETE", "url": "/api/collections/todos/records/missingrecord12"}]}),
            ),
        ),
        guest(M::POST, "/api/batch", Some(json!({"requests": "nope"}))),
    ];
    replay(&steps).await;
}

/// PocketBase's backup routes: list, create with its name rules, delete, unknown keys, and
/// who may call them (a restore would restart PocketBase, so only its refusal is compared).
#[tokio::test]
async fn a_backups_scenario_gets_the_same_answers() {
    use Method as M;
    let steps = vec![
        su(M::GET, "/api/backups", None),
        guest(M::GET, "/api/backups", None),
        guest(M::POST, "/api/backups", Some(json!({}))),
        su(M::POST, "/api/backups", Some(json!({"name": "Bad Name"}))),
        su(M::POST, "/api/backups", Some(json!({"name": "no-suffix"}))),
        su(M::POST, "/api/backups", Some(json!({"name": "compat.zip"}))),
        su(M::POST, "/api/backups", Some(json!({"name": "compat.zip"}))),
        su(M::GET, "/api/backups", None),
        guest(M::GET, "/api/backups/compat.zip", None),
        guest(M::GET, "/api/backups/compat.zip?token=forged", None),
        su(M::DELETE, "/api/backups/missing.zip", None),
        su(M::POST, "/api/backups/missing.zip/restore", None),
        guest(M::DELETE, "/api/backups/compat.zip", None),
        su(M::DELETE, "/api/backups/compat.zip", None),
        su(M::GET, "/api/backups", None),
    ];
    replay(&steps).await;
}
