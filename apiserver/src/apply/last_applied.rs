//! The upgrade path from client-side apply: for the `kubectl` manager, conflicts on fields that still hold
//! the value recorded in `kubectl.kubernetes.io/last-applied-configuration` are taken over, and that
//! annotation is kept in step with what was applied (as upstream's lastApplied manager and updater do).

use super::managed::{self, Conflict};
use super::{typed, Target};
use serde_json::{Map, Value};

/// The annotation client-side apply keeps its last configuration in.
pub const ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The only manager the upgrade applies to (`kubectl apply --server-side`'s default).
pub const KUBECTL: &str = "kubectl";

/// The conflicts the last-applied configuration does not explain; `None` when `live` has none.
pub fn unexplained(conflicts: &[Conflict], live: &Value, target: &Target<'_>) -> Option<Vec<Conflict>> {
    let text = live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ANNOTATION))
        .and_then(Value::as_str)?;
    let last: Value = serde_json::from_str(text).ok()?;
    let live = managed::without_managed_fields(live);
    let recorded = typed::to_field_set(&last, target.schema).ok()?;
    let changed_since = typed::compare(&last, &live, target.schema).ok()?.modified;
    let allowed = recorded.difference(&changed_since);
    Some(
        conflicts
            .iter()
            .filter(|c| !allowed.contains(&c.path))
            .cloned()
            .collect(),
    )
}

/// When `obj` carries the annotation, rewrites it to `config` (without the annotation), keys sorted.
pub fn sync(obj: &mut Value, config: &Value) {
    let has_annotation = obj
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ANNOTATION))
        .is_some();
    if !has_annotation {
        return;
    }
    let mut recorded = config.clone();
    if let Some(annotations) = recorded
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.shift_remove(ANNOTATION);
    }
    let Ok(text) = serde_json::to_string(&sorted(recorded)) else {
        return;
    };
    if let Some(annotations) = obj.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        annotations.insert(ANNOTATION.into(), Value::String(text));
    }
}

/// `value` with every object's keys in sorted order, as Go encodes maps.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect::<Map<_, _>>())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
