//! Field selectors: the per-kind selectable fields upstream supports (spec.nodeName, status.phase, …).

use serde_json::Value;

/// The value of a selectable field of a built-in kind, or `None` if the field is not selectable for
/// that kind (metadata.name and metadata.namespace are handled by the caller).
pub fn selectable_field(_group: &str, _kind: &str, _obj: &Value, _path: &str) -> Option<String> {
    None
}
