//! `routerUse` middlewares around the built-in routes (and 404s), as PocketBase runs them
//! around every request: the same hooks file on hearth and PocketBase 0.40.6 answers the
//! same statuses, headers and refusals, and a route's body still reaches it.

use serde_json::{Value, json};

use crate::compat::{assert_same, pocketbase_bin, start_pocketbase_with_hooks};
use crate::helpers::{client, hooks_folder, superuser_token_at};

const USE: &str = r#"
routerUse((e) => {
  if (e.request.header.get("X-Block") === "1") throw new ForbiddenError("Blocked by a middleware.");
  if (e.request.url.path === "/api/answered") return e.json(202, { by: "middleware" });
  e.response.header().set("X-Seen-By", "global");
  e.next();
  e.response.header().set("X-After", "yes");
});
"#;

async fn scenario(base: &str) -> Vec<(String, Value)> {
    let http = client();
    let token = superuser_token_at(&http, base).await;
    let res = http
        .post(format!("{base}/api/collections"))
        .header("Authorization", &token)
        .json(&json!({"name": "notes", "createRule": "", "fields": [{"name": "title", "type": "text"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut out = Vec::new();
    let cases: [(&str, reqwest::Method, &str, Option<Value>, bool); 6] = [
        ("health", reqwest::Method::GET, "/api/health", None, false),
        ("blocked", reqwest::Method::GET, "/api/health", None, true),
        (
            "answered",
            reqwest::Method::GET,
            "/api/answered",
            None,
            false,
        ),
        (
            "list",
            reqwest::Method::GET,
            "/api/collections/users/records",
            None,
            false,
        ),
        ("missing", reqwest::Method::GET, "/api/nope", None, false),
        (
            "create",
            reqwest::Method::POST,
            "/api/collections/notes/records",
            Some(json!({"title": "through"})),
            false,
        ),
    ];
    for (label, method, path, body, block) in cases {
        let mut req = http.request(method, format!("{base}{path}"));
        if block {
            req = req.header("X-Block", "1");
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let (seen, after) = (header("x-seen-by"), header("x-after"));
        let body: Value = res.json().await.unwrap_or(Value::Null);
        let shown = match label {
            "create" => body["title"].clone(),
            "health" | "list" => Value::Null,
            _ => body,
        };
        out.push((label.to_owned(), json!([status, seen, after, shown])));
    }
    out
}

#[tokio::test]
async fn router_use_wraps_built_in_routes_as_on_pocketbase() {
    let dir = hooks_folder(&[("use.pb.js", USE)]);
    let app = crate::helpers::spawn_app_with_hooks_and_superuser(dir.path()).await;
    let ours = scenario(&app.address).await;
    let find = |label: &str| crate::compat::outcome(&ours, label);
    assert_eq!(
        find("health"),
        json!([200, "global", "", null]),
        "set after next: too late"
    );
    assert_eq!(find("blocked")[0], 403);
    assert_eq!(find("answered")[0], 202, "{:?}", find("answered"));
    assert_eq!(find("create")[3], "through", "the body reached the route");

    let Some(bin) = pocketbase_bin() else {
        return;
    };
    let pb = start_pocketbase_with_hooks(&bin, &[("use.pb.js", USE)]).await;
    let theirs = scenario(&pb.address).await;
    assert_same(&ours, &theirs);
}
