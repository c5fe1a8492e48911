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
}

impl Registry {
    pub fn load(conn: &Connection) -> Result<Self> {
        Ok(Self {
            current: RwLock::new(Arc::new(Snapshot::new(Collection::load_all(conn)?))),
        })
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        // A poisoned lock only means a panic elsewhere mid-swap; the Arc inside is whole.
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn reload(&self, conn: &Connection) -> Result<()> {
        let next = Arc::new(Snapshot::new(Collection::load_all(conn)?));
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(())
    }
}
