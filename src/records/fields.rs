//! `fields`: which keys of each record (and of its expanded records) the response keeps.
//! `fields=id,title,expand.author.name`; `*` keeps every key at its level.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

#[derive(Debug, Default, Clone)]
pub struct Projection {
    all: bool,
    keys: BTreeMap<String, Projection>,
}

impl Projection {
    /// None when the parameter keeps everything (absent or empty).
    pub fn parse(text: &str) -> Option<Self> {
        let mut root = Projection::default();
        let mut any = false;
        for path in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            any = true;
            let mut node = &mut root;
            for part in path.split('.') {
                // Modifiers such as `:excerpt(...)` are accepted and ignored.
                let name = part.split(':').next().unwrap_or(part);
                if name == "*" {
                    node.all = true;
                    break;
                }
                node = node.keys.entry(name.to_owned()).or_default();
            }
        }
        any.then_some(root)
    }

    pub fn apply(&self, record: &mut Map<String, Value>) {
        if self.keys.is_empty() {
            return;
        }
        if !self.all {
            record.retain(|k, _| self.keys.contains_key(k));
        }
        for (key, sub) in &self.keys {
            match record.get_mut(key) {
                Some(Value::Object(inner)) => sub.apply(inner),
                Some(Value::Array(items)) => {
                    for item in items {
                        if let Value::Object(inner) = item {
                            sub.apply(inner);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_only_what_is_asked() {
        let p = Projection::parse("id, expand.author.name").unwrap_or_default();
        let mut r = json!({"id": "1", "title": "t", "expand": {"author": {"id": "a", "name": "n"}, "x": {}}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        p.apply(&mut r);
        assert_eq!(
            Value::Object(r),
            json!({"id": "1", "expand": {"author": {"name": "n"}}})
        );
        assert!(Projection::parse(" ").is_none());
        let star = Projection::parse("*,expand.author.id").unwrap_or_default();
        let mut r =
            json!({"id": "1", "title": "t", "expand": {"author": {"id": "a", "name": "n"}}})
                .as_object()
                .cloned()
                .unwrap_or_default();
        star.apply(&mut r);
        assert_eq!(
            Value::Object(r),
            json!({"id": "1", "title": "t", "expand": {"author": {"id": "a"}}})
        );
    }
}
