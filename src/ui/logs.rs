//! The request-log viewer: filter by status, method, path and time; a chart of requests per
//! minute drawn on the server as SVG; one entry's details.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::Value;

use super::{Admin, Chrome, query_value};
use crate::error::{Error, Result};
use crate::http::blocking;
use crate::logs::query;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/logs", web::get().to(list))
        .route("/logs/{id}", web::get().to(show));
}

const METHODS: [&str; 7] = ["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"];
/// (query value, label, minutes back).
const SPANS: [(&str, &str, u64); 4] = [
    ("1h", "last hour", 60),
    ("6h", "last 6 hours", 360),
    ("24h", "last 24 hours", 1440),
    ("7d", "last 7 days", 10_080),
];
const PER_PAGE: u64 = 50;
/// The chart's drawing area, in SVG units.
const CHART_W: f64 = 900.0;
const CHART_H: f64 = 120.0;

#[derive(Deserialize, Default)]
struct LogQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    span: String,
    page: Option<u64>,
}

pub struct Row {
    pub id: String,
    pub created: String,
    pub method: String,
    pub url: String,
    pub status: i64,
    pub exec_ms: String,
    pub auth: String,
}

pub struct Bar {
    pub x: String,
    pub y: String,
    pub w: String,
    pub h: String,
    pub err_y: String,
    pub err_h: String,
    pub title: String,
}

#[derive(Template)]
#[template(path = "logs.html")]
struct LogsPage {
    chrome: Chrome,
    rows: Vec<Row>,
    bars: Vec<Bar>,
    peak: u64,
    total: u64,
    status: String,
    method: String,
    path: String,
    span: String,
    methods: [&'static str; 7],
    spans: [(&'static str, &'static str, u64); 4],
    page: u64,
    total_pages: u64,
    prev: Option<String>,
    next: Option<String>,
    first_minute: String,
    last_minute: String,
}

#[derive(Template)]
#[template(path = "log_show.html")]
struct LogPage {
    chrome: Chrome,
    message: String,
    created: String,
    level: i64,
    data: String,
}

/// The filter for the chosen options, in the filter language. Only fixed choices and a
/// path with quotes and backslashes removed go into it; the compiler binds every value.
fn filter_of(q: &LogQuery, since: &str) -> String {
    let mut parts = vec![format!("created >= '{since}'")];
    match q.status.as_str() {
        "2xx" => parts.push("data.status >= 200 && data.status < 300".into()),
        "3xx" => parts.push("data.status >= 300 && data.status < 400".into()),
        "4xx" => parts.push("data.status >= 400 && data.status < 500".into()),
        "5xx" => parts.push("data.status >= 500".into()),
        "errors" => parts.push("data.status >= 400".into()),
        _ => {}
    }
    if METHODS.contains(&q.method.as_str()) {
        parts.push(format!("data.method = '{}'", q.method));
    }
    let path: String = q
        .path
        .chars()
        .filter(|c| !matches!(c, '\'' | '"' | '\\'))
        .take(200)
        .collect();
    if !path.trim().is_empty() {
        parts.push(format!("data.url ~ '{}'", path.trim()));
    }
    parts.join(" && ")
}

fn minutes_of(span: &str) -> u64 {
    SPANS
        .iter()
        .find(|(k, ..)| *k == span)
        .map_or(60, |(_, _, m)| *m)
}

/// Bars for requests per bucket of the span (at most 60 buckets), errors drawn on top.
fn chart(per_minute: &[(String, u64, u64)], minutes: u64) -> (Vec<Bar>, u64) {
    let buckets = minutes.min(60) as usize;
    let per_bucket = minutes.div_ceil(buckets as u64).max(1);
    let now = time::OffsetDateTime::now_utc();
    let mut counts = vec![(0u64, 0u64); buckets];
    for (minute, total, errors) in per_minute {
        let Some(at) = crate::datetime::parse(&format!("{minute}:00.000Z")) else {
            continue;
        };
        let ago = (now - at).whole_minutes().max(0) as u64;
        let slot = (ago / per_bucket) as usize;
        if slot < buckets {
            let i = buckets - 1 - slot;
            counts[i].0 += total;
            counts[i].1 += errors;
        }
    }
    let peak = counts.iter().map(|c| c.0).max().unwrap_or(0).max(1);
    let w = CHART_W / buckets as f64;
    let bars = counts
        .iter()
        .enumerate()
        .map(|(i, (total, errors))| {
            let h = CHART_H * (*total as f64) / peak as f64;
            let eh = CHART_H * (*errors as f64) / peak as f64;
            let ago = (buckets - 1 - i) as u64 * per_bucket;
            Bar {
                x: format!("{:.1}", i as f64 * w + 1.0),
                y: format!("{:.1}", CHART_H - h),
                w: format!("{:.1}", (w - 2.0).max(1.0)),
                h: format!("{h:.1}"),
                err_y: format!("{:.1}", CHART_H - eh),
                err_h: format!("{eh:.1}"),
                title: format!("{total} requests, {errors} failed — {ago} min ago"),
            }
        })
        .collect();
    (bars, peak)
}

fn link(q: &LogQuery, page: u64) -> String {
    format!(
        "/_/logs?status={}&method={}&path={}&span={}&page={page}",
        query_value(&q.status),
        query_value(&q.method),
        query_value(&q.path),
        query_value(&q.span)
    )
}

async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    q: Option<crate::http::Query<LogQuery>>,
) -> Result<HttpResponse> {
    let mut q = q.map(crate::http::Query::into_inner).unwrap_or_default();
    if !SPANS.iter().any(|(k, ..)| *k == q.span) {
        q.span = "1h".into();
    }
    let minutes = minutes_of(&q.span);
    let since = crate::logs::cutoff(std::time::Duration::from_secs(minutes * 60));
    let filter = filter_of(&q, &since);
    let page = q.page.unwrap_or(1).max(1);
    let shared = state.clone();
    let since_chart = since.clone();
    let (items, total, per_minute) = blocking(move || {
        shared.db.aux.read(|c| {
            let (items, total) = query::list(c, page, PER_PAGE, false, "-@rowid", &filter)?;
            let per_minute = query::per_minute(c, &since_chart)?;
            Ok((items, total.unwrap_or(0), per_minute))
        })
    })
    .await?;
    let rows = items
        .iter()
        .map(|e| {
            let data = &e["data"];
            Row {
                id: e["id"].as_str().unwrap_or_default().to_owned(),
                created: e["created"].as_str().unwrap_or_default().to_owned(),
                method: data["method"].as_str().unwrap_or_default().to_owned(),
                url: data["url"].as_str().unwrap_or_default().to_owned(),
                status: data["status"].as_i64().unwrap_or(0),
                exec_ms: data["execTime"]
                    .as_f64()
                    .map_or_else(String::new, |ms| format!("{ms:.1}")),
                auth: data["auth"].as_str().unwrap_or_default().to_owned(),
            }
        })
        .collect();
    let (bars, peak) = chart(&per_minute, minutes);
    let total_pages = total.div_ceil(PER_PAGE).max(1);
    let (chrome, nonce) = Chrome::page(&req, &state, &admin, "Logs", "logs");
    let page_view = LogsPage {
        chrome,
        rows,
        bars,
        peak,
        total,
        prev: (page > 1).then(|| link(&q, page - 1)),
        next: (page < total_pages).then(|| link(&q, page + 1)),
        first_minute: format!("{minutes} min ago"),
        last_minute: "now".into(),
        status: q.status,
        method: q.method,
        path: q.path,
        span: q.span,
        methods: METHODS,
        spans: SPANS,
        page,
        total_pages,
    };
    super::html(&req, StatusCode::OK, &nonce, &page_view)
}

async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let shared = state.clone();
    let entry = match blocking(move || shared.db.aux.read(|c| query::view(c, &id))).await {
        Ok(e) => e,
        Err(Error::NotFound(_)) => {
            return super::message(
                &req,
                &state,
                &admin,
                StatusCode::NOT_FOUND,
                "There is no such log entry; it may have been pruned.",
                "/_/logs",
            );
        }
        Err(e) => return Err(e),
    };
    let (chrome, nonce) = Chrome::page(&req, &state, &admin, "Log entry", "logs");
    let page = LogPage {
        chrome,
        message: entry["message"].as_str().unwrap_or_default().to_owned(),
        created: entry["created"].as_str().unwrap_or_default().to_owned(),
        level: entry["level"].as_i64().unwrap_or(0),
        data: serde_json::to_string_pretty(entry.get("data").unwrap_or(&Value::Null))
            .unwrap_or_default(),
    };
    super::html(&req, StatusCode::OK, &nonce, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_keep_quotes_out_of_the_path() {
        let q = LogQuery {
            status: "5xx".into(),
            method: "DROP".into(),
            path: "/api' || 1=1 || '".into(),
            ..Default::default()
        };
        let f = filter_of(&q, "2026-01-01 00:00:00.000Z");
        assert_eq!(
            f,
            "created >= '2026-01-01 00:00:00.000Z' && data.status >= 500 && data.url ~ '/api || 1=1 ||'"
        );
        assert!(crate::filter::parse(&f).is_ok());
    }
}
