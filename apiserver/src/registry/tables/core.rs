//! Printers of core/v1 kinds other than Pod: Node, Namespace, Service, Endpoints, ConfigMap,
//! Secret, ServiceAccount, Event (also events.k8s.io), ResourceQuota, PersistentVolume(Claim)
//! and ComponentStatus.

use super::format::{
    at, col, condition, format_labels, int, len_of, list, map, number, or, pair, parse_time, present, s, scalar_or,
    since, text, wide, AGE, NAME,
};
use super::Column;
use serde_json::Value;

fn node_status(node: &Value) -> Value {
    let conditions = list(node, &["status", "conditions"]);
    let mut status: Vec<&str> = Vec::new();
    // upstream keeps the last condition of each type.
    if let Some(ready) = conditions.iter().rev().find(|c| s(c, &["type"]) == "Ready") {
        status.push(if s(ready, &["status"]) == "True" {
            "Ready"
        } else {
            "NotReady"
        });
    } else {
        status.push("Unknown");
    }
    if at(node, &["spec", "unschedulable"]).and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    text(status.join(","))
}

/// Roles from `node-role.kubernetes.io/<role>` labels and the `kubernetes.io/role` label.
fn node_roles(node: &Value) -> Value {
    let mut roles: Vec<&str> = map(node, &["metadata", "labels"])
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| match key.strip_prefix("node-role.kubernetes.io/") {
            Some(role) if !role.is_empty() => Some(role),
            Some(_) => None,
            None if key == "kubernetes.io/role" => value.as_str().filter(|v| !v.is_empty()),
            None => None,
        })
        .collect();
    roles.sort_unstable();
    roles.dedup();
    text(or(&roles.join(","), "<none>"))
}

fn node_address(node: &Value, type_: &str) -> Value {
    let address = list(node, &["status", "addresses"])
        .iter()
        .find(|a| s(a, &["type"]) == type_)
        .map_or("<none>", |a| s(a, &["address"]));
    text(address)
}
fn kubelet_version(node: &Value) -> Value {
    text(s(node, &["status", "nodeInfo", "kubeletVersion"]))
}
fn internal_ip(node: &Value) -> Value {
    node_address(node, "InternalIP")
}
fn external_ip(node: &Value) -> Value {
    node_address(node, "ExternalIP")
}
fn node_info(node: &Value, field: &str) -> Value {
    text(or(s(node, &["status", "nodeInfo", field]), "<unknown>"))
}
fn os_image(node: &Value) -> Value {
    node_info(node, "osImage")
}
fn kernel_version(node: &Value) -> Value {
    node_info(node, "kernelVersion")
}
fn container_runtime(node: &Value) -> Value {
    node_info(node, "containerRuntimeVersion")
}

const ADDRESSES_DOC: &str = "List of addresses reachable to the node. Queried from cloud provider, if available.";

pub static NODE: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the node", node_status),
    col("Roles", "string", "The roles of the node", node_roles),
    AGE,
    col(
        "Version",
        "string",
        "Kubelet Version reported by the node.",
        kubelet_version,
    ),
    wide("Internal-IP", "string", ADDRESSES_DOC, internal_ip),
    wide("External-IP", "string", ADDRESSES_DOC, external_ip),
    wide(
        "OS-Image",
        "string",
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
        os_image,
    ),
    wide(
        "Kernel-Version",
        "string",
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
        kernel_version,
    ),
    wide(
        "Container-Runtime",
        "string",
        "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
        container_runtime,
    ),
];

fn phase(obj: &Value) -> Value {
    text(s(obj, &["status", "phase"]))
}

pub static NAMESPACE: &[Column] = &[NAME, col("Status", "string", "The status of the namespace", phase), AGE];

fn service_type(svc: &Value) -> Value {
    text(s(svc, &["spec", "type"]))
}
fn cluster_ip(svc: &Value) -> Value {
    let first = list(svc, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    text(first)
}

/// Load-balancer ingress points (IP, else hostname), sorted and de-duplicated, unclipped as
/// the server prints them.
fn load_balancer_ingress(status: Option<&Value>) -> Vec<String> {
    let mut points: Vec<String> = status
        .and_then(|s| s.get("ingress"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| match (s(i, &["ip"]), s(i, &["hostname"])) {
            ("", "") => None,
            ("", host) => Some(host.to_string()),
            (ip, _) => Some(ip.to_string()),
        })
        .collect();
    points.sort();
    points.dedup();
    points
}

fn external_ips(svc: &Value) -> Value {
    let external: Vec<&str> = list(svc, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    text(match s(svc, &["spec", "type"]) {
        "ClusterIP" | "NodePort" if external.is_empty() => "<none>".to_string(),
        "ClusterIP" | "NodePort" => external.join(","),
        "LoadBalancer" => {
            let mut all = load_balancer_ingress(at(svc, &["status", "loadBalancer"]));
            if all.is_empty() && external.is_empty() {
                "<pending>".to_string()
            } else {
                all.extend(external.iter().map(|e| e.to_string()));
                all.join(",")
            }
        }
        "ExternalName" => s(svc, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    })
}

/// `80/TCP,443:30443/TCP`, or `<none>`.
fn service_ports(svc: &Value) -> Value {
    let ports: Vec<String> = list(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let protocol = or(s(p, &["protocol"]), "TCP");
            match int(p, &["nodePort"]) {
                0 => format!("{}/{protocol}", int(p, &["port"])),
                node_port => format!("{}:{node_port}/{protocol}", int(p, &["port"])),
            }
        })
        .collect();
    text(or(&ports.join(","), "<none>"))
}
fn service_selector(svc: &Value) -> Value {
    text(format_labels(at(svc, &["spec", "selector"])))
}

pub static SERVICE: &[Column] = &[
    NAME,
    col("Type", "string", "type determines how the Service is exposed. Defaults to ClusterIP.", service_type),
    col("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly.", cluster_ip),
    col("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.", external_ips),
    col("Port(s)", "string", "The list of ports that are exposed by this service.", service_ports),
    AGE,
    wide("Selector", "string", "Route service traffic to pods with label keys and values matching this selector.", service_selector),
];

/// Up to three `ip:port` endpoints, then ` + N more...`; `<none>` without subsets.
fn endpoints(obj: &Value) -> Value {
    let subsets = list(obj, &["subsets"]);
    if subsets.is_empty() {
        return text("<none>");
    }
    let mut all: Vec<String> = Vec::new();
    for subset in subsets {
        let addresses: Vec<&str> = list(subset, &["addresses"]).iter().map(|a| s(a, &["ip"])).collect();
        let ports = list(subset, &["ports"]);
        if ports.is_empty() {
            all.extend(addresses.iter().map(|a| a.to_string()));
            continue;
        }
        for port in ports {
            let port = int(port, &["port"]);
            all.extend(addresses.iter().map(|ip| {
                if ip.contains(':') {
                    format!("[{ip}]:{port}")
                } else {
                    format!("{ip}:{port}")
                }
            }));
        }
    }
    let shown = all[..all.len().min(3)].join(",");
    if all.len() > 3 {
        text(format!("{shown} + {} more...", all.len() - 3))
    } else {
        text(shown)
    }
}

pub static ENDPOINTS: &[Column] = &[
    NAME,
    col(
        "Endpoints",
        "string",
        "The set of all endpoints is the union of all subsets.",
        endpoints,
    ),
    AGE,
];

fn config_map_data(obj: &Value) -> Value {
    number((len_of(obj, &["data"]) + len_of(obj, &["binaryData"])) as i64)
}

pub static CONFIG_MAP: &[Column] = &[
    NAME,
    col(
        "Data",
        "string",
        "Data contains the configuration data.",
        config_map_data,
    ),
    AGE,
];

fn secret_type(obj: &Value) -> Value {
    text(s(obj, &["type"]))
}
fn secret_data(obj: &Value) -> Value {
    number(len_of(obj, &["data"]) as i64)
}

pub static SECRET: &[Column] = &[
    NAME,
    col(
        "Type",
        "string",
        "Used to facilitate programmatic handling of secret data.",
        secret_type,
    ),
    col("Data", "string", "Data contains the secret data.", secret_data),
    AGE,
];

fn service_account_secrets(obj: &Value) -> Value {
    number(list(obj, &["secrets"]).len() as i64)
}

pub static SERVICE_ACCOUNT: &[Column] = &[
    NAME,
    col("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.", service_account_secrets),
    AGE,
];

/// An event's fields in core/v1 terms, read from either a core/v1 or an events.k8s.io/v1 object.
struct EventView<'a> {
    obj: &'a Value,
}

impl<'a> EventView<'a> {
    /// The first present of the core/v1 and events.k8s.io/v1 spellings of a field.
    fn field(&self, core: &str, events: &str) -> Option<&'a Value> {
        self.obj
            .get(core)
            .or_else(|| self.obj.get(events))
            .filter(|v| !v.is_null())
    }
    fn involved(&self) -> Option<&'a Value> {
        self.field("involvedObject", "regarding")
    }
    fn first_seen(&self) -> String {
        match self.field("firstTimestamp", "deprecatedFirstTimestamp") {
            Some(t) => since(Some(t)),
            None => since(self.field("eventTime", "eventTime")),
        }
    }
    fn last_seen(&self) -> String {
        if let Some(series) = self.obj.get("series").filter(|v| !v.is_null()) {
            return since(series.get("lastObservedTime"));
        }
        match self.field("lastTimestamp", "deprecatedLastTimestamp") {
            Some(t) if parse_time(Some(t)).is_some() => since(Some(t)),
            _ => self.first_seen(),
        }
    }
    fn count(&self) -> i64 {
        if let Some(series) = self.obj.get("series").filter(|v| !v.is_null()) {
            return int(series, &["count"]);
        }
        match self.field("count", "deprecatedCount").and_then(Value::as_i64) {
            None | Some(0) => 1,
            Some(n) => n,
        }
    }
}

fn event(obj: &Value) -> EventView<'_> {
    EventView { obj }
}
fn event_last_seen(obj: &Value) -> Value {
    text(event(obj).last_seen())
}
fn event_first_seen(obj: &Value) -> Value {
    text(event(obj).first_seen())
}
fn event_count(obj: &Value) -> Value {
    number(event(obj).count())
}
fn event_type(obj: &Value) -> Value {
    text(s(obj, &["type"]))
}
fn event_reason(obj: &Value) -> Value {
    text(s(obj, &["reason"]))
}
/// `kind/name` of the involved object, kind in lower case.
fn event_object(obj: &Value) -> Value {
    let involved = event(obj).involved().unwrap_or(&Value::Null);
    let kind = s(involved, &["kind"]).to_lowercase();
    text(match s(involved, &["name"]) {
        "" => kind,
        name => format!("{kind}/{name}"),
    })
}
fn event_subobject(obj: &Value) -> Value {
    let involved = event(obj).involved().unwrap_or(&Value::Null);
    text(s(involved, &["fieldPath"]))
}
/// `component, host` (host omitted when empty), falling back to the reporting controller and
/// instance.
fn event_source(obj: &Value) -> Value {
    let view = event(obj);
    let source = view.field("source", "deprecatedSource").unwrap_or(&Value::Null);
    let controller = view
        .field("reportingComponent", "reportingController")
        .and_then(Value::as_str)
        .unwrap_or("");
    let component = or(s(source, &["component"]), controller);
    let host = or(s(source, &["host"]), s(obj, &["reportingInstance"]));
    text(match host {
        "" => component.to_string(),
        host => format!("{component}, {host}"),
    })
}
fn event_message(obj: &Value) -> Value {
    let message = event(obj)
        .field("message", "note")
        .and_then(Value::as_str)
        .unwrap_or("");
    text(message.trim())
}

pub static EVENT: &[Column] = &[
    col("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded.", event_last_seen),
    col("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future", event_type),
    col("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.", event_reason),
    col("Object", "string", "The object that this event is about.", event_object),
    wide("Subobject", "string", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].", event_subobject),
    wide("Source", "string", "The component reporting this event. Should be a short machine understandable string.", event_source),
    col("Message", "string", "A human-readable description of the status of this operation.", event_message),
    wide("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)", event_first_seen),
    wide("Count", "string", "The number of times this event has occurred.", event_count),
    Column { priority: 1, ..NAME },
];

/// `resource: used/hard` pairs, split into requests and `limits.*`.
fn quota_split(obj: &Value, limits: bool) -> Value {
    let Some(hard) = map(obj, &["status", "hard"]) else {
        return text("");
    };
    let mut names: Vec<&String> = hard.keys().collect();
    names.sort();
    let pairs: Vec<String> = names
        .into_iter()
        .filter(|name| (name.contains('.') && name.starts_with("limits.")) == limits)
        .map(|name| {
            let used = at(obj, &["status", "used", name]);
            format!(
                "{name}: {}/{}",
                quantity_or_zero(used),
                quantity_or_zero(hard.get(name.as_str()))
            )
        })
        .collect();
    text(pairs.join(", "))
}

/// A Quantity field, `0` when unset (Go's zero Quantity).
fn quantity_or_zero(value: Option<&Value>) -> String {
    scalar_or(value, "0")
}
fn quota_requests(obj: &Value) -> Value {
    quota_split(obj, false)
}
fn quota_limits(obj: &Value) -> Value {
    quota_split(obj, true)
}

pub static RESOURCE_QUOTA: &[Column] = &[
    NAME,
    col("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume.", quota_requests),
    col("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.", quota_limits),
    AGE,
];

/// upstream's GetAccessModesAsString: RWO, ROX, RWX, RWOP in that order.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

const BETA_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

/// The beta storage-class annotation, else `spec.storageClassName`.
fn storage_class(obj: &Value) -> Value {
    match at(obj, &["metadata", "annotations", BETA_CLASS_ANNOTATION]).and_then(Value::as_str) {
        Some(class) => text(class),
        None => text(s(obj, &["spec", "storageClassName"])),
    }
}
fn volume_attributes_class(obj: &Value) -> Value {
    text(
        at(obj, &["spec", "volumeAttributesClassName"])
            .and_then(Value::as_str)
            .unwrap_or("<unset>"),
    )
}
fn volume_mode(obj: &Value) -> Value {
    text(
        at(obj, &["spec", "volumeMode"])
            .and_then(Value::as_str)
            .unwrap_or("<unset>"),
    )
}
fn deleting(obj: &Value) -> bool {
    at(obj, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null())
}
/// The phase, or `Terminating` once deletion started.
fn volume_phase(obj: &Value) -> Value {
    if deleting(obj) {
        text("Terminating")
    } else {
        phase(obj)
    }
}
fn pv_capacity(obj: &Value) -> Value {
    text(quantity_or_zero(at(obj, &["spec", "capacity", "storage"])))
}
fn pv_access_modes(obj: &Value) -> Value {
    text(access_modes(list(obj, &["spec", "accessModes"])))
}
fn reclaim_policy(obj: &Value) -> Value {
    text(s(obj, &["spec", "persistentVolumeReclaimPolicy"]))
}
fn pv_claim(obj: &Value) -> Value {
    match present(obj, &["spec", "claimRef"]) {
        Some(claim) => pair(s(claim, &["namespace"]), s(claim, &["name"])),
        None => text(""),
    }
}
fn pv_reason(obj: &Value) -> Value {
    text(s(obj, &["status", "reason"]))
}

pub static PERSISTENT_VOLUME: &[Column] = &[
    NAME,
    col("Capacity", "string", "capacity is the description of the persistent volume's resources and capacity.", pv_capacity),
    col("Access Modes", "string", "accessModes contains all ways the volume can be mounted.", pv_access_modes),
    col("Reclaim Policy", "string", "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.", reclaim_policy),
    col("Status", "string", "phase indicates if a volume is available, bound to a claim, or released by a claim.", volume_phase),
    col("Claim", "string", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.", pv_claim),
    col("StorageClass", "string", "StorageClass of the pv", storage_class),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv", volume_attributes_class),
    col("Reason", "string", "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.", pv_reason),
    AGE,
    wide("VolumeMode", "string", "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.", volume_mode),
];

fn pvc_volume(obj: &Value) -> Value {
    text(s(obj, &["spec", "volumeName"]))
}
fn bound(obj: &Value) -> bool {
    !s(obj, &["spec", "volumeName"]).is_empty()
}
/// The bound capacity; empty until the claim is bound.
fn pvc_capacity(obj: &Value) -> Value {
    if bound(obj) {
        text(quantity_or_zero(at(obj, &["status", "capacity", "storage"])))
    } else {
        text("")
    }
}
fn pvc_access_modes(obj: &Value) -> Value {
    if bound(obj) {
        text(access_modes(list(obj, &["status", "accessModes"])))
    } else {
        text("")
    }
}

pub static PERSISTENT_VOLUME_CLAIM: &[Column] = &[
    NAME,
    col(
        "Status",
        "string",
        "phase represents the current phase of PersistentVolumeClaim.",
        volume_phase,
    ),
    col(
        "Volume",
        "string",
        "volumeName is the binding reference to the PersistentVolume backing this claim.",
        pvc_volume,
    ),
    col(
        "Capacity",
        "string",
        "capacity represents the actual resources of the underlying volume.",
        pvc_capacity,
    ),
    col(
        "Access Modes",
        "string",
        "accessModes contains the actual access modes the volume backing the PVC has.",
        pvc_access_modes,
    ),
    col("StorageClass", "string", "StorageClass of the pvc", storage_class),
    col(
        "VolumeAttributesClass",
        "string",
        "VolumeAttributesClass of the pvc",
        volume_attributes_class,
    ),
    AGE,
    wide(
        "VolumeMode",
        "string",
        "volumeMode defines what type of volume is required by the claim.",
        volume_mode,
    ),
];

fn healthy(obj: &Value) -> Option<&Value> {
    condition(list(obj, &["conditions"]), "Healthy")
}
fn component_status(obj: &Value) -> Value {
    text(match healthy(obj) {
        Some(c) if s(c, &["status"]) == "True" => "Healthy",
        Some(_) => "Unhealthy",
        None => "Unknown",
    })
}
fn component_message(obj: &Value) -> Value {
    text(healthy(obj).map_or("", |c| s(c, &["message"])))
}
fn component_error(obj: &Value) -> Value {
    text(healthy(obj).map_or("", |c| s(c, &["error"])))
}

pub static COMPONENT_STATUS: &[Column] = &[
    NAME,
    col(
        "Status",
        "string",
        "Status of the component conditions",
        component_status,
    ),
    col(
        "Message",
        "string",
        "Message of the component conditions",
        component_message,
    ),
    col("Error", "string", "Error of the component conditions", component_error),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::tables::testing::{ago, row};
    use serde_json::json;

    #[test]
    fn node_row() {
        let node = json!({
            "metadata": {"name": "kind-control-plane", "creationTimestamp": ago(3 * 3600),
                "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/os": "linux"}},
            "spec": {"unschedulable": true},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": "kind"}],
                "nodeInfo": {"kubeletVersion": "v1.35.0", "osImage": "Debian GNU/Linux 12 (bookworm)"}
            }
        });
        assert_eq!(
            row(NODE, &node),
            [
                json!("kind-control-plane"),
                json!("Ready,SchedulingDisabled"),
                json!("control-plane"),
                json!("3h"),
                json!("v1.35.0"),
                json!("172.18.0.2"),
                json!("<none>"),
                json!("Debian GNU/Linux 12 (bookworm)"),
                json!("<unknown>"),
                json!("<unknown>")
            ]
        );
        assert_eq!(node_status(&json!({})), json!("Unknown"));
    }

    #[test]
    fn service_rows() {
        let svc = json!({
            "metadata": {"name": "kubernetes", "creationTimestamp": ago(10)},
            "spec": {"type": "ClusterIP", "clusterIPs": ["10.96.0.1"], "ports": [{"port": 443, "protocol": "TCP"}]}
        });
        assert_eq!(
            row(SERVICE, &svc),
            [
                json!("kubernetes"),
                json!("ClusterIP"),
                json!("10.96.0.1"),
                json!("<none>"),
                json!("443/TCP"),
                json!("10s"),
                json!("<none>")
            ]
        );
        let lb = json!({
            "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.3.4"], "selector": {"app": "web"},
                     "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]},
            "status": {"loadBalancer": {}}
        });
        let cells = row(SERVICE, &lb);
        assert_eq!(cells[3], json!("<pending>"));
        assert_eq!(cells[4], json!("80:30080/TCP"));
        assert_eq!(cells[6], json!("app=web"));
        let headless = json!({"spec": {"type": "ClusterIP", "clusterIPs": ["None"]}});
        assert_eq!(row(SERVICE, &headless)[4], json!("<none>"));
        let ext = json!({"spec": {"type": "ExternalName", "externalName": "example.com"}});
        assert_eq!(row(SERVICE, &ext)[2..4], [json!("<none>"), json!("example.com")]);
    }

    #[test]
    fn endpoints_configmap_secret_sa() {
        let ep = json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}]});
        assert_eq!(
            endpoints(&ep),
            json!("10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...")
        );
        assert_eq!(endpoints(&json!({})), json!("<none>"));
        let cm =
            json!({"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": "x"}, "binaryData": {"b": "AA=="}});
        assert_eq!(row(CONFIG_MAP, &cm)[1], json!(2));
        let secret = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "", "b": ""}});
        assert_eq!(row(SECRET, &secret)[1..3], [json!("Opaque"), json!(2)]);
        assert_eq!(
            row(SERVICE_ACCOUNT, &json!({"metadata": {"name": "default"}}))[1],
            json!(0)
        );
    }

    #[test]
    fn core_and_events_group_events() {
        let core = json!({
            "metadata": {"name": "web.17"},
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{nginx}"},
            "reason": "Pulled", "type": "Normal", "message": "Pulled image \"nginx\" \n",
            "source": {"component": "kubelet", "host": "node-a"},
            "firstTimestamp": ago(600), "lastTimestamp": ago(65), "count": 3
        });
        assert_eq!(
            row(EVENT, &core),
            [
                json!("65s"),
                json!("Normal"),
                json!("Pulled"),
                json!("pod/web"),
                json!("spec.containers{nginx}"),
                json!("kubelet, node-a"),
                json!("Pulled image \"nginx\""),
                json!("10m"),
                json!(3),
                json!("web.17")
            ]
        );
        let modern = json!({
            "metadata": {"name": "e"},
            "regarding": {"kind": "Node", "name": "n1"},
            "reason": "Starting", "type": "Normal", "note": "Starting kubelet.",
            "reportingController": "kubelet", "reportingInstance": "n1",
            "eventTime": "2000-01-01T00:00:00.000000Z"
        });
        let cells = row(EVENT, &modern);
        assert_eq!(cells[3], json!("node/n1"));
        assert_eq!(cells[5], json!("kubelet, n1"));
        assert_eq!(cells[6], json!("Starting kubelet."));
        assert_eq!(cells[8], json!(1));
        assert!(cells[0].as_str().unwrap().ends_with('y'));
        assert_eq!(EVENT[9].priority, 1);
        let reported = json!({"reportingComponent": "scheduler", "source": {}});
        assert_eq!(event_source(&reported), json!("scheduler"));
    }

    #[test]
    fn quota_and_volumes() {
        let quota = json!({"status": {
            "hard": {"requests.cpu": "1", "limits.memory": "1Gi", "pods": "10"},
            "used": {"requests.cpu": "500m", "pods": "3"}
        }});
        assert_eq!(quota_requests(&quota), json!("pods: 3/10, requests.cpu: 500m/1"));
        assert_eq!(quota_limits(&quota), json!("limits.memory: 0/1Gi"));

        let pv = json!({
            "metadata": {"name": "pv1"},
            "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "standard",
                     "claimRef": {"namespace": "default", "name": "data"}},
            "status": {"phase": "Bound"}
        });
        assert_eq!(
            row(PERSISTENT_VOLUME, &pv)[1..9],
            [
                json!("5Gi"),
                json!("RWO,RWX"),
                json!("Retain"),
                json!("Bound"),
                json!("default/data"),
                json!("standard"),
                json!("<unset>"),
                json!("")
            ]
        );
        let pending = json!({"spec": {"storageClassName": "standard"}, "status": {"phase": "Pending"}});
        assert_eq!(
            row(PERSISTENT_VOLUME_CLAIM, &pending)[1..6],
            [json!("Pending"), json!(""), json!(""), json!(""), json!("standard")]
        );
        let bound_pvc = json!({"spec": {"volumeName": "pv1"},
            "status": {"phase": "Bound", "capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"]}});
        assert_eq!(
            row(PERSISTENT_VOLUME_CLAIM, &bound_pvc)[2..5],
            [json!("pv1"), json!("5Gi"), json!("RWO")]
        );
    }
}
