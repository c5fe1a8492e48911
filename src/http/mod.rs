//! Request plumbing shared by the JSON API (`api/`) and the admin pages (`ui/`): running
//! blocking work off the async workers within one bound, record writes on the hooks
//! executors, the body and query extractors, multipart uploads, the 404 answer, the
//! client's address and streaming a file out (`read_ahead`). Neither `api/` nor `ui/`
//! calls into the other; both build on this.

pub mod body;
pub mod multipart;
mod query;
pub mod read_ahead;

use actix_web::{HttpRequest, HttpResponse, http::Method, web};

pub use body::{Body, Encoding, Sent};
pub use query::Query;

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::db;
use crate::error::{Error, Result};
use crate::records::write::{NoHooks, RecordHooks};
use crate::state::AppState;

/// How many pieces of blocking work may wait or run at once, process-wide. The blocking pool
/// itself has far fewer threads (`blocking_threads_per_worker`, see `app.rs`):
/// the rest wait in its queue. Past this bound a request is turned away with 503 and
/// `Retry-After` instead of joining a queue that grows without limit.
pub const MAX_BLOCKING: usize = 512;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Blocking jobs waiting or running now (exported as a metric).
pub fn blocking_in_flight() -> usize {
    IN_FLIGHT.load(Ordering::Relaxed)
}

/// Releases its place in the bound when dropped, however the work ends.
struct Slot;

impl Slot {
    fn take() -> Result<Self> {
        if IN_FLIGHT.fetch_add(1, Ordering::AcqRel) >= MAX_BLOCKING {
            IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::Overloaded);
        }
        Ok(Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs blocking work (SQLite, password hashing) on the blocking pool, off the async workers,
/// within the `MAX_BLOCKING` bound. When the awaiting future is dropped (the client went
/// away) the reads `f` runs are interrupted and their readers freed at once.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let slot = Slot::take()?;
    let (cancel, _cancel_on_drop) = db::bound::Cancel::on_drop();
    let out = web::block(move || db::bound::within(cancel, f)).await?;
    drop(slot);
    out
}

/// Awaits a write queued for the writer thread (`Writes::run_queued`) within the same
/// `MAX_BLOCKING` bound as blocking work, so that a flood of writes is turned away with 503
/// rather than queued without limit.
pub async fn queued<T>(write: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    let slot = Slot::take()?;
    let out = write.await;
    drop(slot);
    out
}

/// Runs a short read of bounded cost (SPEC "Storage": a row by id, no subquery, no JS) on
/// this async worker when a request reader of the data store is free at once, sparing
/// two thread hops; else as `blocking` work like any other read.
pub async fn short_read<T: Send + 'static>(
    state: &web::Data<AppState>,
    f: impl Fn(&rusqlite::Connection) -> Result<T> + Send + 'static,
) -> Result<T> {
    if let Some(out) = state.db.data.try_read(&f) {
        return out;
    }
    let state = state.clone();
    blocking(move || state.db.data.read(f)).await
}

/// Runs a record write to `c` (None: any collection, a batch): on a hooks executor when
/// record hooks for it are loaded (the JS runtime must be on the thread the write runs
/// on), else as `blocking` work without hooks.
pub async fn writing<T: Send + 'static>(
    state: &AppState,
    c: Option<std::sync::Arc<crate::schema::Collection>>,
    f: impl FnOnce(&dyn RecordHooks) -> Result<T> + Send + 'static,
) -> Result<T> {
    let loaded = state.hooks.current();
    let hooked = loaded.registry.has_record_hooks(c.as_deref());
    match &loaded.pool {
        Some(pool) if hooked => {
            pool.run(move |executor| executor.enter(|hooks| f(hooks)))
                .await?
        }
        _ => blocking(move || f(&NoHooks)).await,
    }
}

/// Whether record hooks are loaded for writes to `c`: when none are, a write may skip the
/// hooks executor (`writing`) and even the blocking pool (`Writes::run_queued`).
pub fn record_hooks_for(state: &AppState, c: &crate::schema::Collection) -> bool {
    let loaded = state.hooks.current();
    loaded.pool.is_some() && loaded.registry.has_record_hooks(Some(c))
}

/// How many calls to other servers (OAuth2 code exchanges, avatar downloads) may run at
/// once, process-wide; past it a request is turned away with 503.
pub const MAX_OUTBOUND: usize = 64;

static OUTBOUND: AtomicUsize = AtomicUsize::new(0);

/// Releases its place in the outbound bound when dropped.
struct OutboundSlot;

impl Drop for OutboundSlot {
    fn drop(&mut self) {
        OUTBOUND.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs work that waits on another server (an OAuth2 provider) on a thread of its own,
/// never on the blocking pool the database work shares: a slow or hanging provider holds
/// only these threads, at most `MAX_OUTBOUND` (each call ends within its own timeouts),
/// and every read and write goes on meanwhile. The place is held until the work ends,
/// even when the client has gone.
pub async fn outbound<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    if OUTBOUND.fetch_add(1, Ordering::AcqRel) >= MAX_OUTBOUND {
        OUTBOUND.fetch_sub(1, Ordering::AcqRel);
        return Err(Error::Overloaded);
    }
    let slot = OutboundSlot;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("outbound".into())
        .spawn(move || {
            let _slot = slot;
            let _ = tx.send(f());
        })
        .map_err(|e| Error::internal(format!("cannot start an outbound call: {e}")))?;
    rx.await
        .unwrap_or_else(|_| Err(Error::internal("an outbound call stopped")))
}

/// Runs a request's work whose cost is a password check (sign-in) on the password-hashing
/// threads, within the same `MAX_BLOCKING` bound, holding no blocking thread while it
/// waits: a burst of sign-ins queues there instead of stalling every read.
pub async fn hashing<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let slot = Slot::take()?;
    let (cancel, _cancel_on_drop) = db::bound::Cancel::on_drop();
    let out = crate::password::on_hashers(move || db::bound::within(cancel, f))
        .await
        .unwrap_or_else(|| Err(Error::internal("password hashing is unavailable")));
    drop(slot);
    out
}

/// PocketBase's 404 for routes that do not exist (GETs fall through to its static file
/// handler there, hence the different message).
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    not_found_response(req.method())
}

pub fn not_found_response(method: &Method) -> HttpResponse {
    let message = if method == Method::GET || method == Method::HEAD {
        "File not found."
    } else {
        "The requested resource wasn't found."
    };
    actix_web::ResponseError::error_response(&Error::NotFound(message.into()))
}

/// The address of the client, the one answer everything asks (rate limits, request logs,
/// realtime and OAuth2 checks, the hooks' `e.realIP()`): the address the header the
/// `trustedProxy` settings name gives, else the peer of the connection (see `client_ip`).
pub fn client_ip(req: &HttpRequest) -> Option<std::net::IpAddr> {
    let peer = peer_ip(req);
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return peer;
    };
    let proxy = state.proxy.current();
    if proxy.headers.is_empty() {
        return peer;
    }
    let last_value = |name: &str| {
        req.headers()
            .get_all(name)
            .last()
            .and_then(|v| v.to_str().ok())
    };
    proxy.real_ip(last_value).or(peer)
}

/// In a request's extensions when an enabled `rateLimits` rule covered it (or its address
/// is excluded from limits); put there by the rate-limit guard (`api::rate_limits`).
#[derive(Debug, Clone, Copy)]
pub struct RuleCovered;

/// The address the sign-in flag limit (`--auth-ip-limit`) counts `req` against: none when
/// a rule already covered the request (the rules replace that default), else the client's.
pub fn sign_in_ip(req: &HttpRequest) -> Option<std::net::IpAddr> {
    use actix_web::HttpMessage;
    if req.extensions().get::<RuleCovered>().is_some() {
        return None;
    }
    client_ip(req)
}

/// The peer of the connection (an IPv4 client of a dual-stack listener as IPv4).
pub fn peer_ip(req: &HttpRequest) -> Option<std::net::IpAddr> {
    req.peer_addr().map(|a| a.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_work_is_bounded() {
        let held: Vec<Slot> = (0..MAX_BLOCKING)
            .map(|_| Slot::take().unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert!(matches!(Slot::take(), Err(Error::Overloaded)));
        drop(held);
        assert!(Slot::take().is_ok());
    }
}
