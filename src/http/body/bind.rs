//! Binding a form to a typed body as PocketBase's `UnmarshalRequestData` binds one to a
//! struct: a text member takes the text as sent, a boolean Go's `ParseBool`, a number its
//! parse ("" is zero), a list every value sent under the key, any other member the first;
//! members of a `@jsonPayload` object bind as JSON. A `serde_json::Value` or map target
//! gets PocketBase's `map[string]any` reading (`form::Form::to_map`).
//!
//! JSON bodies bind through [`JsonBody`]: a `null` member of a struct is left at its
//! default, as Go's decoder leaves the field untouched.

use serde::de::value::{Error, MapDeserializer, SeqDeserializer};
use serde::de::{self, Deserializer, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::Value;

use super::form::{Form, Node, infer, parse_bool};

/// A whole form, as a deserializer.
pub struct FormBody<'a>(pub &'a Form);

impl<'de> Deserializer<'de> for FormBody<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let entries = self
            .0
            .entries()
            .map_err(|_| de::Error::custom("@jsonPayload is not a JSON object"))?;
        visitor.visit_map(MapDeserializer::new(entries.into_iter()))
    }

    /// The pairs in the order sent (the admin pages read forms so).
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let pairs = self
            .0
            .pairs()
            .iter()
            .map(|(k, v)| SeqDeserializer::<_, Error>::new([k.clone(), v.clone()].into_iter()));
        visitor.visit_seq(SeqDeserializer::new(pairs))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, Error> for Node {
    type Deserializer = Member;

    fn into_deserializer(self) -> Member {
        Member(self)
    }
}

/// One member of a form.
pub struct Member(Node);

fn text<'de, V: Visitor<'de>>(node: &Node, visitor: &V) -> Result<String, Error> {
    node.first()
        .map(str::to_owned)
        .ok_or_else(|| de::Error::invalid_type(de::Unexpected::Other("JSON"), visitor))
}

fn number<T: std::str::FromStr + Default>(raw: &str) -> Result<T, Error> {
    if raw.is_empty() {
        return Ok(T::default());
    }
    raw.parse()
        .map_err(|_| de::Error::invalid_value(de::Unexpected::Str(raw), &"a number"))
}

macro_rules! numbers {
    ($($method:ident => $visit:ident: $ty:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0 {
                Node::Json(v) => v.$method(visitor).map_err(de::Error::custom),
                node => {
                    let n = number::<$ty>(&text(&node, &visitor)?)?;
                    visitor.$visit(n)
                }
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for Member {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Node::Json(v) => v.deserialize_any(visitor).map_err(de::Error::custom),
            Node::Text(s) => infer(&s)
                .deserialize_any(visitor)
                .map_err(de::Error::custom),
            Node::Many(values) => visitor.visit_seq(SeqDeserializer::new(
                values.into_iter().map(|v| Member(Node::Text(v))),
            )),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Node::Json(v) => v.deserialize_bool(visitor).map_err(de::Error::custom),
            node => {
                let raw = text(&node, &visitor)?;
                let b = parse_bool(&raw).ok_or_else(|| {
                    de::Error::invalid_value(de::Unexpected::Str(&raw), &"a boolean")
                })?;
                visitor.visit_bool(b)
            }
        }
    }

    numbers! {
        deserialize_i8 => visit_i64: i64, deserialize_i16 => visit_i64: i64,
        deserialize_i32 => visit_i64: i64, deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u64: u64, deserialize_u16 => visit_u64: u64,
        deserialize_u32 => visit_u64: u64, deserialize_u64 => visit_u64: u64,
        deserialize_f32 => visit_f64: f64, deserialize_f64 => visit_f64: f64
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Node::Json(v) => v.deserialize_string(visitor).map_err(de::Error::custom),
            node => {
                let s = text(&node, &visitor)?;
                visitor.visit_string(s)
            }
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Node::Json(Value::Null) => visitor.visit_none(),
            node => visitor.visit_some(Member(node)),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Node::Json(v) => v.deserialize_seq(visitor).map_err(de::Error::custom),
            Node::Text(s) => {
                visitor.visit_seq(SeqDeserializer::new(std::iter::once(Member(Node::Text(s)))))
            }
            Node::Many(values) => visitor.visit_seq(SeqDeserializer::new(
                values.into_iter().map(|v| Member(Node::Text(v))),
            )),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit unit_struct tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, Error> for Member {
    type Deserializer = Member;

    fn into_deserializer(self) -> Member {
        self
    }
}

/// A JSON body, as a deserializer: a struct target skips `null` members.
pub struct JsonBody(pub Value);

impl<'de> Deserializer<'de> for JsonBody {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(mut members) => {
                members.retain(|_, v| !v.is_null());
                Value::Object(members).deserialize_struct(name, fields, visitor)
            }
            other => other.deserialize_struct(name, fields, visitor),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, Debug, PartialEq, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct Login {
        identity: String,
        duration: i64,
        delete_missing: bool,
        subscriptions: Vec<String>,
        create_data: Option<serde_json::Map<String, Value>>,
    }

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            Vec::new(),
        )
    }

    fn bind<T: for<'de> Deserialize<'de>>(pairs: &[(&str, &str)]) -> Result<T, Error> {
        T::deserialize(FormBody(&form(pairs)))
    }

    #[test]
    fn members_bind_by_their_type() {
        let login: Login = bind(&[
            ("identity", "007"),
            ("identity", "second"),
            ("duration", "3600"),
            ("deleteMissing", "t"),
            ("subscriptions", "a"),
            ("subscriptions", "5"),
            ("unknown", "x"),
            ("@jsonPayload", r#"{"createData": {"n": 1}}"#),
        ])
        .unwrap();
        assert_eq!(
            login,
            Login {
                identity: "007".into(),
                duration: 3600,
                delete_missing: true,
                subscriptions: vec!["a".into(), "5".into()],
                create_data: json!({"n": 1}).as_object().cloned(),
            }
        );
        let one: Login = bind(&[("subscriptions", "only"), ("duration", "")]).unwrap();
        assert_eq!(one.subscriptions, vec!["only".to_owned()]);
        assert_eq!(one.duration, 0);
        assert!(bind::<Login>(&[("duration", "1.5")]).is_err());
        assert!(bind::<Login>(&[("deleteMissing", "yes")]).is_err());
        assert!(bind::<Login>(&[("@jsonPayload", r#"{"identity": 5}"#)]).is_err());
    }

    #[test]
    fn a_map_target_reads_as_pocketbase_maps_do() {
        let map: Value = bind(&[
            ("n", "5"),
            ("s", "05"),
            ("b", "true"),
            ("l", "1"),
            ("l", "x"),
        ])
        .unwrap();
        assert_eq!(map, json!({"n": 5, "s": "05", "b": true, "l": [1, "x"]}));
        let pairs: Vec<(String, String)> = bind(&[("a", "1"), ("b", "2"), ("a", "3")]).unwrap();
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[2], ("a".to_owned(), "3".to_owned()));
    }

    #[test]
    fn json_nulls_leave_struct_members_at_their_defaults() {
        let login = Login::deserialize(JsonBody(json!({"identity": null, "duration": 5}))).unwrap();
        assert_eq!(login.identity, "");
        assert_eq!(login.duration, 5);
        let map = Value::deserialize(JsonBody(json!({"a": null}))).unwrap();
        assert_eq!(map, json!({"a": null}));
    }
}
