//! Upstream's DefaultTolerationSeconds admission plugin: a new pod that does not already tolerate
//! the node.kubernetes.io/not-ready and node.kubernetes.io/unreachable NoExecute taints gets
//! tolerations for them lasting 300 seconds.

use serde_json::{json, Value};

const NOT_READY: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Upstream's --default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds.
const SECONDS: i64 = 300;

/// Whether `toleration` covers the NoExecute taint `key` (an empty key or effect matches all).
fn tolerates(toleration: &Value, key: &str) -> bool {
    let field = |name: &str| toleration.get(name).and_then(Value::as_str).unwrap_or("");
    (field("key") == key || field("key").is_empty()) && matches!(field("effect"), "NoExecute" | "")
}

pub(super) fn admit_pod(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let existing = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let missing: Vec<&str> = [NOT_READY, UNREACHABLE]
        .into_iter()
        .filter(|key| !existing.iter().any(|t| tolerates(t, key)))
        .collect();
    if missing.is_empty() {
        return;
    }
    let mut tolerations = existing;
    for key in missing {
        tolerations
            .push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": SECONDS}));
    }
    spec.insert("tolerations".into(), Value::Array(tolerations));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(tolerations: Value) -> Value {
        let mut pod = json!({"spec": {"containers": [], "tolerations": tolerations}});
        admit_pod(&mut pod);
        pod["spec"]["tolerations"].clone()
    }

    #[test]
    fn both_tolerations_are_added_after_the_pods_own() {
        let own = json!({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"});
        assert_eq!(
            admitted(json!([own])),
            json!([own,
                {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}])
        );
        let mut bare = json!({"spec": {"containers": []}});
        admit_pod(&mut bare);
        assert_eq!(bare["spec"]["tolerations"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn existing_tolerations_are_kept() {
        let own = json!({"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10});
        let out = admitted(json!([own]));
        assert_eq!(out.as_array().unwrap().len(), 2);
        assert_eq!(out[0], own);
        assert_eq!(out[1]["key"], UNREACHABLE);
        // A toleration of everything (empty key, any effect) covers both.
        let all = json!([{"operator": "Exists"}]);
        assert_eq!(admitted(all.clone()), all);
        // A NoSchedule toleration of the key does not.
        let no_schedule = json!([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoSchedule"}]);
        assert_eq!(admitted(no_schedule).as_array().unwrap().len(), 3);
    }
}
