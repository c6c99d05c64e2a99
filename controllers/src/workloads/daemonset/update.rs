//! What one sync of a DaemonSet does to its pods, decided from the nodes and the pods on them
//! (upstream's podsShouldBeOnNode, manage and rollingUpdate): nodes that should run a pod and
//! have none get one; nodes that may not keep theirs, failed pods and duplicates lose them; and
//! under RollingUpdate old pods are replaced at most maxUnavailable at a time, or with maxSurge
//! a new pod starts beside an old one that goes once the new one is available.

use crate::workloads::pods;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use std::sync::Arc;

/// One node as the plan sees it.
pub struct NodeState {
    pub name: String,
    pub should_run: bool,
    pub should_continue_running: bool,
    /// The daemon pods on it that are not being deleted, oldest first.
    pub pods: Vec<Arc<Pod>>,
}

/// The update strategy, its limits already scaled against desiredNumberScheduled.
#[derive(Debug, Clone, Copy)]
pub enum Strategy {
    OnDelete,
    RollingUpdate { max_unavailable: i32, max_surge: i32 },
}

/// What to do: nodes to create a pod on, pods to delete.
#[derive(Default)]
pub struct Plan {
    pub create_on: Vec<String>,
    pub delete: Vec<Arc<Pod>>,
}

/// How the plan tells pods apart.
pub struct Judge<'a> {
    /// Whether a pod is of the update revision.
    pub is_new: &'a (dyn Fn(&Pod) -> bool + Sync),
    pub min_ready_seconds: i32,
    pub now: Timestamp,
}

impl Judge<'_> {
    fn available(&self, pod: &Pod) -> bool {
        pods::is_available(pod, self.min_ready_seconds, self.now)
    }
}

/// The plan for `nodes` under `strategy`.
pub fn plan(nodes: &[NodeState], strategy: Strategy, judge: &Judge) -> Plan {
    let mut plan = Plan::default();
    let surging = matches!(strategy, Strategy::RollingUpdate { max_surge, .. } if max_surge > 0);
    let mut kept: Vec<(&NodeState, Vec<Arc<Pod>>)> = Vec::new();
    for node in nodes {
        if !node.should_continue_running {
            plan.delete.extend(node.pods.iter().cloned());
            continue;
        }
        let (failed, live): (Vec<_>, Vec<_>) = node.pods.iter().cloned().partition(|p| pods::phase(p) == "Failed");
        plan.delete.extend(failed);
        if live.is_empty() {
            if node.should_run {
                plan.create_on.push(node.name.clone());
            }
            continue;
        }
        // Keep the oldest pod; while surging, the oldest new and the oldest old one.
        let mut keep: Vec<Arc<Pod>> = Vec::new();
        for pod in live {
            let duplicate = keep
                .iter()
                .any(|k| !surging || (judge.is_new)(k) == (judge.is_new)(&pod));
            if duplicate {
                plan.delete.push(pod);
            } else {
                keep.push(pod);
            }
        }
        kept.push((node, keep));
    }
    if let Strategy::RollingUpdate {
        max_unavailable,
        max_surge,
    } = strategy
    {
        roll(&mut plan, &kept, nodes, max_unavailable, max_surge, judge);
    }
    plan
}

/// Upstream's rollingUpdate over the nodes that keep pods.
fn roll(
    plan: &mut Plan,
    kept: &[(&NodeState, Vec<Arc<Pod>>)],
    nodes: &[NodeState],
    max_unavailable: i32,
    max_surge: i32,
    judge: &Judge,
) {
    // Desired nodes without any pod are unavailable (their pod is being created).
    let mut unavailable = nodes
        .iter()
        .filter(|n| n.should_run && n.should_continue_running && n.pods.iter().all(|p| pods::phase(p) == "Failed"))
        .count() as i32;
    let mut surged = 0;
    let mut candidates: Vec<&NodeState> = Vec::new();
    for (node, keep) in kept {
        let new = keep.iter().find(|p| (judge.is_new)(p));
        let old = keep.iter().find(|p| !(judge.is_new)(p));
        match (old, new) {
            (Some(old), None) if !judge.available(old) => {
                unavailable += 1;
                if max_surge > 0 {
                    plan.create_on.push(node.name.clone());
                } else {
                    plan.delete.push(old.clone());
                }
            }
            (Some(_), None) => candidates.push(node),
            (Some(old), Some(new)) if judge.available(new) => plan.delete.push(old.clone()),
            (Some(_), Some(_)) => surged += 1,
            (None, Some(new)) if !judge.available(new) => unavailable += 1,
            _ => {}
        }
    }
    for node in candidates {
        if max_surge > 0 {
            if surged < max_surge {
                surged += 1;
                plan.create_on.push(node.name.clone());
            }
        } else if unavailable < max_unavailable {
            unavailable += 1;
            if let Some(old) = node.pods.iter().find(|p| !(judge.is_new)(p)) {
                plan.delete.push(old.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};

    fn pod(name: &str, new: bool, ready: bool) -> Arc<Pod> {
        let mut pod = Pod::default();
        pod.metadata.name = Some(name.into());
        pod.metadata.labels = Some([("new".to_string(), new.to_string())].into());
        pod.status = Some(PodStatus {
            phase: Some("Running".into()),
            conditions: ready.then(|| {
                vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        });
        Arc::new(pod)
    }

    fn node(name: &str, pods: Vec<Arc<Pod>>) -> NodeState {
        NodeState {
            name: name.into(),
            should_run: true,
            should_continue_running: true,
            pods,
        }
    }

    fn is_new(pod: &Pod) -> bool {
        pod.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("new"))
            .is_some_and(|v| v == "true")
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<String> {
        pods.iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn rolling_update_respects_max_unavailable() {
        let judge = Judge {
            is_new: &is_new,
            min_ready_seconds: 0,
            now: Timestamp::now(),
        };
        let nodes = vec![
            node("a", vec![pod("a1", false, true)]),
            node("b", vec![pod("b1", false, true)]),
            node("c", vec![]),
        ];
        let strategy = Strategy::RollingUpdate {
            max_unavailable: 2,
            max_surge: 0,
        };
        let plan = plan(&nodes, strategy, &judge);
        assert_eq!(plan.create_on, vec!["c".to_string()]);
        assert_eq!(names(&plan.delete), vec!["a1".to_string()]);
    }

    #[test]
    fn surge_starts_new_beside_old_and_drops_old_when_available() {
        let judge = Judge {
            is_new: &is_new,
            min_ready_seconds: 0,
            now: Timestamp::now(),
        };
        let nodes = vec![
            node("a", vec![pod("a1", false, true), pod("a2", true, true)]),
            node("b", vec![pod("b1", false, true)]),
            node("c", vec![pod("c1", false, true)]),
        ];
        let strategy = Strategy::RollingUpdate {
            max_unavailable: 0,
            max_surge: 1,
        };
        let plan = plan(&nodes, strategy, &judge);
        assert_eq!(names(&plan.delete), vec!["a1".to_string()]);
        assert_eq!(plan.create_on, vec!["b".to_string()]);
        let plan = super::plan(&nodes, Strategy::OnDelete, &judge);
        assert_eq!(names(&plan.delete), vec!["a2".to_string()]);
        assert!(plan.create_on.is_empty());
    }
}
