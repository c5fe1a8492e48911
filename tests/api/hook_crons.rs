//! `cronAdd`/`cronRemove` in JS hooks and the crons API (`GET /api/crons`,
//! `POST /api/crons/{id}`): the same hooks file on hearth and PocketBase 0.40.6 lists the
//! same jobs, runs one on demand, and refuses the same requests. (The servers' own
//! `__...` jobs are compared in `server_crons.rs`.)

use std::time::Duration;

use serde_json::{Value, json};

use crate::compat::{assert_same, pocketbase_bin, start_pocketbase_with_hooks};
use crate::helpers::{client, hooks_folder, superuser_token_at, wait_for};

const CRONS: &str = r#"
cronAdd("ticker", "* * * * *", () => {
  $app.save(new Record($app.findCollectionByNameOrId("ticks"), { note: "tick" }));
});
cronAdd("nightly", "0 3 * * *", () => {});
cronAdd("gone", "@daily", () => {});
cronRemove("gone");
cronAdd("failing", "*/5 * * * *", () => { throw new Error("this job fails"); });

// Jobs added and removed by a handler while the server runs.
routerAdd("POST", "/api/jobs/{id}", (e) => {
  const id = e.request.pathValue("id");
  cronAdd(id, "0 4 * * *", () => {
    $app.save(new Record($app.findCollectionByNameOrId("ticks"), { note: "added" }));
  });
  return e.json(200, { added: id });
});
routerAdd("DELETE", "/api/jobs/{id}", (e) => {
  cronRemove(e.request.pathValue("id"));
  return e.noContent(204);
});
"#;

/// The ids of the jobs listed, PocketBase's own left out.
async fn listed(http: &reqwest::Client, base: &str, token: &str) -> Value {
    let list = answer(
        http.get(format!("{base}/api/crons"))
            .header("Authorization", token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let own: Vec<Value> = list[1]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| !j["id"].as_str().unwrap().starts_with("__"))
        .cloned()
        .collect();
    json!([list[0], own])
}

async fn answer(res: reqwest::Response) -> Value {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    json!([
        status,
        serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text))
    ])
}

/// How many ticks the list at `url` holds, once a job has written at least one.
async fn ticks_after(http: &reqwest::Client, url: &str, token: &str, what: &str) -> u64 {
    wait_for(Duration::from_secs(10), what, async || {
        let res: Value = http
            .get(url)
            .header("Authorization", token)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        match res["totalItems"].as_u64() {
            Some(n) if n >= 1 => Ok(n),
            other => Err(format!("{other:?} ticks")),
        }
    })
    .await
}

async fn crons(base: &str) -> Vec<(String, Value)> {
    let http = client();
    let token = superuser_token_at(&http, base).await;
    let res = http
        .post(format!("{base}/api/collections"))
        .header("Authorization", &token)
        .json(&json!({"name": "ticks", "fields": [{"name": "note", "type": "text"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut out = Vec::new();
    let guest = http.get(format!("{base}/api/crons")).send().await.unwrap();
    out.push(("guest list".into(), answer(guest).await));
    out.push(("list".into(), listed(&http, base, &token).await));
    for id in ["failing", "nope", "ticker"] {
        let res = http
            .post(format!("{base}/api/crons/{id}"))
            .header("Authorization", &token)
            .send()
            .await
            .unwrap();
        out.push((format!("run {id}"), answer(res).await));
    }
    let all = format!("{base}/api/collections/ticks/records");
    let ticks = ticks_after(&http, &all, &token, "the job to run").await;
    out.push(("ran".into(), json!(ticks >= 1)));

    let added = http
        .post(format!("{base}/api/jobs/later"))
        .send()
        .await
        .unwrap();
    out.push(("add from a handler".into(), answer(added).await));
    out.push(("list with it".into(), listed(&http, base, &token).await));
    let run = http
        .post(format!("{base}/api/crons/later"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    out.push(("run it".into(), answer(run).await));
    let url = format!("{base}/api/collections/ticks/records?filter=note%3D%22added%22");
    let added = ticks_after(&http, &url, &token, "the added job to run").await;
    out.push(("the added job ran".into(), json!(added)));
    let removed = http
        .delete(format!("{base}/api/jobs/later"))
        .send()
        .await
        .unwrap();
    out.push(("remove from a handler".into(), answer(removed).await));
    out.push(("list without it".into(), listed(&http, base, &token).await));
    out
}

#[tokio::test]
async fn cron_jobs_are_listed_and_run_as_on_pocketbase() {
    let dir = hooks_folder(&[("crons.pb.js", CRONS)]);
    let app = crate::helpers::spawn_app_with_hooks_and_superuser(dir.path()).await;
    let ours = crons(&app.address).await;
    let find = |label: &str| crate::compat::outcome(&ours, label);
    assert_eq!(
        find("list")[1],
        json!([
            {"id": "failing", "expression": "*/5 * * * *"},
            {"id": "nightly", "expression": "0 3 * * *"},
            {"id": "ticker", "expression": "* * * * *"},
        ])
    );
    assert_eq!(find("run nope")[0], 404);
    assert_eq!(find("list with it")[1].as_array().map(Vec::len), Some(4));
    assert_eq!(find("list without it"), find("list"));

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase_with_hooks(&bin, &[("crons.pb.js", CRONS)]).await;
    let theirs = crons(&pb.address).await;
    assert_same(&ours, &theirs);
}
