//! The access-control matrix: for each kind of rule on a joined collection (`null`, `""`,
//! an owner expression, a relation-based one, an `@collection`-based one) and each way a
//! filter reaches it (relation path, nested path, back-relation, JSON path, `:each`,
//! `:length`, `@collection`), as guest, owner, other user and superuser: a hit and a miss
//! filter answer alike whenever the caller cannot read the value itself, and hearth answers
//! exactly as PocketBase does.

use reqwest::Method;
use serde_json::Value;

use super::world::{ALICE, BOB, CALLERS, Server, Variant, world};

/// A filter on `comments` whose truth for `source` depends on one value of one record.
struct Probe {
    path: &'static str,
    /// The comment whose relations lead to the value.
    source: &'static str,
    /// The record holding the value, and the field it sits in.
    target: (&'static str, &'static str),
    field: &'static str,
    /// The value in the base world.
    value: &'static str,
}

fn probe(
    path: &'static str,
    source: &'static str,
    target: (&'static str, &'static str),
    field: &'static str,
    value: &'static str,
) -> Probe {
    Probe {
        path,
        source,
        target,
        field,
        value,
    }
}

fn probes() -> Vec<Probe> {
    let (ca, cb) = ("commentalice001", "commentbob00001");
    let (pa, pb) = (("posts", "postalice000001"), ("posts", "postbob00000001"));
    vec![
        // Owner rule (`id = @request.auth.id`) on users, through a relation.
        probe("author.name", ca, ("users", ALICE), "name", "Alice"),
        probe("author.name", cb, ("users", BOB), "name", "Bob"),
        // A public email (bob) and a private one (alice).
        probe(
            "author.email",
            cb,
            ("users", BOB),
            "email",
            "bob@example.com",
        ),
        probe(
            "author.email",
            ca,
            ("users", ALICE),
            "email",
            "alice@example.com",
        ),
        // Owner rule on posts: plain, JSON path, `:each` on a multi-select.
        probe("post.title", ca, pa, "title", "alpha post"),
        probe("post.title", cb, pb, "title", "bravo post"),
        probe("post.meta.k", cb, pb, "meta", "vb"),
        probe("post.labels:each", cb, pb, "labels", "y"),
        // A back-relation from the author to their posts.
        probe(
            "author.posts_via_owner.title",
            cb,
            pb,
            "title",
            "bravo post",
        ),
        probe(
            "author.posts_via_owner.title",
            ca,
            pa,
            "title",
            "alpha post",
        ),
        // A rule through `@collection` (team members only).
        probe(
            "doc.title",
            "commentbob00001",
            ("docs", "docblue00000001"),
            "title",
            "blue doc",
        ),
        // A relation-based rule (`post.owner = @request.auth.id`).
        probe(
            "reply.text",
            cb,
            ("replies", "replybob0000001"),
            "text",
            "bravo reply",
        ),
        // Two hops: the post's owner.
        probe("post.owner.name", cb, ("users", BOB), "name", "Bob"),
    ]
}

/// Whether `caller` can read `field` of the record directly (a list of its collection).
async fn readable(
    server: &Server,
    caller: &str,
    (collection, id): (&str, &str),
    field: &str,
) -> bool {
    let path = format!("/api/collections/{collection}/records/{id}");
    let (status, body) = server
        .call(Method::GET, &path, None, server.token(caller).as_deref())
        .await;
    status == 200 && !matches!(body.get(field), None | Some(Value::Null))
}

/// Status and matching ids of the hit and the miss filter for a probe.
async fn answers(server: &Server, p: &Probe, caller: &str) -> [(u16, Vec<String>); 2] {
    let hit = format!("{} = '{}' && id = '{}'", p.path, p.value, p.source);
    let miss = format!("{} = '{}-miss' && id = '{}'", p.path, p.value, p.source);
    [
        server.list_ids("comments", &hit, caller).await,
        server.list_ids("comments", &miss, caller).await,
    ]
}

async fn check_oracle(server: &Server) -> Vec<String> {
    let mut failures = Vec::new();
    for caller in CALLERS {
        for p in probes() {
            let [hit, miss] = answers(server, &p, caller).await;
            let can_read = readable(server, caller, p.target, p.field).await
                && (p.path != "post.owner.name"
                    || readable(server, caller, ("posts", "postbob00000001"), "title").await);
            if !can_read && hit != miss {
                failures.push(format!(
                    "{}: {caller} learns {} of {:?} through a filter it cannot read: hit {hit:?}, miss {miss:?}",
                    server.kind, p.path, p.target
                ));
            }
            let private_email = p.path == "author.email" && p.target.1 == ALICE;
            if can_read && !private_email && caller != "superuser" && hit.1.is_empty() {
                failures.push(format!(
                    "{}: {caller} can read {} of {:?} but its filter matches nothing ({hit:?})",
                    server.kind, p.path, p.target
                ));
            }
        }
    }
    failures
}

#[tokio::test]
async fn a_filter_never_tells_more_than_a_read() {
    let hearth = world("hearth", Variant::Base).await.unwrap();
    let failures = check_oracle(&hearth).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Filters that must be refused for everyone but superusers, with PocketBase's statuses.
fn refused() -> Vec<(&'static str, u16)> {
    vec![
        ("@collection.secrets.code ?= 'alpha-code'", 403),
        ("@collection._superusers.email ?~ 'admin'", 403),
        ("@collection.users.email ?~ 'bob'", 403),
        ("@request.auth.id != ''", 403),
        // A collection nobody but superusers may list cannot be joined at all.
        ("post.secret.code = 'alpha-code'", 400),
        ("author.tokenKey != ''", 400),
        ("author.password != ''", 400),
    ]
}

#[tokio::test]
async fn superuser_only_names_are_refused_as_pocketbase_refuses_them() {
    let hearth = world("hearth", Variant::Base).await.unwrap();
    for (filter, status) in refused() {
        for caller in ["guest", "alice", "bob"] {
            let (got, items) = hearth.list_ids("comments", filter, caller).await;
            assert_eq!(got, status, "{caller}: {filter} answered {got} {items:?}");
        }
        let (got, _) = hearth.list_ids("comments", filter, "superuser").await;
        assert_eq!(got, 200, "superuser: {filter}");
    }
    let sort = "/api/collections/comments/records?sort=@request.auth.id";
    let (status, body) = hearth.call(Method::GET, sort, None, None).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["message"], "Only superusers can filter by @request.");
}

#[tokio::test]
async fn the_matrix_matches_pocketbase() {
    let Some(pocketbase) = world("pocketbase", Variant::Base).await else {
        return;
    };
    let hearth = world("hearth", Variant::Base).await.unwrap();
    let mut differences = Vec::new();
    for caller in CALLERS {
        for p in probes() {
            let ours = answers(&hearth, &p, caller).await;
            let theirs = answers(&pocketbase, &p, caller).await;
            if ours != theirs {
                differences.push(format!(
                    "{caller} {}: hearth {ours:?}, pocketbase {theirs:?}",
                    p.path
                ));
            }
        }
        for (filter, _) in refused() {
            let ours = hearth.list_ids("comments", filter, caller).await;
            let theirs = pocketbase.list_ids("comments", filter, caller).await;
            if ours != theirs {
                differences.push(format!(
                    "{caller} {filter}: hearth {ours:?}, pocketbase {theirs:?}"
                ));
            }
        }
    }
    let oracle = check_oracle(&pocketbase).await;
    assert!(
        differences.is_empty() && oracle.is_empty(),
        "{}\n{}",
        differences.join("\n"),
        oracle.join("\n")
    );
}
