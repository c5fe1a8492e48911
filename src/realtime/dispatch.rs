//! Fan-out of committed record changes to the subscribed clients, on one dispatcher thread
//! (so events keep their commit order). Clients are grouped by who they are and what exact
//! subscription they hold: each group's rule check, expand and projection run once, on one
//! read connection, against the record as it was captured in its transaction; then every
//! member gets the same data. A client whose buffer is full is dropped.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::Connection;
use serde_json::{Map, Value};

use super::broker::{Broker, Client, Identity};
use super::topic::Subscription;
use crate::error::Result;
use crate::filter::RequestInfo;
use crate::records::changes::{Change, Event};
use crate::records::{self, Ctx, Shape};
use crate::schema::Snapshot;

/// Which rule admits a subscription: the view rule for one record, the list rule otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RuleKind {
    View,
    List,
}

struct Group {
    identity: Identity,
    subscription: Subscription,
    rule: RuleKind,
    members: Vec<Arc<Client>>,
}

/// The rule that a client subscribed under `sub` must pass to see `change`, if any.
fn rule_for(sub: &Subscription, change: &Change) -> Option<RuleKind> {
    let c = &change.collection;
    for base in [&c.name, &c.id] {
        if sub.is_for(&format!("{base}/{}", change.id)) {
            return Some(RuleKind::View);
        }
        // `coll` alone is PocketBase's deprecated spelling of `coll/*`.
        if sub.is_for(&format!("{base}/*")) || sub.is_for(base) {
            return Some(RuleKind::List);
        }
    }
    None
}

/// Sends every change to the clients that may see it.
pub fn run(conn: &Connection, broker: &Broker, schema: &Arc<Snapshot>, changes: &[Change]) {
    for change in changes {
        follow_auth_change(broker, change);
        let groups = group(broker, change);
        if groups.is_empty() {
            continue;
        }
        for g in groups.into_values() {
            let data = match message(conn, schema, change, &g) {
                Ok(Some(data)) => data,
                Ok(None) => continue,
                Err(e) => {
                    log::warn!(
                        "realtime event for {}/{}: {e}",
                        change.collection.name,
                        change.id
                    );
                    continue;
                }
            };
            for client in &g.members {
                if !client.send(&g.subscription.raw, &data) {
                    log::info!("realtime client {} dropped: it does not keep up", client.id);
                    broker.drop_client(&client.id);
                }
            }
        }
    }
}

/// Clients signed in as a changed auth record see rules with its new fields; a deleted
/// one makes them guests, as in PocketBase.
fn follow_auth_change(broker: &Broker, change: &Change) {
    if !change.collection.is_auth() {
        return;
    }
    for client in broker.clients() {
        client.update(|state| {
            if !state.identity.is(&change.collection.id, &change.id) {
                return;
            }
            match change.event {
                Event::Delete => state.identity = Identity::guest(),
                _ => {
                    if let Some((_, record)) = state.identity.auth.as_mut() {
                        for (k, v) in &change.record {
                            record.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        });
    }
}

fn group(broker: &Broker, change: &Change) -> HashMap<(String, String), Group> {
    let mut groups: HashMap<(String, String), Group> = HashMap::new();
    for client in broker.clients() {
        let state = client.state();
        for sub in &state.subscriptions {
            let Some(rule) = rule_for(sub, change) else {
                continue;
            };
            let key = (state.identity.key(), sub.raw.clone());
            groups
                .entry(key)
                .or_insert_with(|| Group {
                    identity: state.identity.clone(),
                    subscription: sub.clone(),
                    rule,
                    members: Vec::new(),
                })
                .members
                .push(client.clone());
        }
    }
    groups
}

/// The event data one group receives, or None when its rule or filter hides the record.
fn message(
    conn: &Connection,
    schema: &Arc<Snapshot>,
    change: &Change,
    g: &Group,
) -> Result<Option<String>> {
    let c = &change.collection;
    let sub = &g.subscription;
    let ctx = Ctx {
        caller: g.identity.caller.clone(),
        request: RequestInfo {
            auth: g.identity.auth.clone(),
            method: "GET".into(),
            query: sub.query.clone(),
            headers: sub.headers.clone(),
            body: Map::new(),
        },
        schema: schema.clone(),
        changes: Default::default(),
    };
    let rule = match g.rule {
        RuleKind::View => &c.rules.view,
        RuleKind::List => &c.rules.list,
    };
    let Some(record) = records::view_row(conn, c, &ctx, &change.row, rule, sub.option("filter"))?
    else {
        return Ok(None);
    };
    let mut items = [record];
    let shape = Shape {
        expand: sub.option("expand").to_owned(),
        fields: sub.option("fields").to_owned(),
    };
    // A bad expand or fields option leaves the record as it is rather than losing the event.
    if let Err(e) = records::shape(conn, c, &ctx, &mut items, &shape) {
        log::debug!("realtime subscription {}: {e}", sub.raw);
    }
    let [record] = items;
    // PocketBase writes `record` before `action`.
    Ok(Some(format!(
        r#"{{"record":{},"action":"{}"}}"#,
        Value::Object(record),
        change.event.as_str()
    )))
}
