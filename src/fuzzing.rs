//! Harnesses for the fuzz targets in `fuzz/` (run by `cargo fuzz`), kept in the library so
//! they compile with every change and the tests can run them too.

use std::sync::Arc;

use rusqlite::Connection;
use serde_json::{Map, Value, json};

use crate::filter::{self, RequestInfo};
use crate::records::input::{self, Action};
use crate::schema::{Collection, Snapshot};

/// `posts` with a field of every kind, and the `users` it relates to, as stored JSON.
fn collections() -> Vec<Collection> {
    let users = json!({
        "id": "_pb_users_auth_", "name": "users", "type": "base",
        "fields": [
            {"name": "id", "type": "text", "primaryKey": true, "system": true, "required": true, "pattern": "^[a-z0-9]+$", "autogeneratePattern": "[a-z0-9]{15}", "min": 15, "max": 15},
            {"name": "name", "type": "text"}
        ]
    });
    let posts = json!({
        "id": "pbc_posts", "name": "posts", "type": "base",
        "fields": [
            {"name": "id", "type": "text", "primaryKey": true, "system": true, "required": true, "pattern": "^[a-z0-9]+$", "autogeneratePattern": "[a-z0-9]{15}", "min": 15, "max": 15},
            {"name": "title", "type": "text", "required": true, "max": 100, "pattern": "^[^<]*$"},
            {"name": "body", "type": "editor", "maxSize": 2000},
            {"name": "views", "type": "number", "min": 0, "max": 1000000, "onlyInt": true},
            {"name": "ok", "type": "bool"},
            {"name": "mail", "type": "email", "onlyDomains": ["example.com"]},
            {"name": "site", "type": "url"},
            {"name": "when", "type": "date", "min": "2000-01-01 00:00:00.000Z"},
            {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 2},
            {"name": "meta", "type": "json", "maxSize": 1000},
            {"name": "author", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
            {"name": "place", "type": "geoPoint", "required": true},
            {"name": "created", "type": "autodate", "onCreate": true}
        ]
    });
    [users, posts]
        .into_iter()
        .filter_map(|v| crate::schema::input::build(v, None).ok().map(|(c, _)| c))
        .collect()
}

fn database(all: &[Collection]) -> Option<Connection> {
    let conn = Connection::open_in_memory().ok()?;
    crate::db::math::register(&conn).ok()?;
    for c in all {
        conn.execute_batch(&crate::schema::ddl::create_table(c))
            .ok()?;
    }
    Some(conn)
}

/// Parses and compiles `text` as a filter on `posts`; whatever compiles must be SQL SQLite
/// accepts, with every value bound.
pub fn filter(text: &str) {
    let all = collections();
    let Some(posts) = all.iter().find(|c| c.name == "posts").cloned() else {
        return;
    };
    let snapshot = Snapshot::new(all.clone());
    let request = RequestInfo::default();
    let scope = filter::Scope {
        collection: &posts,
        schema: &snapshot,
        request: &request,
        trust: filter::Trust::Client,
    };
    let mut params = Vec::new();
    let Ok(sql) = filter::parse(text).and_then(|e| filter::compile(&e, &scope, &mut params)) else {
        return;
    };
    if let Some(conn) = database(&all) {
        let query = format!("SELECT count(*) FROM posts t WHERE {sql}");
        if let Err(e) = conn.prepare(&query) {
            panic!("compiled filter is not valid SQL: {e}\n{query}");
        }
    }
}

/// Any bytes as a create body for `posts`: accepted, or refused with field errors.
pub fn record_input(data: &[u8]) {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let all = collections();
    let Some(posts) = all
        .iter()
        .find(|c| c.name == "posts")
        .map(|c| Arc::new(c.clone()))
    else {
        return;
    };
    let Some(conn) = database(&all) else { return };
    let _ = input::prepare(&conn, &posts, Action::Create, &body, &Map::new(), &[]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_harnesses_run_on_a_few_inputs() {
        assert_eq!(collections().len(), 2);
        for text in [
            "title ~ 'x' && views > 3",
            "author.name = 'a'",
            "tags ?= 'a'",
            "((",
            "meta.a.b = 1",
            "geoDistance(place.lon, place.lat, -3.25, 12.5) < 10",
            "geoDistance(author.name, 1, 2, 3) > 0",
        ] {
            filter(text);
        }
        for body in [
            r#"{"title": "hi", "views": 3, "tags": ["a", "z"], "meta": {"a": 1}}"#,
            r#"{"title": "hi", "place": {"lon": 200, "lat": 1}}"#,
            r#"{"title": "hi", "place": "{\"lon\": 1, \"lat\": 2"}"#,
            r#"{"title": 1, "views": "x", "when": "yesterday", "author": ["a", "b"]}"#,
            r#"[1, 2]"#,
            "{",
        ] {
            record_input(body.as_bytes());
        }
    }
}
