//! Queueing hints: which cluster events may make a pod schedulable again, per plugin that
//! rejected it (each plugin's EventsToRegister and QueueingHintFns, condensed). A pod moves out
//! of the unschedulable pool only when one of its rejecting plugins says the event may help.

use super::framework::{Plugin, PluginSet, VolumeHooks};
use super::labels::{node_labels, RequiredNodeAffinity};
use super::node_info::NodeInfo;
use super::plugins::basic::{tolerated, tolerations, untolerated_taint, TAINT_UNSCHEDULABLE};
use super::plugins::{node_affinity::NodeAffinityState, node_resources};
use super::pod_info::PodInfo;
use super::resources::Resources;
use k8s_openapi::api::core::v1::{Node, Taint};
use std::sync::Arc;

/// A change in the cluster the unschedulable pods may be waiting for.
#[derive(Clone, Copy)]
pub enum Event<'a> {
    NodeAdd(&'a Node),
    NodeUpdate {
        old: &'a Node,
        new: &'a Node,
    },
    NodeDelete(&'a Node),
    /// A pod was bound (or assumed) to a node.
    PodAdd(&'a PodInfo),
    /// A bound pod changed (labels, requests).
    PodUpdate {
        old: &'a PodInfo,
        new: &'a PodInfo,
    },
    /// A bound or assumed pod went away (deleted, terminated, binding failed).
    PodDelete(&'a PodInfo),
}

/// Whether a node update touches anything a filter reads (labels, taints, unschedulable,
/// allocatable); heartbeats that change none of them are not events.
pub fn node_changed_for_scheduling(old: &Node, new: &Node) -> bool {
    let spec = |n: &Node| {
        let s = n.spec.as_ref();
        (s.and_then(|s| s.taints.clone()), s.and_then(|s| s.unschedulable))
    };
    let allocatable = |n: &Node| n.status.as_ref().and_then(|s| s.allocatable.clone());
    old.metadata.labels != new.metadata.labels || spec(old) != spec(new) || allocatable(old) != allocatable(new)
}

fn unschedulable_ok(pod: &PodInfo, node: &Node) -> bool {
    let cordoned = node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
    !cordoned
        || tolerated(
            tolerations(pod),
            &Taint {
                key: TAINT_UNSCHEDULABLE.into(),
                effect: "NoSchedule".into(),
                ..Default::default()
            },
        )
}

fn taints_ok(pod: &PodInfo, node: &Node) -> bool {
    let taints = node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or(&[]);
    untolerated_taint(taints, tolerations(pod)).is_none()
}

fn affinity_ok(pod: &PodInfo, node: &Node) -> bool {
    NodeAffinityState::new(&pod.pod)
        .required
        .as_ref()
        .is_none_or(|r: &RequiredNodeAffinity| r.matches(node))
}

/// Whether the pod fits the node when it is empty (isFit).
fn fits_empty(pod: &PodInfo, node: &Node) -> bool {
    let info = NodeInfo::new(Arc::new(node.clone()));
    node_resources::insufficient(&pod.requests, &info).is_empty()
}

fn allocatable(node: &Node) -> Resources {
    Resources::from_list(node.status.as_ref().and_then(|s| s.allocatable.as_ref()))
}

/// haveAnyRequestedResourcesIncreased.
fn requested_resources_increased(pod: &PodInfo, old: &Node, new: &Node) -> bool {
    let (o, n) = (allocatable(old), allocatable(new));
    if n.pods > o.pods {
        return true;
    }
    let r = &pod.requests.requests;
    (r.milli_cpu > 0 && n.milli_cpu > o.milli_cpu)
        || (r.memory > 0 && n.memory > o.memory)
        || (r.ephemeral_storage > 0 && n.ephemeral_storage > o.ephemeral_storage)
        || r.scalar.iter().any(|(k, v)| *v > 0 && n.get(k) > o.get(k))
}

fn same_namespace_match(pod: &PodInfo, other: &PodInfo) -> bool {
    if other.namespace != pod.namespace {
        return false;
    }
    let own = pod
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_deref())
        .unwrap_or(&[]);
    if own.is_empty() {
        // Default constraints select by the owner's selector: any pod of the namespace may count.
        return true;
    }
    own.iter().any(|c| {
        crate::scheduler::labels::Selector::from_label_selector(c.label_selector.as_ref()).matches(other.labels())
    })
}

fn affinity_terms_match(pod: &PodInfo, other: &PodInfo) -> bool {
    pod.required_affinity
        .iter()
        .any(|t| t.matches(&other.namespace, other.labels(), None))
}

fn anti_affinity_involves(pod: &PodInfo, other: &PodInfo) -> bool {
    pod.required_anti_affinity
        .iter()
        .any(|t| t.matches(&other.namespace, other.labels(), None))
        || other
            .required_anti_affinity
            .iter()
            .any(|t| t.matches(&pod.namespace, pod.labels(), None))
}

fn requests_shrank(pod: &PodInfo, old: &PodInfo, new: &PodInfo) -> bool {
    let (o, n, want) = (&old.requests.requests, &new.requests.requests, &pod.requests.requests);
    (want.milli_cpu > 0 && o.milli_cpu > n.milli_cpu)
        || (want.memory > 0 && o.memory > n.memory)
        || (want.ephemeral_storage > 0 && o.ephemeral_storage > n.ephemeral_storage)
        || want.scalar.iter().any(|(k, v)| *v > 0 && o.get(k) > n.get(k))
}

/// Whether `plugin`, having rejected `pod`, may accept it after `event`.
pub fn plugin_may_accept(plugin: Plugin, pod: &PodInfo, event: &Event, volumes: &dyn VolumeHooks) -> bool {
    use Event::*;
    match (plugin, event) {
        (Plugin::NodeUnschedulable, NodeAdd(n)) => unschedulable_ok(pod, n),
        (Plugin::NodeUnschedulable, NodeUpdate { old, new }) => {
            !unschedulable_ok(pod, old) && unschedulable_ok(pod, new)
        }
        (Plugin::NodeName, NodeAdd(n) | NodeUpdate { new: n, .. }) => {
            n.metadata.name.as_deref() == Some(pod.node_name())
        }
        (Plugin::TaintToleration, NodeAdd(n)) => taints_ok(pod, n),
        (Plugin::TaintToleration, NodeUpdate { old, new }) => !taints_ok(pod, old) && taints_ok(pod, new),
        (Plugin::NodeAffinity, NodeAdd(n)) => affinity_ok(pod, n),
        (Plugin::NodeAffinity, NodeUpdate { old, new }) => !affinity_ok(pod, old) && affinity_ok(pod, new),
        (Plugin::NodePorts, NodeAdd(_)) => true,
        (Plugin::NodePorts, PodDelete(p)) => pod
            .host_ports
            .iter()
            .any(|w| p.host_ports.iter().any(|u| u.conflicts(w))),
        (Plugin::NodeResourcesFit, NodeAdd(n)) => fits_empty(pod, n),
        (Plugin::NodeResourcesFit, NodeUpdate { old, new }) => {
            fits_empty(pod, new) && requested_resources_increased(pod, old, new)
        }
        (Plugin::NodeResourcesFit, PodDelete(_)) => true,
        (Plugin::NodeResourcesFit, PodUpdate { old, new }) => requests_shrank(pod, old, new),
        (Plugin::VolumeBinding, NodeAdd(n) | NodeUpdate { new: n, .. }) => volumes.node_changed(pod, n),
        (Plugin::PodTopologySpread, PodAdd(p) | PodDelete(p)) => same_namespace_match(pod, p),
        (Plugin::PodTopologySpread, PodUpdate { old, new }) => {
            old.labels() != new.labels() && (same_namespace_match(pod, old) || same_namespace_match(pod, new))
        }
        (Plugin::PodTopologySpread, NodeAdd(_) | NodeDelete(_)) => true,
        (Plugin::PodTopologySpread, NodeUpdate { old, new }) => node_labels(old) != node_labels(new),
        (Plugin::InterPodAffinity, PodAdd(p)) => affinity_terms_match(pod, p),
        (Plugin::InterPodAffinity, PodUpdate { old, new }) => {
            old.labels() != new.labels() && (affinity_terms_match(pod, new) || anti_affinity_involves(pod, old))
        }
        (Plugin::InterPodAffinity, PodDelete(p)) => anti_affinity_involves(pod, p),
        (Plugin::InterPodAffinity, NodeAdd(_)) => true,
        (Plugin::InterPodAffinity, NodeUpdate { old, new }) => node_labels(old) != node_labels(new),
        _ => false,
    }
}

/// Whether the event may make the pod schedulable, given the plugins that rejected it (none:
/// it failed with an error, so any event may help).
pub fn may_help(rejected_by: PluginSet, pod: &PodInfo, event: &Event, volumes: &dyn VolumeHooks) -> bool {
    if rejected_by.is_empty() {
        return true;
    }
    rejected_by.iter().any(|p| plugin_may_accept(p, pod, event, volumes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::framework::NoVolumes;
    use crate::scheduler::node_info::tests::{info, node, pod};
    use k8s_openapi::api::core::v1::NodeSpec;

    fn set(plugins: &[Plugin]) -> PluginSet {
        let mut s = PluginSet::default();
        plugins.iter().for_each(|p| s.insert(*p));
        s
    }

    #[test]
    fn resource_rejections_wait_for_room() {
        let big = info(pod("big", &[("cpu", "8")], &[]));
        let small_node = node("s", "4", "4Gi", "110", &[]);
        let large_node = node("l", "16", "4Gi", "110", &[]);
        let fit = set(&[Plugin::NodeResourcesFit]);
        assert!(!may_help(fit, &big, &Event::NodeAdd(&small_node), &NoVolumes));
        assert!(may_help(fit, &big, &Event::NodeAdd(&large_node), &NoVolumes));
        assert!(may_help(
            fit,
            &big,
            &Event::NodeUpdate {
                old: &small_node,
                new: &large_node
            },
            &NoVolumes
        ));
        let other = info(pod("other", &[("cpu", "1")], &[]));
        assert!(may_help(fit, &big, &Event::PodDelete(&other), &NoVolumes));
        assert!(!may_help(fit, &big, &Event::PodAdd(&other), &NoVolumes));
    }

    #[test]
    fn taint_and_cordon_rejections_wait_for_the_node() {
        let p = info(pod("p", &[], &[]));
        let plain = node("n", "1", "1Gi", "10", &[]);
        let mut cordoned = (*plain).clone();
        cordoned.spec = Some(NodeSpec {
            unschedulable: Some(true),
            ..Default::default()
        });
        let s = set(&[Plugin::NodeUnschedulable]);
        assert!(may_help(
            s,
            &p,
            &Event::NodeUpdate {
                old: &cordoned,
                new: &plain
            },
            &NoVolumes
        ));
        assert!(!may_help(
            s,
            &p,
            &Event::NodeUpdate {
                old: &plain,
                new: &cordoned
            },
            &NoVolumes
        ));
        assert!(node_changed_for_scheduling(&plain, &cordoned));
        assert!(!node_changed_for_scheduling(&plain, &plain.clone()));
        // Errors (no rejecting plugin) retry on anything.
        assert!(may_help(
            PluginSet::default(),
            &p,
            &Event::NodeDelete(&plain),
            &NoVolumes
        ));
    }
}
