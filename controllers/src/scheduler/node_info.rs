//! What the scheduler knows of one node (framework.NodeInfo): the Node, its allocatable and
//! requested resources, the pods on it (bound or assumed), their host ports, and counts of the
//! pods with inter-pod affinity so that the affinity plugins can skip nodes without any.

use super::labels::{node_labels, Labels};
use super::pod_info::{HostPort, PodInfo};
use super::resources::Resources;
use k8s_openapi::api::core::v1::{Node, Taint};
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct NodeInfo {
    /// The Node; None while pods are known to be on a node the scheduler has not seen (yet).
    pub node: Option<Arc<Node>>,
    pub allocatable: Resources,
    pub requested: Resources,
    /// Requested cpu/memory counting the defaults for containers without requests (scoring).
    pub non_zero_cpu: i64,
    pub non_zero_memory: i64,
    pub pods: Vec<Arc<PodInfo>>,
    pub used_ports: Vec<HostPort>,
    /// How many of the pods have any inter-pod (anti-)affinity.
    pub affinity_pods: usize,
    /// How many of the pods have required anti-affinity.
    pub required_anti_affinity_pods: usize,
    /// Bumped on every change (memoized per-node computations compare it).
    pub generation: u64,
}

static NO_TAINTS: Vec<Taint> = Vec::new();

impl NodeInfo {
    /// A node info for `node` with no pods.
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let mut info = NodeInfo::default();
        info.set_node(node);
        info
    }

    /// Replace the Node (its allocatable may change; the pods stay).
    pub fn set_node(&mut self, node: Arc<Node>) {
        self.allocatable = Resources::from_list(node.status.as_ref().and_then(|s| s.allocatable.as_ref()));
        self.node = Some(node);
        self.generation += 1;
    }

    pub fn name(&self) -> &str {
        self.node
            .as_ref()
            .and_then(|n| n.metadata.name.as_deref())
            .unwrap_or("")
    }

    pub fn labels(&self) -> &Labels {
        match &self.node {
            Some(n) => node_labels(n),
            None => node_labels(empty_node()),
        }
    }

    pub fn taints(&self) -> &[Taint] {
        self.node
            .as_ref()
            .and_then(|n| n.spec.as_ref())
            .and_then(|s| s.taints.as_ref())
            .unwrap_or(&NO_TAINTS)
    }

    pub fn unschedulable(&self) -> bool {
        self.node
            .as_ref()
            .and_then(|n| n.spec.as_ref())
            .and_then(|s| s.unschedulable)
            .unwrap_or(false)
    }

    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests.requests);
        self.non_zero_cpu += pod.requests.non_zero_cpu;
        self.non_zero_memory += pod.requests.non_zero_memory;
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if pod.has_affinity() {
            self.affinity_pods += 1;
        }
        if pod.has_required_anti_affinity() {
            self.required_anti_affinity_pods += 1;
        }
        self.pods.push(pod);
        self.generation += 1;
    }

    /// Remove the pod with `uid`; whether it was there.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.uid == uid) else {
            return false;
        };
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod.requests.requests);
        self.non_zero_cpu -= pod.requests.non_zero_cpu;
        self.non_zero_memory -= pod.requests.non_zero_memory;
        for port in &pod.host_ports {
            if let Some(j) = self.used_ports.iter().position(|p| p == port) {
                self.used_ports.swap_remove(j);
            }
        }
        if pod.has_affinity() {
            self.affinity_pods -= 1;
        }
        if pod.has_required_anti_affinity() {
            self.required_anti_affinity_pods -= 1;
        }
        self.generation += 1;
        true
    }

    /// The pods with any inter-pod affinity.
    pub fn pods_with_affinity(&self) -> impl Iterator<Item = &Arc<PodInfo>> {
        let any = self.affinity_pods > 0;
        self.pods.iter().filter(move |p| any && p.has_affinity())
    }

    /// The pods with required anti-affinity.
    pub fn pods_with_required_anti_affinity(&self) -> impl Iterator<Item = &Arc<PodInfo>> {
        let any = self.required_anti_affinity_pods > 0;
        self.pods.iter().filter(move |p| any && p.has_required_anti_affinity())
    }
}

fn empty_node() -> &'static Node {
    static EMPTY: std::sync::OnceLock<Node> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Node::default)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scheduler::resources::tests::container;
    use k8s_openapi::api::core::v1::{NodeSpec, NodeStatus, Pod, PodSpec};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    /// A node with `cpu` cores, `memory` bytes (as quantities) and `pods` slots.
    pub fn node(name: &str, cpu: &str, memory: &str, pods: &str, labels: &[(&str, &str)]) -> Arc<Node> {
        let mut node = Node::default();
        node.metadata.name = Some(name.into());
        node.metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        node.spec = Some(NodeSpec::default());
        node.status = Some(NodeStatus {
            allocatable: Some(
                [("cpu", cpu), ("memory", memory), ("pods", pods)]
                    .iter()
                    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                    .collect(),
            ),
            ..Default::default()
        });
        Arc::new(node)
    }

    /// A pod `name` in namespace "default" with one container requesting `requests`.
    pub fn pod(name: &str, requests: &[(&str, &str)], labels: &[(&str, &str)]) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some(name.into());
        pod.metadata.namespace = Some("default".into());
        pod.metadata.uid = Some(format!("uid-{name}"));
        pod.metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        pod.spec = Some(PodSpec {
            containers: vec![container("c", requests)],
            ..Default::default()
        });
        pod
    }

    pub fn info(pod: Pod) -> Arc<PodInfo> {
        Arc::new(PodInfo::new(Arc::new(pod)))
    }

    #[test]
    fn pods_are_accounted_and_released() {
        let mut n = NodeInfo::new(node("n1", "4", "8Gi", "110", &[]));
        assert_eq!(n.allocatable.milli_cpu, 4000);
        assert_eq!(n.allocatable.pods, 110);
        let p = info(pod("a", &[("cpu", "1")], &[]));
        n.add_pod(p.clone());
        assert_eq!(n.requested.milli_cpu, 1000);
        assert_eq!(n.non_zero_memory, crate::scheduler::resources::DEFAULT_MEMORY_REQUEST);
        let generation = n.generation;
        assert!(n.remove_pod("uid-a"));
        assert!(!n.remove_pod("uid-a"));
        assert_eq!(n.requested, Resources::default());
        assert!(n.generation > generation);
    }
}
