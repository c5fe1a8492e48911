//! `spf13/cast`'s loose conversions, which PocketBase uses for `extra` settings.

use serde_json::Value;

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
    fn cast_rules() {
        assert_eq!(go_string(Some(&json!("a"))), "a");
        assert_eq!(go_string(Some(&json!(12))), "12");
        assert_eq!(go_string(Some(&json!(["a"]))), "");
    }
}
