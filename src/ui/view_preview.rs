//! "Preview fields" on the collection form of a view: the fields its query would give and
//! its first records, from the same dry run as `POST /api/collections/meta/dry-run-view`,
//! shown on the form before anything is saved.

use actix_web::web;
use serde_json::Value;

use super::values;
use crate::error::Result;
use crate::http::blocking;
use crate::state::AppState;

/// What the preview shows: fields with their types and a table of sample records, or
/// why the query gives none.
pub struct ViewPreview {
    pub fields: Vec<(String, String)>,
    pub rows: Vec<Vec<String>>,
    pub error: Option<String>,
}

/// The dry run of `query`, on a read-only connection (nothing is written).
pub(super) async fn preview(state: web::Data<AppState>, query: String) -> Result<ViewPreview> {
    let answer = blocking(move || {
        let snapshot = state.schema.snapshot();
        state.db.data.read(|conn| {
            Ok(crate::collections::view_fields::dry_run(
                conn,
                snapshot.all(),
                &query,
            ))
        })
    })
    .await?;
    let result = match answer {
        Ok(result) => result,
        Err(reason) => {
            return Ok(ViewPreview {
                fields: Vec::new(),
                rows: Vec::new(),
                error: Some(reason),
            });
        }
    };
    let fields: Vec<(String, String)> = result["fields"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .map(|f| {
                    let text = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
                    (text("name"), text("type"))
                })
                .collect()
        })
        .unwrap_or_default();
    let rows = result["sample"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .map(|r| {
                    fields
                        .iter()
                        .map(|(name, _)| values::cell(r.get(name).unwrap_or(&Value::Null)).0)
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ViewPreview {
        fields,
        rows,
        error: None,
    })
}
