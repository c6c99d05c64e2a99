//! Where a DaemonSet's pods go (upstream's NodeShouldRunDaemonPod and daemon pod shaping): the
//! pod the set would put on a node carries the tolerations upstream adds to daemon pods and a
//! required node affinity `matchFields metadata.name In [<node>]` (so the scheduler binds it);
//! a node should run it when the template's nodeSelector and required node affinity match and
//! its NoSchedule/NoExecute taints are tolerated, and keeps a running one unless a NoExecute
//! taint is not.

use crate::scheduler::labels::RequiredNodeAffinity;
use crate::scheduler::plugins::basic::tolerated;
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec, Toleration,
};

/// The tolerations every daemon pod gets (upstream's AddOrUpdateDaemonPodTolerations):
/// (key, effect), operator Exists, no tolerationSeconds.
const DEFAULT_TOLERATIONS: &[(&str, &str)] = &[
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
];
/// Added for hostNetwork pods only.
const NETWORK_UNAVAILABLE: (&str, &str) = ("node.kubernetes.io/network-unavailable", "NoSchedule");

/// Whether a node should run the daemon pod, and whether it may keep one it runs.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Fit {
    pub should_run: bool,
    pub should_continue_running: bool,
}

/// Add the default daemon tolerations to `spec` (an equal key/effect already there is kept).
pub fn add_default_tolerations(spec: &mut PodSpec) {
    let host_network = spec.host_network == Some(true);
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    let extra = host_network.then_some(NETWORK_UNAVAILABLE);
    for (key, effect) in DEFAULT_TOLERATIONS.iter().copied().chain(extra) {
        let present = tolerations
            .iter()
            .any(|t| t.key.as_deref() == Some(key) && t.effect.as_deref() == Some(effect));
        if !present {
            tolerations.push(Toleration {
                key: Some(key.into()),
                operator: Some("Exists".into()),
                effect: Some(effect.into()),
                ..Default::default()
            });
        }
    }
}

/// Pin `spec` to `node` through required node affinity, replacing any required terms (upstream's
/// ReplaceDaemonSetPodNodeNameNodeAffinity).
pub fn pin_to_node(spec: &mut PodSpec, node: &str) {
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let node_affinity = affinity.node_affinity.get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: "In".into(),
                values: Some(vec![node.into()]),
            }]),
            ..Default::default()
        }],
    });
}

/// The node a daemon pod is for: its spec.nodeName, or before binding the node its affinity
/// names (upstream's GetTargetNodeName).
pub fn target_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(name) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(name.clone());
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|r| r.key == "metadata.name" && r.operator == "In")
        .and_then(|r| r.values.as_ref()?.first().cloned())
}

/// Whether `node` should run (and may keep) a pod with `spec`, the template's spec with the
/// default tolerations (upstream's NodeShouldRunDaemonPod, before the node-name pinning).
pub fn fit(spec: &PodSpec, node: &Node) -> Fit {
    let unfit = Fit {
        should_run: false,
        should_continue_running: false,
    };
    if let Some(name) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        if Some(name) != node.metadata.name.as_ref() {
            return unfit;
        }
    }
    let required_terms = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
        .map(|r| r.node_selector_terms.as_slice());
    if !RequiredNodeAffinity::new(spec.node_selector.as_ref(), required_terms).matches(node) {
        return unfit;
    }
    let tolerations = spec.tolerations.as_deref().unwrap_or(&[]);
    let taints = node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or(&[]);
    let untolerated = |effect: &str| taints.iter().any(|t| t.effect == effect && !tolerated(tolerations, t));
    let no_execute = untolerated("NoExecute");
    Fit {
        should_run: !no_execute && !untolerated("NoSchedule"),
        should_continue_running: !no_execute,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeSpec, Taint};

    fn node(name: &str, taint: Option<&str>) -> Node {
        let mut node = Node::default();
        node.metadata.name = Some(name.into());
        node.metadata.labels = Some([("disk".to_string(), "ssd".to_string())].into());
        node.spec = Some(NodeSpec {
            taints: taint.map(|effect| {
                vec![Taint {
                    key: "dedicated".into(),
                    effect: effect.into(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        });
        node
    }

    #[test]
    fn taints_decide_running_and_continuing() {
        let spec = PodSpec::default();
        assert!(fit(&spec, &node("a", None)).should_run);
        let no_schedule = fit(&spec, &node("a", Some("NoSchedule")));
        assert!(!no_schedule.should_run && no_schedule.should_continue_running);
        let no_execute = fit(&spec, &node("a", Some("NoExecute")));
        assert!(!no_execute.should_run && !no_execute.should_continue_running);
    }

    #[test]
    fn selector_and_pinning() {
        let mut spec = PodSpec {
            node_selector: Some([("disk".to_string(), "hdd".to_string())].into()),
            ..Default::default()
        };
        assert!(!fit(&spec, &node("a", None)).should_run);
        spec.node_selector = Some([("disk".to_string(), "ssd".to_string())].into());
        assert!(fit(&spec, &node("a", None)).should_run);
        pin_to_node(&mut spec, "b");
        let pod = Pod {
            spec: Some(spec),
            ..Default::default()
        };
        assert_eq!(target_node(&pod).as_deref(), Some("b"));
    }

    #[test]
    fn default_tolerations_once() {
        let mut spec = PodSpec {
            host_network: Some(true),
            ..Default::default()
        };
        add_default_tolerations(&mut spec);
        add_default_tolerations(&mut spec);
        assert_eq!(spec.tolerations.as_ref().map(Vec::len), Some(7));
    }
}
