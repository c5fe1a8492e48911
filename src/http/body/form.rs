//! Form bodies (`application/x-www-form-urlencoded` and the values of `multipart/form-data`)
//! as Go's `Request.Form` holds them and PocketBase's `UnmarshalRequestData` binds them:
//! the body's values then the URL query's, a repeated key as a list, `@jsonPayload` parts
//! merged over the rest, and plain values read as `true`, `false` or numbers only where
//! PocketBase reads them so.

use serde_json::{Map, Value};

/// PocketBase's key for a JSON object sent among form values.
pub const JSON_PAYLOAD: &str = "@jsonPayload";

/// A submitted form: its values in the order sent (the body's, then the query's).
#[derive(Debug, Default)]
pub struct Form {
    pairs: Vec<(String, String)>,
    /// The names multipart file parts were sent under (files are not form values).
    pub files: Vec<String>,
}

/// One bound key: a single value, a repeated one, or a member of a `@jsonPayload` object.
#[derive(Debug)]
pub enum Node {
    Text(String),
    Many(Vec<String>),
    Json(Value),
}

/// A form that cannot be bound: a `@jsonPayload` that is not a JSON object.
#[derive(Debug)]
pub struct Unbindable;

impl Form {
    pub fn new(pairs: Vec<(String, String)>, files: Vec<String>) -> Self {
        Self { pairs, files }
    }

    /// Adds values sent after these (the URL query's).
    pub fn extend(&mut self, pairs: Vec<(String, String)>) {
        self.pairs.extend(pairs);
    }

    /// The form with only the values under `keys`, and the members of its `@jsonPayload`
    /// parts named so.
    pub fn only(&self, keys: &[&str]) -> Form {
        let pairs = self
            .pairs
            .iter()
            .filter_map(|(k, v)| {
                if keys.contains(&k.as_str()) {
                    return Some((k.clone(), v.clone()));
                }
                if k != JSON_PAYLOAD {
                    return None;
                }
                let Ok(Value::Object(mut members)) = serde_json::from_str::<Value>(v) else {
                    return Some((k.clone(), v.clone()));
                };
                members.retain(|k, _| keys.contains(&k.as_str()));
                Some((k.clone(), Value::Object(members).to_string()))
            })
            .collect();
        Form::new(pairs, self.files.clone())
    }

    /// The values in the order sent, `@jsonPayload` parts included.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The keys in the order first sent, each with its values; then the members of each
    /// `@jsonPayload` object, replacing keys of the same name (later parts win).
    pub fn entries(&self) -> Result<Vec<(String, Node)>, Unbindable> {
        let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
        for (key, value) in &self.pairs {
            if key == JSON_PAYLOAD {
                continue;
            }
            match grouped.iter_mut().find(|(k, _)| k == key) {
                Some((_, values)) => values.push(value.clone()),
                None => grouped.push((key.clone(), vec![value.clone()])),
            }
        }
        let mut entries: Vec<(String, Node)> = grouped
            .into_iter()
            .map(|(key, mut values)| match values.len() {
                1 => (key, Node::Text(values.remove(0))),
                _ => (key, Node::Many(values)),
            })
            .collect();
        for (key, payload) in &self.pairs {
            if key != JSON_PAYLOAD {
                continue;
            }
            match serde_json::from_str::<Value>(payload) {
                Ok(Value::Object(members)) => {
                    for (k, v) in members {
                        match entries.iter_mut().find(|(key, _)| *key == k) {
                            Some((_, node)) => *node = Node::Json(v),
                            None => entries.push((k, Node::Json(v))),
                        }
                    }
                }
                // Go's `json.Unmarshal` of `null` changes nothing.
                Ok(Value::Null) => {}
                _ => return Err(Unbindable),
            }
        }
        Ok(entries)
    }

    /// The form bound to a JSON object as PocketBase binds one to a `map[string]any` (record
    /// bodies, `requestInfo().body`): values inferred, repeated keys as lists.
    pub fn to_map(&self) -> Result<Map<String, Value>, Unbindable> {
        Ok(self
            .entries()?
            .into_iter()
            .map(|(k, node)| (k, node.inferred()))
            .collect())
    }

    /// The form bound to a JSON object shaped as `template`, as PocketBase binds a form to
    /// its Go structs (settings, collections): `a.b` keys fill nested objects, each value
    /// takes the type of the member it replaces (text, boolean, number or list of text),
    /// and keys the template lacks are dropped, as a struct has no place for them.
    pub fn shaped(&self, template: &Value) -> Result<Map<String, Value>, Unbindable> {
        let mut out = Map::new();
        for (key, node) in self.entries()? {
            if let Node::Json(v) = node {
                out.insert(key, v);
                continue;
            }
            let path: Vec<&str> = key.split('.').collect();
            let Some(model) = path
                .iter()
                .try_fold(template, |t, segment| t.as_object()?.get(*segment))
            else {
                continue;
            };
            let Some(value) = node.typed_as(model) else {
                return Err(Unbindable);
            };
            insert_at(&mut out, &path, value);
        }
        Ok(out)
    }
}

/// Puts `value` at `path` (`["a", "b"]` for `a.b`) in `out`, making the objects on the way.
fn insert_at(out: &mut Map<String, Value>, path: &[&str], value: Value) {
    match path {
        [] => {}
        [last] => {
            out.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let slot = out
                .entry((*first).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(inner) = slot {
                insert_at(inner, rest, value);
            }
        }
    }
}

impl Node {
    /// The first value sent (Go binds a single-valued field to `values[0]`).
    pub fn first(&self) -> Option<&str> {
        match self {
            Node::Text(s) => Some(s),
            Node::Many(values) => values.first().map(String::as_str),
            Node::Json(_) => None,
        }
    }

    /// As a `map[string]any` member: inferred, a list when repeated.
    pub fn inferred(self) -> Value {
        match self {
            Node::Text(s) => infer(&s),
            Node::Many(values) => Value::Array(values.iter().map(|v| infer(v)).collect()),
            Node::Json(v) => v,
        }
    }

    /// As the struct member `model` stands for; None when the text does not parse as it.
    fn typed_as(&self, model: &Value) -> Option<Value> {
        let first = self.first().unwrap_or_default();
        Some(match model {
            Value::Bool(_) => Value::Bool(parse_bool(first)?),
            Value::Number(_) => parse_number(first)?,
            Value::Array(_) => Value::Array(match self {
                Node::Many(values) => values.iter().cloned().map(Value::String).collect(),
                _ => vec![Value::String(first.to_owned())],
            }),
            Value::Object(_) => return None,
            // Text, and the nullable text members (a collection's rules).
            _ => Value::String(first.to_owned()),
        })
    }
}

/// Whether a JSON body could be decoded into the Go struct `template` stands for: each
/// member the template has holds the same kind of value (`null` anywhere; text where the
/// template has `null`, a nullable text), as Go's decoder requires; members the template
/// lacks are ignored, as there.
pub fn fits(value: &Value, template: &Value) -> bool {
    match (value, template) {
        (Value::Null, _) => true,
        (v, Value::Null) => v.is_string(),
        (Value::Object(members), Value::Object(model)) => members
            .iter()
            .all(|(k, v)| model.get(k).is_none_or(|t| fits(v, t))),
        (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Array(_), Value::Array(_)) => true,
        _ => false,
    }
}

/// PocketBase's `inferValue`: `true`/`false` are booleans, a number written in its shortest
/// form is a number (`5`, `-1.5`; not `05`, `1.50`, `1e3`), anything else stays text.
pub fn infer(raw: &str) -> Value {
    match raw {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    let numeric = raw.starts_with(|c: char| c == '-' || c.is_ascii_digit())
        && raw
            .bytes()
            .all(|b| b == b'-' || b == b'.' || b.is_ascii_digit());
    if numeric
        && let Ok(n) = raw.parse::<f64>()
        && n.is_finite()
        && format!("{n}") == raw
    {
        return crate::records::output::number(n);
    }
    Value::String(raw.to_owned())
}

/// Go's `strconv.ParseBool`, with "" as false (PocketBase's form binding).
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw {
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        _ => None,
    }
}

/// A form number, "" as 0: an integer when written as one, else a float.
pub fn parse_number(raw: &str) -> Option<Value> {
    if raw.is_empty() {
        return Some(Value::from(0));
    }
    if let Ok(i) = raw.parse::<i64>() {
        return Some(Value::from(i));
    }
    let f = raw.parse::<f64>().ok().filter(|f| f.is_finite())?;
    serde_json::Number::from_f64(f).map(Value::Number)
}

/// Go's `url.ParseQuery`: `&`-separated `key=value` pairs, `+` as a space, `%XX` escapes;
/// a `;` in a pair or a broken escape makes the whole form unreadable, as there.
pub fn parse_urlencoded(text: &[u8]) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for pair in text.split(|b| *b == b'&') {
        if pair.is_empty() {
            continue;
        }
        if pair.contains(&b';') {
            return None;
        }
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        pairs.push((unescape(key)?, unescape(value)?));
    }
    Some(pairs)
}

fn unescape(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3)?;
                let text = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(text, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            Vec::new(),
        )
    }

    #[test]
    fn values_are_inferred_as_pocketbase_infers_them() {
        assert_eq!(infer("true"), json!(true));
        assert_eq!(infer("false"), json!(false));
        assert_eq!(infer("5"), json!(5));
        assert_eq!(infer("-1.5"), json!(-1.5));
        for text in ["", "05", "1.50", "1e3", "-", "1-2", "True", "abc", ".5"] {
            assert_eq!(infer(text), json!(text), "{text}");
        }
    }

    #[test]
    fn repeated_keys_become_lists_and_payloads_win() {
        let f = form(&[
            ("a", "1"),
            ("tags", "x"),
            ("tags", "2"),
            ("b", "keep"),
            (JSON_PAYLOAD, r#"{"a": "from json", "c": null}"#),
        ]);
        assert_eq!(
            Value::Object(f.to_map().unwrap()),
            json!({"a": "from json", "tags": ["x", 2], "b": "keep", "c": null})
        );
        assert!(form(&[(JSON_PAYLOAD, "[1]")]).to_map().is_err());
        assert!(form(&[(JSON_PAYLOAD, "{")]).to_map().is_err());
    }

    #[test]
    fn a_shaped_form_takes_the_types_of_its_template() {
        let template = json!({
            "meta": {"appName": "", "hideControls": false},
            "smtp": {"port": 25, "password": ""},
            "headers": [],
            "listRule": null,
        });
        let f = form(&[
            ("meta.appName", "123"),
            ("meta.hideControls", "t"),
            ("smtp.port", "587"),
            ("smtp.password", "0042"),
            ("headers", "X-Real-IP"),
            ("listRule", ""),
            ("unknown", "dropped"),
        ]);
        assert_eq!(
            Value::Object(f.shaped(&template).unwrap()),
            json!({
                "meta": {"appName": "123", "hideControls": true},
                "smtp": {"port": 587, "password": "0042"},
                "headers": ["X-Real-IP"],
                "listRule": "",
            })
        );
        assert!(form(&[("smtp.port", "many")]).shaped(&template).is_err());
        assert!(
            form(&[("meta.hideControls", "yes")])
                .shaped(&template)
                .is_err()
        );
    }

    #[test]
    fn a_json_body_fits_a_template_of_the_same_types() {
        let template = json!({"meta": {"appName": "", "port": 1}, "rule": null, "list": []});
        assert!(fits(
            &json!({"meta": {"appName": "x"}, "rule": "id != ''"}),
            &template
        ));
        assert!(fits(
            &json!({"meta": null, "rule": null, "list": [1], "other": 5}),
            &template
        ));
        assert!(!fits(&json!({"meta": 5}), &template));
        assert!(!fits(&json!({"meta": {"port": "1"}}), &template));
        assert!(!fits(&json!({"rule": 5}), &template));
    }

    #[test]
    fn urlencoded_text_is_read_as_go_reads_it() {
        assert_eq!(
            parse_urlencoded(b"a=1&b=x+y%21&&c&a=2").unwrap(),
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x y!".to_owned()),
                ("c".to_owned(), String::new()),
                ("a".to_owned(), "2".to_owned()),
            ]
        );
        assert!(parse_urlencoded(b"a=%zz").is_none());
        assert!(parse_urlencoded(b"a=%4").is_none());
        assert!(parse_urlencoded(b"a=1;b=2").is_none());
    }
}
