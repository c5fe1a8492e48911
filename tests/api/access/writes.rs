//! Writes the rules must see whole: `@request.body.*` judges the value a modifier makes
//! (`roles+`, `+roles`, `roles-`, `credits+`), hidden fields are the superuser's to write,
//! and an auth record's email and `verified` change directly only for managers. Every
//! case is asked of hearth and, side by side, of PocketBase 0.40.6.

use reqwest::Method;
use serde_json::{Value, json};

use super::world::{ALICE, BOB, Server, Variant, world};

async fn wallets(server: &Server) {
    let rule = "owner = @request.auth.id && @request.body.roles:isset = false \
                && @request.body.credits:isset = false";
    server
        .admin_call(
            Method::POST,
            "/api/collections",
            json!({"name": "wallets", "type": "base",
                "listRule": "owner = @request.auth.id", "viewRule": "owner = @request.auth.id",
                "createRule": "owner = @request.auth.id && @request.body.roles:isset = false \
                               && (@request.body.credits:isset = false || @request.body.credits <= 10)",
                "updateRule": rule,
                "fields": [
                    {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
                    {"name": "roles", "type": "select", "values": ["user", "admin"], "maxSelect": 2},
                    {"name": "credits", "type": "number"},
                    {"name": "note", "type": "text"},
                    {"name": "internal", "type": "number", "hidden": true}
                ]}),
        )
        .await;
    server
        .admin_call(
            Method::POST,
            "/api/collections/wallets/records",
            json!({"id": "walletalice0001", "owner": ALICE, "roles": ["user"], "credits": 5}),
        )
        .await;
}

/// The world with wallets on hearth and, when it is installed, on PocketBase.
async fn with_wallets() -> (Server, Option<Server>) {
    let hearth = world("hearth", Variant::Base).await.unwrap();
    wallets(&hearth).await;
    let pocketbase = world("pocketbase", Variant::Base).await;
    if let Some(pb) = &pocketbase {
        wallets(pb).await;
    }
    (hearth, pocketbase)
}

/// One request and the status hearth must answer (PocketBase's).
struct Case {
    caller: &'static str,
    method: Method,
    path: &'static str,
    body: Value,
    status: u16,
}

fn case(
    caller: &'static str,
    method: Method,
    path: &'static str,
    body: Value,
    status: u16,
) -> Case {
    Case {
        caller,
        method,
        path,
        body,
        status,
    }
}

fn cases() -> Vec<Case> {
    use Method as M;
    let wallet = "/api/collections/wallets/records/walletalice0001";
    let wallets = "/api/collections/wallets/records";
    let alice = "/api/collections/users/records/alice0000000001";
    let users = "/api/collections/users/records";
    vec![
        case("alice", M::PATCH, wallet, json!({"roles": ["admin"]}), 404),
        case("alice", M::PATCH, wallet, json!({"roles+": "admin"}), 404),
        case("alice", M::PATCH, wallet, json!({"+roles": "admin"}), 404),
        case("alice", M::PATCH, wallet, json!({"roles-": "user"}), 404),
        case("alice", M::PATCH, wallet, json!({"credits+": 1000}), 404),
        case("alice", M::PATCH, wallet, json!({"credits-": 1}), 404),
        case("alice", M::PATCH, wallet, json!({"note": "fine"}), 200),
        // Hidden fields are not the caller's to write: dropped, as PocketBase drops them.
        case(
            "alice",
            M::PATCH,
            wallet,
            json!({"internal": 7, "internal+": 1}),
            200,
        ),
        case(
            "alice",
            M::POST,
            wallets,
            json!({"owner": ALICE, "roles+": "admin"}),
            400,
        ),
        case(
            "alice",
            M::POST,
            wallets,
            json!({"owner": ALICE, "credits+": 50}),
            400,
        ),
        case(
            "alice",
            M::POST,
            wallets,
            json!({"owner": ALICE, "credits+": 5}),
            200,
        ),
        // Email and verified: only managers change them directly.
        case(
            "alice",
            M::PATCH,
            alice,
            json!({"email": "ceo@victimcorp.com"}),
            400,
        ),
        case("alice", M::PATCH, alice, json!({"verified": false}), 400),
        case("alice", M::PATCH, alice, json!({"verified": true}), 200),
        case(
            "alice",
            M::PATCH,
            alice,
            json!({"email": "alice@example.com"}),
            200,
        ),
        case("alice", M::PATCH, alice, json!({"name": "Alice A."}), 200),
        case(
            "guest",
            M::POST,
            users,
            json!({"email": "eve@example.com", "password": "correct-horse-1",
                "passwordConfirm": "correct-horse-1", "verified": true}),
            400,
        ),
        case(
            "superuser",
            M::PATCH,
            alice,
            json!({"email": "alice2@example.com", "verified": false}),
            200,
        ),
    ]
}

/// The status, and the error codes by field for a 400.
async fn ask(server: &Server, c: &Case) -> (u16, Value) {
    let (status, body) = server
        .call(
            c.method.clone(),
            c.path,
            Some(c.body.clone()),
            server.token(c.caller).as_deref(),
        )
        .await;
    let codes: serde_json::Map<String, Value> = body["data"]
        .as_object()
        .filter(|_| status == 400)
        .map(|data| {
            data.iter()
                .map(|(k, v)| (k.clone(), v["code"].clone()))
                .collect()
        })
        .unwrap_or_default();
    (status, Value::Object(codes))
}

async fn stored(server: &Server) -> Value {
    let admin = server.admin.clone();
    let path = "/api/collections/wallets/records/walletalice0001";
    server.call(Method::GET, path, None, Some(&admin)).await.1
}

#[tokio::test]
async fn modifiers_and_protected_fields_pass_the_rules_as_in_pocketbase() {
    let (hearth, pocketbase) = with_wallets().await;
    let mut failures = Vec::new();
    for c in cases() {
        let (status, codes) = ask(&hearth, &c).await;
        if status != c.status {
            failures.push(format!(
                "hearth: {} {} {} {}: {status} {codes}, wanted {}",
                c.caller, c.method, c.path, c.body, c.status
            ));
        }
        if let Some(pb) = &pocketbase {
            let theirs = ask(pb, &c).await;
            if theirs != (status, codes.clone()) {
                failures.push(format!(
                    "{} {} {}: hearth {status} {codes}, pocketbase {theirs:?}",
                    c.caller, c.method, c.body
                ));
            }
        }
    }
    let wallet = stored(&hearth).await;
    assert_eq!(wallet["roles"], json!(["user"]), "{wallet}");
    assert_eq!(wallet["credits"], json!(5), "{wallet}");
    // Hidden fields stay out of answers; a superuser's filter still reads them.
    let untouched = "internal = 0 && id = 'walletalice0001'";
    let (_, found) = hearth.list_ids("wallets", untouched, "superuser").await;
    assert_eq!(found, ["walletalice0001"], "{wallet}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn a_changed_email_signs_nobody_in_and_keeps_its_owner() {
    let hearth = world("hearth", Variant::Base).await.unwrap();
    let alice = hearth.token("alice");
    let path = format!("/api/collections/users/records/{ALICE}");
    let (status, body) = hearth
        .call(
            Method::PATCH,
            &path,
            Some(json!({"email": "bob@example.com"})),
            alice.as_deref(),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (_, me) = hearth
        .call(Method::GET, &path, None, alice.as_deref())
        .await;
    assert_eq!(me["email"], "alice@example.com");
    // Another user's record stays out of reach whatever the body says.
    let bob = format!("/api/collections/users/records/{BOB}");
    let (status, _) = hearth
        .call(
            Method::PATCH,
            &bob,
            Some(json!({"email": "x@example.com"})),
            alice.as_deref(),
        )
        .await;
    assert_eq!(status, 404);
}

/// A batch's status for one sub-request, as `caller`.
async fn batch(server: &Server, caller: &str, method: &str, url: &str, body: Value) -> u16 {
    let admin = server.admin.clone();
    let settings = json!({"batch": {"enabled": true, "maxRequests": 50, "timeout": 3}});
    let (status, _) = server
        .call(Method::PATCH, "/api/settings", Some(settings), Some(&admin))
        .await;
    assert_eq!(status, 200);
    let requests = json!({"requests": [{"method": method, "url": url, "body": body}]});
    server
        .call(
            Method::POST,
            "/api/batch",
            Some(requests),
            server.token(caller).as_deref(),
        )
        .await
        .0
}

#[tokio::test]
async fn batch_sub_requests_pass_the_same_rules() {
    let (hearth, pocketbase) = with_wallets().await;
    let wallet = "/api/collections/wallets/records/walletalice0001";
    let alice = "/api/collections/users/records/alice0000000001";
    let cases = [
        ("PATCH", wallet, json!({"roles+": "admin"}), 400),
        ("PATCH", wallet, json!({"credits+": 1000}), 400),
        ("PATCH", alice, json!({"email": "ceo@victimcorp.com"}), 400),
        ("PATCH", wallet, json!({"note": "batched"}), 200),
    ];
    for (method, url, body, want) in cases {
        let ours = batch(&hearth, "alice", method, url, body.clone()).await;
        assert_eq!(ours, want, "hearth: batch {method} {url} {body}");
        if let Some(pb) = &pocketbase {
            let theirs = batch(pb, "alice", method, url, body.clone()).await;
            assert_eq!(
                ours, theirs,
                "batch {method} {url} {body}: hearth vs pocketbase"
            );
        }
    }
    let stored = stored(&hearth).await;
    assert_eq!(stored["roles"], json!(["user"]));
    assert_eq!(stored["credits"], json!(5));
}
