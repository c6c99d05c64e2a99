//! pods/binding (and the namespaced `bindings` resource): assigning a pod to a node, as upstream's
//! BindingREST does. The scheduler's one write per pod, so it is a single compare-and-swap
//! update of the pod through the generic store.

use super::negotiate::Output;
use super::response;
use crate::registry::store::{Scope, Store, WriteOptions};
use crate::registry::{FieldError, Resource};
use crate::status::{ApiError, ApiResult, Gr};
use axum::response::Response;
use http::StatusCode;
use serde_json::{json, Value};

/// Bind the pod `pod_name` of `scope` (the pods resource) as `binding` (a core/v1 Binding) says;
/// `url_name` is the pod named in the URL of pods/NAME/binding, `None` for POST .../bindings.
pub async fn bind(
    store: &Store,
    scope: Scope<'_>,
    url_name: Option<&str>,
    binding: &Value,
    opts: &WriteOptions,
    output: Output,
) -> ApiResult<Response> {
    let named = binding.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let pod_name = match url_name {
        Some(url) if !named.is_empty() && named != url => {
            return Err(ApiError::bad_request(
                "name in URL does not match name in Binding object",
            ))
        }
        Some(url) => url,
        None => named,
    };
    let errors = validate(binding);
    if !errors.is_empty() {
        return Err(ApiError::invalid("Binding", "", pod_name, &errors));
    }
    let node = binding.pointer("/target/name").and_then(Value::as_str).unwrap_or("");
    let annotations = binding.pointer("/metadata/annotations").and_then(Value::as_object);
    let gr = Gr {
        group: "",
        resource: "pods/binding",
    };
    store
        .update_with(scope, pod_name, Some("binding"), opts, |pod| {
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
            pod["spec"]["nodeName"] = json!(node);
            if let Some(annotations) = annotations {
                let meta = crate::registry::store::object::meta_mut(&mut pod);
                let into = meta.entry("annotations").or_insert_with(|| json!({}));
                if let Some(into) = into.as_object_mut() {
                    into.extend(annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
            set_scheduled(&mut pod);
            Ok(pod)
        })
        .await?;
    let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
    Ok(response::value(StatusCode::CREATED, output, &status))
}

/// Upstream's ValidatePodBinding: a target name, of kind Node when a kind is given.
fn validate(binding: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let kind = binding.pointer("/target/kind").and_then(Value::as_str).unwrap_or("");
    if !kind.is_empty() && kind != "Node" {
        errors.push(FieldError::not_supported("target.kind", json!(kind), &["Node", "<empty>"]));
    }
    if binding.pointer("/target/name").and_then(Value::as_str).is_none_or(str::is_empty) {
        errors.push(FieldError::required("target.name", ""));
    }
    errors
}

/// The pod's PodScheduled condition becomes True (added when missing), as the binding sets it.
fn set_scheduled(pod: &mut Value) {
    let now = crate::registry::store::object::now_rfc3339();
    let scheduled = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
    let status = &mut pod["status"];
    if !status.is_object() {
        *status = json!({});
    }
    let conditions = status["conditions"].as_array_mut();
    match conditions {
        Some(list) => match list.iter_mut().find(|c| c["type"] == "PodScheduled") {
            Some(existing) => *existing = scheduled,
            None => list.push(scheduled),
        },
        None => status["conditions"] = json!([scheduled]),
    }
}

/// The pods resource the `bindings` resource binds into.
pub fn pods_of(resources: &crate::registry::index::Resources) -> ApiResult<std::sync::Arc<Resource>> {
    resources
        .lookup("", "v1", "pods")
        .cloned()
        .ok_or_else(ApiError::unknown_resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_need_a_node_target() {
        assert!(validate(&json!({"target": {"kind": "Node", "name": "n1"}})).is_empty());
        let errors: Vec<String> = validate(&json!({"target": {"kind": "Pod"}})).iter().map(|e| e.to_string()).collect();
        assert_eq!(
            errors,
            [
                "target.kind: Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\"",
                "target.name: Required value"
            ]
        );
    }

    #[test]
    fn scheduled_condition_is_set_once() {
        let mut pod = json!({"status": {"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}});
        set_scheduled(&mut pod);
        let conditions = pod["status"]["conditions"].as_array().unwrap();
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0]["status"], "True");
        assert!(conditions[0].get("reason").is_none());
    }
}
