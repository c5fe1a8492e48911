//! The other read paths a caller's expression takes: `expand` (every related record under
//! its collection's view rule) and realtime subscription filters (joined under the rules
//! as list filters are). Asked of hearth and, side by side, of PocketBase 0.40.6.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::world::{CALLERS, Server, Variant, world};
use crate::helpers::{Sse, url_encode};

/// For each comment, the expanded relations `caller` gets (sorted `item.key` names).
async fn expanded(server: &Server, caller: &str) -> Vec<String> {
    let path = "/api/collections/comments/records?sort=id&expand=author,post,doc,reply,post.owner,reply.post&fields=id,expand";
    let (status, body) = server
        .call(Method::GET, path, None, server.token(caller).as_deref())
        .await;
    assert_eq!(status, 200, "{}: {body}", server.kind);
    let mut keys = Vec::new();
    for item in body["items"].as_array().into_iter().flatten() {
        let id = item["id"].as_str().unwrap_or_default();
        collect(&item["expand"], id, &mut keys);
    }
    keys.sort();
    keys
}

fn collect(expand: &Value, prefix: &str, keys: &mut Vec<String>) {
    let Some(map) = expand.as_object() else {
        return;
    };
    for (name, record) in map {
        let key = format!("{prefix}.{name}");
        collect(&record["expand"], &key, keys);
        keys.push(key);
    }
}

#[tokio::test]
async fn expand_shows_only_what_the_caller_may_view() {
    let hearth = world("hearth", Variant::Base).await.unwrap();
    assert!(
        expanded(&hearth, "guest").await.is_empty(),
        "a guest may view no related record"
    );
    let alice = expanded(&hearth, "alice").await;
    assert!(
        alice.contains(&"commentalice001.post".to_owned()),
        "{alice:?}"
    );
    assert!(
        !alice.contains(&"commentbob00001.post".to_owned()),
        "{alice:?}"
    );
    if let Some(pocketbase) = world("pocketbase", Variant::Base).await {
        for caller in CALLERS {
            assert_eq!(
                expanded(&hearth, caller).await,
                expanded(&pocketbase, caller).await,
                "{caller}"
            );
        }
    }
}

/// For each filter, whether `caller`, subscribed to comments with it, hears of a change to
/// bob's comment (one subscription per filter, on one connection).
async fn heard(server: &Server, caller: &str, filters: &[&str]) -> Vec<bool> {
    let mut sse = Sse::connect(&server.base).await;
    let topics: Vec<String> = filters
        .iter()
        .map(|f| {
            let options = json!({"query": {"filter": f}}).to_string();
            format!("comments/*?options={}", url_encode(&options))
        })
        .collect();
    let (status, body) = server
        .call(
            Method::POST,
            "/api/realtime",
            Some(json!({"clientId": sse.client_id, "subscriptions": topics})),
            server.token(caller).as_deref(),
        )
        .await;
    assert_eq!(status, 204, "{}: {body}", server.kind);
    let admin = server.admin.clone();
    let (status, _) = server
        .call(
            Method::PATCH,
            "/api/collections/comments/records/commentbob00001",
            Some(json!({"body": format!("edited for {caller}")})),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 200);
    let mut heard = vec![false; topics.len()];
    while let Some(event) = sse.next_within(Duration::from_millis(1500)).await {
        if let Some(i) = topics.iter().position(|t| *t == event.event) {
            heard[i] = true;
        }
    }
    heard
}

#[tokio::test]
async fn realtime_filters_cannot_read_what_the_subscriber_cannot() {
    let hearth = world("hearth", Variant::Base).await.unwrap();
    let pocketbase = world("pocketbase", Variant::Base).await;
    // Pairs of a hit and a miss on bob's comment.
    let filters = [
        "author.name = 'Bob'",
        "author.name = 'Zed'",
        "post.title ~ 'bravo'",
        "post.title ~ 'zulu'",
        "reply.text = 'bravo reply'",
        "reply.text = 'nope'",
        "author.posts_via_owner.title ?= 'bravo post'",
        "author.posts_via_owner.title ?= 'nope'",
        "@collection.secrets.code ?= 'bravo-code'",
        "@collection.secrets.code ?= 'nope'",
        "body ~ 'edited'",
    ];
    for caller in ["guest", "alice", "bob"] {
        let ours = heard(&hearth, caller, &filters).await;
        assert!(
            ours[10],
            "{caller} hears of a change its plain filter matches"
        );
        if caller != "bob" {
            for pair in ours[..10].chunks(2) {
                assert_eq!(
                    pair[0], pair[1],
                    "{caller} learns through a filter: {ours:?}"
                );
            }
        }
        if let Some(pb) = &pocketbase {
            let theirs = heard(pb, caller, &filters).await;
            assert_eq!(ours, theirs, "{caller}: hearth vs pocketbase");
        }
    }
    // The owner still hears of what their filter matches.
    assert!(heard(&hearth, "bob", &filters).await[0]);
}
