//! Realtime, as PocketBase serves it: clients hold an SSE stream (`GET /api/realtime`),
//! choose topics with `POST /api/realtime`, and receive each committed record change they
//! may read. This module owns the broker and the fan-out; it never writes, and it sees a
//! change only after its transaction committed. HTTP framing lives in `api::realtime`.

pub mod broker;
pub mod dispatch;
pub mod topic;

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::time::Duration;

pub use broker::{Broker, Identity};

use crate::db::Store;
use crate::schema::Snapshot;

/// What the dispatcher reads of the running server (`AppState`): the collections now, the
/// database the rules are checked in, and the broker that holds the subscribers.
pub trait Source: Send + Sync + 'static {
    fn collections(&self) -> Arc<Snapshot>;
    fn store(&self) -> &Store;
    fn broker(&self) -> &Broker;
    /// The record of an event as the server's `onRecordEnrich` hooks leave it for a client
    /// signed in as `identity`.
    fn enrich(
        &self,
        record: serde_json::Map<String, serde_json::Value>,
        identity: &Identity,
    ) -> crate::error::Result<serde_json::Map<String, serde_json::Value>>;
}

/// Starts the dispatcher thread: it takes committed changes from the broker's queue and
/// fans them out in the order they were published: one request's changes in the order it
/// made them, but different requests' in whichever order their threads publish after their
/// commits, which is not commit order (the members of one group commit return together).
/// Ends when the app is dropped.
pub fn start_dispatcher<S: Source>(state: Weak<S>, queue: Receiver<Vec<dispatch::Fanout>>) {
    let spawned = std::thread::Builder::new()
        .name("realtime".into())
        .spawn(move || {
            loop {
                let batch = match queue.recv_timeout(Duration::from_secs(1)) {
                    Ok(batch) => batch,
                    Err(RecvTimeoutError::Timeout) => {
                        if state.strong_count() == 0 {
                            break;
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                };
                let Some(state) = state.upgrade() else { break };
                let schema = state.collections();
                let sent = state.store().read_reserved(|conn| {
                    dispatch::run(conn, &*state, &schema, &batch);
                    Ok(())
                });
                if let Err(e) = sent {
                    log::warn!("realtime dispatch: {e}");
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the realtime dispatcher: {e}");
    }
}
