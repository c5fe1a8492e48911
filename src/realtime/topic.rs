//! One subscription as a client asks for it: a topic (`posts/*`, `posts/<id>`, or the
//! deprecated bare `posts`) with PocketBase's optional `?options={"query":{..},"headers":{..}}`
//! suffix, whose query (`filter`, `expand`, `fields`, ...) and headers the event's rule
//! checks and output see as `@request.query.*` / `@request.headers.*`.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// Exactly as the client sent it: the SSE event name of its messages.
    pub raw: String,
    pub query: Map<String, Value>,
    /// Names lower-cased with `-` as `_`, as PocketBase exposes them to rules.
    pub headers: Map<String, Value>,
}

/// A JSON option value as the single string PocketBase reduces it to.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

impl Subscription {
    pub fn parse(raw: &str) -> Self {
        let mut query = Map::new();
        let mut headers = Map::new();
        let options = raw.split_once('?').and_then(|(_, qs)| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(qs)
                .ok()?
                .into_iter()
                .find(|(k, _)| k == "options")
                .map(|(_, v)| v)
        });
        // Unreadable options are ignored, as PocketBase does: the topic still subscribes.
        if let Some(Ok(Value::Object(options))) = options.map(|o| serde_json::from_str::<Value>(&o))
        {
            if let Some(Value::Object(q)) = options.get("query") {
                for (k, v) in q {
                    query.insert(k.clone(), Value::String(text(v)));
                }
            }
            if let Some(Value::Object(h)) = options.get("headers") {
                for (k, v) in h {
                    let name = k.to_ascii_lowercase().replace('-', "_");
                    headers.insert(name, Value::String(text(v)));
                }
            }
        }
        Self {
            raw: raw.to_owned(),
            query,
            headers,
        }
    }

    /// True when this subscription is for `topic` (with or without options).
    pub fn is_for(&self, topic: &str) -> bool {
        self.raw
            .strip_prefix(topic)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('?'))
    }

    pub fn option(&self, key: &str) -> &str {
        self.query.get(key).and_then(Value::as_str).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_carry_query_and_headers() {
        let s = Subscription::parse(
            r#"posts/*?options={"query":{"filter":"a = 1","n":2},"headers":{"X-Token":"t"}}"#,
        );
        assert!(s.is_for("posts/*"));
        assert!(!s.is_for("posts"));
        assert_eq!(s.option("filter"), "a = 1");
        assert_eq!(s.option("n"), "2");
        assert_eq!(s.headers.get("x_token"), Some(&Value::String("t".into())));
    }

    #[test]
    fn topics_match_whole() {
        let s = Subscription::parse("posts/abc");
        assert!(s.is_for("posts/abc"));
        assert!(!s.is_for("posts/ab"));
        assert!(!Subscription::parse("posts/abcd").is_for("posts/abc"));
        assert!(Subscription::parse("posts?options=bad").is_for("posts"));
    }
}
