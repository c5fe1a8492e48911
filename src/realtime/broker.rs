//! The connected realtime clients: who each one is (the auth of its last subscription
//! request), what it subscribed to, and a bounded channel to its SSE stream. A client whose
//! channel is full (it reads too slowly) is dropped rather than buffered without limit; its
//! stream ends and the SDK reconnects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, RwLock, Weak};

use actix_web::web::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use super::dispatch::{self, Fanout};
use super::topic::Subscription;
use crate::error::{Error, Result};
use crate::records::changes::Change;
use crate::records::{Caller, RuleAuth};

/// Messages a client may have waiting before it counts as too slow and is dropped.
pub const CLIENT_BUFFER: usize = 256;
/// Committed changes waiting for the dispatcher before new ones are dropped (logged).
const QUEUE: usize = 4096;

/// Who a client is, as the auth of its last `POST /api/realtime` said.
#[derive(Debug, Clone)]
pub struct Identity {
    pub caller: Caller,
    /// The auth record rules see as `@request.auth`.
    pub auth: Option<RuleAuth>,
}

impl Identity {
    pub fn guest() -> Self {
        Self {
            caller: Caller::Guest,
            auth: None,
        }
    }

    /// Equal for the same auth record (`collectionId/id`); empty for guests.
    pub fn key(&self) -> String {
        match &self.auth {
            Some((c, record)) => format!(
                "{}/{}",
                c.id,
                record.get("id").and_then(Value::as_str).unwrap_or_default()
            ),
            None => String::new(),
        }
    }

    /// `key()`, computed once: fan-out groups thousands of clients by it per change.
    fn keyed(self) -> (String, Self) {
        (self.key(), self)
    }

    /// True when this is the auth record `id` of `collection_id`.
    pub fn is(&self, collection_id: &str, id: &str) -> bool {
        self.auth.as_ref().is_some_and(|(c, r)| {
            c.id == collection_id && r.get("id").and_then(Value::as_str) == Some(id)
        })
    }
}

/// The topic a client of the OAuth2 all-in-one flow waits on for its code.
pub const OAUTH2_TOPIC: &str = "@oauth2";

pub struct Client {
    pub id: String,
    /// The address it connected from: only a redirect from there may hand it an OAuth2
    /// code (see `Broker::oauth2_redirect`).
    pub ip: String,
    tx: mpsc::Sender<Bytes>,
    state: Mutex<ClientState>,
}

pub struct ClientState {
    pub identity: Identity,
    /// `identity.key()`.
    pub key: String,
    pub subscriptions: Vec<Subscription>,
}

impl ClientState {
    pub fn set_identity(&mut self, identity: Identity) {
        (self.key, self.identity) = identity.keyed();
    }
}

impl Client {
    /// Queues one SSE message; false when the client is gone or too slow (then drop it).
    pub fn send(&self, event: &str, data: &str) -> bool {
        let message = format!("id:{}\nevent:{event}\ndata:{data}\n\n", self.id);
        self.tx.try_send(Bytes::from(message)).is_ok()
    }

    /// Reads the client's state under its lock (never held across anything slow).
    pub fn with_state<R>(&self, f: impl FnOnce(&ClientState) -> R) -> R {
        match self.state.lock() {
            Ok(s) => f(&s),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    pub fn update(&self, f: impl FnOnce(&mut ClientState)) {
        match self.state.lock() {
            Ok(mut s) => f(&mut s),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

type Clients = RwLock<HashMap<String, Arc<Client>>>;

pub struct Broker {
    clients: Arc<Clients>,
    queue: SyncSender<Vec<Fanout>>,
    max_clients: usize,
    dropped_slow: AtomicU64,
}

/// Removes its client from the broker when the SSE stream ends, however it ends.
pub struct Registration {
    id: String,
    clients: Weak<Clients>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(clients) = self.clients.upgrade() {
            remove(&clients, &self.id);
        }
    }
}

fn remove(clients: &Clients, id: &str) {
    match clients.write() {
        Ok(mut map) => map.remove(id),
        Err(poisoned) => poisoned.into_inner().remove(id),
    };
}

/// A new client: its id, the receiving end of its messages and its registration.
pub struct Connection {
    pub id: String,
    pub messages: mpsc::Receiver<Bytes>,
    pub registration: Registration,
}

impl Broker {
    /// The broker and the receiving end of its queue of committed changes, for the
    /// dispatcher thread. `max_clients` 0: no limit.
    pub fn new(max_clients: usize) -> (Self, Receiver<Vec<Fanout>>) {
        let (queue, rx) = sync_channel(QUEUE);
        let broker = Self {
            clients: Arc::new(RwLock::new(HashMap::new())),
            queue,
            max_clients,
            dropped_slow: AtomicU64::new(0),
        };
        (broker, rx)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Client>>> {
        self.clients.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn count(&self) -> usize {
        self.read().len()
    }

    /// Slow clients dropped since start.
    pub fn dropped_slow(&self) -> u64 {
        self.dropped_slow.load(Ordering::Relaxed)
    }

    /// Registers a new client (a guest with no subscriptions yet).
    pub fn connect(&self, ip: &str) -> Result<Connection> {
        let id = crate::ids::secret(40);
        let (tx, messages) = mpsc::channel(CLIENT_BUFFER);
        let client = Arc::new(Client {
            id: id.clone(),
            ip: ip.to_owned(),
            tx,
            state: Mutex::new(ClientState {
                identity: Identity::guest(),
                key: String::new(),
                subscriptions: Vec::new(),
            }),
        });
        {
            let mut map = self.clients.write().unwrap_or_else(|p| p.into_inner());
            if self.max_clients > 0 && map.len() >= self.max_clients {
                return Err(Error::Overloaded);
            }
            map.insert(id.clone(), client);
        }
        Ok(Connection {
            id: id.clone(),
            messages,
            registration: Registration {
                id,
                clients: Arc::downgrade(&self.clients),
            },
        })
    }

    /// Replaces a client's subscriptions and records who asked, as PocketBase does: a
    /// guest may become any auth, but an authorized client stays that auth (403).
    pub fn subscribe(&self, client_id: &str, identity: Identity, topics: &[String]) -> Result<()> {
        let client = self
            .read()
            .get(client_id)
            .cloned()
            .ok_or_else(|| Error::NotFound("Missing or invalid client id.".into()))?;
        let mut result = Ok(());
        client.update(|state| {
            if !state.key.is_empty() && state.key != identity.key() {
                result = Err(Error::Forbidden(
                    "The current and the previous request authorization don't match.".into(),
                ));
                return;
            }
            state.set_identity(identity);
            state.subscriptions = topics
                .iter()
                .filter(|t| !t.is_empty())
                .map(|t| Subscription::parse(t))
                .collect();
        });
        result
    }

    /// The OAuth2 all-in-one flow's hand-over: sends `data` as the `@oauth2` event to the
    /// client `state` names, when it subscribed to `@oauth2` and connected from `ip`, and
    /// ends that subscription (a code is handed over once). Whether it was sent.
    pub fn oauth2_redirect(&self, state: &str, ip: &str, data: &str) -> bool {
        let Some(client) = self.read().get(state).cloned() else {
            return false;
        };
        if client.ip != ip {
            return false;
        }
        let mut subscribed = false;
        client.update(|s| {
            let before = s.subscriptions.len();
            s.subscriptions.retain(|t| t.raw != OAUTH2_TOPIC);
            subscribed = s.subscriptions.len() != before;
        });
        subscribed && client.send(OAUTH2_TOPIC, data)
    }

    /// Every connected client, for one fan-out.
    pub fn clients(&self) -> Vec<Arc<Client>> {
        self.read().values().cloned().collect()
    }

    /// Ends every stream (the server is stopping); clients reconnect elsewhere or later.
    pub fn close_all(&self) {
        self.clients
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Drops a client that could not take a message (too slow or gone).
    pub fn drop_client(&self, id: &str) {
        self.dropped_slow.fetch_add(1, Ordering::Relaxed);
        remove(&self.clients, id);
    }
}

/// Changes come only from the record write service, after their commit.
impl crate::records::Publish for Broker {
    /// Hands committed changes to the dispatcher; never blocks the caller. Who receives
    /// each change is decided here, at commit, from the subscriptions held now (as
    /// PocketBase routes a change in the request that made it): a client that subscribes
    /// after the change was answered never receives it. Rules are checked by the
    /// dispatcher.
    fn publish(&self, changes: Vec<Change>) {
        if changes.is_empty() || self.read().is_empty() {
            return;
        }
        let clients = self.clients();
        let batch: Vec<Fanout> = changes
            .into_iter()
            .filter_map(|change| dispatch::route(&clients, change))
            .collect();
        if batch.is_empty() {
            return;
        }
        match self.queue.try_send(batch) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                log::warn!("realtime dispatcher is behind; dropped a batch of events")
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_that_does_not_read_is_refused_past_its_buffer_and_leaves_when_gone() {
        let (broker, _queue) = Broker::new(0);
        let conn = broker.connect("127.0.0.1").unwrap();
        let client = broker.clients().pop().unwrap();

        for _ in 0..CLIENT_BUFFER {
            assert!(client.send("posts/*", "{}"));
        }
        assert!(!client.send("posts/*", "{}"), "a full buffer refuses");
        drop(conn);

        assert_eq!(broker.count(), 0);
    }

    #[test]
    fn the_client_limit_holds() {
        let (broker, _queue) = Broker::new(1);
        let _first = broker.connect("127.0.0.1").unwrap();

        assert!(matches!(
            broker.connect("127.0.0.1"),
            Err(Error::Overloaded)
        ));
    }
}
