//! x-kubernetes-list-type checks: a `set` holds no value twice and a `map` holds no two items with
//! the same x-kubernetes-list-map-keys (each key present), anywhere in the object.

use super::{child, property_schema};
use crate::registry::FieldError;
use serde_json::{Map, Value};

/// Duplicate and missing-key errors of every set and map list under `value`.
pub fn validate(schema: &Value, value: &Value, path: &str) -> Vec<FieldError> {
    match value {
        Value::Object(map) => map
            .iter()
            .filter_map(|(name, v)| property_schema(schema, name).map(|s| (name, v, s)))
            .flat_map(|(name, v, s)| validate(s, v, &child(path, name)))
            .collect(),
        Value::Array(items) => {
            let mut errors = match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("set") => duplicates(items.iter().map(|i| Some(i.clone())), path, |i| items[i].clone()),
                Some("map") => map_list(schema, items, path),
                _ => Vec::new(),
            };
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    errors.extend(validate(item_schema, item, &format!("{path}[{i}]")));
                }
            }
            errors
        }
        _ => Vec::new(),
    }
}

/// A Duplicate error for every item whose identity was seen before (items without one are skipped).
fn duplicates(
    identities: impl Iterator<Item = Option<Value>>,
    path: &str,
    shown: impl Fn(usize) -> Value,
) -> Vec<FieldError> {
    let mut seen: Vec<Value> = Vec::new();
    let mut errors = Vec::new();
    for (i, identity) in identities.enumerate() {
        let Some(identity) = identity else { continue };
        if seen.contains(&identity) {
            errors.push(FieldError::duplicate(format!("{path}[{i}]"), shown(i)));
        } else {
            seen.push(identity);
        }
    }
    errors
}

fn map_list(schema: &Value, items: &[Value], path: &str) -> Vec<FieldError> {
    let keys: Vec<&str> = schema
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|k| k.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut errors = Vec::new();
    let identities: Vec<Option<Value>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let object = item.as_object()?;
            let mut identity = Map::new();
            for key in &keys {
                match object.get(*key) {
                    Some(v) => {
                        identity.insert((*key).to_string(), v.clone());
                    }
                    None => errors.push(FieldError::required(child(&format!("{path}[{i}]"), key), "")),
                }
            }
            Some(Value::Object(identity))
        })
        .collect();
    let shown = |i: usize| identities[i].clone().unwrap_or(Value::Null);
    errors.extend(duplicates(identities.iter().cloned(), path, shown));
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(schema: Value, value: Value) -> Vec<String> {
        validate(
            &json!({"properties": {"spec": {"properties": {"l": schema}}}}),
            &json!({"spec": {"l": value}}),
            "",
        )
        .iter()
        .map(ToString::to_string)
        .collect()
    }

    #[test]
    fn sets_hold_no_duplicates() {
        let set = json!({"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}});
        assert_eq!(
            messages(set, json!(["a", "b", "a"])),
            [r#"spec.l[2]: Duplicate value: "a""#]
        );
    }

    #[test]
    fn maps_need_unique_present_keys() {
        let map = json!({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}}}});
        assert_eq!(
            messages(map, json!([{"name": "a"}, {"port": 1}, {"name": "a", "port": 2}])),
            [
                "spec.l[1].name: Required value",
                r#"spec.l[2]: Duplicate value: {"name":"a"}"#,
            ]
        );
    }

    #[test]
    fn atomic_lists_may_repeat() {
        let atomic = json!({"type": "array", "x-kubernetes-list-type": "atomic"});
        assert!(messages(atomic, json!([1, 1])).is_empty());
    }
}
