//! PodTopologySpread: DoNotSchedule constraints filter (skew against the global minimum with
//! minDomains, nodeAffinityPolicy / nodeTaintsPolicy, matchLabelKeys), ScheduleAnyway ones
//! score; pods without constraints owned by a ReplicaSet, StatefulSet or ReplicationController
//! (or selected by a Service) get the cluster defaults: hostname maxSkew 3, zone maxSkew 5.

use super::basic::{tolerations, untolerated_taint};
use crate::scheduler::framework::{Listers, Plugin, Status};
use crate::scheduler::labels::{labels_of, Labels, RequiredNodeAffinity, Requirement, Selector};
use crate::scheduler::node_info::NodeInfo;
use crate::scheduler::pod_info::PodInfo;
use k8s_openapi::api::core::v1::Pod;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

pub const ERR_CONSTRAINTS: &str = "node(s) didn't match pod topology spread constraints";
pub const ERR_MISSING_LABEL: &str = "node(s) didn't match pod topology spread constraints (missing required label)";
pub const HOSTNAME: &str = "kubernetes.io/hostname";
pub const ZONE: &str = "topology.kubernetes.io/zone";

/// A parsed constraint (topologySpreadConstraint).
#[derive(Clone, Debug)]
pub struct Constraint {
    pub max_skew: i32,
    pub topology_key: String,
    pub selector: Selector,
    pub min_domains: i32,
    pub honor_node_affinity: bool,
    pub honor_node_taints: bool,
}

impl Constraint {
    /// Whether the node counts for this constraint (matchNodeInclusionPolicies).
    fn includes(&self, pod: &PodInfo, required: Option<&RequiredNodeAffinity>, node: &NodeInfo) -> bool {
        if self.honor_node_affinity {
            if let (Some(r), Some(n)) = (required, node.node.as_ref()) {
                if !r.matches(n) {
                    return false;
                }
            }
        }
        if self.honor_node_taints && untolerated_taint(node.taints(), tolerations(pod)).is_some() {
            return false;
        }
        true
    }
}

/// The pod's constraints with `action` (DoNotSchedule or ScheduleAnyway); the cluster defaults
/// when it has none (which are all ScheduleAnyway).
pub fn constraints(pod: &Pod, action: &str, listers: &dyn Listers) -> Vec<Constraint> {
    let spec = pod.spec.as_ref();
    let own = spec
        .and_then(|s| s.topology_spread_constraints.as_deref())
        .unwrap_or(&[]);
    let labels = labels_of(&pod.metadata.labels);
    if !own.is_empty() {
        return own
            .iter()
            .filter(|c| c.when_unsatisfiable == action)
            .map(|c| {
                let mut selector = Selector::from_label_selector(c.label_selector.as_ref());
                let keyed: Vec<Requirement> = c
                    .match_label_keys
                    .iter()
                    .flatten()
                    .filter_map(|k| labels.get(k).map(|v| Requirement::In(k.clone(), vec![v.clone()])))
                    .filter(|r| !selector.requirements().is_some_and(|e| e.contains(r)))
                    .collect();
                selector = selector.and(keyed);
                Constraint {
                    max_skew: c.max_skew,
                    topology_key: c.topology_key.clone(),
                    selector,
                    min_domains: c.min_domains.unwrap_or(1),
                    honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                    honor_node_taints: c.node_taints_policy.as_deref() == Some("Honor"),
                }
            })
            .collect();
    }
    if action != "ScheduleAnyway" {
        return Vec::new();
    }
    let selector = listers.default_spread_selector(pod);
    if selector.is_empty() || selector == Selector::Nothing {
        return Vec::new();
    }
    [(3, HOSTNAME), (5, ZONE)]
        .into_iter()
        .map(|(max_skew, key)| Constraint {
            max_skew,
            topology_key: key.into(),
            selector: selector.clone(),
            min_domains: 1,
            honor_node_affinity: true,
            honor_node_taints: false,
        })
        .collect()
}

fn has_all_keys(labels: &Labels, constraints: &[Constraint]) -> bool {
    constraints.iter().all(|c| labels.contains_key(&c.topology_key))
}

/// countPodsMatchSelector: running pods of the namespace matching the selector.
pub fn count_matching(node: &NodeInfo, selector: &Selector, namespace: &str) -> i64 {
    if selector.is_empty() {
        return 0;
    }
    node.pods
        .iter()
        .filter(|p| !p.terminating && p.namespace == namespace && selector.matches(p.labels()))
        .count() as i64
}

/// The two smallest match counts of a topology key (criticalPaths).
#[derive(Clone, Debug)]
struct CriticalPaths([(String, i64); 2]);

impl CriticalPaths {
    fn new() -> Self {
        CriticalPaths([
            (String::new(), i64::from(i32::MAX)),
            (String::new(), i64::from(i32::MAX)),
        ])
    }

    fn update(&mut self, value: &str, num: i64) {
        let p = &mut self.0;
        let existing = if p[0].0 == value {
            Some(0)
        } else if p[1].0 == value {
            Some(1)
        } else {
            None
        };
        match existing {
            Some(i) => {
                p[i].1 = num;
                if p[0].1 > p[1].1 {
                    p.swap(0, 1);
                }
            }
            None if num < p[0].1 => {
                p[1] = p[0].clone();
                p[0] = (value.to_string(), num);
            }
            None if num < p[1].1 => p[1] = (value.to_string(), num),
            None => {}
        }
    }
}

/// The PreFilter state: matching pods per topology domain.
#[derive(Clone, Debug)]
pub struct SpreadFilterState {
    pub constraints: Arc<Vec<Constraint>>,
    pair_counts: HashMap<(String, String), i64>,
    critical: HashMap<String, CriticalPaths>,
    domains: HashMap<String, usize>,
}

/// PreFilter over every node; None when the pod has no DoNotSchedule constraint (Skip).
pub fn pre_filter<'a>(
    pod: &PodInfo,
    required: Option<&RequiredNodeAffinity>,
    nodes: impl Iterator<Item = &'a NodeInfo>,
    listers: &dyn Listers,
) -> Option<SpreadFilterState> {
    let constraints = constraints(&pod.pod, "DoNotSchedule", listers);
    if constraints.is_empty() {
        return None;
    }
    let mut pair_counts: HashMap<(String, String), i64> = HashMap::new();
    for node in nodes {
        let labels = node.labels();
        if !has_all_keys(labels, &constraints) {
            continue;
        }
        for c in &constraints {
            if !c.includes(pod, required, node) {
                continue;
            }
            let value = labels.get(&c.topology_key).cloned().unwrap_or_default();
            let count = count_matching(node, &c.selector, &pod.namespace);
            *pair_counts.entry((c.topology_key.clone(), value)).or_insert(0) += count;
        }
    }
    let mut domains: HashMap<String, usize> = HashMap::new();
    let mut critical: HashMap<String, CriticalPaths> = HashMap::new();
    for c in &constraints {
        critical.insert(c.topology_key.clone(), CriticalPaths::new());
    }
    for ((key, value), count) in &pair_counts {
        *domains.entry(key.clone()).or_insert(0) += 1;
        if let Some(paths) = critical.get_mut(key) {
            paths.update(value, *count);
        }
    }
    Some(SpreadFilterState {
        constraints: Arc::new(constraints),
        pair_counts,
        critical,
        domains,
    })
}

impl SpreadFilterState {
    fn min_match(&self, key: &str, min_domains: i32) -> i64 {
        let min = self.critical.get(key).map(|p| p.0[0].1).unwrap_or(0);
        if (self.domains.get(key).copied().unwrap_or(0) as i64) < i64::from(min_domains) {
            return 0;
        }
        min
    }

    /// AddPod / RemovePod: `other` joins (+1) or leaves (-1) `node` while `pod` is evaluated.
    pub fn update_with_pod(
        &mut self,
        other: &PodInfo,
        pod: &PodInfo,
        required: Option<&RequiredNodeAffinity>,
        node: &NodeInfo,
        delta: i64,
    ) {
        if other.namespace != pod.namespace || node.node.is_none() {
            return;
        }
        let labels = node.labels();
        if !has_all_keys(labels, &self.constraints) {
            return;
        }
        let constraints = self.constraints.clone();
        for c in constraints.iter() {
            if !c.selector.matches(other.labels()) || !c.includes(pod, required, node) {
                continue;
            }
            let value = labels.get(&c.topology_key).cloned().unwrap_or_default();
            let count = self
                .pair_counts
                .entry((c.topology_key.clone(), value.clone()))
                .or_insert(0);
            *count += delta;
            let num = *count;
            if let Some(paths) = self.critical.get_mut(&c.topology_key) {
                paths.update(&value, num);
            }
        }
    }
}

/// Filter: placing the pod on the node keeps every constraint's skew within maxSkew.
pub fn filter(state: &SpreadFilterState, pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
    let labels = node.labels();
    for c in state.constraints.iter() {
        let Some(value) = labels.get(&c.topology_key) else {
            return Some(Status::unresolvable(Plugin::PodTopologySpread, ERR_MISSING_LABEL));
        };
        let min_match = state.min_match(&c.topology_key, c.min_domains);
        let self_match = i64::from(c.selector.matches(pod.labels()));
        let matched = state
            .pair_counts
            .get(&(c.topology_key.clone(), value.clone()))
            .copied()
            .unwrap_or(0);
        if matched + self_match - min_match > i64::from(c.max_skew) {
            return Some(Status::unschedulable(Plugin::PodTopologySpread, ERR_CONSTRAINTS));
        }
    }
    None
}

/// Memoized per-node counts of pods matching a selector, keyed by the node's generation.
#[derive(Default)]
pub struct CountMemo {
    counts: HashMap<(usize, u64), (u64, i64)>,
}

impl CountMemo {
    fn count(&mut self, slot: usize, node: &NodeInfo, selector: &Selector, selector_key: u64, ns: &str) -> i64 {
        if self.counts.len() > 500_000 {
            self.counts.clear();
        }
        let entry = self.counts.entry((slot, selector_key)).or_insert((u64::MAX, 0));
        if entry.0 != node.generation {
            *entry = (node.generation, count_matching(node, selector, ns));
        }
        entry.1
    }
}

/// The PreScore state of the ScheduleAnyway constraints.
pub struct SpreadScoreState {
    constraints: Vec<Constraint>,
    selector_keys: Vec<u64>,
    ignored: HashSet<usize>,
    counts: Vec<HashMap<String, i64>>,
    weights: Vec<f64>,
}

/// PreScore over the `filtered` candidates (cache slots) and `all` nodes; None skips the score.
pub fn pre_score<'a>(
    pod: &PodInfo,
    required: Option<&RequiredNodeAffinity>,
    filtered: &[(usize, &'a NodeInfo)],
    all: impl Iterator<Item = (usize, &'a NodeInfo)>,
    listers: &dyn Listers,
    memo: &mut CountMemo,
) -> Option<SpreadScoreState> {
    let constraints = constraints(&pod.pod, "ScheduleAnyway", listers);
    if constraints.is_empty() {
        return None;
    }
    let explicit = pod
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_ref())
        .is_some_and(|c| !c.is_empty());
    let mut ignored = HashSet::new();
    let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); constraints.len()];
    // Candidates without the key form an (unscored) "" domain upstream: it counts towards the
    // topology's size, but nothing reads its pods, so they are not counted.
    let mut unlabeled = vec![false; constraints.len()];
    for (slot, node) in filtered {
        let labels = node.labels();
        if explicit && !has_all_keys(labels, &constraints) {
            ignored.insert(*slot);
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            if c.topology_key == HOSTNAME {
                continue;
            }
            match labels.get(&c.topology_key) {
                Some(value) => {
                    counts[i].entry(value.clone()).or_insert(0);
                }
                None => unlabeled[i] = true,
            }
        }
    }
    let weights = constraints
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let size = if c.topology_key == HOSTNAME {
                filtered.len() - ignored.len()
            } else {
                counts[i].len() + usize::from(unlabeled[i] && !counts[i].contains_key(""))
            };
            ((size + 2) as f64).ln()
        })
        .collect();
    let selector_keys = constraints
        .iter()
        .map(|c| {
            let mut h = DefaultHasher::new();
            c.selector.hash(&mut h);
            pod.namespace.hash(&mut h);
            h.finish()
        })
        .collect::<Vec<u64>>();
    if counts.iter().any(|m| !m.is_empty()) {
        for (slot, node) in all {
            let labels = node.labels();
            if explicit && !has_all_keys(labels, &constraints) {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if counts[i].is_empty() || !c.includes(pod, required, node) {
                    continue;
                }
                let Some(value) = labels.get(&c.topology_key) else {
                    continue;
                };
                if let Some(total) = counts[i].get_mut(value) {
                    *total += memo.count(slot, node, &c.selector, selector_keys[i], &pod.namespace);
                }
            }
        }
    }
    Some(SpreadScoreState {
        constraints,
        selector_keys,
        ignored,
        counts,
        weights,
    })
}

/// Score: the weighted matching pods in the node's domains (lower is better; normalized).
pub fn score(state: &SpreadScoreState, memo: &mut CountMemo, pod: &PodInfo, slot: usize, node: &NodeInfo) -> i64 {
    if state.ignored.contains(&slot) {
        return 0;
    }
    let labels = node.labels();
    let mut total = 0.0;
    for (i, c) in state.constraints.iter().enumerate() {
        let Some(value) = labels.get(&c.topology_key) else {
            continue;
        };
        let count = if c.topology_key == HOSTNAME {
            memo.count(slot, node, &c.selector, state.selector_keys[i], &pod.namespace)
        } else {
            state.counts[i].get(value).copied().unwrap_or(0)
        };
        total += count as f64 * state.weights[i] + f64::from(c.max_skew - 1);
    }
    total.round() as i64
}

/// NormalizeScore: fewer matching pods score higher; ignored nodes score 0.
pub fn normalize(state: &SpreadScoreState, slots: &[usize], scores: &mut [i64]) {
    let mut min = i64::MAX;
    let mut max = 0;
    for (slot, score) in slots.iter().zip(scores.iter()) {
        if state.ignored.contains(slot) {
            continue;
        }
        min = min.min(*score);
        max = max.max(*score);
    }
    for (slot, score) in slots.iter().zip(scores.iter_mut()) {
        if state.ignored.contains(slot) {
            *score = 0;
        } else if max == 0 {
            *score = 100;
        } else {
            *score = 100 * (max + min - *score) / max;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::framework::NoListers;
    use crate::scheduler::node_info::tests::{info, node, pod};
    use k8s_openapi::api::core::v1::TopologySpreadConstraint;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn spread(max_skew: i32, key: &str, action: &str, min_domains: Option<i32>) -> TopologySpreadConstraint {
        TopologySpreadConstraint {
            max_skew,
            topology_key: key.into(),
            when_unsatisfiable: action.into(),
            min_domains,
            label_selector: Some(LabelSelector {
                match_labels: Some([("app".to_string(), "web".to_string())].into()),
                match_expressions: None,
            }),
            ..Default::default()
        }
    }

    fn web(name: &str, constraints: Vec<TopologySpreadConstraint>) -> Arc<PodInfo> {
        let mut p = pod(name, &[], &[("app", "web")]);
        p.spec.as_mut().unwrap().topology_spread_constraints = Some(constraints);
        info(p)
    }

    fn nodes() -> Vec<NodeInfo> {
        ["a", "b", "c"]
            .iter()
            .map(|n| NodeInfo::new(node(n, "4", "4Gi", "110", &[(HOSTNAME, n), (ZONE, n)])))
            .collect()
    }

    #[test]
    fn max_skew_one_spreads_evenly() {
        let mut ns = nodes();
        let p = web("new", vec![spread(1, ZONE, "DoNotSchedule", None)]);
        ns[0].add_pod(web("w1", vec![]));
        let state = pre_filter(&p, None, ns.iter(), &NoListers).unwrap();
        // a has 1, b and c have 0: a would make skew 2.
        assert_eq!(filter(&state, &p, &ns[0]).unwrap().message(), ERR_CONSTRAINTS);
        assert!(filter(&state, &p, &ns[1]).is_none());
        ns[1].add_pod(web("w2", vec![]));
        let state = pre_filter(&p, None, ns.iter(), &NoListers).unwrap();
        assert!(filter(&state, &p, &ns[2]).is_none());
        assert!(filter(&state, &p, &ns[0]).is_some());
    }

    #[test]
    fn missing_label_and_min_domains() {
        let ns = nodes();
        let unlabeled = NodeInfo::new(node("x", "4", "4Gi", "110", &[]));
        let p = web("new", vec![spread(1, "rack", "DoNotSchedule", None)]);
        let state = pre_filter(&p, None, ns.iter(), &NoListers).unwrap();
        assert_eq!(filter(&state, &p, &unlabeled).unwrap().message(), ERR_MISSING_LABEL);
        // minDomains 5 with 3 domains: the global minimum is 0, so a domain with 1 is full.
        let mut ns = nodes();
        for n in &mut ns {
            let name = n.name().to_string();
            n.add_pod(web(&format!("w-{name}"), vec![]));
        }
        let p = web("new", vec![spread(1, ZONE, "DoNotSchedule", Some(5))]);
        let state = pre_filter(&p, None, ns.iter(), &NoListers).unwrap();
        assert!(filter(&state, &p, &ns[0]).is_some());
        let p = web("new", vec![spread(1, ZONE, "DoNotSchedule", None)]);
        let state = pre_filter(&p, None, ns.iter(), &NoListers).unwrap();
        assert!(filter(&state, &p, &ns[0]).is_none());
    }

    #[test]
    fn add_and_remove_pods_update_the_state() {
        let ns = nodes();
        let p = web("new", vec![spread(1, ZONE, "DoNotSchedule", None)]);
        let mut state = pre_filter(&p, None, ns.iter(), &NoListers).unwrap();
        let w = web("w", vec![]);
        state.update_with_pod(&w, &p, None, &ns[0], 1);
        assert!(filter(&state, &p, &ns[0]).is_some());
        state.update_with_pod(&w, &p, None, &ns[0], -1);
        assert!(filter(&state, &p, &ns[0]).is_none());
    }

    #[test]
    fn scores_prefer_emptier_domains() {
        let mut ns = nodes();
        ns[0].add_pod(web("w1", vec![]));
        ns[0].add_pod(web("w2", vec![]));
        ns[1].add_pod(web("w3", vec![]));
        let p = web("new", vec![spread(1, HOSTNAME, "ScheduleAnyway", None)]);
        let filtered: Vec<(usize, &NodeInfo)> = ns.iter().enumerate().collect();
        let mut memo = CountMemo::default();
        let state = pre_score(&p, None, &filtered, ns.iter().enumerate(), &NoListers, &mut memo).unwrap();
        let mut scores: Vec<i64> = filtered
            .iter()
            .map(|(s, n)| score(&state, &mut memo, &p, *s, n))
            .collect();
        normalize(&state, &[0, 1, 2], &mut scores);
        assert!(scores[2] > scores[1] && scores[1] > scores[0], "{scores:?}");
        assert_eq!(scores[2], 100);
    }

    #[test]
    fn critical_paths_keep_the_two_smallest() {
        let mut p = CriticalPaths::new();
        p.update("a", 3);
        p.update("b", 1);
        p.update("c", 2);
        assert_eq!((p.0[0].1, p.0[1].1), (1, 2));
        p.update("b", 5);
        assert_eq!(p.0[0], ("c".to_string(), 2));
    }
}
