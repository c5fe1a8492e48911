//! Prometheus metrics (`GET /api/metrics`), kept with the `prometheus` crate in one registry:
//! requests by route template and status, latency histograms, how long work waits for the
//! writer and for a reader connection, database sizes, queued blocking work, the request-log
//! queue, and the process's own memory and CPU.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub writer_wait: Histogram,
    pub reader_wait: Histogram,
    pub db_size: IntGaugeVec,
    pub blocking_queued: IntGauge,
    pub logs_dropped: IntGauge,
    pub logs_written: IntGauge,
    pub pool_timeouts: IntCounter,
    pub realtime_clients: IntGauge,
    pub realtime_dropped: IntGauge,
    pub webhook_backlog: IntGauge,
    /// Only with `--litestream`: nothing is shown for a label never set.
    pub litestream_lag: GaugeVec,
    pub litestream_replicating: IntGaugeVec,
}

/// Latency buckets from 0.25 ms to 10 s.
const BUCKETS: [f64; 14] = [
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

fn build() -> prometheus::Result<Metrics> {
    let registry = Registry::new_custom(Some("hearth".into()), None)?;
    let requests = IntCounterVec::new(
        Opts::new(
            "http_requests_total",
            "HTTP requests answered, by route template and status.",
        ),
        &["method", "route", "status"],
    )?;
    let latency = HistogramVec::new(
        HistogramOpts::new(
            "http_request_duration_seconds",
            "Time to answer an HTTP request.",
        )
        .buckets(BUCKETS.to_vec()),
        &["method", "route"],
    )?;
    let writer_wait = Histogram::with_opts(
        HistogramOpts::new(
            "db_writer_wait_seconds",
            "Time a write waited for the single writer connection.",
        )
        .buckets(BUCKETS.to_vec()),
    )?;
    let reader_wait = Histogram::with_opts(
        HistogramOpts::new(
            "db_reader_wait_seconds",
            "Time a read waited for a reader connection.",
        )
        .buckets(BUCKETS.to_vec()),
    )?;
    let db_size = IntGaugeVec::new(
        Opts::new("db_size_bytes", "Size of each database file with its WAL."),
        &["db"],
    )?;
    let blocking_queued = IntGauge::new(
        "blocking_queued",
        "Database jobs waiting or running on the blocking pool (the writer's queue included).",
    )?;
    let logs_dropped = IntGauge::new(
        "request_logs_dropped",
        "Request-log entries dropped because the log queue was full.",
    )?;
    let logs_written = IntGauge::new("request_logs_written", "Request-log entries written.")?;
    let pool_timeouts = IntCounter::new(
        "db_pool_timeouts_total",
        "Requests answered 503 because no database connection freed up in time.",
    )?;
    let realtime_clients =
        IntGauge::new("realtime_clients", "Realtime (SSE) connections open now.")?;
    let realtime_dropped = IntGauge::new(
        "realtime_clients_dropped",
        "Realtime clients disconnected because they did not keep up (since start).",
    )?;
    let webhook_backlog = IntGauge::new(
        "webhook_deliveries_pending",
        "Webhook deliveries waiting to be sent or retried.",
    )?;
    let litestream_lag = GaugeVec::new(
        Opts::new(
            "litestream_lag_seconds",
            "Seconds since Litestream last synced the file to its replica (with --litestream).",
        ),
        &["db"],
    )?;
    let litestream_replicating = IntGaugeVec::new(
        Opts::new(
            "litestream_replicating",
            "1 while Litestream answers and replicates the file (with --litestream), else 0.",
        ),
        &["db"],
    )?;
    registry.register(Box::new(requests.clone()))?;
    registry.register(Box::new(latency.clone()))?;
    registry.register(Box::new(writer_wait.clone()))?;
    registry.register(Box::new(reader_wait.clone()))?;
    registry.register(Box::new(db_size.clone()))?;
    registry.register(Box::new(blocking_queued.clone()))?;
    registry.register(Box::new(logs_dropped.clone()))?;
    registry.register(Box::new(logs_written.clone()))?;
    registry.register(Box::new(pool_timeouts.clone()))?;
    registry.register(Box::new(realtime_clients.clone()))?;
    registry.register(Box::new(realtime_dropped.clone()))?;
    registry.register(Box::new(webhook_backlog.clone()))?;
    registry.register(Box::new(litestream_lag.clone()))?;
    registry.register(Box::new(litestream_replicating.clone()))?;
    #[cfg(target_os = "linux")]
    registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))?;
    Ok(Metrics {
        registry,
        requests,
        latency,
        writer_wait,
        reader_wait,
        db_size,
        blocking_queued,
        logs_dropped,
        logs_written,
        pool_timeouts,
        realtime_clients,
        realtime_dropped,
        webhook_backlog,
        litestream_lag,
        litestream_replicating,
    })
}

/// The process-wide metrics. Registration only fails on duplicate names, which `build`
/// does not have; if it ever did, metrics would be off rather than the server.
pub static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| match build() {
    Ok(m) => Some(m),
    Err(e) => {
        log::warn!("metrics disabled: {e}");
        None
    }
});

pub fn observe_writer_wait(waited: Duration) {
    if let Some(m) = METRICS.as_ref() {
        m.writer_wait.observe(waited.as_secs_f64());
    }
}

pub fn observe_reader_wait(waited: Duration) {
    if let Some(m) = METRICS.as_ref() {
        m.reader_wait.observe(waited.as_secs_f64());
    }
}

pub fn count_pool_timeout() {
    if let Some(m) = METRICS.as_ref() {
        m.pool_timeouts.inc();
    }
}

/// A route template as a label: `/api/collections/{collection}/records` (actix) becomes
/// `/api/collections/:collection/records`, which every scraper's parser reads.
pub fn route_label(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let inner = &rest[open + 1..open + close];
        out.push(':');
        out.push_str(inner.split(':').next().unwrap_or(inner));
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// Counts and times one answered request; `route` is the matched template, never the raw
/// path, to bound cardinality.
pub fn observe_request(method: &str, route: &str, status: u16, took: Duration) {
    if let Some(m) = METRICS.as_ref() {
        let route = route_label(route);
        let route = route.as_str();
        let code = status.to_string();
        m.requests
            .with_label_values(&[method, route, code.as_str()])
            .inc();
        m.latency
            .with_label_values(&[method, route])
            .observe(took.as_secs_f64());
    }
}

/// The text exposition of every metric.
pub fn render() -> String {
    let Some(m) = METRICS.as_ref() else {
        return String::new();
    };
    let mut out = Vec::new();
    if TextEncoder::new()
        .encode(&m.registry.gather(), &mut out)
        .is_err()
    {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_templates_become_colon_labels() {
        assert_eq!(
            route_label("/api/collections/{collection}/records/{id}"),
            "/api/collections/:collection/records/:id"
        );
        assert_eq!(route_label("/_/static/{path:.*}"), "/_/static/:path");
        assert_eq!(route_label("/api/health"), "/api/health");
    }
}
