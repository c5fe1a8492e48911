//! The dashboard: what this instance holds and how it is doing, at a glance.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::collections::Row;
use super::{Admin, Chrome};
use crate::auth::superusers::Superuser;
use crate::error::Result;
use crate::http::blocking;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(show));
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    /// User collections with their record counts.
    rows: Vec<Row>,
    collections: i64,
    superusers: i64,
    data_size: String,
    aux_size: String,
    version: &'static str,
    uptime: String,
    /// Requests answered 4xx/5xx in the last 24 hours, and the latest 5xx ones.
    failed_today: u64,
    recent_errors: Vec<RecentError>,
    /// With `--litestream`: each file's replication, and why Litestream is not answering.
    replication: Option<Replication>,
}

pub struct Replication {
    pub socket: String,
    pub problem: Option<String>,
    pub files: Vec<ReplicatedFile>,
}

pub struct ReplicatedFile {
    pub file: &'static str,
    pub replicating: bool,
    /// `0.6 s`, or `never synced`.
    pub lag: String,
}

fn replication(state: &AppState) -> Option<Replication> {
    let litestream = state.litestream.as_ref()?;
    let now = std::time::SystemTime::now();
    let seen = litestream.snapshot();
    let files = seen
        .files
        .iter()
        .map(|f| ReplicatedFile {
            file: f.file,
            replicating: seen.replicating(f, now),
            lag: f
                .lag(now)
                .map_or_else(|| "never synced".into(), |s| format!("{s:.1} s")),
        })
        .collect();
    Some(Replication {
        socket: litestream.socket().display().to_string(),
        problem: seen.error,
        files,
    })
}

pub struct RecentError {
    pub id: String,
    pub created: String,
    pub message: String,
    pub status: i64,
}

async fn show(req: HttpRequest, state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse> {
    let shared = state.clone();
    let (collections, superusers) = blocking(move || {
        shared.db.data.read(|c| {
            let collections: i64 = c
                .prepare_cached("SELECT count(*) FROM _collections WHERE system = FALSE")?
                .query_row([], |r| r.get(0))?;
            Ok((collections, Superuser::count(c)?))
        })
    })
    .await?;
    let rows = super::collections::rows(&state)
        .await?
        .into_iter()
        .filter(|r| !r.system || r.name == "users")
        .collect();
    let shared = state.clone();
    let (failed_today, recent_errors) = blocking(move || {
        shared.db.aux.read(|c| {
            let since = crate::logs::cutoff(std::time::Duration::from_secs(86_400));
            let (_, failed) = crate::logs::query::list(
                c,
                1,
                1,
                false,
                "",
                &format!("created >= '{since}' && data.status >= 400"),
            )?;
            let (items, _) =
                crate::logs::query::list(c, 1, 5, true, "-@rowid", "data.status >= 500")?;
            let recent = items
                .iter()
                .map(|e| RecentError {
                    id: e["id"].as_str().unwrap_or_default().to_owned(),
                    created: e["created"].as_str().unwrap_or_default().to_owned(),
                    message: e["message"].as_str().unwrap_or_default().to_owned(),
                    status: e["data"]["status"].as_i64().unwrap_or(0),
                })
                .collect();
            Ok((failed.unwrap_or(0), recent))
        })
    })
    .await?;
    let (chrome, nonce) = Chrome::page(&req, &state, &admin, "Dashboard", "dashboard");
    let page = DashboardPage {
        chrome,
        rows,
        collections,
        superusers,
        data_size: human_bytes(state.db.data.size_bytes()),
        aux_size: human_bytes(state.db.aux.size_bytes()),
        version: crate::VERSION,
        uptime: human_duration(state.started.elapsed().as_secs()),
        failed_today,
        recent_errors,
        replication: replication(&state),
    };
    super::html(&req, actix_web::http::StatusCode::OK, &nonce, &page)
}

pub(super) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn human_duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    match (d, h) {
        (0, 0) if m == 0 => format!("{secs}s"),
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MB");
        assert_eq!(human_duration(42), "42s");
        assert_eq!(human_duration(3_700), "1h 1m");
        assert_eq!(human_duration(90_000), "1d 1h");
    }
}
