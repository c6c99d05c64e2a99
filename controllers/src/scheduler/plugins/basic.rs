//! The node-local plugins with no state of their own: NodeUnschedulable, NodeName,
//! TaintToleration (NoSchedule/NoExecute filter, PreferNoSchedule score) and NodePorts.

use crate::scheduler::framework::{Plugin, Status};
use crate::scheduler::node_info::NodeInfo;
use crate::scheduler::pod_info::PodInfo;
use k8s_openapi::api::core::v1::{Taint, Toleration};

pub const ERR_UNSCHEDULABLE: &str = "node(s) were unschedulable";
pub const ERR_NODE_NAME: &str = "node(s) didn't match the requested node name";
pub const ERR_NODE_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";
/// The taint the node lifecycle controller puts on cordoned nodes; tolerating it tolerates
/// spec.unschedulable too.
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// Toleration.ToleratesTaint.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("") {
        "" | "Equal" => toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

/// The pod's tolerations.
pub fn tolerations(pod: &PodInfo) -> &[Toleration] {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or(&[])
}

/// The first NoSchedule/NoExecute taint the pod does not tolerate (FindMatchingUntoleratedTaint).
pub fn untolerated_taint<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|t| !tolerated(tolerations, t))
}

/// NodeUnschedulable: a cordoned node takes only pods tolerating the unschedulable taint.
pub fn node_unschedulable(pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
    if !node.unschedulable() {
        return None;
    }
    let taint = Taint {
        key: TAINT_UNSCHEDULABLE.into(),
        effect: "NoSchedule".into(),
        ..Default::default()
    };
    if tolerated(tolerations(pod), &taint) {
        return None;
    }
    Some(Status::unresolvable(Plugin::NodeUnschedulable, ERR_UNSCHEDULABLE))
}

/// NodeName: a pod naming a node fits only that node.
pub fn node_name(pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
    let wanted = pod.node_name();
    if wanted.is_empty() || wanted == node.name() {
        return None;
    }
    Some(Status::unresolvable(Plugin::NodeName, ERR_NODE_NAME))
}

/// TaintToleration filter.
pub fn taint_toleration(pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
    let taint = untolerated_taint(node.taints(), tolerations(pod))?;
    let reason = format!(
        "node(s) had untolerated taint {{{}: {}}}",
        taint.key,
        taint.value.as_deref().unwrap_or("")
    );
    Some(Status::unresolvable(Plugin::TaintToleration, reason))
}

/// The tolerations that count for PreferNoSchedule (no effect or PreferNoSchedule).
pub fn prefer_no_schedule_tolerations(pod: &PodInfo) -> Vec<Toleration> {
    tolerations(pod)
        .iter()
        .filter(|t| matches!(t.effect.as_deref(), None | Some("") | Some("PreferNoSchedule")))
        .cloned()
        .collect()
}

/// TaintToleration score: the number of untolerated PreferNoSchedule taints (normalized
/// reversed: fewer is better).
pub fn taint_score(tolerations: &[Toleration], node: &NodeInfo) -> i64 {
    node.taints()
        .iter()
        .filter(|t| t.effect == "PreferNoSchedule" && !tolerated(tolerations, t))
        .count() as i64
}

/// NodePorts: every host port the pod asks for is free on the node.
pub fn node_ports(pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
    let conflict = pod
        .host_ports
        .iter()
        .any(|want| node.used_ports.iter().any(|used| used.conflicts(want)));
    conflict.then(|| Status::unschedulable(Plugin::NodePorts, ERR_NODE_PORTS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::node_info::tests::{info, node, pod};
    use k8s_openapi::api::core::v1::{ContainerPort, Node, NodeSpec};
    use std::sync::Arc;

    fn tainted(taints: Vec<Taint>, unschedulable: bool) -> NodeInfo {
        let mut n: Node = (*node("n", "1", "1Gi", "10", &[])).clone();
        n.spec = Some(NodeSpec {
            taints: Some(taints),
            unschedulable: Some(unschedulable),
            ..Default::default()
        });
        NodeInfo::new(Arc::new(n))
    }

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: (!value.is_empty()).then(|| value.into()),
            effect: effect.into(),
            time_added: None,
        }
    }

    fn toleration(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
        Toleration {
            key: (!key.is_empty()).then(|| key.into()),
            operator: (!op.is_empty()).then(|| op.into()),
            value: (!value.is_empty()).then(|| value.into()),
            effect: (!effect.is_empty()).then(|| effect.into()),
            toleration_seconds: None,
        }
    }

    fn with_tolerations(t: Vec<Toleration>) -> Arc<PodInfo> {
        let mut p = pod("p", &[], &[]);
        p.spec.as_mut().unwrap().tolerations = Some(t);
        info(p)
    }

    #[test]
    fn taints_filter_with_upstream_message() {
        let n = tainted(vec![taint("dedicated", "gpu", "NoSchedule")], false);
        let s = taint_toleration(&with_tolerations(vec![]), &n).unwrap();
        assert_eq!(s.message(), "node(s) had untolerated taint {dedicated: gpu}");
        assert_eq!(s.code, crate::scheduler::framework::Code::UnschedulableAndUnresolvable);
        assert!(taint_toleration(
            &with_tolerations(vec![toleration("dedicated", "Equal", "gpu", "NoSchedule")]),
            &n
        )
        .is_none());
        assert!(taint_toleration(&with_tolerations(vec![toleration("dedicated", "Exists", "", "")]), &n).is_none());
        assert!(taint_toleration(&with_tolerations(vec![toleration("", "Exists", "", "")]), &n).is_none());
        assert!(taint_toleration(&with_tolerations(vec![toleration("dedicated", "Equal", "cpu", "")]), &n).is_some());
        assert!(taint_toleration(
            &with_tolerations(vec![toleration("dedicated", "Exists", "", "NoExecute")]),
            &n
        )
        .is_some());
        // An empty value prints as "{key: }".
        let bare = tainted(
            vec![taint("node-role.kubernetes.io/control-plane", "", "NoSchedule")],
            false,
        );
        assert_eq!(
            taint_toleration(&with_tolerations(vec![]), &bare).unwrap().message(),
            "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
        );
        // PreferNoSchedule only scores.
        let soft = tainted(vec![taint("a", "b", "PreferNoSchedule")], false);
        assert!(taint_toleration(&with_tolerations(vec![]), &soft).is_none());
        assert_eq!(taint_score(&[], &soft), 1);
        let tol = prefer_no_schedule_tolerations(&with_tolerations(vec![toleration("a", "Exists", "", "")]));
        assert_eq!(taint_score(&tol, &soft), 0);
    }

    #[test]
    fn cordoned_nodes() {
        let n = tainted(vec![], true);
        assert_eq!(
            node_unschedulable(&with_tolerations(vec![]), &n).unwrap().message(),
            ERR_UNSCHEDULABLE
        );
        let t = toleration(TAINT_UNSCHEDULABLE, "Exists", "", "NoSchedule");
        assert!(node_unschedulable(&with_tolerations(vec![t]), &n).is_none());
        assert!(node_unschedulable(&with_tolerations(vec![]), &tainted(vec![], false)).is_none());
    }

    #[test]
    fn host_ports_collide() {
        let mut p = pod("web", &[], &[]);
        p.spec.as_mut().unwrap().containers[0].ports = Some(vec![ContainerPort {
            container_port: 80,
            host_port: Some(80),
            ..Default::default()
        }]);
        let web = info(p);
        let mut n = NodeInfo::new(node("n", "1", "1Gi", "10", &[]));
        assert!(node_ports(&web, &n).is_none());
        n.add_pod(web.clone());
        assert_eq!(node_ports(&web, &n).unwrap().message(), ERR_NODE_PORTS);
        assert!(node_name(&web, &n).is_none());
    }
}
