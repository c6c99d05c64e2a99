//! Small helpers for reading and defaulting fields of serde_json objects.

use serde_json::{Map, Value};

/// The object at `obj[key]`, created as `{}` when missing or null; `None` if `obj` is not an
/// object or `obj[key]` holds a non-object.
pub fn child<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let map = obj.as_object_mut()?;
    let entry = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if entry.is_null() {
        *entry = Value::Object(Map::new());
    }
    entry.is_object().then_some(entry)
}

/// The existing object at `obj[key]` (not created).
pub fn existing<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    obj.get_mut(key).filter(|v| v.is_object())
}

/// Sets `obj[key] = value` when the key is missing or null.
pub fn set_default(obj: &mut Value, key: &str, value: Value) {
    if let Some(map) = obj.as_object_mut() {
        let entry = map.entry(key).or_insert(Value::Null);
        if entry.is_null() {
            *entry = value;
        }
    }
}

/// Sets `obj[key] = value` when the key is missing, null or an empty string.
pub fn set_default_str(obj: &mut Value, key: &str, value: &str) {
    if str_of(obj, key).is_empty() {
        if let Some(map) = obj.as_object_mut() {
            map.insert(key.to_string(), Value::String(value.to_string()));
        }
    }
}

/// Calls `f` on every element of the array `obj[key]`, if there is one.
pub fn each_mut(obj: &mut Value, key: &str, mut f: impl FnMut(&mut Value)) {
    if let Some(items) = obj.get_mut(key).and_then(Value::as_array_mut) {
        items.iter_mut().for_each(&mut f);
    }
}

/// The string at `obj[key]`, or `""`.
pub fn str_of<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The array at `obj[key]` (empty if absent).
pub fn items<'a>(obj: &'a Value, key: &str) -> &'a [Value] {
    obj.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// The object at `obj[key]` (empty map if absent).
pub fn entries<'a>(obj: &'a Value, key: &str) -> Vec<(&'a String, &'a Value)> {
    obj.get(key)
        .and_then(Value::as_object)
        .map(|m| m.iter().collect())
        .unwrap_or_default()
}

/// Whether `obj[key]` is absent, null, or an empty string, array or object.
pub fn is_empty(obj: &Value, key: &str) -> bool {
    match obj.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(m)) => m.is_empty(),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_only_fill_missing_or_null() {
        let mut v = json!({"a": null, "b": 2, "s": ""});
        set_default(&mut v, "a", json!(1));
        set_default(&mut v, "b", json!(3));
        set_default_str(&mut v, "s", "x");
        set_default_str(&mut v, "t", "y");
        assert_eq!(v, json!({"a": 1, "b": 2, "s": "x", "t": "y"}));
    }

    #[test]
    fn child_creates_objects_and_refuses_scalars() {
        let mut v = json!({"n": 1});
        assert!(child(&mut v, "n").is_none());
        child(&mut v, "spec").unwrap();
        assert_eq!(v["spec"], json!({}));
    }
}
