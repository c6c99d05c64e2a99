//! ResourceQuota usage as upstream's quota evaluators count it, shared by the quota admission of
//! the apiserver and the quota controller: what one object uses (`pods`, `requests.cpu`,
//! `count/deployments.apps`, ...), whether a quota's scopes cover it, and the "must specify"
//! constraints of compute quotas. Objects are the JSON the API serves.

use crate::quantity::Quantity;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Resource name → amount.
pub type Usage = BTreeMap<String, Quantity>;

/// A resource list (`{"cpu": "100m"}`), skipping what does not parse.
pub fn resource_list(value: Option<&Value>) -> Usage {
    value
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), Quantity::parse(v.as_str()?)?)))
        .collect()
}

/// The object count name of a resource: `count/pods`, `count/deployments.apps`.
pub fn count_name(group: &str, plural: &str) -> String {
    if group.is_empty() {
        format!("count/{plural}")
    } else {
        format!("count/{plural}.{group}")
    }
}

fn one() -> Quantity {
    Quantity::from_integer(1)
}

/// What `obj` (of `group`/`plural`) counts against a quota.
pub fn usage(group: &str, plural: &str, obj: &Value) -> Usage {
    let mut usage = Usage::new();
    usage.insert(count_name(group, plural), one());
    match (group, plural) {
        ("", "pods") => {
            usage.clear();
            if !is_terminal(obj) {
                usage.insert(count_name("", "pods"), one());
                usage.insert("pods".into(), one());
                usage.extend(pod_compute(obj));
            }
        }
        ("", "services") => {
            usage.insert("services".into(), one());
            let spec = obj.get("spec").unwrap_or(&Value::Null);
            let kind = spec.get("type").and_then(Value::as_str).unwrap_or("ClusterIP");
            let ports = spec.get("ports").and_then(Value::as_array).map_or(0, Vec::len) as i64;
            match kind {
                "NodePort" => {
                    usage.insert("services.nodeports".into(), Quantity::from_integer(ports));
                }
                "LoadBalancer" => {
                    usage.insert("services.loadbalancers".into(), one());
                    usage.insert("services.nodeports".into(), Quantity::from_integer(ports));
                }
                _ => {}
            }
        }
        ("", "persistentvolumeclaims") => {
            usage.insert("persistentvolumeclaims".into(), one());
            let storage = resource_list(obj.pointer("/spec/resources/requests")).remove("storage");
            let class = obj
                .pointer("/spec/storageClassName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !class.is_empty() {
                usage.insert(
                    format!("{class}.storageclass.storage.k8s.io/persistentvolumeclaims"),
                    one(),
                );
            }
            if let Some(storage) = storage {
                if !class.is_empty() {
                    usage.insert(format!("{class}.storageclass.storage.k8s.io/requests.storage"), storage);
                }
                usage.insert("requests.storage".into(), storage);
            }
        }
        ("", legacy @ ("configmaps" | "secrets" | "replicationcontrollers" | "resourcequotas")) => {
            usage.insert(legacy.into(), one());
        }
        _ => {}
    }
    usage
}

/// A pod that finished (Succeeded or Failed) uses nothing.
fn is_terminal(pod: &Value) -> bool {
    matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

/// The pod's requests and limits (sum of containers, at least the largest init container) as
/// `requests.X` / `limits.X`, plus `cpu` and `memory` for the requests.
fn pod_compute(pod: &Value) -> Usage {
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let containers = |list: &str| spec.get(list).and_then(Value::as_array).cloned().unwrap_or_default();
    let total = |field: &str| {
        let mut sum = Usage::new();
        for c in containers("containers") {
            for (name, q) in resource_list(c.pointer(&format!("/resources/{field}"))) {
                let entry = sum.entry(name).or_insert(Quantity::ZERO);
                *entry = entry.checked_add(&q).unwrap_or(*entry);
            }
        }
        for c in containers("initContainers") {
            for (name, q) in resource_list(c.pointer(&format!("/resources/{field}"))) {
                let entry = sum.entry(name).or_insert(Quantity::ZERO);
                if *entry < q {
                    *entry = q;
                }
            }
        }
        for (name, q) in resource_list(spec.get("overhead")) {
            if let Some(entry) = sum.get_mut(&name) {
                *entry = entry.checked_add(&q).unwrap_or(*entry);
            }
        }
        sum
    };
    let mut usage = Usage::new();
    for (name, q) in total("requests") {
        if name == "cpu" || name == "memory" || name == "ephemeral-storage" {
            usage.insert(name.clone(), q);
        }
        usage.insert(format!("requests.{name}"), q);
    }
    for (name, q) in total("limits") {
        usage.insert(format!("limits.{name}"), q);
    }
    usage
}

/// Whether the quota (its spec) covers `pod`: every scope and scopeSelector expression holds.
/// Objects other than pods are covered only by quotas without scopes.
pub fn covers(quota_spec: &Value, plural: &str, obj: &Value) -> bool {
    let scopes: Vec<&str> = quota_spec
        .get("scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let expressions: Vec<&Value> = quota_spec
        .pointer("/scopeSelector/matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    if scopes.is_empty() && expressions.is_empty() {
        return true;
    }
    if plural != "pods" {
        return false;
    }
    scopes.iter().all(|scope| scope_holds(scope, obj, &[]))
        && expressions.iter().all(|e| {
            let scope = e.get("scopeName").and_then(Value::as_str).unwrap_or("");
            let operator = e.get("operator").and_then(Value::as_str).unwrap_or("");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            match operator {
                "NotIn" | "DoesNotExist" if scope == "PriorityClass" => !scope_holds(scope, obj, &values),
                _ => scope_holds(scope, obj, &values),
            }
        })
}

fn scope_holds(scope: &str, pod: &Value, values: &[&str]) -> bool {
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let terminating = spec.get("activeDeadlineSeconds").is_some_and(|v| !v.is_null());
    let best_effort = pod_compute(pod)
        .keys()
        .all(|k| !(k.starts_with("requests.") || k.starts_with("limits.")));
    match scope {
        "Terminating" => terminating,
        "NotTerminating" => !terminating,
        "BestEffort" => best_effort,
        "NotBestEffort" => !best_effort,
        "PriorityClass" => {
            let class = spec.get("priorityClassName").and_then(Value::as_str).unwrap_or("");
            if values.is_empty() {
                !class.is_empty()
            } else {
                values.contains(&class)
            }
        }
        _ => false,
    }
}

/// The compute resources a quota requires every container to state.
const MUST_SPECIFY: [&str; 6] = [
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// Upstream's pod Constraints: with a quota on cpu or memory, each container must state it.
/// The message after `must specify `, e.g. `limits.cpu for: app; requests.cpu for: app,init`.
pub fn missing_compute(hard: &Usage, pod: &Value) -> Option<String> {
    let required: BTreeSet<&str> = MUST_SPECIFY.into_iter().filter(|r| hard.contains_key(*r)).collect();
    if required.is_empty() {
        return None;
    }
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let mut missing: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for list in ["containers", "initContainers"] {
        for c in spec.get(list).and_then(Value::as_array).into_iter().flatten() {
            let single = serde_json::json!({"spec": {"containers": [c]}});
            let stated = pod_compute(&single);
            for resource in &required {
                if !stated.contains_key(*resource) {
                    let name = c.get("name").and_then(Value::as_str).unwrap_or("").to_string();
                    missing.entry(resource).or_default().insert(name);
                }
            }
        }
    }
    if missing.is_empty() {
        return None;
    }
    let parts: Vec<String> = missing
        .iter()
        .map(|(resource, names)| {
            format!(
                "{resource} for: {}",
                names.iter().cloned().collect::<Vec<_>>().join(",")
            )
        })
        .collect();
    Some(parts.join("; "))
}

/// `a=1,b=2` over the names in `only` (upstream's prettyPrint of a masked list).
pub fn pretty(usage: &Usage, only: &[String]) -> String {
    only.iter()
        .map(|name| format!("{name}={}", usage.get(name).copied().unwrap_or(Quantity::ZERO)))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pods_count_their_compute_and_finished_ones_nothing() {
        let pod = json!({"spec": {
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "500m"}}},
                {"name": "b", "resources": {"requests": {"cpu": "250m"}}},
            ],
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1"}}}],
        }});
        let u = usage("", "pods", &pod);
        assert_eq!(u["pods"].to_string(), "1");
        assert_eq!(u["requests.cpu"].to_string(), "1");
        assert_eq!(u["cpu"].to_string(), "1");
        assert_eq!(u["requests.memory"].to_string(), "64Mi");
        assert_eq!(u["limits.cpu"].to_string(), "500m");
        let mut done = pod.clone();
        done["status"] = json!({"phase": "Succeeded"});
        assert!(usage("", "pods", &done).is_empty());
        assert_eq!(
            missing_compute(&resource_list(Some(&json!({"limits.cpu": "2"}))), &pod),
            Some("limits.cpu for: b,i".into())
        );
    }

    #[test]
    fn scopes_select_pods() {
        let best_effort = json!({"spec": {"containers": [{"name": "a"}]}});
        assert!(covers(&json!({"scopes": ["BestEffort"]}), "pods", &best_effort));
        assert!(!covers(&json!({"scopes": ["NotBestEffort"]}), "pods", &best_effort));
        assert!(!covers(&json!({"scopes": ["BestEffort"]}), "services", &json!({})));
        let high = json!({"spec": {"priorityClassName": "high", "containers": []}});
        let selector = json!({"scopeSelector": {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}});
        assert!(covers(&selector, "pods", &high));
        assert!(!covers(&selector, "pods", &best_effort));
    }
}
