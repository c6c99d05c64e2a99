//! Pruning: fields a structural schema does not specify are dropped, recursively, except under
//! x-kubernetes-preserve-unknown-fields; apiVersion and kind of the object (and of embedded
//! resources) are kept, and their metadata keeps exactly the fields of ObjectMeta.

use super::{child, flag};
use serde_json::Value;

/// Drop the fields `schema` does not know from `obj`; returns their paths (`spec.foo`,
/// `spec.items[0].bar`), sorted as upstream reports them.
pub fn prune(schema: &Value, obj: &mut Value) -> Vec<String> {
    let mut pruned = Vec::new();
    walk(schema, obj, "", true, &mut pruned);
    pruned.sort();
    pruned
}

/// The fields of `obj` that pruning would drop, for fieldValidation (Strict/Warn).
pub fn unknown_fields(schema: &Value, obj: &Value) -> Vec<String> {
    prune(schema, &mut obj.clone())
}

/// The fields of ObjectMeta; others in an object's metadata are dropped as upstream's decoding does.
const OBJECT_META: [&str; 15] = [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

fn walk(schema: &Value, value: &mut Value, path: &str, resource_root: bool, pruned: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let embedded = resource_root || flag(schema, "x-kubernetes-embedded-resource");
            let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let additional_schema = additional.filter(|a| a.is_object());
            let keep_all = preserve || additional == Some(&Value::Bool(true));
            let mut dropped = Vec::new();
            for (name, field) in map.iter_mut() {
                if embedded && matches!(name.as_str(), "apiVersion" | "kind") {
                    continue;
                }
                if embedded && name == "metadata" {
                    if let Value::Object(meta) = field {
                        let path = child(path, name);
                        meta.retain(|key, _| {
                            let known = OBJECT_META.contains(&key.as_str());
                            if !known {
                                pruned.push(child(&path, key));
                            }
                            known
                        });
                    }
                    continue;
                }
                match properties.and_then(|p| p.get(name)).or(additional_schema) {
                    Some(sub) => walk(sub, field, &child(path, name), false, pruned),
                    None if keep_all => {}
                    None => dropped.push(name.clone()),
                }
            }
            for name in dropped {
                map.shift_remove(&name);
                pruned.push(child(path, &name));
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    walk(item_schema, item, &format!("{path}[{i}]"), false, pruned);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "size": {"type": "string"},
                "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"known": {"type": "object"}}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {"type": "object"}}}
            }}
        }})
    }

    #[test]
    fn unknown_fields_are_dropped_recursively() {
        let mut obj = json!({"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "a", "labels": {"x": "y"}, "odd": 1},
            "spec": {"size": "s", "foo": 1, "items": [{"name": "a", "bar": 2}], "labels": {"any": "x"},
                "free": {"anything": 1, "known": {"dropped": true}},
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "bogus": 1}, "spec": {"x": 1}, "extra": 1}},
            "status": {}});
        let pruned = prune(&schema(), &mut obj);
        assert_eq!(
            pruned,
            [
                "metadata.odd",
                "spec.foo",
                "spec.free.known.dropped",
                "spec.items[0].bar",
                "spec.template.extra",
                "spec.template.metadata.bogus",
                "spec.template.spec.x",
                "status",
            ]
        );
        assert_eq!(
            obj,
            json!({"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "a", "labels": {"x": "y"}},
                "spec": {"size": "s", "items": [{"name": "a"}], "labels": {"any": "x"},
                    "free": {"anything": 1, "known": {}},
                    "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}}})
        );
    }

    #[test]
    fn unknown_fields_leave_the_object_alone() {
        let obj = json!({"spec": {"size": "s", "foo": 1}});
        assert_eq!(unknown_fields(&schema(), &obj), ["spec.foo"]);
        assert_eq!(obj["spec"]["foo"], 1);
    }
}
