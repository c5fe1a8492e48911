//! `GET /api/metrics`: the Prometheus text format, for a superuser token or the configured
//! metrics key (`Authorization: Bearer KEY`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

use super::RequestAuth;
use crate::error::{Error, Result};
use crate::metrics::{self, METRICS};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(scrape));
}

/// Compares digests, so the time taken says nothing about how much of the key matched.
fn same_key(given: &str, key: &str) -> bool {
    Sha256::digest(given.as_bytes()) == Sha256::digest(key.as_bytes())
}

fn has_metrics_key(req: &HttpRequest, state: &AppState) -> bool {
    let Some(key) = state.config.metrics_key.as_deref() else {
        return false;
    };
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().strip_prefix("Bearer ").unwrap_or(v).trim())
        .is_some_and(|given| same_key(given, key))
}

async fn scrape(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: RequestAuth,
) -> Result<HttpResponse> {
    if !has_metrics_key(&req, &state) {
        auth.require_superuser()?;
    }
    let Some(m) = METRICS.as_ref() else {
        return Err(Error::internal("metrics are unavailable"));
    };
    m.db_size
        .with_label_values(&["data"])
        .set(state.db.data.size_bytes() as i64);
    m.db_size
        .with_label_values(&["auxiliary"])
        .set(state.db.aux.size_bytes() as i64);
    m.blocking_queued
        .set(crate::http::blocking_in_flight() as i64);
    m.logs_dropped.set(state.logs.dropped() as i64);
    m.logs_written.set(state.logs.written() as i64);
    m.realtime_clients.set(state.realtime.count() as i64);
    m.realtime_dropped.set(state.realtime.dropped_slow() as i64);
    let shared = state.clone();
    let backlog =
        crate::http::blocking(move || shared.db.data.read(crate::webhooks::store::backlog)).await?;
    m.webhook_backlog.set(backlog);
    if let Some(litestream) = &state.litestream {
        let now = std::time::SystemTime::now();
        let seen = litestream.snapshot();
        for file in &seen.files {
            m.litestream_replicating
                .with_label_values(&[file.file])
                .set(i64::from(seen.replicating(file, now)));
            match file.lag(now) {
                Some(lag) => m.litestream_lag.with_label_values(&[file.file]).set(lag),
                // Never synced: no number rather than a reassuring 0.
                None => {
                    let _ = m.litestream_lag.remove_label_values(&[file.file]);
                }
            }
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics::render()))
}
