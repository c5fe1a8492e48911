//! The in-memory snapshot of every collection definition, so a request never parses schema
//! JSON. Replaced whole after each committed schema change; readers keep the `Arc` they took.

use std::sync::{Arc, RwLock};

use rusqlite::Connection;

use super::collection::Collection;
use crate::error::Result;

#[derive(Debug, Default)]
pub struct Snapshot {
    collections: Vec<Arc<Collection>>,
}

impl Snapshot {
    pub fn new(collections: Vec<Collection>) -> Self {
        Self {
            collections: collections.into_iter().map(Arc::new).collect(),
        }
    }

    /// By id (exact) or name (case-insensitive), as PocketBase resolves `{collection}`.
    pub fn find(&self, id_or_name: &str) -> Option<Arc<Collection>> {
        self.collections
            .iter()
            .find(|c| c.id == id_or_name)
            .or_else(|| {
                self.collections
                    .iter()
                    .find(|c| c.name.eq_ignore_ascii_case(id_or_name))
            })
            .cloned()
    }

    pub fn all(&self) -> &[Arc<Collection>] {
        &self.collections
    }
}

#[derive(Debug, Default)]
pub struct Registry {
    current: RwLock<Arc<Snapshot>>,
    /// What `_collections` looked like at the last load (count and newest `updated`).
    fingerprint: RwLock<String>,
}

fn fingerprint(conn: &Connection) -> Result<String> {
    Ok(conn
        .prepare_cached("SELECT count(*) || '|' || coalesce(max(updated), '') FROM _collections")?
        .query_row([], |r| r.get(0))?)
}

impl Registry {
    pub fn load(conn: &Connection) -> Result<Self> {
        let registry = Self::default();
        registry.reload(conn)?;
        Ok(registry)
    }

    /// Reloads if `_collections` changed since the last load: how a running server picks up
    /// schema changes made by another process (`hearth collections import`).
    pub fn refresh_if_changed(&self, conn: &Connection) -> Result<bool> {
        let now = fingerprint(conn)?;
        if *self.fingerprint.read().unwrap_or_else(|p| p.into_inner()) == now {
            return Ok(false);
        }
        self.reload(conn)?;
        Ok(true)
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        // A poisoned lock only means a panic elsewhere mid-swap; the Arc inside is whole.
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn reload(&self, conn: &Connection) -> Result<()> {
        let print = fingerprint(conn)?;
        let next = Arc::new(Snapshot::new(Collection::load_all(conn)?));
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = next;
        *self.fingerprint.write().unwrap_or_else(|p| p.into_inner()) = print;
        Ok(())
    }
}
