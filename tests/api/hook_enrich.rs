//! `onRecordEnrich`: the records of lists, views, write answers and expands pass through the
//! hooks bound to their collection; the same hooks file on hearth and PocketBase 0.40.6
//! gives the same answers.

use serde_json::{Value, json};

use crate::compat::{assert_same, pocketbase_bin, start_pocketbase_with_hooks};
use crate::helpers::{client, hooks_folder, superuser_token_at};

const ENRICH: &str = r#"
onRecordEnrich((e) => {
  e.record.hide("secret");
  e.record.set("title", e.record.get("title") + "!");
  e.record.withCustomData(true);
  e.record.set("who", e.requestInfo.auth ? "signed in" : "guest");
  e.next();
}, "articles");

onRecordsListRequest((e) => {
  if (e.requestInfo().query["nope"]) throw new BadRequestError("No lists today.");
  for (const r of e.records) r.set("name", r.getString("name") + " (listed)");
  e.result.perPage = 7;
  e.next();
}, "tags");

onRecordEnrich((e) => {
  e.record.set("shout", "never shown without withCustomData");
  e.record.set("name", e.record.get("name").toUpperCase());
  e.next();
}, "tags");
"#;

fn stable(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| {
                    !["id", "created", "updated", "collectionId"].contains(&k.as_str())
                })
                // The relation's value is an id; what it expands to is compared.
                .filter(|(k, v)| !(k.as_str() == "tag" && v.is_string()))
                .map(|(k, v)| (k.clone(), stable(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(stable).collect()),
        other => other.clone(),
    }
}

async fn scenario(base: &str) -> Vec<(String, Value)> {
    let http = client();
    let token = superuser_token_at(&http, base).await;
    let post = |path: &str, body: Value, auth: Option<&str>| {
        let mut req = http.post(format!("{base}{path}")).json(&body);
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        req.send()
    };
    let tags: Value = post(
        "/api/collections",
        json!({"name": "tags", "listRule": "", "viewRule": "",
        "fields": [{"name": "name", "type": "text"}]}),
        Some(&token),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let res = post(
        "/api/collections",
        json!({"name": "articles", "listRule": "", "viewRule": "", "createRule": "",
        "fields": [{"name": "title", "type": "text"}, {"name": "secret", "type": "text"},
            {"name": "tag", "type": "relation", "collectionId": tags["id"], "maxSelect": 1}]}),
        Some(&token),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let tag: Value = post(
        "/api/collections/tags/records",
        json!({"name": "news"}),
        Some(&token),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let mut out = Vec::new();
    let created = post(
        "/api/collections/articles/records",
        json!({"title": "hello", "secret": "s3cret", "tag": tag["id"]}),
        None,
    )
    .await
    .unwrap();
    let created: Value = created.json().await.unwrap();
    out.push(("create".to_owned(), stable(&created)));
    let id = created["id"].as_str().unwrap().to_owned();
    for (label, path, auth) in [
        (
            "list, expand",
            "/api/collections/articles/records?expand=tag".to_owned(),
            None,
        ),
        (
            "view as a superuser",
            format!("/api/collections/articles/records/{id}"),
            Some(token.clone()),
        ),
        ("tags", "/api/collections/tags/records".to_owned(), None),
        (
            "tags refused",
            "/api/collections/tags/records?nope=1".to_owned(),
            None,
        ),
    ] {
        let mut req = http.get(format!("{base}{path}"));
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        let body: Value = req.send().await.unwrap().json().await.unwrap();
        let body = match body.get("items") {
            Some(items) => json!({"perPage": body["perPage"], "items": items}),
            None => body,
        };
        out.push((label.to_owned(), stable(&body)));
    }
    out
}

#[tokio::test]
async fn enrich_hooks_shape_answers_as_on_pocketbase() {
    let dir = hooks_folder(&[("enrich.pb.js", ENRICH)]);
    let app = crate::helpers::spawn_app_with_hooks_and_superuser(dir.path()).await;
    let ours = scenario(&app.address).await;
    let find = |label: &str| crate::compat::outcome(&ours, label);
    assert_eq!(find("create")["title"], "hello!");
    assert!(find("create").get("secret").is_none(), "hidden by the hook");
    assert_eq!(
        find("list, expand")["items"][0]["expand"]["tag"]["name"],
        "NEWS"
    );
    assert_eq!(find("tags")["perPage"], 7);
    assert_eq!(find("view as a superuser")["who"], "signed in");

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase_with_hooks(&bin, &[("enrich.pb.js", ENRICH)]).await;
    let theirs = scenario(&pb.address).await;
    assert_same(&ours, &theirs);
}

/// What a guest and a superuser subscribed to `articles` receive for one create.
async fn realtime_scenario(base: &str) -> Vec<(String, Value)> {
    let http = client();
    let token = superuser_token_at(&http, base).await;
    let res = http
        .post(format!("{base}/api/collections"))
        .header("Authorization", &token)
        .json(
            &json!({"name": "articles", "listRule": "", "viewRule": "", "createRule": "",
            "fields": [{"name": "title", "type": "text"}, {"name": "secret", "type": "text"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut streams = Vec::new();
    for (who, auth) in [("guest", None), ("superuser", Some(token.as_str()))] {
        let sse = crate::helpers::Sse::connect(base).await;
        let mut subscribe = http
            .post(format!("{base}/api/realtime"))
            .json(&json!({"clientId": sse.client_id, "subscriptions": ["articles"]}));
        if let Some(auth) = auth {
            subscribe = subscribe.header("Authorization", auth);
        }
        assert_eq!(subscribe.send().await.unwrap().status(), 204);
        streams.push((who, sse));
    }
    let res = http
        .post(format!("{base}/api/collections/articles/records"))
        .json(&json!({"title": "hello", "secret": "s3cret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut out = Vec::new();
    for (who, sse) in &mut streams {
        let event = sse.next().await.expect("the create's event");
        let data: Value = serde_json::from_str(&event.data).unwrap();
        out.push((
            (*who).to_owned(),
            json!([event.event, data["action"], stable(&data["record"])]),
        ));
    }
    out
}

#[tokio::test]
async fn realtime_events_are_enriched_as_on_pocketbase() {
    let dir = hooks_folder(&[("enrich.pb.js", ENRICH)]);
    let app = crate::helpers::spawn_app_with_hooks_and_superuser(dir.path()).await;
    let ours = realtime_scenario(&app.address).await;
    // The guest's event is enriched (secret hidden, title changed, its own value added).
    assert_eq!(ours[0].1[2]["title"], "hello!");
    assert!(ours[0].1[2].get("secret").is_none(), "{:?}", ours[0]);
    assert_eq!(ours[0].1[2]["who"], "guest");

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase_with_hooks(&bin, &[("enrich.pb.js", ENRICH)]).await;
    let theirs = realtime_scenario(&pb.address).await;
    assert_same(&ours, &theirs);
}
