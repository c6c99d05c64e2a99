//! pods/log, pods/exec, pods/attach and pods/portforward: upstream's LogLocation,
//! ExecLocation, AttachLocation and PortForwardLocation checks (a valid container, a node
//! assigned, the node known) before the kubelet is dialed. Skiff's simulated nodes publish no
//! kubelet endpoint (status.daemonEndpoints.kubeletEndpoint.Port 0), so a pod on one gets a prompt
//! 400 instead of a connection that never comes; the apiserver does not proxy to kubelets yet.

use crate::registry::store::object::{self, meta_str};
use crate::registry::store::{Scope, Store};
use crate::status::{ApiError, ApiResult, Gr};
use serde_json::Value;

/// The error a connection to the pod's kubelet for `subresource` ends in, after upstream's
/// checks; `container` is the request's `container` parameter.
pub async fn connect(
    store: &Store,
    pods: Scope<'_>,
    name: &str,
    subresource: &str,
    container: Option<&str>,
) -> ApiResult<ApiError> {
    let pod = object::parse(&store.get(pods, name).await?.json)?;
    if subresource != "portforward" {
        validate_container(&pod, name, container.unwrap_or(""))?;
    }
    let node = pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or("");
    if node.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let nodes = Gr {
        group: "",
        resource: "nodes",
    };
    let found = store
        .cached_object("", "nodes", None, node)
        .and_then(|o| serde_json::from_slice::<Value>(&o.json).ok())
        .ok_or_else(|| ApiError::not_found(nodes, node))?;
    let port = found
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let what = match subresource {
        "log" => "container logs",
        "exec" => "exec",
        "attach" => "attach",
        _ => "port-forward",
    };
    if port <= 0 {
        return Ok(ApiError::bad_request(format!(
            "error dialing backend: node \"{node}\" is simulated and serves no {what}: it publishes no kubelet endpoint (status.daemonEndpoints.kubeletEndpoint.Port is 0)"
        )));
    }
    Ok(ApiError::new(
        503,
        "ServiceUnavailable",
        format!("error dialing backend: this apiserver does not proxy {what} to the kubelet of node \"{node}\" (port {port})"),
    ))
}

/// upstream's validateContainer: a named container must exist (init, regular or ephemeral);
/// none named picks the only regular one.
fn validate_container(pod: &Value, name: &str, container: &str) -> ApiResult<()> {
    let list = |key: &str| -> Vec<&str> {
        pod.pointer(&format!("/spec/{key}"))
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c.get("name").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default()
    };
    let regular = list("containers");
    let pod_name = meta_str(pod, "name").unwrap_or(name);
    if container.is_empty() {
        return match regular.len() {
            1 => Ok(()),
            0 => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {pod_name}"
            ))),
            _ => {
                let all: Vec<&str> = ["initContainers", "containers", "ephemeralContainers"]
                    .iter()
                    .flat_map(|key| list(key))
                    .collect();
                Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                    all.join(" ")
                )))
            }
        };
    }
    let known = ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .any(|key| list(key).contains(&container));
    if known {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {pod_name}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_are_checked_like_upstream() {
        let pod = json!({"metadata": {"name": "web"}, "spec": {
            "initContainers": [{"name": "init"}], "containers": [{"name": "app"}, {"name": "side"}]}});
        assert!(validate_container(&pod, "web", "init").is_ok());
        assert_eq!(
            validate_container(&pod, "web", "nope").unwrap_err().message,
            "container nope is not valid for pod web"
        );
        assert_eq!(
            validate_container(&pod, "web", "").unwrap_err().message,
            "a container name must be specified for pod web, choose one of: [init app side]"
        );
        let single = json!({"metadata": {"name": "one"}, "spec": {"containers": [{"name": "app"}]}});
        assert!(validate_container(&single, "one", "").is_ok());
    }
}
