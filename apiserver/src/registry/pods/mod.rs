//! The pods' own subresources, as upstream's pod registry serves them beside the generic store:
//! `binding` (assigning a pod to a node), `eviction` (deleting a pod as its
//! PodDisruptionBudget allows) and the kubelet connections `log`, `exec`, `attach` and
//! `portforward` (which a pod on a node without a kubelet endpoint answers with a prompt error).
//! Each reads and writes through the generic [`Store`](crate::registry::Store).

mod binding;
mod connect;
mod eviction;

pub use binding::bind;
pub use connect::connect;
pub use eviction::evict;

use serde_json::{json, Value};

/// The metav1.Status a successful binding or eviction answers (upstream's create handler fills
/// in the code of a Status result without one: 201).
pub fn success() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})
}

/// A body naming another namespace than the request's is refused, as upstream's create handler
/// does (EnsureObjectNamespaceMatchesRequestNamespace).
fn check_namespace(body: &Value, namespace: Option<&str>) -> crate::status::ApiResult<()> {
    match crate::registry::store::object::meta_str(body, "namespace") {
        Some(given) if !given.is_empty() && Some(given) != namespace => Err(crate::status::ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => Ok(()),
    }
}

/// Set a pod condition as upstream's podutil.UpdatePodCondition does: its lastTransitionTime
/// is now unless the status stays the same; returns whether anything changed.
fn set_pod_condition(pod: &mut Value, condition: Value) -> bool {
    let mut condition = condition;
    let now = crate::registry::store::object::now_rfc3339();
    if !pod["status"].is_object() {
        pod["status"] = json!({});
    }
    let status = &mut pod["status"];
    if !status["conditions"].is_array() {
        status["conditions"] = json!([]);
    }
    let Some(conditions) = status["conditions"].as_array_mut() else {
        return false;
    };
    match conditions.iter_mut().find(|c| c["type"] == condition["type"]) {
        Some(existing) => {
            condition["lastTransitionTime"] = if existing["status"] == condition["status"] {
                existing["lastTransitionTime"].clone()
            } else {
                json!(now)
            };
            let changed = *existing != condition;
            *existing = condition;
            changed
        }
        None => {
            condition["lastTransitionTime"] = json!(now);
            conditions.push(condition);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_keep_their_transition_time_while_the_status_stays() {
        let mut pod = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2020-01-01T00:00:00Z"}]}});
        let ready = json!({"type": "Ready", "status": "True", "lastProbeTime": null});
        assert!(!set_pod_condition(&mut pod, ready));
        assert_eq!(
            pod["status"]["conditions"][0]["lastTransitionTime"],
            "2020-01-01T00:00:00Z"
        );
        let unready = json!({"type": "Ready", "status": "False", "lastProbeTime": null});
        assert!(set_pod_condition(&mut pod, unready));
        assert_ne!(
            pod["status"]["conditions"][0]["lastTransitionTime"],
            "2020-01-01T00:00:00Z"
        );
        let mut bare = json!({});
        assert!(set_pod_condition(
            &mut bare,
            json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null})
        ));
        assert_eq!(bare["status"]["conditions"].as_array().unwrap().len(), 1);
    }
}
