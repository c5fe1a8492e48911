//! The record changes a write transaction makes, captured while it is open: each one is
//! queued for the collection's webhooks in that same transaction (the outbox), and kept
//! for the caller to publish to realtime subscribers once the transaction has committed.
//! Nothing here sends anything; a rolled-back transaction takes its deliveries with it and
//! its caller never publishes the collected changes.

use std::cell::RefCell;
use std::sync::Arc;

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension};

use super::Record;
use super::output::{self, Viewer};
use crate::error::Result;
use crate::schema::{Collection, Snapshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Create,
    Update,
    Delete,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "create" => Some(Self::Create),
            "update" => Some(Self::Update),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }
}

/// Every stored column of a row, as stored.
pub type Row = Vec<(String, Sql)>;

/// One changed record as it stood right after (create, update) or right before (delete)
/// the change.
#[derive(Debug, Clone)]
pub struct Change {
    pub event: Event,
    pub collection: Arc<Collection>,
    pub id: String,
    /// Every stored column, as stored: rules are evaluated against exactly this row.
    pub row: Row,
    /// The record as a superuser sees it (hidden fields never included).
    pub record: Record,
}

/// What one request changed, in order. Filled inside the write transaction; taken after
/// it committed.
#[derive(Debug, Default)]
pub struct Changes(RefCell<Vec<Change>>);

impl Changes {
    pub fn take(&self) -> Vec<Change> {
        self.0.take()
    }
}

/// Captures record `id` of `c` (inside the open write transaction), writes its webhook
/// deliveries and remembers it for realtime. A missing row is not a change.
pub fn note(
    conn: &Connection,
    schema: &Snapshot,
    changes: &Changes,
    c: &Collection,
    event: Event,
    id: &str,
) -> Result<()> {
    let Some(collection) = schema.find(&c.id) else {
        return Ok(());
    };
    let Some((row, record)) = capture(conn, c, id)? else {
        return Ok(());
    };
    let change = Change {
        event,
        collection,
        id: id.to_owned(),
        row,
        record,
    };
    crate::webhooks::store::enqueue(
        conn,
        &crate::webhooks::store::Outgoing {
            event: event.as_str(),
            collection_id: &change.collection.id,
            collection_name: &change.collection.name,
            id,
            record: &change.record,
        },
    )?;
    changes.0.borrow_mut().push(change);
    Ok(())
}

fn capture(conn: &Connection, c: &Collection, id: &str) -> Result<Option<(Row, Record)>> {
    let sql = format!("SELECT * FROM \"{}\" WHERE id = ?1", c.name);
    let mut stmt = conn.prepare_cached(&sql)?;
    let names: Vec<String> = stmt
        .column_names()
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
    let full = Viewer {
        superuser: true,
        record_id: None,
    };
    Ok(stmt
        .query_row([id], |r| {
            let mut row = Vec::with_capacity(names.len());
            for (i, name) in names.iter().enumerate() {
                row.push((name.clone(), r.get::<_, Sql>(i)?));
            }
            Ok((row, output::record(c, r, full)?))
        })
        .optional()?)
}
