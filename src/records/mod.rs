//! The record service: list, view, create, update and delete records of a collection, with
//! its API rules applied. No HTTP types; callers pass who is asking as a `Caller`. Reads are
//! functions on a connection (`read`); every write goes through `write::Writes`, which
//! alone calls the row changes of `rows`.

mod access;
pub mod changes;
pub mod count;
pub mod draft;
pub mod expand;
pub mod fields;
pub mod files;
pub mod geo;
pub mod input;
pub mod output;
mod protected;
mod read;
mod rows;
mod search;
pub mod write;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::filter::RequestInfo;
use crate::schema::{Collection, Snapshot};
pub use access::{check_client_expression, satisfies};
pub use files::FileChanges;
use output::Viewer;
pub use protected::Secrets;
pub use read::{ListOptions, Shape, list, shape, view, view_as, view_is_short, view_row};
pub use rows::Deleted;
pub use write::{Publish, Writes};

/// A record as the API shows it.
pub type Record = Map<String, Value>;

/// The signed-in record as rules see it (`@request.auth.*`): its collection and every field.
pub type RuleAuth = (Arc<Collection>, Map<String, Value>);

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Guest,
    Superuser,
    Record { collection_id: String, id: String },
}

impl Caller {
    pub fn is_superuser(&self) -> bool {
        *self == Self::Superuser
    }

    fn viewer(&self) -> Viewer<'_> {
        match self {
            Self::Record { id, .. } => Viewer {
                superuser: false,
                record_id: Some(id),
            },
            _ => Viewer {
                superuser: self.is_superuser(),
                record_id: None,
            },
        }
    }
}

/// Everything a record operation needs to know about the request.
pub struct Ctx {
    pub caller: Caller,
    pub request: RequestInfo,
    pub schema: Arc<Snapshot>,
    /// The records this request changed, for webhooks (already queued) and realtime.
    pub changes: changes::Changes,
    /// False for `$app.saveNoValidate`: the fields' rules and `onRecordValidate` hooks are
    /// skipped, and a value that fails its field's rules is stored as near as it goes.
    pub validate: bool,
}
