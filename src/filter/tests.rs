//! Property tests: the parser never panics, and user text never reaches SQL as text.

use proptest::prelude::*;
use serde_json::json;

use super::{RequestInfo, Scope, compile, parse};
use crate::schema::{Collection, Snapshot};

fn posts() -> Collection {
    let (c, _) = crate::schema::input::build(
        json!({"name": "posts", "fields": [
            {"name": "title", "type": "text"},
            {"name": "views", "type": "number"},
            {"name": "tags", "type": "select", "values": ["a", "b"], "maxSelect": 2},
            {"name": "meta", "type": "json"},
            {"name": "author", "type": "relation", "collectionId": "pbc_1125843985", "maxSelect": 1}
        ]}),
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    c
}

fn sql_for(filter: &str, request: &RequestInfo) -> Option<String> {
    let c = posts();
    let schema = Snapshot::new(vec![c.clone()]);
    let scope = Scope {
        collection: &c,
        schema: &schema,
        request,
        trust: super::Trust::Client,
    };
    let expr = parse(filter).ok()?;
    compile(&expr, &scope, &mut Vec::new()).ok()
}

/// With the fixed fragments the compiler itself writes removed (`''`, `'%'`, the LIKE
/// escape clause) and the double-quoted identifiers checked to be plain words, compiled SQL
/// holds no quote at all: every value the user wrote travels as a parameter.
fn has_no_literal_text(sql: &str) -> bool {
    let mut rest = sql
        .replace("ESCAPE '\\'", "")
        .replace("'%'", "")
        .replace("''", "");
    while let Some(start) = rest.find('"') {
        let Some(len) = rest[start + 1..].find('"') else {
            return false;
        };
        let ident = &rest[start + 1..start + 1 + len];
        if !ident.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return false;
        }
        rest.replace_range(start..start + len + 2, "");
    }
    !rest.contains('\'')
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parsing_anything_never_panics(text in "\\PC{0,200}") {
        let _ = parse(&text);
        let _ = sql_for(&text, &RequestInfo::default());
    }

    #[test]
    fn filter_shaped_input_never_panics(text in "[a-z_@.:?!=<>~&|() '\"0-9\\-]{0,120}") {
        let _ = sql_for(&text, &RequestInfo::default());
    }

    #[test]
    fn literal_values_never_change_the_sql(value in "\\PC{0,60}", op in prop::sample::select(vec!["=", "!=", "~", "!~", ">", "?="])) {
        let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
        let baseline = sql_for(&format!("title {op} 'x'"), &RequestInfo::default());
        let with_value = sql_for(&format!("title {op} '{escaped}'"), &RequestInfo::default());
        prop_assume!(!value.is_empty());
        prop_assert_eq!(baseline, with_value);
    }

    #[test]
    fn request_values_never_reach_sql_as_text(value in "\\PC{0,60}") {
        let mut request = RequestInfo::default();
        request.body.insert("title".into(), json!(value));
        request.query.insert("q".into(), json!(value));
        let sql = sql_for("title = @request.body.title || meta.a ~ @request.query.q", &request);
        let sql = sql.unwrap_or_default();
        prop_assert!(has_no_literal_text(&sql), "{}", sql);
    }

    #[test]
    fn compiled_random_filters_hold_no_literal_text(text in "(title|views|meta\\.k|author\\.title) (=|!=|~|>) ('[^']{0,10}'|[0-9]{1,4}|true|null)( (&&|\\|\\|) (title|views) (=|<) ('[^']{0,10}'|[0-9]{1,3}))?") {
        if let Some(sql) = sql_for(&text, &RequestInfo::default()) {
            prop_assert!(has_no_literal_text(&sql), "{} -> {}", text, sql);
        }
    }
}

#[test]
fn expressions_are_parsed_once() {
    let first = super::parsed("a = 1 && b != 'x'").unwrap();
    let again = super::parsed("a = 1 && b != 'x'").unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &again));
    assert!(super::parsed("a = ").is_err());
    assert!(super::parsed("a = ").is_err());
}
