//! SQL for `_webhooks` and the `_webhook_deliveries` outbox. Functions take a connection:
//! `enqueue` runs inside the record change's own write transaction.

use rusqlite::{Connection, OptionalExtension, Row};
use serde_json::{Map, Value, json};

use super::{Delivery, Webhook};
use crate::error::{Error, Result};

const WEBHOOK_COLUMNS: &str = "id, name, collection, events, url, secret, active, created, updated";

fn webhook(r: &Row) -> rusqlite::Result<Webhook> {
    let events: String = r.get(3)?;
    Ok(Webhook {
        id: r.get(0)?,
        name: r.get(1)?,
        collection: r.get(2)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        url: r.get(4)?,
        secret: r.get(5)?,
        active: r.get(6)?,
        created: r.get(7)?,
        updated: r.get(8)?,
    })
}

pub fn count(conn: &Connection) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM _webhooks")?
        .query_row([], |r| r.get(0))?;
    Ok(n as u64)
}

/// A page of webhooks, oldest first.
pub fn list(conn: &Connection, limit: u64, offset: u64) -> Result<Vec<Webhook>> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM _webhooks ORDER BY created, rowid LIMIT ?1 OFFSET ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([limit as i64, offset.min(i64::MAX as u64) as i64], webhook)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn find(conn: &Connection, id: &str) -> Result<Option<Webhook>> {
    let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM _webhooks WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], webhook)
        .optional()?)
}

/// Inserts a new webhook (`hook.id` empty) or updates one; returns it as stored.
pub fn save(conn: &Connection, hook: &Webhook) -> Result<Webhook> {
    let now = crate::datetime::now();
    let events = serde_json::to_string(&hook.events).map_err(Error::internal)?;
    let id = if hook.id.is_empty() {
        let id = crate::ids::record_id();
        conn.prepare_cached(
            "INSERT INTO _webhooks (id, name, collection, events, url, secret, active, created, updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        )?
        .execute((&id, &hook.name, &hook.collection, &events, &hook.url, &hook.secret, hook.active, &now))?;
        id
    } else {
        conn.prepare_cached(
            "UPDATE _webhooks SET name = ?2, collection = ?3, events = ?4, url = ?5, secret = ?6,
             active = ?7, updated = ?8 WHERE id = ?1",
        )?
        .execute((
            &hook.id,
            &hook.name,
            &hook.collection,
            &events,
            &hook.url,
            &hook.secret,
            hook.active,
            &now,
        ))?;
        hook.id.clone()
    };
    find(conn, &id)?.ok_or_else(|| Error::internal("saved webhook vanished"))
}

/// Deletes a webhook and (by foreign key) its deliveries; false if it did not exist.
pub fn delete(conn: &Connection, id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM _webhooks WHERE id = ?1")?
        .execute([id])?
        > 0)
}

/// One record change to send: `event` (one of `EVENTS`) to record `id` of a collection,
/// with the record as a superuser sees it.
pub struct Outgoing<'a> {
    pub event: &'a str,
    pub collection_id: &'a str,
    pub collection_name: &'a str,
    pub id: &'a str,
    pub record: &'a Map<String, Value>,
}

/// Writes one pending delivery per active webhook of the change's collection and event,
/// in the caller's transaction. The body is fixed now, so what is signed and sent later is
/// exactly what the change was.
pub fn enqueue(conn: &Connection, change: &Outgoing) -> Result<usize> {
    let event = change.event;
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM _webhooks WHERE active AND collection = ?1
         AND EXISTS (SELECT 1 FROM json_each(events) WHERE value = ?2)",
    )?;
    let hooks: Vec<String> = stmt
        .query_map((change.collection_id, event), |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let now = crate::datetime::now();
    for hook in &hooks {
        let id = crate::ids::record_id();
        let payload = json!({
            "id": id,
            "event": event,
            "collection": change.collection_name,
            "record": change.record,
            "timestamp": now,
        })
        .to_string();
        conn.prepare_cached(
            "INSERT INTO _webhook_deliveries (id, webhook, event, collection, record, payload, created, updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        )?
        .execute((&id, hook, event, change.collection_id, change.id, &payload, &now))?;
    }
    Ok(hooks.len())
}

const DELIVERY_COLUMNS: &str =
    "id, webhook, event, collection, record, status, attempts, response, error, created, updated";

fn delivery(r: &Row) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        webhook: r.get(1)?,
        event: r.get(2)?,
        collection: r.get(3)?,
        record: r.get(4)?,
        status: r.get(5)?,
        attempts: r.get(6)?,
        response: r.get(7)?,
        error: r.get(8)?,
        created: r.get(9)?,
        updated: r.get(10)?,
    })
}

pub fn count_deliveries(conn: &Connection, webhook: &str) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM _webhook_deliveries WHERE webhook = ?1")?
        .query_row([webhook], |r| r.get(0))?;
    Ok(n as u64)
}

/// A page of one webhook's deliveries, newest first.
pub fn deliveries(
    conn: &Connection,
    webhook: &str,
    limit: u64,
    offset: u64,
) -> Result<Vec<Delivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM _webhook_deliveries WHERE webhook = ?1
         ORDER BY created DESC, rowid DESC LIMIT ?2 OFFSET ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        (webhook, limit as i64, offset.min(i64::MAX as u64) as i64),
        delivery,
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Deliveries waiting to be sent, per status (for the admin UI and metrics).
pub fn backlog(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM _webhook_deliveries WHERE status = 'pending'")?
        .query_row([], |r| r.get(0))?)
}

/// A delivery whose time has come, with what sending it needs.
pub struct Due {
    pub id: String,
    pub webhook: String,
    pub event: String,
    pub url: String,
    pub secret: String,
    pub payload: String,
    pub attempts: u32,
}

/// Due deliveries of active webhooks (a paused webhook's wait until it is resumed).
pub fn due(conn: &Connection, now_ms: i64, limit: usize) -> Result<Vec<Due>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.webhook, d.event, w.url, w.secret, d.payload, d.attempts
         FROM _webhook_deliveries d JOIN _webhooks w ON w.id = d.webhook
         WHERE d.status = 'pending' AND d.next_at <= ?1 AND w.active
         ORDER BY d.next_at, d.rowid LIMIT ?2",
    )?;
    let rows = stmt.query_map((now_ms, limit as i64), |r| {
        Ok(Due {
            id: r.get(0)?,
            webhook: r.get(1)?,
            event: r.get(2)?,
            url: r.get(3)?,
            secret: r.get(4)?,
            payload: r.get(5)?,
            attempts: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How an attempt ended.
pub struct Outcome {
    pub status: &'static str,
    pub attempts: u32,
    pub next_at_ms: i64,
    pub response: u16,
    pub error: String,
}

pub fn record_attempt(conn: &Connection, id: &str, o: &Outcome) -> Result<()> {
    conn.prepare_cached(
        "UPDATE _webhook_deliveries SET status = ?2, attempts = ?3, next_at = ?4, response = ?5,
         error = ?6, updated = ?7 WHERE id = ?1",
    )?
    .execute((
        id,
        o.status,
        o.attempts,
        o.next_at_ms,
        o.response,
        &o.error,
        crate::datetime::now(),
    ))?;
    Ok(())
}

/// Makes a delivery due now (a failed one gets one more attempt); false if unknown.
pub fn retry_now(conn: &Connection, webhook: &str, id: &str, max_attempts: u32) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE _webhook_deliveries SET status = 'pending', next_at = 0,
             attempts = min(attempts, ?3), updated = ?4 WHERE id = ?1 AND webhook = ?2",
        )?
        .execute((
            id,
            webhook,
            max_attempts.saturating_sub(1),
            crate::datetime::now(),
        ))?
        > 0)
}

/// Deletes settled deliveries last touched before `cutoff` (a datetime string).
pub fn prune(conn: &Connection, cutoff: &str) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM _webhook_deliveries WHERE status IN ('delivered', 'failed') AND updated < ?1",
        )?
        .execute([cutoff])?)
}
