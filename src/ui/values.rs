//! Record values as the admin pages show them: short cell text for tables and the string an
//! input holds, and back from submitted inputs to the JSON the record service takes.

use serde_json::{Value, json};

use crate::schema::{Field, FieldKind};

/// How many characters of a value a table cell shows.
const CELL_CHARS: usize = 60;

/// A value shortened for a table cell; the full text goes in the cell's title.
pub fn cell(v: &Value) -> (String, String) {
    let full = match v {
        Value::Null => String::new(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    let short = if full.chars().count() > CELL_CHARS {
        let cut: String = full.chars().take(CELL_CHARS).collect();
        format!("{}…", cut.trim_end())
    } else {
        full.clone()
    };
    (short, full)
}

/// The text an input holds for a stored value.
pub fn input_text(field: &Field, v: &Value) -> String {
    match (&field.kind, v) {
        (_, Value::Null) => String::new(),
        (FieldKind::Date(_) | FieldKind::Autodate(_), Value::String(s)) => datetime_local(s),
        (FieldKind::Json(_), v) => serde_json::to_string_pretty(v).unwrap_or_default(),
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

/// `2024-05-01 10:20:30.123Z` as a `datetime-local` input value (UTC, no zone suffix).
pub fn datetime_local(stored: &str) -> String {
    if stored.is_empty() {
        return String::new();
    }
    stored.trim_end_matches('Z').replacen(' ', "T", 1)
}

/// A `datetime-local` value (`2024-05-01T10:20`, seconds optional) as PocketBase's date text.
pub fn from_datetime_local(input: &str) -> String {
    let input = input.trim();
    if input.is_empty() {
        return String::new();
    }
    let mut text = input.replacen('T', " ", 1);
    let time_len = text.split_once(' ').map_or(0, |(_, t)| t.len());
    if time_len == 5 {
        text.push_str(":00");
    }
    if !text.contains('.') {
        text.push_str(".000");
    }
    if !text.ends_with('Z') {
        text.push('Z');
    }
    text
}

/// The JSON a submitted text input stands for, for fields whose input is one string.
pub fn from_input(field: &Field, text: &str) -> Result<Value, &'static str> {
    Ok(match &field.kind {
        FieldKind::Number(_) if text.trim().is_empty() => json!(0),
        FieldKind::Number(_) => text
            .trim()
            .parse::<f64>()
            .map(crate::records::output::number)
            .map_err(|_| "Must be a number.")?,
        FieldKind::Date(_) => json!(from_datetime_local(text)),
        FieldKind::Json(_) if text.trim().is_empty() => Value::Null,
        FieldKind::Json(_) => serde_json::from_str(text).map_err(|_| "Must be valid JSON.")?,
        _ => json!(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::field::{DateField, JsonField, NumberField};

    #[test]
    fn dates_round_trip_through_datetime_local() {
        let stored = "2024-05-01 10:20:30.123Z";
        assert_eq!(datetime_local(stored), "2024-05-01T10:20:30.123");
        assert_eq!(from_datetime_local(&datetime_local(stored)), stored);
        assert_eq!(
            from_datetime_local("2024-05-01T10:20"),
            "2024-05-01 10:20:00.000Z"
        );
        assert_eq!(from_datetime_local(""), "");
    }

    #[test]
    fn inputs_become_typed_values() {
        let n = Field::new("n", FieldKind::Number(NumberField::default()));
        let j = Field::new("j", FieldKind::Json(JsonField::default()));
        let d = Field::new("d", FieldKind::Date(DateField::default()));
        assert_eq!(from_input(&n, " 12 "), Ok(json!(12)));
        assert_eq!(from_input(&n, "1.5"), Ok(json!(1.5)));
        assert!(from_input(&n, "twelve").is_err());
        assert_eq!(from_input(&j, r#"{"a":[1]}"#), Ok(json!({"a": [1]})));
        assert!(from_input(&j, "{").is_err());
        assert_eq!(
            from_input(&d, "2024-01-02T03:04"),
            Ok(json!("2024-01-02 03:04:00.000Z"))
        );
    }

    #[test]
    fn cells_are_short_and_readable() {
        assert_eq!(cell(&json!(true)).0, "yes");
        assert_eq!(cell(&json!(["a", "b"])).0, "a, b");
        let long = "x".repeat(100);
        let (short, full) = cell(&json!(long));
        assert_eq!(short.chars().count(), CELL_CHARS + 1);
        assert_eq!(full.len(), 100);
    }
}
