//! One small world of collections under every kind of rule, built over HTTP through the
//! superuser API so that hearth and PocketBase get exactly the same definitions, records
//! and ids. Variants of the world differ only in data some callers may not read.

use reqwest::{Client, Method};
use serde_json::{Value, json};

use crate::compat::{PocketBase, pocketbase_bin, start_pocketbase};
use crate::helpers::{TestApp, spawn_app, superuser_token_at, url_encode};

pub const PASSWORD: &str = "correct-horse-1";

pub const ALICE: &str = "alice0000000001";
pub const BOB: &str = "bob000000000001";
pub const CAROL: &str = "carol0000000001";

/// Which data differs from the base world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Base,
    /// Bob's private records (his account, posts, secret, replies) hold other values:
    /// nobody but bob and superusers may tell this world from the base one.
    BobPrivate,
    /// The documents only team members may list (alice) hold other values.
    MembersOnly,
}

/// A running server (either kind) with a superuser token and the world's sign-ins.
pub struct Server {
    pub kind: &'static str,
    pub base: String,
    http: Client,
    pub admin: String,
    pub tokens: Vec<(&'static str, String)>,
    _hearth: Option<TestApp>,
    _pocketbase: Option<PocketBase>,
}

impl Server {
    pub async fn hearth() -> Self {
        let app = spawn_app().await;
        let admin = app.superuser_token().await;
        Self {
            kind: "hearth",
            base: app.address.clone(),
            http: Client::new(),
            admin,
            tokens: Vec::new(),
            _hearth: Some(app),
            _pocketbase: None,
        }
    }

    /// The real PocketBase, or None when it is not installed (and not required).
    pub async fn pocketbase() -> Option<Self> {
        let bin = pocketbase_bin()?;
        let pb = start_pocketbase(&bin).await;
        let http = Client::new();
        let admin = superuser_token_at(&http, &pb.address).await;
        Some(Self {
            kind: "pocketbase",
            base: pb.address.clone(),
            http,
            admin,
            tokens: Vec::new(),
            _hearth: None,
            _pocketbase: Some(pb),
        })
    }

    /// The token of a caller of the world: "guest" (none), "superuser", or a user's name.
    pub fn token(&self, caller: &str) -> Option<String> {
        match caller {
            "guest" => None,
            "superuser" => Some(self.admin.clone()),
            name => self
                .tokens
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t.clone()),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn admin_call(&self, method: Method, path: &str, body: Value) -> Value {
        let admin = self.admin.clone();
        let (status, answer) = self.call(method, path, Some(body), Some(&admin)).await;
        assert!(
            status < 300,
            "{}: {path} answered {status}: {answer}",
            self.kind
        );
        answer
    }

    /// A list of `collection` filtered by `filter` as `caller`: the status and, on success,
    /// the ids of the items (sorted).
    pub async fn list_ids(
        &self,
        collection: &str,
        filter: &str,
        caller: &str,
    ) -> (u16, Vec<String>) {
        let path = format!(
            "/api/collections/{collection}/records?perPage=500&skipTotal=1&filter={}",
            url_encode(filter)
        );
        let (status, body) = self
            .call(Method::GET, &path, None, self.token(caller).as_deref())
            .await;
        (status, ids(&body))
    }
}

pub fn ids(body: &Value) -> Vec<String> {
    let mut ids: Vec<String> = body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn text(name: &str) -> Value {
    json!({"name": name, "type": "text"})
}

fn relation(name: &str, collection_id: &str) -> Value {
    json!({"name": name, "type": "relation", "collectionId": collection_id, "maxSelect": 1})
}

/// A value that differs between the base world and `changed`.
fn pick(variant: Variant, changed: Variant, base: Value, other: Value) -> Value {
    if variant == changed { other } else { base }
}

/// Builds the world on `server` and signs its users in.
pub async fn build(server: &mut Server, variant: Variant) {
    use Method as M;
    let users = "_pb_users_auth_";
    let owner_rule = "id = @request.auth.id";
    server
        .admin_call(
            M::PATCH,
            "/api/collections/users",
            json!({"listRule": owner_rule, "viewRule": owner_rule}),
        )
        .await;
    let collections = [
        json!({"name": "secrets", "type": "base", "listRule": null, "viewRule": null,
            "fields": [text("code"), relation("owner", users)]}),
        json!({"name": "posts", "type": "base",
            "listRule": "owner = @request.auth.id", "viewRule": "owner = @request.auth.id",
            "fields": [text("title"), relation("owner", users), relation("secret", "secrets"),
                {"name": "labels", "type": "select", "values": ["x", "y", "z"], "maxSelect": 3},
                {"name": "meta", "type": "json"}]}),
        json!({"name": "members", "type": "base", "listRule": null, "viewRule": null,
            "fields": [relation("user", users), text("team")]}),
        json!({"name": "docs", "type": "base",
            "listRule": "@collection.members.user ?= @request.auth.id",
            "viewRule": "@collection.members.user ?= @request.auth.id",
            "fields": [text("title"), text("team")]}),
        json!({"name": "replies", "type": "base",
            "listRule": "post.owner = @request.auth.id", "viewRule": "post.owner = @request.auth.id",
            "fields": [text("text"), relation("post", "posts")]}),
        json!({"name": "comments", "type": "base", "listRule": "", "viewRule": "",
            "createRule": "", "updateRule": "author = @request.auth.id",
            "fields": [text("body"), relation("author", users), relation("post", "posts"),
                relation("doc", "docs"), relation("reply", "replies")]}),
    ];
    for mut definition in collections {
        // Relations name their target by name here; both servers want its id.
        if let Some(fields) = definition["fields"].as_array_mut() {
            for field in fields {
                let Some(target) = field["collectionId"].as_str().map(str::to_owned) else {
                    continue;
                };
                if target == users {
                    continue;
                }
                let admin = server.admin.clone();
                let path = format!("/api/collections/{target}");
                let (_, c) = server.call(M::GET, &path, None, Some(&admin)).await;
                field["collectionId"] = c["id"].clone();
            }
        }
        server
            .admin_call(M::POST, "/api/collections", definition)
            .await;
    }
    let bob_private = |base: Value, other: Value| pick(variant, Variant::BobPrivate, base, other);
    let members_only = |base: Value, other: Value| pick(variant, Variant::MembersOnly, base, other);
    let records: Vec<(&str, Value)> = vec![
        (
            "users",
            json!({"id": ALICE, "email": "alice@example.com", "name": "Alice",
            "emailVisibility": false, "verified": true}),
        ),
        (
            "users",
            json!({"id": BOB, "email": bob_private(json!("bob@example.com"), json!("robert@example.net")),
            "name": bob_private(json!("Bob"), json!("Robert")), "emailVisibility": true,
            "verified": bob_private(json!(false), json!(true))}),
        ),
        (
            "users",
            json!({"id": CAROL, "email": "carol@example.com", "name": "Carol",
            "emailVisibility": true, "verified": false}),
        ),
        (
            "secrets",
            json!({"id": "secretalice0001", "code": "alpha-code", "owner": ALICE}),
        ),
        (
            "secrets",
            json!({"id": "secretbob000001", "owner": BOB,
            "code": bob_private(json!("bravo-code"), json!("other-code"))}),
        ),
        (
            "posts",
            json!({"id": "postalice000001", "title": "alpha post", "owner": ALICE,
            "secret": "secretalice0001", "labels": ["x"], "meta": {"k": "va"}}),
        ),
        (
            "posts",
            json!({"id": "postbob00000001", "owner": BOB, "secret": "secretbob000001",
            "title": bob_private(json!("bravo post"), json!("hidden post")),
            "labels": bob_private(json!(["y"]), json!(["y", "z"])),
            "meta": bob_private(json!({"k": "vb"}), json!({"k": "zz"}))}),
        ),
        (
            "members",
            json!({"id": "memberalice0001", "user": ALICE, "team": "red"}),
        ),
        (
            "docs",
            json!({"id": "docred000000001", "title": "red doc", "team": "red"}),
        ),
        (
            "docs",
            json!({"id": "docblue00000001",
            "title": members_only(json!("blue doc"), json!("green doc")),
            "team": members_only(json!("blue"), json!("green"))}),
        ),
        (
            "replies",
            json!({"id": "replyalice00001", "text": "alpha reply", "post": "postalice000001"}),
        ),
        (
            "replies",
            json!({"id": "replybob0000001", "post": "postbob00000001",
            "text": bob_private(json!("bravo reply"), json!("secret reply"))}),
        ),
        (
            "comments",
            json!({"id": "commentalice001", "body": "hello", "author": ALICE,
            "post": "postalice000001", "doc": "docred000000001", "reply": "replyalice00001"}),
        ),
        (
            "comments",
            json!({"id": "commentbob00001", "body": "hi", "author": BOB,
            "post": "postbob00000001", "doc": "docblue00000001", "reply": "replybob0000001"}),
        ),
        (
            "comments",
            json!({"id": "commentnone0001", "body": "orphan"}),
        ),
    ];
    for (collection, mut record) in records {
        if collection == "users" {
            record["password"] = json!(PASSWORD);
            record["passwordConfirm"] = json!(PASSWORD);
        }
        server
            .admin_call(
                M::POST,
                &format!("/api/collections/{collection}/records"),
                record,
            )
            .await;
    }
    for (name, email) in [
        ("alice", "alice@example.com".to_owned()),
        (
            "bob",
            if variant == Variant::BobPrivate {
                "robert@example.net".to_owned()
            } else {
                "bob@example.com".to_owned()
            },
        ),
        ("carol", "carol@example.com".to_owned()),
    ] {
        let (status, body) = server
            .call(
                M::POST,
                "/api/collections/users/auth-with-password",
                Some(json!({"identity": email, "password": PASSWORD})),
                None,
            )
            .await;
        assert_eq!(status, 200, "{}: sign-in of {name}: {body}", server.kind);
        let token = body["token"].as_str().unwrap().to_owned();
        server.tokens.push((name, token));
    }
}

/// Every caller the matrix asks as.
pub const CALLERS: [&str; 5] = ["guest", "alice", "bob", "carol", "superuser"];

/// A fresh server of the kind `kind` ("hearth" or "pocketbase") holding `variant`'s world.
pub async fn world(kind: &str, variant: Variant) -> Option<Server> {
    let mut server = if kind == "hearth" {
        Server::hearth().await
    } else {
        Server::pocketbase().await?
    };
    build(&mut server, variant).await;
    Some(server)
}
