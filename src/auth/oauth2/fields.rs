//! Typed reads from a provider's JSON answer with Go's decoding rules, so a user maps (or
//! fails to) as PocketBase's `json.Unmarshal` into a struct does: a missing key or `null`
//! is the zero value, a value of another type fails the whole answer. Also `spf13/cast`'s
//! loose `ToBool`/`ToString`, which PocketBase uses for claims and `extra` settings.

use serde_json::{Map, Value};

/// A JSON object (or the zero value of one) to read fields from.
#[derive(Clone, Copy)]
pub(super) struct Obj<'a>(Option<&'a Map<String, Value>>);

/// Why an answer could not be read; becomes the logged cause of a failed sign-in.
pub(super) type Cause = String;

impl<'a> Obj<'a> {
    /// The answer's top level, which must be an object (PocketBase decodes it into a map).
    pub fn root(value: &'a Value) -> Result<Self, Cause> {
        match value {
            Value::Object(map) => Ok(Self(Some(map))),
            other => Err(format!("expected a JSON object, got {}", kind(other))),
        }
    }

    pub fn of(map: &'a Map<String, Value>) -> Self {
        Self(Some(map))
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.0.and_then(|m| m.get(key)).filter(|v| !v.is_null())
    }

    /// The raw value, when present and not null.
    pub fn any(&self, key: &str) -> Option<&'a Value> {
        self.get(key)
    }

    pub fn str(&self, key: &str) -> Result<String, Cause> {
        match self.get(key) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(mismatch(key, "string", other)),
        }
    }

    /// A Go `int64`: an integral JSON number.
    pub fn int(&self, key: &str) -> Result<i64, Cause> {
        match self.get(key) {
            None => Ok(0),
            Some(v @ Value::Number(n)) => n.as_i64().ok_or_else(|| mismatch(key, "int64", v)),
            Some(other) => Err(mismatch(key, "int64", other)),
        }
    }

    pub fn bool(&self, key: &str) -> Result<bool, Cause> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(mismatch(key, "bool", other)),
        }
    }

    pub fn obj(&self, key: &str) -> Result<Obj<'a>, Cause> {
        match self.get(key) {
            None => Ok(Self(None)),
            Some(Value::Object(map)) => Ok(Self(Some(map))),
            Some(other) => Err(mismatch(key, "object", other)),
        }
    }

    /// A list of objects (Go `[]struct{...}`); null elements read as empty objects.
    pub fn objects(&self, key: &str) -> Result<Vec<Obj<'a>>, Cause> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().map(element).collect(),
            Some(other) => Err(mismatch(key, "array", other)),
        }
    }

    /// A list of strings (Go `[]string`); null elements read as "".
    pub fn strings(&self, key: &str) -> Result<Vec<String>, Cause> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Null => Ok(String::new()),
                    Value::String(s) => Ok(s.clone()),
                    other => Err(mismatch(key, "string", other)),
                })
                .collect(),
            Some(other) => Err(mismatch(key, "array", other)),
        }
    }
}

/// A top-level JSON array of objects (an emails answer), read as Go's `[]struct{...}`.
pub(super) fn array_of_objects(value: &Value) -> Result<Vec<Obj<'_>>, Cause> {
    match value {
        Value::Array(items) => items.iter().map(element).collect(),
        other => Err(format!("expected a JSON array, got {}", kind(other))),
    }
}

fn element(value: &Value) -> Result<Obj<'_>, Cause> {
    match value {
        Value::Null => Ok(Obj(None)),
        Value::Object(map) => Ok(Obj(Some(map))),
        other => Err(format!(
            "expected an object in the list, got {}",
            kind(other)
        )),
    }
}

fn mismatch(key: &str, want: &str, got: &Value) -> Cause {
    format!("cannot read {} into {key} ({want})", kind(got))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `cast.ToBool`: booleans as they are, numbers true when non-zero, strings as Go's
/// `strconv.ParseBool` reads them (`"true"`, `"1"`, `"T"`, ...), anything else false.
pub(super) fn go_bool(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => matches!(s.as_str(), "1" | "t" | "T" | "TRUE" | "true" | "True"),
        _ => false,
    }
}

/// `cast.ToString`: strings as they are, numbers and booleans in their JSON text, anything
/// else "".
pub(super) fn go_string(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn missing_and_null_read_as_zero_values_and_other_types_fail() {
        let v = json!({"s": "x", "n": 7, "f": 1.5, "b": true, "nul": null, "o": {"k": "v"}});
        let o = Obj::root(&v).unwrap();
        assert_eq!(o.str("s").unwrap(), "x");
        assert_eq!(o.str("missing").unwrap(), "");
        assert_eq!(o.str("nul").unwrap(), "");
        assert!(o.str("n").is_err());
        assert_eq!(o.int("n").unwrap(), 7);
        assert!(o.int("f").is_err());
        assert!(o.int("s").is_err());
        assert!(o.bool("b").unwrap());
        assert!(!o.bool("nul").unwrap());
        assert!(o.bool("s").is_err());
        assert_eq!(o.obj("o").unwrap().str("k").unwrap(), "v");
        assert_eq!(o.obj("missing").unwrap().str("k").unwrap(), "");
        assert!(o.obj("s").is_err());
        assert!(Obj::root(&json!([1])).is_err());
    }

    #[test]
    fn cast_rules() {
        assert!(go_bool(Some(&json!("true"))));
        assert!(go_bool(Some(&json!("1"))));
        assert!(go_bool(Some(&json!(true))));
        assert!(go_bool(Some(&json!(1))));
        assert!(!go_bool(Some(&json!("yes"))));
        assert!(!go_bool(Some(&json!("false"))));
        assert!(!go_bool(None));
        assert_eq!(go_string(Some(&json!("a"))), "a");
        assert_eq!(go_string(Some(&json!(12))), "12");
        assert_eq!(go_string(Some(&json!(["a"]))), "");
    }
}
