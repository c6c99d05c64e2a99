//! Printers of networking, storage, scheduling, node and resource (DRA) kinds: Ingress,
//! IngressClass, NetworkPolicy, ServiceCIDR, IPAddress, EndpointSlice, StorageClass,
//! VolumeAttributesClass, VolumeAttachment, CSINode, CSIDriver, CSIStorageCapacity,
//! PriorityClass, RuntimeClass, DeviceClass, ResourceClaim(Template) and ResourceSlice.

use super::format::{
    at, col, flag, format_label_selector, int, list, list_with_more, number, or, present, s, text, wide, AGE, NAME,
};
use super::Column;
use serde_json::Value;

fn ingress_class(obj: &Value) -> Value {
    text(
        at(obj, &["spec", "ingressClassName"])
            .and_then(Value::as_str)
            .unwrap_or("<none>"),
    )
}

/// Up to three rule hosts, then ` + N more...`; `*` when no rule names a host.
fn ingress_hosts(obj: &Value) -> Value {
    let rules = list(obj, &["spec", "rules"]);
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == 3 {
            more = true;
        }
        let host = s(rule, &["host"]);
        if !more && !host.is_empty() {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return text("*");
    }
    if more {
        return text(format!("{} + {} more...", hosts.join(","), rules.len() - 3));
    }
    text(hosts.join(","))
}

/// Load-balancer IPs (else hostnames), sorted and de-duplicated.
fn ingress_address(obj: &Value) -> Value {
    let mut points: Vec<&str> = list(obj, &["status", "loadBalancer", "ingress"])
        .iter()
        .map(|i| or(s(i, &["ip"]), s(i, &["hostname"])))
        .filter(|p| !p.is_empty())
        .collect();
    points.sort_unstable();
    points.dedup();
    text(points.join(","))
}

fn ingress_ports(obj: &Value) -> Value {
    text(if list(obj, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    })
}

pub static INGRESS: &[Column] = &[
    NAME,
    col(
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
        ingress_class,
    ),
    col(
        "Hosts",
        "string",
        "Hosts that incoming requests are matched against before the ingress rule",
        ingress_hosts,
    ),
    col(
        "Address",
        "string",
        "Address is a list containing ingress points for the load-balancer",
        ingress_address,
    ),
    col(
        "Ports",
        "string",
        "Ports of TLS configurations that open",
        ingress_ports,
    ),
    AGE,
];

fn controller(obj: &Value) -> Value {
    text(s(obj, &["spec", "controller"]))
}
/// `Kind.group/name` of the parameters, or `<none>`.
fn parameters(obj: &Value) -> Value {
    let Some(params) = present(obj, &["spec", "parameters"]) else {
        return text("<none>");
    };
    let kind = match params.get("apiGroup").and_then(Value::as_str) {
        Some(group) => format!("{}.{group}", s(params, &["kind"])),
        None => s(params, &["kind"]).to_string(),
    };
    text(format!("{kind}/{}", s(params, &["name"])))
}

pub static INGRESS_CLASS: &[Column] = &[
    NAME,
    col(
        "Controller",
        "string",
        "Controller that is responsible for handling this class",
        controller,
    ),
    col(
        "Parameters",
        "string",
        "A reference to a resource with additional parameters",
        parameters,
    ),
    AGE,
];

fn pod_selector(obj: &Value) -> Value {
    text(format_label_selector(at(obj, &["spec", "podSelector"])))
}

pub static NETWORK_POLICY: &[Column] = &[
    NAME,
    col(
        "Pod-Selector",
        "string",
        "podSelector selects the pods to which this NetworkPolicy object applies.",
        pod_selector,
    ),
    AGE,
];

fn cidrs(obj: &Value) -> Value {
    let cidrs: Vec<&str> = list(obj, &["spec", "cidrs"]).iter().filter_map(Value::as_str).collect();
    text(cidrs.join(","))
}

pub static SERVICE_CIDR: &[Column] = &[
    NAME,
    col("CIDRs", "string", "CIDRs defines the IP blocks in CIDR notation (e.g. \"192.168.0.0/24\" or \"2001:db8::/64\") from which to assign service cluster IPs.", cidrs),
    AGE,
];

/// `resource.group/namespace/name` of the parent, or `<none>`.
fn parent_ref(obj: &Value) -> Value {
    let Some(parent) = present(obj, &["spec", "parentRef"]) else {
        return text("<none>");
    };
    let mut out = match s(parent, &["group"]) {
        "" => s(parent, &["resource"]).to_lowercase(),
        group => format!("{}.{group}", s(parent, &["resource"])).to_lowercase(),
    };
    let ns = s(parent, &["namespace"]);
    if !ns.is_empty() {
        out = format!("{out}/{ns}");
    }
    text(format!("{out}/{}", s(parent, &["name"])))
}

pub static IP_ADDRESS: &[Column] = &[
    NAME,
    col(
        "ParentRef",
        "string",
        "ParentRef references the resource that an IPAddress is attached to.",
        parent_ref,
    ),
    AGE,
];

fn address_type(obj: &Value) -> Value {
    text(s(obj, &["addressType"]))
}
/// Up to three port numbers (or names, or `*`).
fn slice_ports(obj: &Value) -> Value {
    let ports: Vec<String> = list(obj, &["ports"])
        .iter()
        .map(|p| {
            match (
                p.get("port").and_then(Value::as_i64),
                p.get("name").and_then(Value::as_str),
            ) {
                (Some(port), _) => port.to_string(),
                (None, Some(name)) => name.to_string(),
                (None, None) => "*".to_string(),
            }
        })
        .collect();
    text(list_with_more(&ports, 3))
}
fn slice_endpoints(obj: &Value) -> Value {
    let addresses: Vec<String> = list(obj, &["endpoints"])
        .iter()
        .flat_map(|e| list(e, &["addresses"]))
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();
    text(list_with_more(&addresses, 3))
}

pub static ENDPOINT_SLICE: &[Column] = &[
    NAME,
    col(
        "AddressType",
        "string",
        "addressType specifies the type of address carried by this EndpointSlice.",
        address_type,
    ),
    col(
        "Ports",
        "string",
        "ports specifies the list of network ports exposed by each endpoint in this slice.",
        slice_ports,
    ),
    col(
        "Endpoints",
        "string",
        "endpoints is a list of unique endpoints in this slice.",
        slice_endpoints,
    ),
    AGE,
];

fn annotation_is_true(obj: &Value, key: &str) -> bool {
    at(obj, &["metadata", "annotations", key]).and_then(Value::as_str) == Some("true")
}
/// The name, marked ` (default)` by the default-class annotations.
fn storage_class_name(obj: &Value) -> Value {
    let default = annotation_is_true(obj, "storageclass.kubernetes.io/is-default-class")
        || annotation_is_true(obj, "storageclass.beta.kubernetes.io/is-default-class");
    default_marked(obj, default)
}
fn default_marked(obj: &Value, default: bool) -> Value {
    let name = s(obj, &["metadata", "name"]);
    text(if default {
        format!("{name} (default)")
    } else {
        name.to_string()
    })
}
fn provisioner(obj: &Value) -> Value {
    text(s(obj, &["provisioner"]))
}
fn sc_reclaim_policy(obj: &Value) -> Value {
    text(or(s(obj, &["reclaimPolicy"]), "Delete"))
}
fn binding_mode(obj: &Value) -> Value {
    text(or(s(obj, &["volumeBindingMode"]), "Immediate"))
}
fn allow_expansion(obj: &Value) -> Value {
    Value::Bool(flag(obj, &["allowVolumeExpansion"]))
}

pub static STORAGE_CLASS: &[Column] = &[
    Column { cell: storage_class_name, ..NAME },
    col("Provisioner", "string", "provisioner indicates the type of the provisioner.", provisioner),
    col("ReclaimPolicy", "string", "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.", sc_reclaim_policy),
    col("VolumeBindingMode", "string", "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used.", binding_mode),
    col("AllowVolumeExpansion", "string", "allowVolumeExpansion shows whether the storage class allow volume expand.", allow_expansion),
    AGE,
];

fn vac_name(obj: &Value) -> Value {
    let default = annotation_is_true(obj, "volumeattributesclass.alpha.kubernetes.io/is-default-class");
    default_marked(obj, default)
}
fn driver_name(obj: &Value) -> Value {
    text(s(obj, &["driverName"]))
}

pub static VOLUME_ATTRIBUTES_CLASS: &[Column] = &[
    Column { cell: vac_name, ..NAME },
    col(
        "DriverName",
        "string",
        "Name of the CSI driver This field is immutable.",
        driver_name,
    ),
    AGE,
];

fn attacher(obj: &Value) -> Value {
    text(s(obj, &["spec", "attacher"]))
}
fn attached_pv(obj: &Value) -> Value {
    text(s(obj, &["spec", "source", "persistentVolumeName"]))
}
fn attach_node(obj: &Value) -> Value {
    text(s(obj, &["spec", "nodeName"]))
}
fn attached(obj: &Value) -> Value {
    Value::Bool(flag(obj, &["status", "attached"]))
}

pub static VOLUME_ATTACHMENT: &[Column] = &[
    NAME,
    Column {
        format: "name",
        ..col(
            "Attacher",
            "string",
            "attacher indicates the name of the volume driver that MUST handle this request.",
            attacher,
        )
    },
    col(
        "PV",
        "string",
        "persistentVolumeName represents the name of the persistent volume to attach.",
        attached_pv,
    ),
    col(
        "Node",
        "string",
        "nodeName represents the node that the volume should be attached to.",
        attach_node,
    ),
    col(
        "Attached",
        "boolean",
        "attached indicates the volume is successfully attached.",
        attached,
    ),
    AGE,
];

fn csi_drivers(obj: &Value) -> Value {
    number(list(obj, &["spec", "drivers"]).len() as i64)
}

pub static CSI_NODE: &[Column] = &[
    NAME,
    col(
        "Drivers",
        "integer",
        "Drivers indicates the number of CSI drivers registered on the node",
        csi_drivers,
    ),
    AGE,
];

fn bool_or(obj: &Value, field: &str, default: bool) -> Value {
    Value::Bool(at(obj, &["spec", field]).and_then(Value::as_bool).unwrap_or(default))
}
fn attach_required(obj: &Value) -> Value {
    bool_or(obj, "attachRequired", true)
}
fn pod_info_on_mount(obj: &Value) -> Value {
    bool_or(obj, "podInfoOnMount", false)
}
fn storage_capacity(obj: &Value) -> Value {
    bool_or(obj, "storageCapacity", false)
}
fn requires_republish(obj: &Value) -> Value {
    bool_or(obj, "requiresRepublish", false)
}
fn token_requests(obj: &Value) -> Value {
    match at(obj, &["spec", "tokenRequests"]).and_then(Value::as_array) {
        Some(requests) => {
            let audiences: Vec<&str> = requests.iter().map(|t| s(t, &["audience"])).collect();
            text(audiences.join(","))
        }
        None => text("<unset>"),
    }
}
fn lifecycle_modes(obj: &Value) -> Value {
    let modes: Vec<&str> = list(obj, &["spec", "volumeLifecycleModes"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    text(or(&modes.join(","), "<none>"))
}

pub static CSI_DRIVER: &[Column] = &[
    NAME,
    col("AttachRequired", "boolean", "attachRequired indicates this CSI volume driver requires an attach operation.", attach_required),
    col("PodInfoOnMount", "boolean", "podInfoOnMount indicates this CSI volume driver requires additional pod information (like podName, podUID, etc.) during mount operations.", pod_info_on_mount),
    col("StorageCapacity", "boolean", "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity that the driver deployment will report.", storage_capacity),
    col("TokenRequests", "string", "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication.", token_requests),
    col("RequiresRepublish", "boolean", "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume.", requires_republish),
    col("Modes", "string", "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports.", lifecycle_modes),
    AGE,
];

fn capacity_class(obj: &Value) -> Value {
    text(s(obj, &["storageClassName"]))
}
fn capacity(obj: &Value) -> Value {
    text(or(s(obj, &["capacity"]), "<unset>"))
}

pub static CSI_STORAGE_CAPACITY: &[Column] = &[
    NAME,
    col("StorageClassName", "string", "storageClassName represents the name of the StorageClass that the reported capacity applies to.", capacity_class),
    col("Capacity", "string", "capacity is the value reported by the CSI driver in its GetCapacityResponse for a GetCapacityRequest with topology and parameters that match the previous fields.", capacity),
];

fn priority_value(obj: &Value) -> Value {
    number(int(obj, &["value"]))
}
fn global_default(obj: &Value) -> Value {
    Value::Bool(flag(obj, &["globalDefault"]))
}
fn preemption_policy(obj: &Value) -> Value {
    text(s(obj, &["preemptionPolicy"]))
}

pub static PRIORITY_CLASS: &[Column] = &[
    NAME,
    col("Value", "integer", "value represents the integer value of this priority class.", priority_value),
    col("Global-Default", "boolean", "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class.", global_default),
    AGE,
    wide("PreemptionPolicy", "string", "preemptionPolicy is the Policy for preempting pods with lower priority.", preemption_policy),
];

fn handler(obj: &Value) -> Value {
    text(s(obj, &["handler"]))
}

pub static RUNTIME_CLASS: &[Column] = &[
    NAME,
    col("Handler", "string", "handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class.", handler),
    AGE,
];

/// DeviceClass and ResourceClaimTemplate print Name and Age only.
pub static NAME_AGE: &[Column] = &[NAME, AGE];

/// `pending`, or `allocated` then `reserved`; `deleted` first once deletion started.
fn claim_state(obj: &Value) -> Value {
    let deleting = at(obj, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null());
    let allocated = at(obj, &["status", "allocation"]).is_some_and(|v| !v.is_null());
    let mut states = Vec::new();
    if deleting {
        states.push("deleted");
    }
    if allocated {
        states.push("allocated");
        if !list(obj, &["status", "reservedFor"]).is_empty() {
            states.push("reserved");
        }
    } else if !deleting {
        states.push("pending");
    }
    text(states.join(","))
}

pub static RESOURCE_CLAIM: &[Column] = &[
    NAME,
    col(
        "State",
        "string",
        "A summary of the current state (allocated, pending, reserved, etc.).",
        claim_state,
    ),
    AGE,
];

fn slice_node(obj: &Value) -> Value {
    text(s(obj, &["spec", "nodeName"]))
}
fn slice_driver(obj: &Value) -> Value {
    text(s(obj, &["spec", "driver"]))
}
fn slice_pool(obj: &Value) -> Value {
    text(s(obj, &["spec", "pool", "name"]))
}

pub static RESOURCE_SLICE: &[Column] = &[
    NAME,
    col(
        "Node",
        "string",
        "NodeName identifies the node which provides the resources in this pool.",
        slice_node,
    ),
    col(
        "Driver",
        "string",
        "Driver identifies the DRA driver providing the capacity information.",
        slice_driver,
    ),
    col("Pool", "string", "Name is used to identify the pool.", slice_pool),
    AGE,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::tables::testing::row;
    use serde_json::json;

    #[test]
    fn ingress_rows() {
        let ing = json!({
            "metadata": {"name": "web"},
            "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example"]}],
                     "rules": [{"host": "a.example"}, {"host": "b.example"}, {}, {"host": "c.example"}, {"host": "d.example"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.5"}, {"hostname": "lb.example"}]}}
        });
        assert_eq!(
            row(INGRESS, &ing)[1..5],
            [
                json!("nginx"),
                json!("a.example,b.example,c.example + 2 more..."),
                json!("172.18.0.5,lb.example"),
                json!("80, 443")
            ]
        );
        assert_eq!(
            row(INGRESS, &json!({}))[1..5],
            [json!("<none>"), json!("*"), json!(""), json!("80")]
        );
        let class = json!({"spec": {"controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}});
        assert_eq!(
            row(INGRESS_CLASS, &class)[1..3],
            [
                json!("k8s.io/ingress-nginx"),
                json!("IngressParameters.k8s.example.com/external-lb")
            ]
        );
    }

    #[test]
    fn network_rows() {
        assert_eq!(pod_selector(&json!({"spec": {"podSelector": {}}})), json!("<none>"));
        assert_eq!(
            cidrs(&json!({"spec": {"cidrs": ["10.96.0.0/16", "fd00::/108"]}})),
            json!("10.96.0.0/16,fd00::/108")
        );
        let ip = json!({"spec": {"parentRef": {"group": "", "resource": "services", "namespace": "default", "name": "kubernetes"}}});
        assert_eq!(parent_ref(&ip), json!("services/default/kubernetes"));
        let slice = json!({"addressType": "IPv4", "ports": [{"name": "https", "port": 6443}],
            "endpoints": [{"addresses": ["172.18.0.2"]}]});
        assert_eq!(
            row(ENDPOINT_SLICE, &slice)[1..4],
            [json!("IPv4"), json!("6443"), json!("172.18.0.2")]
        );
        assert_eq!(slice_endpoints(&json!({})), json!("<unset>"));
    }

    #[test]
    fn storage_rows() {
        let sc = json!({
            "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"
        });
        assert_eq!(
            row(STORAGE_CLASS, &sc)[..5],
            [
                json!("standard (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("WaitForFirstConsumer"),
                json!(false)
            ]
        );
        let driver = json!({"spec": {"volumeLifecycleModes": ["Persistent"]}});
        assert_eq!(
            row(CSI_DRIVER, &driver)[1..7],
            [
                json!(true),
                json!(false),
                json!(false),
                json!("<unset>"),
                json!(false),
                json!("Persistent")
            ]
        );
        let va = json!({"spec": {"attacher": "csi.example", "nodeName": "n1", "source": {"persistentVolumeName": "pv1"}},
            "status": {"attached": true}});
        assert_eq!(
            row(VOLUME_ATTACHMENT, &va)[1..5],
            [json!("csi.example"), json!("pv1"), json!("n1"), json!(true)]
        );
    }

    #[test]
    fn scheduling_and_dra_rows() {
        let pc = json!({"metadata": {"name": "system-cluster-critical"}, "value": 2000000000, "preemptionPolicy": "PreemptLowerPriority"});
        let cells = row(PRIORITY_CLASS, &pc);
        assert_eq!(cells[1..3], [json!(2000000000), json!(false)]);
        assert_eq!(cells[4], json!("PreemptLowerPriority"));
        assert_eq!(claim_state(&json!({})), json!("pending"));
        assert_eq!(
            claim_state(&json!({"status": {"allocation": {}, "reservedFor": [{"name": "pod"}]}})),
            json!("allocated,reserved")
        );
        assert_eq!(
            claim_state(&json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}})),
            json!("deleted")
        );
    }
}
