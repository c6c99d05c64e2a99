//! The objects both systems store: 1 KB ConfigMaps, their names, and their etcd keys.

use serde_json::{json, Value};

/// The namespace every scenario writes into.
pub const NAMESPACE: &str = "bench";

/// Size of each ConfigMap's JSON as sent by the client.
pub const OBJECT_BYTES: usize = 1024;

/// Name of the `i`th ConfigMap of a scenario.
pub fn name(i: usize) -> String {
    format!("cm-{i:07}")
}

/// Where upstream's apiserver would keep the ConfigMap `name` in etcd.
pub fn etcd_key(name: &str) -> String {
    format!("/registry/configmaps/{NAMESPACE}/{name}")
}

/// The prefix of every ConfigMap key of the namespace in etcd.
pub fn etcd_prefix() -> String {
    format!("/registry/configmaps/{NAMESPACE}/")
}

/// A ConfigMap whose JSON is exactly [`OBJECT_BYTES`] long: metadata plus one filler value.
pub fn configmap(name: &str) -> Value {
    let mut object = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {"payload": ""},
    });
    let base = object.to_string().len();
    let fill = OBJECT_BYTES.saturating_sub(base);
    let seed = name
        .bytes()
        .fold(0usize, |acc, b| acc.wrapping_mul(31).wrapping_add(b as usize));
    let payload: String = (0..fill)
        .map(|k| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[(seed + k * 7) % 36]))
        .collect();
    object["data"]["payload"] = Value::String(payload);
    object
}

/// [`configmap`] serialized: the exact bytes sent to skiff and stored in etcd.
pub fn configmap_bytes(name: &str) -> Vec<u8> {
    configmap(name).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configmaps_are_one_kilobyte_of_json() {
        for i in [0, 7, 99_999] {
            let bytes = configmap_bytes(&name(i));
            assert_eq!(bytes.len(), OBJECT_BYTES);
            let parsed: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(parsed["metadata"]["name"], name(i));
        }
    }

    #[test]
    fn keys_follow_the_apiserver_layout() {
        assert_eq!(etcd_key("cm-1"), "/registry/configmaps/bench/cm-1");
        assert!(etcd_key("cm-1").starts_with(&etcd_prefix()));
    }
}
