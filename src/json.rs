//! JSON helpers shared by the modules that merge partial updates onto stored documents.

use serde_json::{Map, Value};

/// Objects merge key by key (so a PATCH of `passwordAuth.enabled` keeps the rest); anything
/// else, arrays included, is replaced.
pub fn merge(base: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (k, v) in patch {
        match (base.get_mut(&k), v) {
            (Some(Value::Object(b)), Value::Object(p)) => merge(b, p),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}
