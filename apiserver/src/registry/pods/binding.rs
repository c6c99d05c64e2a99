//! pods/binding (and the namespaced `bindings` resource): assigning a pod to a node, as
//! upstream's BindingREST does. The scheduler's one write per pod, so it is a single
//! compare-and-swap update of the pod through the generic store (retried on conflicts unless the
//! binding pins the pod's resourceVersion).

use super::set_pod_condition;
use crate::registry::store::object::{meta_mut, meta_str};
use crate::registry::store::{Scope, Store, WriteOptions};
use crate::registry::FieldError;
use crate::status::{ApiError, ApiResult, Gr};
use serde_json::{json, Value};

/// Bind the pod that `binding` (a core/v1 Binding) names to its target node; `url_name` is the
/// pod of `pods/NAME/binding`, `None` for `POST .../bindings`. Answers upstream's Status.
pub async fn bind(
    store: &Store,
    pods: Scope<'_>,
    url_name: Option<&str>,
    binding: &Value,
    opts: &WriteOptions,
) -> ApiResult<Value> {
    let pod_name = meta_str(binding, "name").unwrap_or("");
    if url_name.is_some_and(|url| url != pod_name) {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Binding object",
        ));
    }
    super::check_namespace(binding, pods.namespace)?;
    let errors = validate(binding);
    if !errors.is_empty() {
        // Upstream answers the aggregate of ValidatePodBinding as an untyped error.
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let message = match rendered.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        return Err(ApiError::new(500, "", message));
    }
    let node = binding.pointer("/target/name").and_then(Value::as_str).unwrap_or("");
    let annotations = binding.pointer("/metadata/annotations").and_then(Value::as_object);
    let uid = meta_str(binding, "uid").filter(|u| !u.is_empty());
    let pinned = meta_str(binding, "resourceVersion").filter(|rv| !rv.is_empty());
    let gr = Gr {
        group: "",
        resource: "pods/binding",
    };
    store
        .update_with(pods, pod_name, Some("binding"), opts, |pod| {
            let precondition = |why: String| Err(ApiError::conflict(pods.gr(), pod_name, &why));
            let (pod_uid, pod_rv) = (meta_str(pod, "uid").unwrap_or(""), meta_str(pod, "resourceVersion").unwrap_or(""));
            if let Some(uid) = uid.filter(|u| *u != pod_uid) {
                return precondition(format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {pod_uid}"
                ));
            }
            if let Some(rv) = pinned.filter(|rv| *rv != pod_rv) {
                return precondition(format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {pod_rv}"
                ));
            }
            let conflict = |why: String| Err(ApiError::conflict(gr, pod_name, &why));
            if pod.pointer("/metadata/deletionTimestamp").is_some() {
                return conflict(format!("pod {pod_name} is being deleted, cannot be assigned to a host"));
            }
            if let Some(bound) = pod.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                return conflict(format!("pod {pod_name} is already assigned to node \"{bound}\""));
            }
            if pod.pointer("/spec/schedulingGates").and_then(Value::as_array).is_some_and(|g| !g.is_empty()) {
                return conflict(format!("pod {pod_name} has non-empty .spec.schedulingGates"));
            }
            let mut pod = pod.clone();
            let meta = meta_mut(&mut pod);
            if pinned.is_none() {
                // Not pinned: a conflicting write makes the store read the pod again and retry.
                meta.shift_remove("resourceVersion");
            }
            if let Some(annotations) = annotations {
                let into = meta.entry("annotations").or_insert_with(|| json!({}));
                if let Some(into) = into.as_object_mut() {
                    into.extend(annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
            pod["spec"]["nodeName"] = json!(node);
            set_pod_condition(
                &mut pod,
                json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null}),
            );
            Ok(pod)
        })
        .await?;
    Ok(super::success())
}

/// Upstream's ValidatePodBinding: a target name, of kind Node when a kind is given.
fn validate(binding: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let kind = binding.pointer("/target/kind").and_then(Value::as_str).unwrap_or("");
    if !kind.is_empty() && kind != "Node" {
        errors.push(FieldError::not_supported(
            "target.kind",
            json!(kind),
            &["Node", "<empty>"],
        ));
    }
    if binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        errors.push(FieldError::required("target.name", ""));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_need_a_node_target() {
        assert!(validate(&json!({"target": {"kind": "Node", "name": "n1"}})).is_empty());
        assert!(validate(&json!({"target": {"name": "n1"}})).is_empty());
        let errors: Vec<String> = validate(&json!({"target": {"kind": "Pod"}}))
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errors,
            [
                "target.kind: Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\"",
                "target.name: Required value"
            ]
        );
    }
}
