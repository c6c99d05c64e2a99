//! Which pods go first when a replica set scales down: upstream's ActivePodsWithRanks order
//! (pkg/controller/controller_utils.go) with the PodDeletionCost and LogarithmicScaleDown
//! features on, as they are by default:
//! 1. unassigned < assigned; 2. Pending < Unknown < Running; 3. not ready < ready;
//! 4. lower pod-deletion-cost < higher; 5. more related pods on the same node < fewer;
//! 6. ready for a shorter time < longer (in powers-of-two buckets, then by UID);
//! 7. more container restarts < fewer (regular containers, then sidecars);
//! 8. created more recently < earlier (buckets again, then by UID).

use crate::workloads::pods;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use std::collections::HashMap;
use std::sync::Arc;

/// The annotation that lets users say which pods to remove first.
pub const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The `diff` pods of `pods` to delete first; `related` are the pods of the owner's siblings
/// (the replica sets of the same Deployment), used to spread deletions across nodes.
pub fn pods_to_delete(
    mut candidates: Vec<Arc<Pod>>,
    related: &[Arc<Pod>],
    diff: usize,
    now: Timestamp,
) -> Vec<Arc<Pod>> {
    if diff < candidates.len() {
        let mut on_node: HashMap<&str, usize> = HashMap::new();
        for pod in related.iter().filter(|p| pods::is_active(p)) {
            *on_node.entry(node_name(pod)).or_default() += 1;
        }
        let mut ranked: Vec<(Arc<Pod>, usize)> = candidates
            .drain(..)
            .map(|pod| {
                let rank = on_node.get(node_name(&pod)).copied().unwrap_or(0);
                (pod, rank)
            })
            .collect();
        merge_sort(&mut ranked, &|a, b| less(&a.0, a.1, &b.0, b.1, now));
        candidates = ranked.into_iter().map(|(pod, _)| pod).collect();
    }
    candidates.truncate(diff);
    candidates
}

fn node_name(pod: &Pod) -> &str {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or("")
}

fn phase_ordinal(pod: &Pod) -> u8 {
    match pods::phase(pod) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        // Go's map lookup of an unlisted phase gives 0.
        _ => 0,
    }
}

/// The pod-deletion-cost annotation; 0 when absent or invalid (no `+`, no leading zeros).
pub fn deletion_cost(pod: &Pod) -> i32 {
    let Some(value) = pod.metadata.annotations.as_ref().and_then(|a| a.get(DELETION_COST)) else {
        return 0;
    };
    let valid_first = match value.as_bytes().first() {
        Some(b'-') => true,
        Some(b'0') => value == "0",
        Some(b'1'..=b'9') => true,
        _ => false,
    };
    if !valid_first {
        return 0;
    }
    value.parse::<i32>().unwrap_or(0)
}

/// The highest restart count of regular containers, and of sidecars (restartable init containers).
fn max_restarts(pod: &Pod) -> (i32, i32) {
    let Some(status) = &pod.status else { return (0, 0) };
    let regular = status
        .container_statuses
        .iter()
        .flatten()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    let sidecars: Vec<&str> = pod
        .spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.as_str())
        .collect();
    let sidecar = status
        .init_container_statuses
        .iter()
        .flatten()
        .filter(|c| sidecars.contains(&c.name.as_str()))
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    (regular, sidecar)
}

/// log2 of the age in nanoseconds (upstream's logarithmicRankDiff buckets); -1 when not in the past.
fn bucket(t: Timestamp, now: Timestamp) -> i64 {
    let age = now.as_nanosecond() - t.as_nanosecond();
    if age > 0 {
        (age as f64).log2() as i64
    } else {
        -1
    }
}

fn creation(pod: &Pod) -> Option<Timestamp> {
    pod.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// `t1` after `t2`, a missing time counting as after everything (upstream's afterOrZero).
fn after_or_zero(t1: Option<Timestamp>, t2: Option<Timestamp>) -> bool {
    match (t1, t2) {
        (Some(a), Some(b)) => a > b,
        (a, _) => a.is_none(),
    }
}

/// Whether `a` (with `rank_a` related pods on its node) should be deleted before `b`.
fn less(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize, now: Timestamp) -> bool {
    let (node_a, node_b) = (node_name(a), node_name(b));
    if node_a != node_b && (node_a.is_empty() || node_b.is_empty()) {
        return node_a.is_empty();
    }
    if phase_ordinal(a) != phase_ordinal(b) {
        return phase_ordinal(a) < phase_ordinal(b);
    }
    let (ready_a, ready_b) = (pods::ready_since(a), pods::ready_since(b));
    if ready_a.is_some() != ready_b.is_some() {
        return ready_a.is_none();
    }
    let (cost_a, cost_b) = (deletion_cost(a), deletion_cost(b));
    if cost_a != cost_b {
        return cost_a < cost_b;
    }
    if rank_a != rank_b {
        return rank_a > rank_b;
    }
    let uid_less = || a.metadata.uid.as_deref().unwrap_or("") < b.metadata.uid.as_deref().unwrap_or("");
    if let (Some(ra), Some(rb)) = (ready_a, ready_b) {
        if ra != rb {
            let diff = bucket(ra, now) - bucket(rb, now);
            if diff == 0 {
                return uid_less();
            }
            return diff < 0;
        }
    }
    let (restarts_a, restarts_b) = (max_restarts(a), max_restarts(b));
    if restarts_a.0 != restarts_b.0 {
        return restarts_a.0 > restarts_b.0;
    }
    if restarts_a.1 != restarts_b.1 {
        return restarts_a.1 > restarts_b.1;
    }
    let (created_a, created_b) = (creation(a), creation(b));
    if created_a != created_b {
        let (Some(ca), Some(cb)) = (created_a, created_b) else {
            return after_or_zero(created_a, created_b);
        };
        let diff = bucket(ca, now) - bucket(cb, now);
        if diff == 0 {
            return uid_less();
        }
        return diff < 0;
    }
    false
}

/// A stable merge sort by a "less" predicate that need not be a total order (upstream's may
/// not be; the standard library's sorts may panic on such a comparator, Go's never do).
pub fn merge_sort<T: Clone>(items: &mut [T], less: &dyn Fn(&T, &T) -> bool) {
    if items.len() < 2 {
        return;
    }
    let mid = items.len() / 2;
    merge_sort(&mut items[..mid], less);
    merge_sort(&mut items[mid..], less);
    let mut merged = Vec::with_capacity(items.len());
    let (mut i, mut j) = (0, mid);
    while i < mid && j < items.len() {
        if less(&items[j], &items[i]) {
            merged.push(items[j].clone());
            j += 1;
        } else {
            merged.push(items[i].clone());
            i += 1;
        }
    }
    merged.extend_from_slice(&items[i..mid]);
    merged.extend_from_slice(&items[j..]);
    items.clone_from_slice(&merged);
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerStatus, PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn at(seconds_ago: i64) -> Timestamp {
        Timestamp::from_second(Timestamp::now().as_second() - seconds_ago).unwrap()
    }

    fn pod(name: &str, node: &str, phase: &str, ready_ago: Option<i64>) -> Arc<Pod> {
        let mut pod = Pod {
            spec: Some(PodSpec {
                node_name: (!node.is_empty()).then(|| node.to_string()),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: ready_ago.map(|ago| {
                    vec![PodCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        last_transition_time: Some(Time(at(ago))),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        pod.metadata.name = Some(name.into());
        pod.metadata.uid = Some(name.into());
        pod.metadata.creation_timestamp = Some(Time(at(10_000)));
        Arc::new(pod)
    }

    fn names(pods: Vec<Arc<Pod>>) -> Vec<String> {
        pods.iter().map(|p| p.metadata.name.clone().unwrap()).collect()
    }

    #[test]
    fn unassigned_pending_and_unready_pods_go_first() {
        let pods = vec![
            pod("ready", "n1", "Running", Some(600)),
            pod("unready", "n1", "Running", None),
            pod("unknown", "n1", "Unknown", None),
            pod("pending", "n1", "Pending", None),
            pod("unassigned", "", "Pending", None),
        ];
        let order = names(pods_to_delete(pods, &[], 4, Timestamp::now()));
        assert_eq!(order, ["unassigned", "pending", "unknown", "unready"]);
        let everything = vec![pod("b", "n1", "Running", None), pod("a", "", "Pending", None)];
        assert_eq!(names(pods_to_delete(everything, &[], 2, Timestamp::now())), ["b", "a"]);
    }

    #[test]
    fn deletion_cost_then_doubled_up_nodes_then_readiness_age() {
        let mut cheap = (*pod("cheap", "n1", "Running", Some(5000))).clone();
        cheap
            .metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(DELETION_COST.into(), "-5".into());
        let pods = vec![
            pod("old-ready", "n2", "Running", Some(5000)),
            pod("new-ready", "n2", "Running", Some(1)),
            pod("crowded", "n1", "Running", Some(5000)),
            Arc::new(cheap),
        ];
        let related = vec![pod("sibling", "n1", "Running", None), pod("x", "n1", "Running", None)];
        let order = names(pods_to_delete(pods, &related, 3, Timestamp::now()));
        // cheap is on the crowded node too, but its cost wins first.
        assert_eq!(order, ["cheap", "crowded", "new-ready"]);
    }

    #[test]
    fn restarts_count_before_age() {
        let mut restarted = (*pod("restarted", "n1", "Running", None)).clone();
        restarted.status.as_mut().unwrap().container_statuses = Some(vec![ContainerStatus {
            name: "c".into(),
            restart_count: 3,
            ..Default::default()
        }]);
        let pods = vec![pod("calm", "n1", "Running", None), Arc::new(restarted)];
        assert_eq!(names(pods_to_delete(pods, &[], 1, Timestamp::now())), ["restarted"]);
    }

    #[test]
    fn deletion_cost_parsing() {
        let with = |v: &str| {
            let mut p = Pod::default();
            p.metadata.annotations = Some([(DELETION_COST.to_string(), v.to_string())].into());
            deletion_cost(&p)
        };
        assert_eq!((with("10"), with("-3"), with("0")), (10, -3, 0));
        assert_eq!((with("+1"), with("007"), with("x"), with("99999999999")), (0, 0, 0, 0));
    }
}
