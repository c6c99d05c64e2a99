//! NodeRestriction (upstream's plugin/pkg/admission/noderestriction): what a node agent
//! (`system:node:<name>`) may write beyond what the Node authorizer lets through — only its own
//! Node (and not the node-restriction.kubernetes.io/ labels), only mirror pods bound to itself
//! that reference no other objects, only the status of its own pods, only its own Lease and CSINode.

use crate::auth::node::node_identity;
use crate::auth::UserInfo;
use crate::registry::admission::Operation;
use crate::status::{ApiError, ApiResult, Gr};
use serde_json::Value;

/// The annotation that marks a mirror pod.
const MIRROR: &str = "kubernetes.io/config.mirror";
/// The label prefix nodes may not set on themselves.
const RESTRICTED_LABELS: &str = "node-restriction.kubernetes.io/";

fn forbidden(resource: &'static str, group: &'static str, name: &str, why: String) -> ApiError {
    ApiError::forbidden(Gr { group, resource }, name, &why)
}

fn node_name_of(pod: &Value) -> &str {
    pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or("")
}

/// A write of a main resource by `user`.
pub(super) fn admit(
    (group, plural): (&str, &str),
    op: Operation,
    obj: &Value,
    old: Option<&Value>,
    name: &str,
    user: Option<&UserInfo>,
) -> ApiResult<()> {
    let Some(node) = user.and_then(node_identity) else {
        return Ok(());
    };
    match (group, plural) {
        ("", "pods") => admit_pod(node, op, obj, name),
        ("", "nodes") => admit_node(node, op, obj, old, name),
        ("coordination.k8s.io", "leases") if op == Operation::Create && name != node => Err(forbidden(
            "leases",
            "coordination.k8s.io",
            name,
            "can only access node lease with the same name as the requesting node".into(),
        )),
        ("storage.k8s.io", "csinodes") if name != node => Err(forbidden(
            "csinodes",
            "storage.k8s.io",
            name,
            format!("node {node:?} is not allowed to modify object {name:?}"),
        )),
        _ => Ok(()),
    }
}

/// A write of a subresource (`pods/status`, `nodes/status`) by `user`; `old` is the stored object.
pub(super) fn admit_subresource(
    (group, plural, subresource): (&str, &str, &str),
    old: &Value,
    name: &str,
    user: Option<&UserInfo>,
) -> ApiResult<()> {
    let Some(node) = user.and_then(node_identity) else {
        return Ok(());
    };
    match (group, plural, subresource) {
        ("", "pods", "status") if node_name_of(old) != node => Err(forbidden(
            "pods",
            "",
            name,
            format!("node {node:?} can only update pod status for pods with spec.nodeName set to itself"),
        )),
        ("", "nodes", _) if name != node => Err(forbidden(
            "nodes",
            "",
            name,
            format!("node {node:?} is not allowed to modify node {name:?}"),
        )),
        _ => Ok(()),
    }
}

fn admit_pod(node: &str, op: Operation, pod: &Value, name: &str) -> ApiResult<()> {
    let refuse = |why: String| Err(forbidden("pods", "", name, why));
    if op != Operation::Create {
        return refuse(format!(
            "unexpected operation \"UPDATE\", node {node:?} can only create and delete mirror pods"
        ));
    }
    if pod
        .pointer(&format!("/metadata/annotations/{}", MIRROR.replace('/', "~1")))
        .is_none()
    {
        return refuse(format!(
            "pod does not have \"{MIRROR}\" annotation, node {node:?} can only create mirror pods"
        ));
    }
    if node_name_of(pod) != node {
        return refuse(format!(
            "node {node:?} can only create pods with spec.nodeName set to itself"
        ));
    }
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let volumes = spec.get("volumes").and_then(Value::as_array).into_iter().flatten();
    let mut references = Vec::new();
    for volume in volumes {
        if volume.get("secret").is_some() {
            references.push("secrets");
        }
        if volume.get("configMap").is_some() {
            references.push("configmaps");
        }
        if volume.get("persistentVolumeClaim").is_some() {
            references.push("persistentvolumeclaims");
        }
    }
    if spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
    {
        references.push("serviceaccounts");
    }
    if let Some(kind) = references.first() {
        return refuse(format!("node {node:?} can not create pods that reference {kind}"));
    }
    let owners = pod
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let owned_by_node = owners
        .iter()
        .all(|o| o["kind"] == "Node" && o["name"] == node && o["apiVersion"] == "v1");
    if owners.len() > 1 || !owned_by_node {
        return refuse(format!(
            "node {node:?} can only create pods with an owner reference set to itself"
        ));
    }
    Ok(())
}

fn admit_node(node: &str, op: Operation, obj: &Value, old: Option<&Value>, name: &str) -> ApiResult<()> {
    let refuse = |why: String| Err(forbidden("nodes", "", name, why));
    if name != node {
        return refuse(format!("node {node:?} is not allowed to modify node {name:?}"));
    }
    let labels = |v: Option<&Value>| -> Vec<(String, Value)> {
        v.and_then(|v| v.pointer("/metadata/labels"))
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    };
    let before = labels(old);
    let changed: Vec<String> = labels(Some(obj))
        .into_iter()
        .filter(|(key, value)| key.starts_with(RESTRICTED_LABELS) && !before.contains(&(key.clone(), value.clone())))
        .map(|(key, _)| key)
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let verb = match op {
        Operation::Create => "set the following labels",
        Operation::Update | Operation::Delete => "modify labels",
    };
    refuse(format!(
        "node {node:?} is not allowed to {verb}: {}",
        changed.join(", ")
    ))
}
