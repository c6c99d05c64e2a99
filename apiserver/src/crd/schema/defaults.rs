//! Defaulting from the schema's `default:` values, as upstream's structural defaulting: a missing
//! field (or a null one that may not be null) takes its default, recursively through properties,
//! additionalProperties and array items, and the default's own nested defaults apply too. Nulls of
//! non-nullable fields without a default are dropped first.

use super::{flag, property_schema};
use serde_json::Value;

/// Drop disallowed nulls, then fill every default of `schema` into `obj`.
pub fn default(schema: &Value, obj: &mut Value) {
    drop_nulls(schema, obj);
    fill(schema, obj);
}

/// A null that the field's schema neither allows nor replaces with a default.
fn unwanted_null(value: &Value, schema: &Value) -> bool {
    value.is_null() && !flag(schema, "nullable")
}

fn drop_nulls(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|name, v| {
                !property_schema(schema, name).is_some_and(|s| unwanted_null(v, s) && s.get("default").is_none())
            });
            for (name, v) in map.iter_mut() {
                if let Some(sub) = property_schema(schema, name) {
                    drop_nulls(sub, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                items.iter_mut().for_each(|item| drop_nulls(item_schema, item));
            }
        }
        _ => {}
    }
}

fn fill(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for (name, sub) in properties.into_iter().flatten() {
                let Some(default) = sub.get("default") else { continue };
                if map.get(name).is_none_or(|v| unwanted_null(v, sub)) {
                    map.insert(name.clone(), default.clone());
                }
            }
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (name, v) in map.iter_mut() {
                match properties.and_then(|p| p.get(name)) {
                    Some(sub) => fill(sub, v),
                    None => {
                        if let Some(sub) = additional {
                            replace_null(sub, v);
                            fill(sub, v);
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items.iter_mut() {
                    replace_null(item_schema, item);
                    fill(item_schema, item);
                }
            }
        }
        _ => {}
    }
}

/// A disallowed null in a map value or list item takes the default, if there is one.
fn replace_null(schema: &Value, value: &mut Value) {
    if unwanted_null(value, schema) {
        if let Some(default) = schema.get("default") {
            *value = default.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "default": {}, "properties": {
            "size": {"type": "string", "default": "small"},
            "replicas": {"type": "integer", "default": 1},
            "note": {"type": "string"},
            "opt": {"type": "string", "nullable": true, "default": "x"},
            "ports": {"type": "array", "items": {"type": "object", "properties": {
                "protocol": {"type": "string", "default": "TCP"}}}},
            "limits": {"type": "object", "additionalProperties": {"type": "object", "properties": {
                "max": {"type": "integer", "default": 10}}}},
            "nested": {"type": "object", "default": {"a": {}}, "properties": {"a": {"type": "object", "properties": {
                "b": {"type": "string", "default": "deep"}}}}}
        }}}})
    }

    #[test]
    fn missing_fields_take_defaults_recursively() {
        let mut obj = json!({"metadata": {"name": "a"}});
        default(&schema(), &mut obj);
        assert_eq!(
            obj["spec"],
            json!({"size": "small", "replicas": 1, "opt": "x", "nested": {"a": {"b": "deep"}}})
        );
    }

    #[test]
    fn defaults_reach_items_and_map_values() {
        let mut obj =
            json!({"spec": {"size": "large", "ports": [{}, {"protocol": "UDP"}], "limits": {"cpu": {}, "mem": null}}});
        default(&schema(), &mut obj);
        assert_eq!(obj["spec"]["size"], "large");
        assert_eq!(obj["spec"]["ports"], json!([{"protocol": "TCP"}, {"protocol": "UDP"}]));
        assert_eq!(obj["spec"]["limits"]["cpu"], json!({"max": 10}));
        assert!(obj["spec"]["limits"].get("mem").is_none());
    }

    #[test]
    fn nulls_default_drop_or_stay() {
        let mut obj = json!({"spec": {"size": null, "note": null, "opt": null}});
        default(&schema(), &mut obj);
        assert_eq!(obj["spec"]["size"], "small");
        assert!(obj["spec"].get("note").is_none());
        assert_eq!(obj["spec"]["opt"], Value::Null);
    }
}
