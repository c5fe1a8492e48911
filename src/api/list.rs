//! The paging query every list endpoint shares (`page`, `perPage`, `skipTotal`) and the
//! `{page, perPage, totalItems, totalPages, items}` envelope PocketBase answers with.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const DEFAULT_PER_PAGE: u64 = 30;
pub const MAX_PER_PAGE: u64 = 1000;

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub page: Option<String>,
    #[serde(rename = "perPage")]
    pub per_page: Option<String>,
    #[serde(rename = "skipTotal")]
    pub skip_total: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: u64,
    pub per_page: u64,
    pub skip_total: bool,
}

impl PageQuery {
    /// Out-of-range or non-numeric values fall back to the defaults, as PocketBase does.
    pub fn paging(&self) -> Paging {
        let num = |v: &Option<String>| {
            v.as_deref()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .filter(|n| *n > 0)
        };
        Paging {
            page: num(&self.page).unwrap_or(1),
            per_page: num(&self.per_page)
                .unwrap_or(DEFAULT_PER_PAGE)
                .min(MAX_PER_PAGE),
            skip_total: matches!(
                self.skip_total.as_deref(),
                Some("1" | "true" | "t" | "TRUE" | "True")
            ),
        }
    }
}

impl Paging {
    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

/// Keys in PocketBase's (alphabetical) order.
#[derive(Debug, Serialize)]
pub struct ListResult {
    pub items: Vec<Value>,
    pub page: u64,
    #[serde(rename = "perPage")]
    pub per_page: u64,
    #[serde(rename = "totalItems")]
    pub total_items: i64,
    #[serde(rename = "totalPages")]
    pub total_pages: i64,
}

impl ListResult {
    /// `total` None (skipTotal) reports -1 for both totals, as PocketBase does.
    pub fn new(paging: Paging, total: Option<u64>, items: Vec<Value>) -> Self {
        let (total_items, total_pages) = match total {
            Some(t) => (t as i64, t.div_ceil(paging.per_page) as i64),
            None => (-1, -1),
        };
        Self {
            page: paging.page,
            per_page: paging.per_page,
            total_items,
            total_pages,
            items,
        }
    }
}
