//! The objects a kubelet writes about its node: the Node it registers (default labels, taints,
//! capacity and allocatable, nodeInfo, addresses, the Ready / MemoryPressure / DiskPressure /
//! PIDPressure conditions with upstream's reasons and messages, daemonEndpoints) and its Lease in
//! kube-node-lease.

use super::config::NodeConfig;
use super::format::uuid_from;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The kubelet version nodes report.
pub const KUBELET_VERSION: &str = "v1.35.0";
/// Where node Leases live and how long they last (`nodeLeaseDurationSeconds`).
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
pub const LEASE_DURATION_SECONDS: i32 = 40;

/// The node conditions: (type, reason, message), in the order the kubelet reports them.
pub const CONDITIONS: [(&str, &str, &str); 4] = [
    (
        "MemoryPressure",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    (
        "DiskPressure",
        "KubeletHasNoDiskPressure",
        "kubelet has no disk pressure",
    ),
    (
        "PIDPressure",
        "KubeletHasSufficientPID",
        "kubelet has sufficient PID available",
    ),
    ("Ready", "KubeletReady", "kubelet is posting ready status"),
];

/// What the machine says about itself (shared by every simulated node of the process).
struct System {
    os_image: String,
    kernel: String,
    arch: &'static str,
}

fn system() -> &'static System {
    static SYSTEM: OnceLock<System> = OnceLock::new();
    SYSTEM.get_or_init(|| {
        let os_image = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_string())
            })
            .unwrap_or_else(|| "Linux".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| k.trim().to_string())
            .unwrap_or_default();
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "powerpc64" => "ppc64le",
            other => other,
        };
        System { os_image, kernel, arch }
    })
}

/// The labels the kubelet puts on its node, under the configured ones.
pub fn labels(config: &NodeConfig) -> BTreeMap<String, String> {
    let sys = system();
    let mut labels: BTreeMap<String, String> = [
        ("beta.kubernetes.io/arch", sys.arch),
        ("beta.kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", sys.arch),
        ("kubernetes.io/hostname", config.name.as_str()),
        ("kubernetes.io/os", "linux"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    labels.extend(config.labels.clone());
    labels
}

fn quantities(map: BTreeMap<String, String>) -> BTreeMap<String, Quantity> {
    map.into_iter().map(|(k, v)| (k, Quantity(v))).collect()
}

/// The Node a kubelet registers.
pub fn node(config: &NodeConfig, index: usize, runtime_version: &str, kubelet_port: i32, since: Timestamp) -> Node {
    let mut annotations: BTreeMap<String, String> = [
        ("node.alpha.kubernetes.io/ttl", "0"),
        ("volumes.kubernetes.io/controller-managed-attach-detach", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    annotations.extend(config.annotations.clone());
    Node {
        metadata: ObjectMeta {
            name: Some(config.name.clone()),
            labels: Some(labels(config)),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            taints: (!config.taints.is_empty()).then(|| config.taints.clone()),
            ..Default::default()
        }),
        status: Some(status(
            config,
            index,
            runtime_version,
            kubelet_port,
            since,
            Timestamp::now(),
        )),
    }
}

/// The node's status: conditions that became what they are at `since`, heartbeat `now`.
pub fn status(
    config: &NodeConfig,
    index: usize,
    runtime_version: &str,
    kubelet_port: i32,
    since: Timestamp,
    now: Timestamp,
) -> NodeStatus {
    let sys = system();
    let conditions = CONDITIONS
        .iter()
        .map(|(type_, reason, message)| NodeCondition {
            type_: type_.to_string(),
            status: if *type_ == "Ready" { "True" } else { "False" }.into(),
            reason: Some(reason.to_string()),
            message: Some(message.to_string()),
            last_heartbeat_time: Some(Time(now)),
            last_transition_time: Some(Time(since)),
        })
        .collect();
    NodeStatus {
        capacity: Some(quantities(config.capacity())),
        allocatable: Some(quantities(config.allocatable())),
        conditions: Some(conditions),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: config.internal_ip(index).to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: config.name.clone(),
            },
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint { port: kubelet_port }),
        }),
        node_info: Some(NodeSystemInfo {
            architecture: sys.arch.into(),
            boot_id: uuid_from(&format!("boot/{}", config.name)),
            container_runtime_version: runtime_version.into(),
            kernel_version: sys.kernel.clone(),
            kube_proxy_version: String::new(),
            kubelet_version: KUBELET_VERSION.into(),
            machine_id: uuid_from(&format!("machine/{}", config.name)).replace('-', ""),
            operating_system: "linux".into(),
            os_image: sys.os_image.clone(),
            system_uuid: uuid_from(&format!("system/{}", config.name)),
            swap: None,
        }),
        ..Default::default()
    }
}

/// The node's Lease, owned by its Node.
pub fn lease(name: &str, node_uid: &str, now: Timestamp) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(LEASE_NAMESPACE.into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Node".into(),
                name: name.to_string(),
                uid: node_uid.to_string(),
                controller: None,
                block_owner_deletion: None,
            }]),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(name.to_string()),
            lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
            renew_time: Some(MicroTime(now)),
            ..Default::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_nodes_look_like_the_kubelets() {
        let mut config = NodeConfig::named("n1");
        config.labels.insert("zone".into(), "z".into());
        let node = node(&config, 0, "skiff-sim://0.1.0", 0, Timestamp::now());
        let labels = node.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["kubernetes.io/hostname"], "n1");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert_eq!(labels["zone"], "z");
        let status = node.status.unwrap();
        let types: Vec<&str> = status
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.type_.as_str())
            .collect();
        assert_eq!(types, ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]);
        let ready = &status.conditions.as_ref().unwrap()[3];
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_deref()),
            ("True", Some("KubeletReady"))
        );
        assert_eq!(status.capacity.as_ref().unwrap()["pods"], Quantity("110".into()));
        let info = status.node_info.unwrap();
        assert_eq!(info.kubelet_version, "v1.35.0");
        assert_eq!(info.container_runtime_version, "skiff-sim://0.1.0");
        assert_eq!(status.addresses.unwrap()[0].address, "172.18.0.2");
        assert_eq!(status.daemon_endpoints.unwrap().kubelet_endpoint.unwrap().port, 0);
    }

    #[test]
    fn leases_are_held_by_their_node() {
        let l = lease("n1", "uid-1", Timestamp::now());
        let spec = l.spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("n1"));
        assert_eq!(spec.lease_duration_seconds, Some(40));
        assert_eq!(l.metadata.owner_references.unwrap()[0].uid, "uid-1");
    }
}
