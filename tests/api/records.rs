//! Records over the API: create, view, update and delete, field validation, paging and
//! sorting, totals that follow every write, ETags, and search. Rules: `record_rules.rs`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{SuperuserApp, wait_until};

pub(crate) fn posts(rules: Value) -> Value {
    let mut def = json!({"name": "posts", "fields": [
        {"name": "title", "type": "text", "required": true, "max": 20},
        {"name": "views", "type": "number", "min": 0},
        {"name": "published", "type": "bool"},
        {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
        {"name": "meta", "type": "json"},
        {"name": "when", "type": "date"},
        {"name": "author", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
        {"name": "created", "type": "autodate", "onCreate": true},
        {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true}
    ]});
    for (k, v) in rules.as_object().unwrap() {
        def[k] = v.clone();
    }
    def
}

#[tokio::test]
async fn create_view_update_delete() {
    let ctx = SuperuserApp::spawn().await;
    ctx.collection(posts(json!({}))).await;

    let (status, created) = ctx
        .su(
            Method::POST,
            "/api/collections/posts/records",
            Some(
                json!({"title": "Hello", "views": "3", "published": "true", "tags": "a",
                        "meta": {"k": [1, 2]}, "when": "2024-05-06T07:08:09Z", "unknown": 1}),
            ),
        )
        .await;

    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 15);
    assert_eq!(created["collectionName"], "posts");
    assert_eq!(created["title"], "Hello");
    assert_eq!(created["views"], 3);
    assert_eq!(created["published"], true);
    assert_eq!(created["tags"], json!(["a"]));
    assert_eq!(created["meta"], json!({"k": [1, 2]}));
    assert_eq!(created["when"], "2024-05-06 07:08:09.000Z");
    assert_eq!(created["author"], "");
    assert!(created.get("unknown").is_none());
    assert_eq!(created["created"], created["updated"]);

    let (status, viewed) = ctx
        .su(
            Method::GET,
            &format!("/api/collections/posts/records/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(viewed, created);

    let (status, updated) = ctx
        .su(
            Method::PATCH,
            &format!("/api/collections/posts/records/{id}"),
            Some(json!({"title": "Changed", "tags+": ["b", "c"], "views+": 2})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["title"], "Changed");
    assert_eq!(updated["tags"], json!(["a", "b", "c"]));
    assert_eq!(updated["views"], 5);
    assert_eq!(updated["created"], created["created"]);
    assert_ne!(updated["updated"], created["updated"]);

    let (status, _) = ctx
        .su(
            Method::DELETE,
            &format!("/api/collections/posts/records/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = ctx
        .su(
            Method::GET,
            &format!("/api/collections/posts/records/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

/// Numbers are stored as the nearest double to what was sent, as Go's parser reads them for
/// PocketBase: serde_json's default parser was one unit in the last place off for these.
#[tokio::test]
async fn numbers_keep_every_digit_they_were_sent_with() {
    let ctx = SuperuserApp::spawn().await;
    ctx.collection(posts(json!({}))).await;
    for n in [
        12.412950271627409,
        0.1 + 0.2,
        1.7976931348623157e308,
        5e-324,
    ] {
        let text = format!(r#"{{"title": "n", "views": {n:?}, "meta": {{"x": {n:?}}}}}"#);
        let res = crate::helpers::client()
            .post(ctx.url("/api/collections/posts/records"))
            .header("Authorization", &ctx.token)
            .header("Content-Type", "application/json")
            .body(text)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let created: Value = res.json().await.unwrap();
        assert_eq!(created["views"].as_f64(), Some(n), "{created}");
        assert_eq!(created["meta"]["x"].as_f64(), Some(n), "{created}");
    }
}

#[tokio::test]
async fn a_date_set_on_update_only_stays_empty_until_the_first_update() {
    let ctx = SuperuserApp::spawn().await;
    let mut def = posts(json!({}));
    def["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "edited", "type": "autodate", "onUpdate": true}));
    ctx.collection(def).await;

    let (status, created) = ctx
        .su(
            Method::POST,
            "/api/collections/posts/records",
            Some(json!({"title": "Hello"})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let path = format!(
        "/api/collections/posts/records/{}",
        created["id"].as_str().unwrap()
    );
    let (status, updated) = ctx
        .su(Method::PATCH, &path, Some(json!({"title": "Changed"})))
        .await;

    assert_eq!(
        created["edited"], "",
        "PocketBase leaves it empty at create"
    );
    assert_ne!(created["created"], "");
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["edited"], updated["updated"]);
    assert_eq!(updated["created"], created["created"]);
}

#[tokio::test]
async fn validation_errors_come_field_by_field() {
    let ctx = SuperuserApp::spawn().await;
    ctx.collection(posts(json!({}))).await;

    let (status, body) = ctx
        .su(
            Method::POST,
            "/api/collections/posts/records",
            Some(json!({"title": "x".repeat(21), "views": -1, "tags": ["a", "z"], "author": "nobody"})),
        )
        .await;

    assert_eq!(status, 400);
    assert_eq!(body["message"], "Failed to create record.");
    let data = &body["data"];
    assert_eq!(data["title"]["code"], "validation_max_text_constraint");
    assert_eq!(data["views"]["code"], "validation_min_number_constraint");
    assert_eq!(data["tags"]["code"], "validation_invalid_value");
    assert_eq!(data["tags"]["params"], json!({"value": "z"}));
    assert_eq!(data["author"]["code"], "validation_missing_rel_records");
    let (_, list) = ctx
        .su(Method::GET, "/api/collections/posts/records", None)
        .await;
    assert_eq!(list["totalItems"], 0);
}

#[tokio::test]
async fn paging_and_sorting() {
    let ctx = SuperuserApp::spawn().await;
    ctx.collection(posts(json!({}))).await;
    for (title, views) in [("b", 2), ("a", 3), ("c", 1)] {
        ctx.su(
            Method::POST,
            "/api/collections/posts/records",
            Some(json!({"title": title, "views": views})),
        )
        .await;
    }

    let (_, by_views) = ctx
        .su(
            Method::GET,
            "/api/collections/posts/records?sort=-views",
            None,
        )
        .await;
    let (_, page2) = ctx
        .su(
            Method::GET,
            "/api/collections/posts/records?sort=title&perPage=2&page=2",
            None,
        )
        .await;
    let (_, skipped) = ctx
        .su(
            Method::GET,
            "/api/collections/posts/records?skipTotal=1",
            None,
        )
        .await;
    let (bad, bad_body) = ctx
        .su(
            Method::GET,
            "/api/collections/posts/records?sort=nope",
            None,
        )
        .await;
    let (injected, _) = ctx
        .su(
            Method::GET,
            "/api/collections/posts/records?sort=title;DROP%20TABLE%20posts",
            None,
        )
        .await;

    let titles = |v: &Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(titles(&by_views), ["a", "b", "c"]);
    assert_eq!(by_views["totalItems"], 3);
    assert_eq!(titles(&page2), ["c"]);
    assert_eq!(page2["totalPages"], 2);
    assert_eq!(skipped["totalItems"], -1);
    assert_eq!(bad, 400);
    assert_eq!(bad_body["status"], 400);
    assert_eq!(injected, 400);
    let (_, still) = ctx
        .su(Method::GET, "/api/collections/posts/records", None)
        .await;
    assert_eq!(still["totalItems"], 3);
}

#[tokio::test]
async fn auth_records_hash_passwords_and_hide_secrets() {
    let ctx = SuperuserApp::spawn().await;

    let (mismatch, body) = ctx
        .su(Method::POST, "/api/collections/users/records",
            Some(json!({"email": "u@example.com", "password": "password123", "passwordConfirm": "different"})))
        .await;
    assert_eq!(mismatch, 400);
    assert_eq!(
        body["data"]["passwordConfirm"]["code"],
        "validation_values_mismatch"
    );

    let (status, user) = ctx
        .su(Method::POST, "/api/collections/users/records",
            Some(json!({"email": "u@example.com", "password": "password123", "passwordConfirm": "password123", "name": "U"})))
        .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["email"], "u@example.com");
    assert!(user.get("password").is_none() && user.get("tokenKey").is_none());
    let hash: String = ctx
        .app
        .db
        .data
        .read(|c| Ok(c.query_row("SELECT password FROM users", [], |r| r.get(0))?))
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));

    let (dup, body) = ctx
        .su(Method::POST, "/api/collections/users/records",
            Some(json!({"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"})))
        .await;
    assert_eq!(dup, 400);
    assert_eq!(body["data"]["email"]["code"], "validation_not_unique");
}

#[tokio::test]
async fn unknown_collections_and_records_are_404() {
    let ctx = SuperuserApp::spawn().await;
    ctx.collection(posts(json!({}))).await;

    let (missing, body) = ctx
        .su(Method::GET, "/api/collections/nope/records", None)
        .await;
    let (record, _) = ctx
        .su(
            Method::GET,
            "/api/collections/posts/records/doesnotexist123",
            None,
        )
        .await;
    let (patch, _) = ctx
        .su(
            Method::PATCH,
            "/api/collections/posts/records/doesnotexist123",
            Some(json!({})),
        )
        .await;
    let (delete, _) = ctx
        .su(
            Method::DELETE,
            "/api/collections/posts/records/doesnotexist123",
            None,
        )
        .await;

    assert_eq!(missing, 404);
    assert_eq!(body["message"], "Missing collection context.");
    assert_eq!((record, patch, delete), (404, 404, 404));
}

/// List totals are remembered between writes; every kind of write must make them exact
/// again at once (creates, updates that move a record out of a filter, deletes, cascades),
/// and a write by another process (the CLI) within a couple of seconds.
#[tokio::test]
async fn list_totals_follow_every_write() {
    let ctx = SuperuserApp::spawn().await;
    ctx.collection(json!({
        "name": "items", "listRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [{"name": "n", "type": "number"}]
    }))
    .await;
    let total = |filter: &'static str| {
        let ctx = &ctx;
        async move {
            let (status, body) = ctx
                .guest(
                    Method::GET,
                    &format!("/api/collections/items/records?perPage=1&filter={filter}"),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{body}");
            body["totalItems"].as_i64().unwrap()
        }
    };
    let mut ids = Vec::new();
    for n in 0..10 {
        assert_eq!(total("n%3E%3D5").await, (n - 5).max(0));
        let (_, rec) = ctx
            .guest(
                Method::POST,
                "/api/collections/items/records",
                Some(json!({"n": n})),
            )
            .await;
        ids.push(rec["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(total("n%3E%3D5").await, 5);
    ctx.guest(
        Method::PATCH,
        &format!("/api/collections/items/records/{}", ids[9]),
        Some(json!({"n": 1})),
    )
    .await;
    assert_eq!(total("n%3E%3D5").await, 4);
    ctx.guest(
        Method::DELETE,
        &format!("/api/collections/items/records/{}", ids[8]),
        None,
    )
    .await;
    assert_eq!(total("n%3E%3D5").await, 3);
    assert_eq!(total("").await, 9);

    // Another process writes: the superusers' total catches up.
    let supers = || async {
        ctx.su(Method::GET, "/api/collections/_superusers/records", None)
            .await
            .1["totalItems"]
            .as_i64()
            .unwrap()
    };
    let before = supers().await;
    let out = ctx
        .app
        .hearth(&["superuser", "create", "cli@example.com", "password-123"]);
    assert!(out.status.success());
    wait_until(
        std::time::Duration::from_secs(5),
        "the total to count the new superuser",
        async || supers().await == before + 1,
    )
    .await;
}

/// ETags on reads (304 for a current copy) and If-Match on writes (412 for a stale one):
/// two editors who read the same version cannot both save over it.
#[tokio::test]
async fn etags_make_reads_cheap_and_writes_safe() {
    let ctx = SuperuserApp::spawn().await;
    ctx.collection(json!({
        "name": "docs", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [{"name": "text", "type": "text"}]
    }))
    .await;
    let client = &ctx.app.api;
    let created = client
        .post(ctx.app.url("/api/collections/docs/records"))
        .json(&json!({"text": "v1"}))
        .send()
        .await
        .unwrap();
    let created_tag = created.headers()["etag"].to_str().unwrap().to_owned();
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = ctx.app.url(&format!("/api/collections/docs/records/{id}"));

    let read = client.get(&url).send().await.unwrap();
    let tag = read.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        tag, created_tag,
        "a write answers with the tag a read will carry"
    );
    for (sent, fresh) in [
        (tag.clone(), true),
        (format!("W/{tag}"), true),
        (format!("\"other\", {tag}"), true),
        ("*".to_owned(), true),
        ("\"other\"".to_owned(), false),
    ] {
        let res = client
            .get(&url)
            .header("If-None-Match", &sent)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), if fresh { 304 } else { 200 }, "{sent}");
        assert_eq!(res.headers()["etag"].to_str().unwrap(), tag);
        if fresh {
            assert!(res.bytes().await.unwrap().is_empty());
        }
    }
    let list_url = ctx.app.url("/api/collections/docs/records");
    let list = client.get(&list_url).send().await.unwrap();
    let list_tag = list.headers()["etag"].to_str().unwrap().to_owned();
    let again = client
        .get(&list_url)
        .header("If-None-Match", &list_tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    // Two editors read v1; the first saves, the second is told its copy is stale.
    let first = client
        .patch(&url)
        .header("If-Match", &tag)
        .json(&json!({"text": "first"}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let new_tag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_tag, tag);
    let second = client
        .patch(&url)
        .header("If-Match", &tag)
        .json(&json!({"text": "second"}))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 412);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["status"], 412);
    assert_eq!(body["data"], json!({}));
    assert!(body["message"].as_str().unwrap().contains("changed"));
    let (_, now) = ctx
        .guest(
            Method::GET,
            &format!("/api/collections/docs/records/{id}"),
            None,
        )
        .await;
    assert_eq!(now["text"], "first");
    // The old list is stale too.
    let stale_list = client
        .get(&list_url)
        .header("If-None-Match", &list_tag)
        .send()
        .await
        .unwrap();
    assert_eq!(stale_list.status(), 200);

    let stale_delete = client
        .delete(&url)
        .header("If-Match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(stale_delete.status(), 412);
    let weak = client
        .delete(&url)
        .header("If-Match", format!("W/{new_tag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), 412, "If-Match compares strongly");
    let delete = client
        .delete(&url)
        .header("If-Match", &new_tag)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);
}

/// Full-text search over searchable fields: ranked, within the list rule, combined with
/// filter, sort and paging, kept in step with every write and schema change.
#[tokio::test]
async fn search_finds_words_in_searchable_fields_within_the_rules() {
    let ctx = SuperuserApp::spawn().await;
    ctx.collection(json!({
        "name": "articles", "listRule": "published = true", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [
            {"name": "title", "type": "text", "searchable": true},
            {"name": "body", "type": "editor", "searchable": true},
            {"name": "tag", "type": "text"},
            {"name": "published", "type": "bool"}
        ]
    }))
    .await;
    let (_, def) = ctx.su(Method::GET, "/api/collections/articles", None).await;
    assert_eq!(def["fields"][1]["searchable"], true);
    assert!(
        def["fields"][3].get("searchable").is_none(),
        "only shown when set"
    );
    let mut ids = std::collections::HashMap::new();
    for (title, body, tag, published) in [
        (
            "Rust in production",
            "<p>Ownership and borrowing at scale.</p>",
            "rust",
            true,
        ),
        (
            "Gardening",
            "Tomatoes love the sun; rust on leaves is a fungus.",
            "garden",
            true,
        ),
        (
            "Secret rust notes",
            "Unpublished draft about Rust.",
            "rust",
            false,
        ),
        ("Café culture", "Crème brûlée and espresso.", "food", true),
    ] {
        let (status, rec) = ctx
            .guest(
                Method::POST,
                "/api/collections/articles/records",
                Some(json!({"title": title, "body": body, "tag": tag, "published": published})),
            )
            .await;
        assert_eq!(status, 200, "{rec}");
        ids.insert(title, rec["id"].as_str().unwrap().to_owned());
    }
    let search = |q: &'static str| {
        let ctx = &ctx;
        async move {
            let (status, body) = ctx
                .guest(
                    Method::GET,
                    &format!("/api/collections/articles/records?{q}"),
                    None,
                )
                .await;
            (status, body)
        }
    };
    let titles = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap().to_owned())
            .collect()
    };
    // Ranked: the title match first; the unpublished one never (list rule).
    let (status, found) = search("search=rust").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(titles(&found), ["Rust in production", "Gardening"]);
    assert_eq!(found["totalItems"], 2);
    // Prefixes, several words (all must match), accents folded.
    assert_eq!(
        titles(&search("search=own%20bor").await.1),
        ["Rust in production"]
    );
    assert_eq!(
        titles(&search("search=creme%20brulee").await.1),
        ["Café culture"]
    );
    // Combined with filter, sort and paging.
    assert_eq!(
        titles(&search("search=rust&filter=tag%3D'garden'").await.1),
        ["Gardening"]
    );
    assert_eq!(
        titles(&search("search=rust&sort=title").await.1),
        ["Gardening", "Rust in production"]
    );
    let (_, paged) = search("search=rust&perPage=1&page=2").await;
    assert_eq!(titles(&paged), ["Gardening"]);
    assert_eq!(paged["totalPages"], 2);
    // FTS syntax is just text.
    let (status, odd) = search("search=%22rust%22%20OR%20NEAR(x)%20*").await;
    assert_eq!(status, 200, "{odd}");
    // Writes are indexed at once: update, delete.
    ctx.guest(
        Method::PATCH,
        &format!("/api/collections/articles/records/{}", ids["Gardening"]),
        Some(json!({"body": "Tomatoes and basil."})),
    )
    .await;
    assert_eq!(
        titles(&search("search=rust").await.1),
        ["Rust in production"]
    );
    ctx.guest(
        Method::DELETE,
        &format!(
            "/api/collections/articles/records/{}",
            ids["Rust in production"]
        ),
        None,
    )
    .await;
    assert_eq!(search("search=rust").await.1["totalItems"], 0);
    // A schema change rebuilds the index: `tag` becomes searchable, `body` stops being.
    let (_, def) = ctx.su(Method::GET, "/api/collections/articles", None).await;
    let mut fields = def["fields"].as_array().unwrap().clone();
    for f in &mut fields {
        match f["name"].as_str().unwrap() {
            "tag" => f["searchable"] = json!(true),
            "body" => f["searchable"] = json!(false),
            _ => {}
        }
    }
    let (status, _) = ctx
        .su(
            Method::PATCH,
            "/api/collections/articles",
            Some(json!({"fields": fields})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(titles(&search("search=food").await.1), ["Café culture"]);
    assert_eq!(search("search=espresso").await.1["totalItems"], 0);
    // No searchable field: a clear 400.
    ctx.collection(
        json!({"name": "plain", "listRule": "", "fields": [{"name": "t", "type": "text"}]}),
    )
    .await;
    let (status, body) = ctx
        .guest(Method::GET, "/api/collections/plain/records?search=x", None)
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["status"], 400);
}
