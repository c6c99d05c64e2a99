//! Small helpers over JSON objects: metadata access, key layout, field order, timestamps, names.

use crate::registry::Resource;
use crate::status::{ApiError, ApiResult};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The storage key of one object.
pub fn object_key(res: &Resource, namespace: Option<&str>, name: &str) -> String {
    let mut key = res.storage_prefix();
    if let Some(ns) = namespace.filter(|_| res.namespaced) {
        key.push_str(ns);
        key.push('/');
    }
    key.push_str(name);
    key
}

/// The key prefix of every object of `res` (in `namespace`, if given).
pub fn list_prefix(res: &Resource, namespace: Option<&str>) -> String {
    let mut prefix = res.storage_prefix();
    if let Some(ns) = namespace.filter(|_| res.namespaced) {
        prefix.push_str(ns);
        prefix.push('/');
    }
    prefix
}

pub fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata")?.as_object()
}

/// `metadata`, created if absent.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    let Value::Object(map) = obj else { unreachable_object() };
    let entry = map.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    match entry {
        Value::Object(m) => m,
        _ => unreachable_object(),
    }
}

/// Callers only pass values already checked to be objects.
fn unreachable_object() -> ! {
    unreachable!("the registry only handles JSON objects")
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj)?.get(field)?.as_str()
}

/// Just the labels of a stored object, without building the whole value.
pub fn labels_of_json(json: &[u8]) -> BTreeMap<String, String> {
    #[derive(serde::Deserialize, Default)]
    struct Meta {
        #[serde(default)]
        labels: Option<BTreeMap<String, String>>,
    }
    #[derive(serde::Deserialize)]
    struct Obj {
        #[serde(default)]
        metadata: Option<Meta>,
    }
    serde_json::from_slice::<Obj>(json)
        .ok()
        .and_then(|o| o.metadata)
        .and_then(|m| m.labels)
        .unwrap_or_default()
}

/// Put `apiVersion`, `kind` and `metadata` first (the watch cache splices resourceVersion into the
/// first `"metadata":{`) and drop the resourceVersion, which the store's revision supplies.
pub fn normalize(obj: Value) -> Value {
    let mut obj = type_first(obj);
    if let Some(Value::Object(m)) = obj.get_mut("metadata") {
        m.shift_remove("resourceVersion");
        m.shift_remove("selfLink");
    }
    obj
}

/// `apiVersion`, `kind` and `metadata` first, as stored objects are; nothing else changes.
pub fn type_first(obj: Value) -> Value {
    leading(obj, ["apiVersion", "kind", "metadata"])
}

/// How `resource`'s objects are written out: built-in kinds as upstream's typed encoder writes
/// them (`kind` first: TypeMeta's field order), custom resources type-first as they were stored.
pub fn in_wire_order(resource: &Resource, obj: Value) -> Value {
    if resource.custom_schema.is_some() {
        type_first(obj)
    } else {
        leading(obj, ["kind", "apiVersion", "metadata"])
    }
}

fn leading(obj: Value, keys: [&str; 3]) -> Value {
    let Value::Object(mut map) = obj else { return obj };
    let mut out = Map::with_capacity(map.len());
    for key in keys {
        if let Some(v) = map.shift_remove(key) {
            out.insert(key.into(), v);
        }
    }
    out.extend(map);
    Value::Object(out)
}

/// Now, as upstream's metav1.Time renders it (RFC 3339, whole seconds, UTC).
pub fn now_rfc3339() -> String {
    rfc3339_after(0)
}

/// Now with microseconds, as metav1.MicroTime renders it (`2026-12-08T01:02:03.123456Z`).
pub fn now_micro() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}

/// `seconds` from now, rendered like [`now_rfc3339`].
pub fn rfc3339_after(seconds: i64) -> String {
    let now = jiff::Timestamp::now();
    let at = now.checked_add(jiff::SignedDuration::from_secs(seconds)).unwrap_or(now);
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The RFC 3339 time `at` moved by `seconds`, rendered like [`now_rfc3339`]; `None` if `at` does
/// not parse.
pub fn rfc3339_shifted(at: &str, seconds: i64) -> Option<String> {
    let at: jiff::Timestamp = at.parse().ok()?;
    let moved = at.checked_add(jiff::SignedDuration::from_secs(seconds)).ok()?;
    Some(moved.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// `generateName` plus five random characters from upstream's alphabet.
pub fn generate_name(base: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let base = if base.len() > 58 { &base[..58] } else { base };
    let random = uuid::Uuid::new_v4();
    let suffix: String = random.as_bytes()[..5]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    format!("{base}{suffix}")
}

/// Parse a stored object.
pub fn parse(json: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(json).map_err(|e| ApiError::internal(format!("stored object is not JSON: {e}")))
}

/// Whether anything but metadata and status differs (what bumps `metadata.generation`).
pub fn spec_changed(new: &Value, old: &Value) -> bool {
    let (Some(new), Some(old)) = (new.as_object(), old.as_object()) else {
        return true;
    };
    let relevant = |m: &Map<String, Value>| {
        m.iter()
            .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind"))
            .count()
    };
    relevant(new) != relevant(old)
        || new
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind"))
            .any(|(k, v)| old.get(k) != Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalize_orders_and_strips_resource_version() {
        let obj = json!({"data": {"a": "b"}, "metadata": {"name": "x", "resourceVersion": "5"}, "kind": "ConfigMap", "apiVersion": "v1"});
        assert_eq!(
            serde_json::to_string(&normalize(obj)).unwrap(),
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"a":"b"}}"#
        );
    }

    #[test]
    fn generated_names_use_upstream_alphabet() {
        let name = generate_name("web-");
        assert_eq!(name.len(), 9);
        assert!(name[4..].chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
    }

    #[test]
    fn spec_change_detection() {
        let a = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1}});
        let b = json!({"metadata": {"labels": {"a": "2"}}, "spec": {"replicas": 1}, "status": {"x": 1}});
        assert!(!spec_changed(&a, &b));
        assert!(spec_changed(&a, &json!({"spec": {"replicas": 2}})));
    }

    #[test]
    fn labels_from_json() {
        let l = labels_of_json(br#"{"metadata":{"name":"a","labels":{"app":"web"}},"spec":{}}"#);
        assert_eq!(l.get("app").map(String::as_str), Some("web"));
    }
}
