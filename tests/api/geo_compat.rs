//! `geoPoint` fields and `geoDistance()` side by side with the real PocketBase 0.40.6: the
//! same collections, records and requests on both, the answers compared whole (ids, times
//! and random names normalised). The collections' meta routes: `collections_meta_compat.rs`.

use std::collections::HashMap;

use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::compat::{PocketBase, assert_same, pocketbase_bin, start_pocketbase};
use crate::compat_scenarios::normalize;
use crate::files::{Server, answer};
use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Sse, TestApp, spawn_app, superuser_token_at, url_encode,
};

/// A fresh PocketBase and a fresh hearth, each with a signed-in superuser; None (the test
/// passes) only when `HEARTH_SKIP` names PocketBase.
pub(crate) async fn both() -> Option<(PocketBase, TestApp, [Server; 2])> {
    let bin = pocketbase_bin()?;
    let pb = start_pocketbase(&bin).await;
    let app = spawn_app().await;
    app.create_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let servers = [server(&pb.address).await, server(&app.address).await];
    Some((pb, app, servers))
}

/// A signed-in superuser whose client opens a connection per request: one server waits
/// idle while the other runs its steps, and a kept-alive connection it closed meanwhile
/// would fail the next request.
async fn server(base: &str) -> Server {
    let client = crate::helpers::client_builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    Server {
        base: base.to_owned(),
        token: superuser_token_at(&client, base).await,
        client,
    }
}

pub(crate) type Outcomes = Vec<(String, Value)>;

/// Random parts of an answer that differ by design: a view field copy's `_clone_xxxx` id,
/// the dry run's `temp_view_xxxxx` and its id, a scaffold's random index suffix.
fn scrub(v: &Value) -> Value {
    let patterns = [
        (r"_clone_[A-Za-z0-9]{4}", "_clone_<r>"),
        (r"temp_view_[A-Za-z0-9]{5}", "temp_view_<r>"),
        (r"^pbc_\d+$", "pbc_<n>"),
        (r"(idx_\w+?)_[a-z0-9]{10}`", "${1}_<r>`"),
    ];
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), scrub(v))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(scrub).collect()),
        Value::String(s) => {
            let mut s = s.clone();
            for (pattern, to) in patterns {
                s = regex::Regex::new(pattern)
                    .unwrap()
                    .replace_all(&s, to)
                    .into_owned();
            }
            Value::String(s)
        }
        other => other.clone(),
    }
}

pub(crate) fn seen(status: u16, body: &Value) -> Value {
    json!([status, scrub(&normalize(body, &HashMap::new()))])
}

pub(crate) async fn call(
    server: &Server,
    method: Method,
    path: &str,
    body: Option<Value>,
    admin: bool,
) -> Value {
    let mut req = server.client.request(method, server.url(path));
    if let Some(body) = body {
        req = req.json(&body);
    }
    if admin {
        req = req.header("Authorization", &server.token);
    }
    let (status, body) = answer(req.send().await.unwrap()).await;
    seen(status, &body)
}

pub(crate) async fn create_collection(server: &Server, def: Value) -> Value {
    let (status, body) = server
        .send_json(Method::POST, "/api/collections", def, true)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

pub(crate) fn places() -> Value {
    json!({
        "name": "places",
        "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "loc", "type": "geoPoint", "help": "where it is"},
            {"name": "must", "type": "geoPoint", "required": true, "presentable": true},
        ]
    })
}

pub(crate) const PLACES: &str = "/api/collections/places/records";

/// The collection definition, then records created and changed with point values in JSON,
/// multipart and urlencoded bodies, good and bad, read back whole and through `fields`.
async fn point_steps(server: &Server) -> Outcomes {
    let mut out = Outcomes::new();
    let created = create_collection(server, places()).await;
    out.push(("collection".into(), seen(200, &created)));
    let must = json!({"lon": 1, "lat": 1});
    // Only values PocketBase answers one way: it reads a body object's members in a
    // random order, so an object with one bad member has two possible answers there.
    let json_bodies = [
        json!({"title": "object", "loc": {"lon": 10.5, "lat": -3.25}}),
        json!({"title": "omitted"}),
        json!({"title": "null", "loc": null}),
        json!({"title": "text", "loc": r#"{"lon":1.5,"lat":-2}"#}),
        json!({"title": "text with junk after", "loc": r#"{"lon":1,"lat":2}x"#}),
        json!({"title": "text cut short", "loc": r#"{"lon":1,"lat":2"#}),
        json!({"title": "text bad second", "loc": r#"{"lat":6,"lon":"5"}"#}),
        json!({"title": "text repeated key", "loc": r#"{"lat":2,"x":1,"x":2,"lon":3}"#}),
        json!({"title": "text keys in capitals", "loc": r#"{"LON":7,"lat":8}"#}),
        json!({"title": "empty text", "loc": ""}),
        json!({"title": "word", "loc": "abc"}),
        json!({"title": "list", "loc": [1, 2]}),
        json!({"title": "number", "loc": 5}),
        json!({"title": "only lat", "loc": {"lat": 3}}),
        json!({"title": "extra key", "loc": {"lon": 1, "lat": 2, "alt": 9}}),
        json!({"title": "tiny", "loc": {"lon": 0, "lat": 0.0000001}}),
        json!({"title": "edges", "loc": {"lon": -180, "lat": 90}}),
        json!({"title": "lon out", "loc": {"lon": 180.0000001, "lat": 0}}),
        json!({"title": "lat out", "loc": {"lon": 0, "lat": -95}}),
        json!({"title": "both out", "loc": {"lon": 200, "lat": -95}}),
        json!({"title": "huge", "loc": {"lon": 12345678901234567890u64, "lat": 0}}),
        json!({"title": "digits", "loc": {"lon": 12.412950271627409, "lat": -85.65565728798403}}),
    ];
    for mut body in json_bodies {
        let label = format!("json {}", body["title"]);
        if body.get("must").is_none() {
            body["must"] = must.clone();
        }
        let v = call(server, Method::POST, PLACES, Some(body), false).await;
        out.push((label, v));
    }
    for (label, body) in [
        (
            "required zero",
            json!({"title": "z", "must": {"lon": 0, "lat": 0}}),
        ),
        ("required omitted", json!({"title": "z"})),
        (
            "required as text",
            json!({"title": "z", "must": r#"{"lon":0,"lat":1e-9}"#}),
        ),
    ] {
        let v = call(server, Method::POST, PLACES, Some(body), false).await;
        out.push((label.into(), v));
    }
    for (i, text) in [
        r#"{"lon":-70.25,"lat":45}"#,
        "",
        "null",
        "{bad",
        r#"{"lon":190}"#,
    ]
    .iter()
    .enumerate()
    {
        let form = Form::new()
            .text("title", format!("form {i}"))
            .text("loc", text.to_string())
            .text("must", r#"{"lon":2,"lat":2}"#);
        let (status, body) = server.send_form(Method::POST, PLACES, form, false).await;
        out.push((format!("multipart loc={text:?}"), seen(status, &body)));
    }
    for text in [r#"{"lon":3,"lat":4}"#, r#"{"lon":3,"lat":"4"}"#] {
        let res = server
            .client
            .post(server.url(PLACES))
            .form(&[
                ("title", "urlencoded"),
                ("loc", text),
                ("must", r#"{"lon":5,"lat":5}"#),
            ])
            .send()
            .await
            .unwrap();
        let (status, body) = answer(res).await;
        out.push((format!("urlencoded loc={text:?}"), seen(status, &body)));
    }
    let (_, first) = server
        .send_json(
            Method::POST,
            PLACES,
            json!({"title": "to change", "loc": {"lon": 7, "lat": 8}, "must": must}),
            false,
        )
        .await;
    let one = format!("{PLACES}/{}", first["id"].as_str().unwrap());
    for (label, body) in [
        ("update title keeps the point", json!({"title": "changed"})),
        ("update point", json!({"loc": {"lon": -7, "lat": -8}})),
        (
            "update point as text",
            json!({"loc": r#"{"lon":9,"lat":9}"#}),
        ),
        ("update out of range", json!({"loc": {"lon": 0, "lat": 91}})),
        ("update to null", json!({"loc": null})),
        ("update modifier key", json!({"loc+": {"lon": 1, "lat": 1}})),
    ] {
        let v = call(server, Method::PATCH, &one, Some(body), false).await;
        out.push((label.into(), v));
    }
    for query in [
        "?sort=title&perPage=100",
        "?sort=title&fields=title,loc.lon",
        "?filter=loc.lon%3E0%26%26loc.lat%3C0&sort=title&fields=title,loc",
        "?filter=loc.lat%3E0%26%26loc.lat%3C0.001&fields=title",
        "?filter=must.lon%3D5&fields=title,must",
    ] {
        let v = call(
            server,
            Method::GET,
            &format!("{PLACES}{query}"),
            None,
            false,
        )
        .await;
        out.push((format!("list {query}"), v));
    }
    let v = call(
        server,
        Method::GET,
        &format!("{one}?fields=loc"),
        None,
        false,
    )
    .await;
    out.push(("view".into(), v));
    out
}

#[tokio::test]
async fn geo_points_are_taken_and_answered_alike() {
    let Some((_pb, _app, [pb, hearth])) = both().await else {
        return;
    };
    let theirs = point_steps(&pb).await;
    let ours = point_steps(&hearth).await;
    assert_same(&ours, &theirs);
}

/// A point's coordinates, from a fixed sequence: whole degrees, a few decimals, full
/// precision, some repeated and one at {0, 0}.
fn points(n: usize) -> Vec<(f64, f64)> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = vec![(0.0, 0.0), (-3.25, 12.5), (-3.25, 12.5), (180.0, -90.0)];
    while out.len() < n {
        let (lon, lat) = (next() * 360.0 - 180.0, next() * 180.0 - 90.0);
        let point = match out.len() % 3 {
            0 => (lon.round(), lat.round()),
            1 => ((lon * 1e4).round() / 1e4, (lat * 1e4).round() / 1e4),
            _ => (lon, lat),
        };
        out.push(point);
    }
    out
}

/// `pts` filled with the same points (in batches), `offices` and `orgs` for relations, and
/// a view with PocketBase's distance SQL to read its numbers.
async fn distance_data(server: &Server) {
    let (status, body) = server
        .send_json(
            Method::PATCH,
            "/api/settings",
            json!({"batch": {"enabled": true, "maxRequests": 100}}),
            true,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    create_collection(
        server,
        json!({"name": "pts", "listRule": "", "fields": [
            {"name": "n", "type": "number"}, {"name": "loc", "type": "geoPoint"}]}),
    )
    .await;
    let all = points(600);
    for (chunk, start) in all.chunks(100).zip((0..).step_by(100)) {
        let requests: Vec<Value> = chunk
            .iter()
            .zip(start..)
            .map(|((lon, lat), n)| {
                json!({"method": "POST", "url": "/api/collections/pts/records",
                "body": {"n": n, "loc": {"lon": lon, "lat": lat}}})
            })
            .collect();
        let (status, body) = server
            .send_json(
                Method::POST,
                "/api/batch",
                json!({"requests": requests}),
                true,
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let formula = |lat_a: &str, lon_a: &str, lat_b: &str, lon_b: &str| {
        format!(
            "(6371 * acos(min(1, max(-1, cos(radians({lat_a})) * cos(radians({lat_b})) * \
             cos(radians({lon_b}) - radians({lon_a})) + sin(radians({lat_a})) * sin(radians({lat_b}))))))"
        )
    };
    let (lon, lat) = ("json_extract(loc, '$.lon')", "json_extract(loc, '$.lat')");
    let query = format!(
        "SELECT id, n, {} AS d, {} AS self FROM pts",
        formula(lat, lon, "12.5", "-3.25"),
        formula(lat, lon, lat, lon)
    );
    create_collection(
        server,
        json!({"name": "dists", "type": "view", "listRule": "", "viewQuery": query}),
    )
    .await;
    let offices = create_collection(
        server,
        json!({"name": "offices", "listRule": "", "viewRule": "", "fields": [
            {"name": "name", "type": "text"}, {"name": "loc", "type": "geoPoint"}]}),
    )
    .await;
    create_collection(
        server,
        json!({"name": "orgs", "listRule": "", "fields": [
            {"name": "name", "type": "text"},
            {"name": "offices", "type": "relation", "collectionId": offices["id"], "maxSelect": 5},
            {"name": "hq", "type": "relation", "collectionId": offices["id"], "maxSelect": 1}]}),
    )
    .await;
    let mut ids = HashMap::new();
    for (name, lon, lat) in [("o1", 1.0, 1.0), ("o2", 50.0, 50.0), ("o3", -120.5, 33.25)] {
        let (_, body) = server
            .send_json(
                Method::POST,
                "/api/collections/offices/records",
                json!({"name": name, "loc": {"lon": lon, "lat": lat}}),
                true,
            )
            .await;
        ids.insert(name, body["id"].clone());
    }
    for org in [
        json!({"name": "A", "offices": [ids["o1"], ids["o2"]], "hq": ids["o2"]}),
        json!({"name": "B", "offices": [ids["o2"]], "hq": ids["o3"]}),
    ] {
        let (status, body) = server
            .send_json(Method::POST, "/api/collections/orgs/records", org, true)
            .await;
        assert_eq!(status, 200, "{body}");
    }
}

/// Every page of a list, as `n` (or `name`) values in order, with the total.
async fn listed(server: &Server, collection: &str, query: &str, admin: bool) -> Value {
    let key = if collection == "orgs" { "name" } else { "n" };
    let path = format!("/api/collections/{collection}/records?perPage=1000&fields={key}{query}");
    let mut req = server.client.get(server.url(&path));
    if admin {
        req = req.header("Authorization", &server.token);
    }
    let (status, body) = answer(req.send().await.unwrap()).await;
    if status != 200 {
        // PocketBase words every filter it cannot compile as one generic error.
        return json!([status]);
    }
    let items: Vec<Value> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[key].clone())
        .collect();
    json!([status, body["totalItems"], items])
}

const DISTANCE_FILTERS: [&str; 16] = [
    "geoDistance(loc.lon, loc.lat, -3.25, 12.5) < 5000",
    "geoDistance(loc.lon,loc.lat,-3.25,12.5) > 15000",
    "geoDistance(loc.lon, loc.lat, loc.lon, loc.lat) < 0.00001",
    "geoDistance(loc.lon, loc.lat, loc.lon, loc.lat) > 0",
    "geoDistance(loc.lon, loc.lat, loc.lon, loc.lat) = null",
    "geoDistance(0, 0, loc.lon, loc.lat) <= 1000.5 || loc.lat > 89",
    "geoDistance(loc.lon, loc.lat, -3.25, 12.5) = 0",
    "geoDistance(loc.lon, loc.lat, 1, 2,) < 3000",
    "geoDistance(loc.lon, loc.lat, true, false) < 3000",
    "geoDistance(null, loc.lat, 1, 2) = null",
    "5000 > geoDistance(loc.lon, loc.lat, -3.25, 12.5) && n >= 100",
    "geoDistance(loc.lon, loc.lat, -3.25, 12.5) ?< 3000",
    "geoDistance(loc.lon, loc.lat, 1) < 5",
    "geoDistance(loc.lon, loc.lat, 1, '2') < 5",
    "nope(1) < 5",
    "geoDistance (loc.lon, loc.lat, 1, 2) < 5",
];

async fn distance_steps(server: &Server) -> Outcomes {
    distance_data(server).await;
    let mut out = Outcomes::new();
    // The distances themselves, to the last bit: a view with PocketBase's SQL.
    let dists = listed_view(server).await;
    out.push(("the view's distances".into(), dists));
    for filter in DISTANCE_FILTERS {
        for sort in ["n", "-n"] {
            let query = format!("&sort={sort}&filter={}", url_encode(filter));
            out.push((
                format!("{filter} sorted {sort}"),
                listed(server, "pts", &query, false).await,
            ));
        }
    }
    let query = "&sort=n&x=-3.25&y=12.5&filter=";
    let filter =
        url_encode("geoDistance(loc.lon, loc.lat, @request.query.x, @request.query.y) < 3000");
    out.push((
        "request values as a superuser".into(),
        listed(server, "pts", &format!("{query}{filter}"), true).await,
    ));
    out.push((
        "sort by a distance".into(),
        listed(
            server,
            "pts",
            &format!(
                "&sort={}",
                url_encode("geoDistance(loc.lon, loc.lat, 1, 2)")
            ),
            false,
        )
        .await,
    ));
    for filter in [
        "geoDistance(offices.loc.lon, offices.loc.lat, 0, 0) < 500",
        "geoDistance(offices.loc.lon, offices.loc.lat, 0, 0) > 500",
        // Each argument of one relation reads the same record: no pairing of one office's
        // longitude with another's latitude.
        "geoDistance(offices.loc.lon, offices.loc.lat, 50, 1) < 10",
        "geoDistance(hq.loc.lon, hq.loc.lat, -120, 33) < 100",
        "geoDistance(hq.loc.lon, hq.loc.lat, offices.loc.lon, offices.loc.lat) < 1",
    ] {
        let query = format!("&sort=name&filter={}", url_encode(filter));
        out.push((filter.into(), listed(server, "orgs", &query, false).await));
    }
    let expand = "/api/collections/orgs/records?sort=name&expand=offices,hq\
                  &fields=name,expand.offices.loc,expand.hq.loc.lon";
    out.push((
        "expanded points".into(),
        call(server, Method::GET, expand, None, false).await,
    ));
    out
}

/// `n`, `d` and `self` of every row of the `dists` view.
async fn listed_view(server: &Server) -> Value {
    let res = server
        .get("/api/collections/dists/records?perPage=1000&sort=n&fields=n,d,self")
        .await;
    let (status, body) = answer(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totalItems"], 600);
    body["items"].clone()
}

#[tokio::test]
async fn geo_distance_filters_find_the_same_records() {
    let Some((_pb, _app, [pb, hearth])) = both().await else {
        return;
    };
    let theirs = distance_steps(&pb).await;
    let ours = distance_steps(&hearth).await;
    assert_same(&ours, &theirs);
}

/// A geoPoint in rules: `@request.body.loc.lon` in a create rule (any body encoding), a
/// list rule by distance to the signed-in user's home, which a client's own filters (on
/// the collection, through a relation to it, in a realtime subscription) cannot widen.
async fn rule_steps(server: &Server) -> Outcomes {
    let mut out = Outcomes::new();
    create_collection(
        server,
        json!({"name": "users_home", "type": "auth", "listRule": "id = @request.auth.id",
               "fields": [{"name": "home", "type": "geoPoint"}]}),
    )
    .await;
    let zones = create_collection(
        server,
        json!({
            "name": "zones",
            "listRule": "@request.auth.id != '' && geoDistance(loc.lon, loc.lat, @request.auth.home.lon, @request.auth.home.lat) < 1000",
            "viewRule": "@request.auth.id != '' && geoDistance(loc.lon, loc.lat, @request.auth.home.lon, @request.auth.home.lat) < 1000",
            "createRule": "geoDistance(@request.body.loc.lon, @request.body.loc.lat, 0, 0) < 500 || @request.body.title = 'any'",
            "fields": [{"name": "title", "type": "text"}, {"name": "loc", "type": "geoPoint", "required": true}]
        }),
    )
    .await;
    create_collection(
        server,
        json!({"name": "spots", "listRule": "", "fields": [
            {"name": "label", "type": "text"},
            {"name": "zone", "type": "relation", "collectionId": zones["id"], "maxSelect": 1}]}),
    )
    .await;
    let zone_records = "/api/collections/zones/records";
    for body in [
        json!({"title": "near", "loc": {"lon": 1, "lat": 1}}),
        json!({"title": "far", "loc": {"lon": 50, "lat": 1}}),
        json!({"title": "any", "loc": {"lon": 60, "lat": 1}}),
        json!({"title": "text", "loc": r#"{"lon":2,"lat":1}"#}),
    ] {
        let label = format!("create {}", body["title"]);
        out.push((
            label,
            call(server, Method::POST, zone_records, Some(body), false).await,
        ));
    }
    let form = Form::new()
        .text("title", "form")
        .text("loc", r#"{"lon":1,"lat":2}"#);
    let (status, body) = server
        .send_form(Method::POST, zone_records, form, false)
        .await;
    out.push(("create by multipart".into(), seen(status, &body)));
    let res = server
        .client
        .post(server.url(zone_records))
        .form(&[("title", "far form"), ("loc", r#"{"lon":40,"lat":40}"#)])
        .send()
        .await
        .unwrap();
    let (status, body) = answer(res).await;
    out.push(("create far by urlencoded".into(), seen(status, &body)));
    let (_, far) = server
        .send_json(
            Method::POST,
            zone_records,
            json!({"title": "far away", "loc": {"lon": 100, "lat": 45}}),
            true,
        )
        .await;
    let far_id = far["id"].as_str().unwrap().to_owned();
    for spot in [json!({"label": "to far", "zone": far_id})] {
        server
            .send_json(Method::POST, "/api/collections/spots/records", spot, true)
            .await;
    }
    let (_, user) = server
        .send_json(
            Method::POST,
            "/api/collections/users_home/records",
            json!({"email": "home@example.com", "password": "a-long-password", "passwordConfirm": "a-long-password", "home": {"lon": 0, "lat": 0}}),
            true,
        )
        .await;
    assert!(user["id"].is_string(), "{user}");
    let (_, signed) = server
        .send_json(
            Method::POST,
            "/api/collections/users_home/auth-with-password",
            json!({"identity": "home@example.com", "password": "a-long-password"}),
            false,
        )
        .await;
    let token = signed["token"].as_str().unwrap().to_owned();
    let as_user = async |path: &str| {
        let res = server
            .client
            .get(server.url(path))
            .header("Authorization", &token)
            .send()
            .await
            .unwrap();
        let (status, body) = answer(res).await;
        seen(status, &body)
    };
    for filter in [
        "",
        "geoDistance(loc.lon, loc.lat, 100, 45) < 10",
        "geoDistance(loc.lon, loc.lat, 0, 0) > 1000",
        "title = 'far away'",
    ] {
        let path = format!(
            "{zone_records}?sort=title&fields=title,loc&filter={}",
            url_encode(filter)
        );
        out.push((format!("user lists {filter:?}"), as_user(&path).await));
    }
    out.push((
        "user views a far record".into(),
        as_user(&format!("{zone_records}/{far_id}")).await,
    ));
    let through = url_encode("geoDistance(zone.loc.lon, zone.loc.lat, 100, 45) < 10");
    out.push((
        "user filters spots through the relation".into(),
        as_user(&format!(
            "/api/collections/spots/records?fields=label&filter={through}"
        ))
        .await,
    ));
    out.push((
        "guest lists".into(),
        call(server, Method::GET, zone_records, None, false).await,
    ));
    // Realtime: the user subscribes with a distance filter; only what the rule lets them
    // list arrives.
    let mut sse = Sse::connect(&server.base).await;
    let topic = r#"zones/*?options={"query":{"filter":"geoDistance(loc.lon, loc.lat, 0, 0) < 800 || title = 'x'"}}"#;
    let res = server
        .client
        .post(server.url("/api/realtime"))
        .header("Authorization", &token)
        .json(&json!({"clientId": sse.client_id, "subscriptions": [topic]}))
        .send()
        .await
        .unwrap();
    out.push(("subscribe".into(), json!(res.status().as_u16())));
    for body in [
        json!({"title": "x", "loc": {"lon": 120, "lat": 10}}),
        json!({"title": "y", "loc": {"lon": 3, "lat": 3}}),
        json!({"title": "x", "loc": {"lon": 0.5, "lat": 0.5}}),
    ] {
        server
            .send_json(Method::POST, zone_records, body, true)
            .await;
    }
    let mut events = Vec::new();
    while let Some(e) = sse.next_within(std::time::Duration::from_millis(700)).await {
        let record = &e.json()["record"];
        events.push(json!([record["title"], record["loc"]]));
    }
    out.push(("realtime events".into(), json!(events)));
    out
}

#[tokio::test]
async fn geo_distance_in_rules_reads_nothing_the_rule_forbids() {
    let Some((_pb, _app, [pb, hearth])) = both().await else {
        return;
    };
    let theirs = rule_steps(&pb).await;
    let ours = rule_steps(&hearth).await;
    assert_same(&ours, &theirs);
    // What the steps show, said plainly: the user, at home at {0, 0}, saw only records
    // within 1000 km, whatever they asked.
    let listed = &ours
        .iter()
        .find(|(l, _)| l == "user lists \"geoDistance(loc.lon, loc.lat, 100, 45) < 10\"")
        .unwrap()
        .1;
    assert_eq!(listed[1]["totalItems"], 0, "{listed}");
    let events = &ours.last().unwrap().1;
    assert_eq!(events.as_array().map(Vec::len), Some(2), "{events}");
}
