//! Submitted admin forms: `application/x-www-form-urlencoded` bodies read as name/value
//! pairs, so repeated names (multi-selects) and unchecked checkboxes (absent) both work.

use actix_web::{HttpRequest, web};
use serde_json::{Map, Value};

use crate::error::Result;
use crate::files::Staging;
use crate::http::Body;
use crate::schema::Collection;
use crate::state::AppState;

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

    /// Every value sent under `name`, blanks too, in order (the cells of repeated rows).
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
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

    /// A form as a browser would send these pairs.
    #[cfg(test)]
    pub fn of(pairs: &[(&str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }
}

/// A record form as posted: urlencoded, or multipart when the collection has file fields.
/// Returns the form's values, the multipart body as the record service reads it (files
/// named by their staged names; empty for urlencoded forms), and the staged uploads.
pub async fn read_record_form(
    req: &HttpRequest,
    payload: web::Payload,
    c: &Collection,
    state: &AppState,
) -> Result<(Form, Map<String, Value>, Staging)> {
    if crate::http::multipart::is_multipart(req.headers()) {
        let limit = state.config.body_limit;
        let (body, staging) =
            crate::http::multipart::read(req.headers(), payload, c, &state.files, limit).await?;
        let mut pairs = Vec::new();
        for (key, value) in &body {
            let items = match value {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            for item in items {
                let text = match item {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                pairs.push((key.clone(), text));
            }
        }
        return Ok((Form(pairs), body, staging));
    }
    let Body(pairs) =
        <FormBody as actix_web::FromRequest>::from_request(req, &mut payload.into_inner()).await?;
    Ok((Form(pairs), Map::new(), Staging::new(&state.files)))
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
