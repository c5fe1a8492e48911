//! Fan-out of committed record changes. At commit (`route`, on the writing request's
//! thread) a change is matched against the subscriptions held then, and the matching clients
//! are grouped by who they are and what exact subscription they hold; on the dispatcher
//! thread (`run`, so events keep the order they were published in) each group's rule check, expand and
//! projection run once, on one read connection, against the record as it was captured in
//! its transaction, and every member gets the same data. A client whose buffer is full is
//! dropped.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::Connection;
use serde_json::{Map, Value};

use super::Source;
use super::broker::{Client, Identity};
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

/// One committed change and the clients it may go to, grouped; decided at commit.
pub struct Fanout {
    change: Change,
    groups: Vec<Group>,
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

/// Routes one change at commit: clients signed in as a changed auth record follow it, and
/// the subscribed clients are grouped by identity and subscription. None: nobody listens.
pub fn route(clients: &[Arc<Client>], change: Change) -> Option<Fanout> {
    follow_auth_change(clients, &change);
    let groups = group(clients, &change);
    (!groups.is_empty()).then_some(Fanout { change, groups })
}

/// Sends every routed change to the clients whose rules let them see it.
pub fn run<S: Source>(conn: &Connection, source: &S, schema: &Arc<Snapshot>, batch: &[Fanout]) {
    let broker = source.broker();
    for Fanout { change, groups } in batch {
        for g in groups {
            let data = match message(conn, source, schema, change, g) {
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
fn follow_auth_change(clients: &[Arc<Client>], change: &Change) {
    if !change.collection.is_auth() {
        return;
    }
    for client in clients {
        client.update(|state| {
            if !state.identity.is(&change.collection.id, &change.id) {
                return;
            }
            match change.event {
                Event::Delete => state.set_identity(Identity::guest()),
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

fn group(clients: &[Arc<Client>], change: &Change) -> Vec<Group> {
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for client in clients {
        client.with_state(|state| {
            for sub in &state.subscriptions {
                let Some(rule) = rule_for(sub, change) else {
                    continue;
                };
                let at = match index.get(&(state.key.clone(), sub.raw.clone())) {
                    Some(&at) => at,
                    None => {
                        index.insert((state.key.clone(), sub.raw.clone()), groups.len());
                        groups.push(Group {
                            identity: state.identity.clone(),
                            subscription: sub.clone(),
                            rule,
                            members: Vec::new(),
                        });
                        groups.len() - 1
                    }
                };
                groups[at].members.push(client.clone());
            }
        });
    }
    groups
}

/// The event data one group receives, or None when its rule or filter hides the record.
/// The record passes the `onRecordEnrich` hooks as the group's identity; a failing hook
/// withholds the event rather than send what it may have hidden.
fn message<S: Source>(
    conn: &Connection,
    source: &S,
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
            context: "",
        },
        schema: schema.clone(),
        changes: Default::default(),
        validate: true,
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
    let record = source.enrich(record, &g.identity)?;
    // PocketBase writes `record` before `action`.
    Ok(Some(format!(
        r#"{{"record":{},"action":"{}"}}"#,
        Value::Object(record),
        change.event.as_str()
    )))
}
