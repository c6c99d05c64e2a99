//! Field selectors: the per-kind selectable fields upstream supports (spec.nodeName, status.phase, …),
//! with values rendered as upstream's field sets hold them.

use serde_json::Value;

/// The value at a path of object keys.
fn at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, key| v.get(key))
}

/// A string field, "" when absent (Go's zero value).
fn string(obj: &Value, path: &[&str]) -> String {
    at(obj, path).and_then(Value::as_str).unwrap_or("").to_string()
}

/// A boolean field as strconv.FormatBool prints it, "false" when absent.
fn boolean(obj: &Value, path: &[&str]) -> String {
    at(obj, path).and_then(Value::as_bool).unwrap_or(false).to_string()
}

/// An integer field in decimal, "0" when absent.
fn integer(obj: &Value, path: &[&str]) -> String {
    at(obj, path).and_then(Value::as_i64).unwrap_or(0).to_string()
}

fn pod_field(pod: &Value, path: &str) -> Option<String> {
    Some(match path {
        // `spec.host` is the old v1 spelling, kept by upstream for old clients.
        "spec.nodeName" | "spec.host" => string(pod, &["spec", "nodeName"]),
        "spec.restartPolicy" => string(pod, &["spec", "restartPolicy"]),
        "spec.schedulerName" => string(pod, &["spec", "schedulerName"]),
        "spec.serviceAccountName" => string(pod, &["spec", "serviceAccountName"]),
        "spec.hostNetwork" => boolean(pod, &["spec", "hostNetwork"]),
        "status.phase" => string(pod, &["status", "phase"]),
        "status.podIP" => at(pod, &["status", "podIPs"])
            .and_then(|ips| ips.get(0))
            .map(|ip| string(ip, &["ip"]))
            .unwrap_or_default(),
        // Accepted by upstream's field label conversion but absent from the pod's field set,
        // so it always compares as "".
        "status.podIPs" => String::new(),
        "status.nominatedNodeName" => string(pod, &["status", "nominatedNodeName"]),
        _ => return None,
    })
}

/// Event fields, named as core/v1 names them, of a stored (core/v1) event: events.k8s.io/v1
/// events are stored as core ones, and their field labels are mapped by [`events_group_label`].
fn event_field(event: &Value, path: &str) -> Option<String> {
    let involved = |field| string(event, &["involvedObject", field]);
    let reporting = string(event, &["reportingComponent"]);
    Some(match path {
        "involvedObject.kind" => involved("kind"),
        "involvedObject.namespace" => involved("namespace"),
        "involvedObject.name" => involved("name"),
        "involvedObject.uid" => involved("uid"),
        "involvedObject.apiVersion" => involved("apiVersion"),
        "involvedObject.resourceVersion" => involved("resourceVersion"),
        "involvedObject.fieldPath" => involved("fieldPath"),
        "reason" => string(event, &["reason"]),
        "reportingComponent" => reporting,
        "source" => match string(event, &["source", "component"]) {
            component if component.is_empty() => reporting,
            component => component,
        },
        "type" => string(event, &["type"]),
        _ => return None,
    })
}

/// events.k8s.io/v1 field labels, mapped to the core/v1 names of the shared field set (upstream's
/// field label conversion for events.k8s.io).
fn events_group_label(path: &str) -> Option<&str> {
    Some(match path {
        "reason" => "reason",
        "source" => "source",
        "type" => "type",
        "reportingController" => "reportingComponent",
        _ => match path.strip_prefix("regarding.")? {
            "kind" => "involvedObject.kind",
            "namespace" => "involvedObject.namespace",
            "name" => "involvedObject.name",
            "uid" => "involvedObject.uid",
            "apiVersion" => "involvedObject.apiVersion",
            "resourceVersion" => "involvedObject.resourceVersion",
            "fieldPath" => "involvedObject.fieldPath",
            _ => return None,
        },
    })
}

/// The value of a selectable field of a built-in kind, or `None` if the field is not selectable for
/// that kind (metadata.name and metadata.namespace are handled by the caller).
pub fn selectable_field(group: &str, kind: &str, obj: &Value, path: &str) -> Option<String> {
    match (group, kind, path) {
        ("", "Pod", _) => pod_field(obj, path),
        ("", "Event", _) => event_field(obj, path),
        ("events.k8s.io", "Event", _) => event_field(obj, events_group_label(path)?),
        ("", "Namespace", "status.phase") => Some(string(obj, &["status", "phase"])),
        ("", "Node", "spec.unschedulable") => Some(boolean(obj, &["spec", "unschedulable"])),
        // apps/v1 registers no field label conversion, so ReplicaSets select by metadata only.
        ("", "ReplicationController", "status.replicas") => Some(integer(obj, &["status", "replicas"])),
        ("", "Secret", "type") => Some(string(obj, &["type"])),
        ("", "Service", "spec.clusterIP") => Some(string(obj, &["spec", "clusterIP"])),
        ("", "Service", "spec.type") => Some(string(obj, &["spec", "type"])),
        ("batch", "Job", "status.successful") => Some(integer(obj, &["status", "succeeded"])),
        ("certificates.k8s.io", "CertificateSigningRequest", "spec.signerName") => {
            Some(string(obj, &["spec", "signerName"]))
        }
        ("resource.k8s.io", "ResourceSlice", "spec.nodeName") => Some(string(obj, &["spec", "nodeName"])),
        ("resource.k8s.io", "ResourceSlice", "spec.driver") => Some(string(obj, &["spec", "driver"])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::selectable_field;
    use serde_json::json;

    #[test]
    fn pod_fields() {
        let pod = json!({
            "spec": {"nodeName": "node-a", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                     "serviceAccountName": "default", "hostNetwork": true},
            "status": {"phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.9"}, {"ip": "fd00::9"}]}
        });
        let field = |path| selectable_field("", "Pod", &pod, path);
        assert_eq!(field("spec.nodeName").as_deref(), Some("node-a"));
        assert_eq!(field("spec.host").as_deref(), Some("node-a"));
        assert_eq!(field("spec.restartPolicy").as_deref(), Some("Always"));
        assert_eq!(field("spec.schedulerName").as_deref(), Some("default-scheduler"));
        assert_eq!(field("spec.serviceAccountName").as_deref(), Some("default"));
        assert_eq!(field("spec.hostNetwork").as_deref(), Some("true"));
        assert_eq!(field("status.phase").as_deref(), Some("Running"));
        assert_eq!(field("status.podIP").as_deref(), Some("10.0.0.9"));
        assert_eq!(field("status.podIPs").as_deref(), Some(""));
        assert_eq!(field("status.nominatedNodeName").as_deref(), Some(""));
        assert_eq!(field("spec.containers"), None);

        let bare = json!({"spec": {}});
        assert_eq!(
            selectable_field("", "Pod", &bare, "spec.hostNetwork").as_deref(),
            Some("false")
        );
        assert_eq!(selectable_field("", "Pod", &bare, "spec.nodeName").as_deref(), Some(""));
        assert_eq!(selectable_field("", "Pod", &bare, "status.podIP").as_deref(), Some(""));
    }

    #[test]
    fn core_and_events_group_event_fields() {
        let core = json!({
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web", "uid": "u1",
                               "apiVersion": "v1", "resourceVersion": "42", "fieldPath": "spec.containers{a}"},
            "reason": "Pulled", "type": "Normal", "source": {"component": "kubelet"},
            "reportingComponent": "kubelet"
        });
        let field = |path| selectable_field("", "Event", &core, path);
        assert_eq!(field("involvedObject.kind").as_deref(), Some("Pod"));
        assert_eq!(field("involvedObject.name").as_deref(), Some("web"));
        assert_eq!(field("involvedObject.uid").as_deref(), Some("u1"));
        assert_eq!(field("involvedObject.fieldPath").as_deref(), Some("spec.containers{a}"));
        assert_eq!(field("reason").as_deref(), Some("Pulled"));
        assert_eq!(field("type").as_deref(), Some("Normal"));
        assert_eq!(field("source").as_deref(), Some("kubelet"));
        assert_eq!(field("reportingComponent").as_deref(), Some("kubelet"));
        assert_eq!(field("message"), None);

        // events.k8s.io/v1 selects with its own names over the stored core/v1 form.
        let modern = json!({
            "involvedObject": {"kind": "Node", "name": "n1"},
            "reason": "Starting", "type": "Normal", "source": {}, "reportingComponent": "kubelet"
        });
        let field = |path| selectable_field("events.k8s.io", "Event", &modern, path);
        assert_eq!(field("regarding.kind").as_deref(), Some("Node"));
        assert_eq!(field("regarding.name").as_deref(), Some("n1"));
        assert_eq!(field("reportingController").as_deref(), Some("kubelet"));
        assert_eq!(field("reason").as_deref(), Some("Starting"));
        assert_eq!(field("involvedObject.kind"), None);
        assert_eq!(field("source").as_deref(), Some("kubelet"));
        assert_eq!(field("note"), None);
        // A core event without a source reports its reporting component as the source.
        let reported = json!({"reportingComponent": "scheduler"});
        assert_eq!(
            selectable_field("", "Event", &reported, "source").as_deref(),
            Some("scheduler")
        );
    }

    #[test]
    fn other_kinds() {
        let ns = json!({"status": {"phase": "Terminating"}});
        assert_eq!(
            selectable_field("", "Namespace", &ns, "status.phase").as_deref(),
            Some("Terminating")
        );
        let node = json!({"spec": {"unschedulable": true}});
        assert_eq!(
            selectable_field("", "Node", &node, "spec.unschedulable").as_deref(),
            Some("true")
        );
        assert_eq!(
            selectable_field("", "Node", &json!({}), "spec.unschedulable").as_deref(),
            Some("false")
        );
        let rs = json!({"status": {"replicas": 3}});
        assert_eq!(selectable_field("apps", "ReplicaSet", &rs, "status.replicas"), None);
        assert_eq!(
            selectable_field("", "ReplicationController", &rs, "status.replicas").as_deref(),
            Some("3")
        );
        assert_eq!(
            selectable_field("", "ReplicationController", &json!({}), "status.replicas").as_deref(),
            Some("0")
        );
        let secret = json!({"type": "kubernetes.io/service-account-token"});
        assert_eq!(
            selectable_field("", "Secret", &secret, "type").as_deref(),
            Some("kubernetes.io/service-account-token")
        );
        let svc = json!({"spec": {"clusterIP": "10.96.0.1", "type": "ClusterIP"}});
        assert_eq!(
            selectable_field("", "Service", &svc, "spec.clusterIP").as_deref(),
            Some("10.96.0.1")
        );
        assert_eq!(
            selectable_field("", "Service", &svc, "spec.type").as_deref(),
            Some("ClusterIP")
        );
        let job = json!({"status": {"succeeded": 2}});
        assert_eq!(
            selectable_field("batch", "Job", &job, "status.successful").as_deref(),
            Some("2")
        );
        let csr = json!({"spec": {"signerName": "kubernetes.io/kubelet-serving"}});
        assert_eq!(
            selectable_field(
                "certificates.k8s.io",
                "CertificateSigningRequest",
                &csr,
                "spec.signerName"
            )
            .as_deref(),
            Some("kubernetes.io/kubelet-serving")
        );
        let slice = json!({"spec": {"driver": "gpu.example.com", "nodeName": "n1"}});
        assert_eq!(
            selectable_field("resource.k8s.io", "ResourceSlice", &slice, "spec.driver").as_deref(),
            Some("gpu.example.com")
        );
        assert_eq!(
            selectable_field("apps", "Deployment", &json!({}), "status.replicas"),
            None
        );
        assert_eq!(selectable_field("", "ConfigMap", &json!({}), "data"), None);
    }
}
