//! Collections and their fields: the model, its JSON input, the DDL it needs, full-text
//! tables and the in-memory registry. Changing collections (validation, the transactions,
//! listing) is `collections/`, built on this. No HTTP types here.

pub mod collection;
pub mod ddl;
pub mod field;
pub mod fts;
pub mod input;
pub mod options;
pub mod registry;

pub use collection::{Collection, CollectionType};
pub use field::{Field, FieldKind};
pub use registry::{Registry, Snapshot};
