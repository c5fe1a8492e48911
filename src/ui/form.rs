//! Submitted admin forms: `application/x-www-form-urlencoded` bodies read as name/value
//! pairs, so repeated names (multi-selects) and unchecked checkboxes (absent) both work.

use crate::api::Body;

/// A submitted form, in the order the browser sent it.
pub struct Form(Vec<(String, String)>);

pub type FormBody = Body<Vec<(String, String)>>;

impl From<FormBody> for Form {
    fn from(Body(pairs): FormBody) -> Self {
        Self(pairs)
    }
}

impl Form {
    /// The first value sent under `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every non-empty value sent under `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// True when a checkbox named `name` was ticked (browsers omit unticked ones).
    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && v != "false")
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    pub fn csrf(&self) -> &str {
        self.get("csrf")
    }
}

/// Splits a comma- or newline-separated list, dropping blanks.
pub fn list(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_and_checkboxes() {
        let form = Form(vec![
            ("tags".into(), "a".into()),
            ("tags".into(), "".into()),
            ("tags".into(), "b".into()),
            ("ok".into(), "true".into()),
        ]);
        assert_eq!(form.all("tags"), ["a", "b"]);
        assert_eq!(form.get("tags"), "a");
        assert!(form.checked("ok") && !form.checked("missing"));
        assert_eq!(list(" a, b ,,\nc "), ["a", "b", "c"]);
    }
}
