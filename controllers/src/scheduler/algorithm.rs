//! One scheduling cycle over the cache (schedulePod): PreFilter, the nominated node first, Filter
//! from a rotating start index until percentageOfNodesToScore feasible nodes are found (with
//! equal-or-higher-priority nominated pods counted in), then PreScore/Score/NormalizeScore with
//! the default profile's weights and a random pick among the best.

use super::cache::Cache;
use super::framework::{Code, Diagnosis, Listers, Plugin, Status, VolumeHooks};
use super::node_info::NodeInfo;
use super::plugins::inter_pod_affinity::{self as ipa, AffinityFilterState};
use super::plugins::node_affinity::{self, NodeAffinityState};
use super::plugins::topology_spread::{self as pts, CountMemo, SpreadFilterState};
use super::plugins::{basic, node_resources};
use super::pod_info::PodInfo;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// The minimum number of feasible nodes to look for (minFeasibleNodesToFind).
const MIN_FEASIBLE_NODES: usize = 100;
/// The smallest adaptive percentage of nodes to score (minFeasibleNodesPercentageToFind).
const MIN_FEASIBLE_PERCENTAGE: usize = 5;

/// How many feasible nodes to find before scoring (numFeasibleNodesToFind with the adaptive
/// default percentage: 50% - nodes/125, at least 5%, at least 100 nodes).
pub fn num_feasible_nodes_to_find(all: usize) -> usize {
    if all < MIN_FEASIBLE_NODES {
        return all;
    }
    let percentage = 50usize.saturating_sub(all / 125).max(MIN_FEASIBLE_PERCENTAGE);
    (all * percentage / 100).max(MIN_FEASIBLE_NODES)
}

/// The state one cycle computes once for its pod and the filters read (cloned, with nominated
/// pods or preemption victims added or removed, where a node needs a different view).
#[derive(Clone)]
pub struct CycleState {
    pub pod: Arc<PodInfo>,
    pub node_affinity: Arc<NodeAffinityState>,
    pub spread: Option<SpreadFilterState>,
    pub affinity: Option<AffinityFilterState>,
}

impl CycleState {
    /// PreFilter extensions AddPod / RemovePod.
    pub fn update_with_pod(&mut self, other: &PodInfo, node: &NodeInfo, delta: i64) {
        let pod = self.pod.clone();
        let required = self.node_affinity.required.as_ref();
        if let Some(s) = self.spread.as_mut() {
            s.update_with_pod(other, &pod, required, node, delta);
        }
        if let Some(a) = self.affinity.as_mut() {
            a.update_with_pod(other, &pod, node, delta);
        }
    }
}

/// Pods nominated to nodes by preemption, not yet bound (upstream's nominator).
#[derive(Default)]
pub struct Nominator {
    by_node: HashMap<String, Vec<Arc<PodInfo>>>,
    by_uid: HashMap<String, String>,
}

impl Nominator {
    pub fn add(&mut self, pod: Arc<PodInfo>, node: &str) {
        self.remove(&pod.uid);
        self.by_uid.insert(pod.uid.clone(), node.to_string());
        self.by_node.entry(node.to_string()).or_default().push(pod);
    }

    pub fn remove(&mut self, uid: &str) {
        if let Some(node) = self.by_uid.remove(uid) {
            if let Some(list) = self.by_node.get_mut(&node) {
                list.retain(|p| p.uid != uid);
                if list.is_empty() {
                    self.by_node.remove(&node);
                }
            }
        }
    }

    pub fn node_of(&self, uid: &str) -> Option<&str> {
        self.by_uid.get(uid).map(String::as_str)
    }

    pub fn for_node(&self, node: &str) -> &[Arc<PodInfo>] {
        self.by_node.get(node).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Why a cycle found no node.
#[derive(Debug)]
pub enum Failure {
    /// No node is registered (ErrNoNodesAvailable).
    NoNodes,
    /// The pod fits no node (a FitError).
    Fit { num_nodes: usize, diagnosis: Diagnosis },
    /// A plugin failed (not a rejection).
    Error(String),
}

/// The outcome of a failed cycle, with the state preemption continues from.
pub struct Unfit {
    pub failure: Failure,
    pub state: Option<CycleState>,
}

/// The scheduling algorithm and everything it keeps between cycles.
pub struct Algorithm {
    pub cache: Cache,
    pub nominator: Nominator,
    next_start: usize,
    rng: u64,
    memo: CountMemo,
}

impl Default for Algorithm {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9);
        Algorithm {
            cache: Cache::default(),
            nominator: Nominator::default(),
            next_start: 0,
            rng: seed | 1,
            memo: CountMemo::default(),
        }
    }
}

/// DefaultNormalizeScore: scale to 0..100 by the maximum, optionally reversed.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = 100);
        }
        return;
    }
    for s in scores.iter_mut() {
        let v = 100 * *s / max;
        *s = if reverse { 100 - v } else { v };
    }
}

impl Algorithm {
    /// A random number below `n` (n > 0).
    pub fn random_below(&mut self, n: usize) -> usize {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % n.max(1) as u64) as usize
    }

    /// PreFilter: the pod's cycle state, or the status rejecting it on every node.
    pub fn pre_filter(
        &self,
        pod: &Arc<PodInfo>,
        listers: &dyn Listers,
        volumes: &dyn VolumeHooks,
    ) -> Result<(CycleState, Option<BTreeSet<String>>), Status> {
        let allowed = node_affinity::pre_filter(&pod.pod)?;
        volumes.pre_filter(pod)?;
        let node_affinity = Arc::new(NodeAffinityState::new(&pod.pod));
        let nodes = self.cache.order().iter().map(|s| self.cache.node(*s));
        let spread = pts::pre_filter(pod, node_affinity.required.as_ref(), nodes, listers);
        let affinity = ipa::pre_filter(pod, &self.cache, listers);
        Ok((
            CycleState {
                pod: pod.clone(),
                node_affinity,
                spread,
                affinity,
            },
            allowed,
        ))
    }

    /// The filters of the default profile, in its order; the first rejection wins.
    pub fn run_filters(state: &CycleState, node: &NodeInfo, volumes: &dyn VolumeHooks) -> Option<Status> {
        let pod = &state.pod;
        basic::node_unschedulable(pod, node)
            .or_else(|| basic::node_name(pod, node))
            .or_else(|| basic::taint_toleration(pod, node))
            .or_else(|| node_affinity::filter(&state.node_affinity, node))
            .or_else(|| basic::node_ports(pod, node))
            .or_else(|| node_resources::fit(&pod.requests, node))
            .or_else(|| volumes.filter(pod, node))
            .or_else(|| state.spread.as_ref().and_then(|s| pts::filter(s, pod, node)))
            .or_else(|| state.affinity.as_ref().and_then(|a| ipa::filter(a, pod, node)))
    }

    /// RunFilterPluginsWithNominatedPods: the node must fit both with the nominated pods of equal
    /// or higher priority placed on it and without them.
    pub fn filter_with_nominated(
        nominator: &Nominator,
        state: &CycleState,
        node: &NodeInfo,
        volumes: &dyn VolumeHooks,
    ) -> Option<Status> {
        let pod = &state.pod;
        let nominated: Vec<&Arc<PodInfo>> = nominator
            .for_node(node.name())
            .iter()
            .filter(|p| p.uid != pod.uid && p.priority >= pod.priority)
            .collect();
        if !nominated.is_empty() {
            let mut with = node.clone();
            let mut with_state = state.clone();
            for p in nominated {
                with.add_pod((*p).clone());
                with_state.update_with_pod(p, &with, 1);
            }
            if let Some(status) = Self::run_filters(&with_state, &with, volumes) {
                return Some(status);
            }
        }
        Self::run_filters(state, node, volumes)
    }

    /// One cycle: the slot of the chosen node, or why there is none.
    pub fn schedule(
        &mut self,
        pod: &Arc<PodInfo>,
        listers: &dyn Listers,
        volumes: &dyn VolumeHooks,
    ) -> Result<usize, Box<Unfit>> {
        let num_nodes = self.cache.num_nodes();
        if num_nodes == 0 {
            return Err(Box::new(Unfit {
                failure: Failure::NoNodes,
                state: None,
            }));
        }
        let mut diagnosis = Diagnosis::default();
        let (state, allowed) = match self.pre_filter(pod, listers, volumes) {
            Ok(s) => s,
            Err(status) if status.code == Code::Error => {
                return Err(Box::new(Unfit {
                    failure: Failure::Error(status.message()),
                    state: None,
                }))
            }
            Err(status) => {
                diagnosis.prefilter_msg = status.message();
                diagnosis.add_plugin_status(&status);
                diagnosis.absent = Some(status);
                return Err(Box::new(Unfit {
                    failure: Failure::Fit { num_nodes, diagnosis },
                    state: None,
                }));
            }
        };

        // The nominated node (from an earlier preemption) first.
        let nominated = pod
            .pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .filter(|n| !n.is_empty());
        if let Some(slot) = nominated.and_then(|n| self.cache.slot(n)) {
            match Self::filter_with_nominated(&self.nominator, &state, self.cache.node(slot), volumes) {
                None => return Ok(slot),
                Some(status) => {
                    diagnosis.add_plugin_status(&status);
                    diagnosis.node_statuses.push((slot, status));
                }
            }
        }

        let candidates: Vec<usize> = match &allowed {
            None => self.cache.order().to_vec(),
            Some(names) => {
                diagnosis.absent = Some(Status::unresolvable(
                    Plugin::NodeAffinity,
                    format!("node(s) didn't satisfy plugin(s) [{}]", Plugin::NodeAffinity.name()),
                ));
                names.iter().filter_map(|n| self.cache.slot(n)).collect()
            }
        };
        diagnosis.node_statuses.clear();
        let wanted = num_feasible_nodes_to_find(candidates.len());
        let mut feasible: Vec<usize> = Vec::with_capacity(wanted.min(1024));
        let len = candidates.len();
        for i in 0..len {
            if feasible.len() >= wanted {
                break;
            }
            let slot = candidates[(self.next_start + i) % len.max(1)];
            match Self::filter_with_nominated(&self.nominator, &state, self.cache.node(slot), volumes) {
                None => feasible.push(slot),
                Some(status) if status.code == Code::Error => {
                    return Err(Box::new(Unfit {
                        failure: Failure::Error(status.message()),
                        state: Some(state),
                    }))
                }
                Some(status) => {
                    diagnosis.add_plugin_status(&status);
                    diagnosis.node_statuses.push((slot, status));
                }
            }
        }
        let processed = feasible.len() + diagnosis.node_statuses.len();
        self.next_start = (self.next_start + processed) % num_nodes;

        match feasible.len() {
            0 => Err(Box::new(Unfit {
                failure: Failure::Fit { num_nodes, diagnosis },
                state: Some(state),
            })),
            1 => Ok(feasible[0]),
            _ => {
                let totals = self.score(&state, &feasible, listers);
                Ok(self.select_host(&feasible, &totals))
            }
        }
    }

    /// The weighted total score of each feasible node.
    pub fn score(&mut self, state: &CycleState, feasible: &[usize], listers: &dyn Listers) -> Vec<i64> {
        let pod = &state.pod;
        let cache = &self.cache;
        let nodes: Vec<(usize, &NodeInfo)> = feasible.iter().map(|s| (*s, cache.node(*s))).collect();
        let mut totals = vec![0i64; nodes.len()];
        let add = |totals: &mut Vec<i64>, scores: &[i64], weight: i64| {
            for (t, s) in totals.iter_mut().zip(scores) {
                *t += s * weight;
            }
        };
        // TaintToleration (3): untolerated PreferNoSchedule taints, fewer is better.
        let tolerations = basic::prefer_no_schedule_tolerations(pod);
        let mut s: Vec<i64> = nodes.iter().map(|(_, n)| basic::taint_score(&tolerations, n)).collect();
        default_normalize(&mut s, true);
        add(&mut totals, &s, 3);
        // NodeAffinity (2): preferred terms.
        if !state.node_affinity.preferred.is_empty() {
            let mut s: Vec<i64> = nodes
                .iter()
                .map(|(_, n)| node_affinity::score(&state.node_affinity, n))
                .collect();
            default_normalize(&mut s, false);
            add(&mut totals, &s, 2);
        }
        // NodeResourcesFit (1): LeastAllocated.
        let s: Vec<i64> = nodes
            .iter()
            .map(|(_, n)| node_resources::least_allocated(&pod.requests, n))
            .collect();
        add(&mut totals, &s, 1);
        // PodTopologySpread (2).
        let all = cache.order().iter().map(|s| (*s, cache.node(*s)));
        let required = state.node_affinity.required.as_ref();
        if let Some(spread) = pts::pre_score(pod, required, &nodes, all, listers, &mut self.memo) {
            let mut s: Vec<i64> = nodes
                .iter()
                .map(|(slot, n)| pts::score(&spread, &mut self.memo, pod, *slot, n))
                .collect();
            pts::normalize(&spread, feasible, &mut s);
            add(&mut totals, &s, 2);
        }
        // InterPodAffinity (2).
        if let Some(affinity) = ipa::pre_score(pod, cache, listers) {
            let mut s: Vec<i64> = nodes.iter().map(|(_, n)| ipa::score(&affinity, n)).collect();
            ipa::normalize(&mut s);
            add(&mut totals, &s, 2);
        }
        // NodeResourcesBalancedAllocation (1).
        if !node_resources::balanced_skips(&pod.requests) {
            let s: Vec<i64> = nodes
                .iter()
                .map(|(_, n)| node_resources::balanced_allocation(&pod.requests, n))
                .collect();
            add(&mut totals, &s, 1);
        }
        totals
    }

    /// selectHost: the best-scored node, ties broken uniformly at random.
    fn select_host(&mut self, feasible: &[usize], totals: &[i64]) -> usize {
        let best = totals.iter().copied().max().unwrap_or(0);
        let mut chosen = feasible[0];
        let mut seen = 0;
        for (slot, total) in feasible.iter().zip(totals) {
            if *total == best {
                seen += 1;
                if self.random_below(seen) == 0 {
                    chosen = *slot;
                }
            }
        }
        chosen
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scheduler::framework::{fit_error_message, NoListers, NoVolumes};
    use crate::scheduler::node_info::tests::{info, node, pod};
    use k8s_openapi::api::core::v1::{Node, NodeSpec, Taint};

    pub fn cluster(nodes: &[(&str, &str)]) -> Algorithm {
        let mut a = Algorithm::default();
        for (name, cpu) in nodes {
            a.cache
                .upsert_node(node(name, cpu, "8Gi", "110", &[("kubernetes.io/hostname", name)]));
        }
        a
    }

    pub fn taint(a: &mut Algorithm, name: &str, key: &str, value: &str) {
        let slot = a.cache.slot(name).unwrap();
        let mut n: Node = (**a.cache.node(slot).node.as_ref().unwrap()).clone();
        n.spec = Some(NodeSpec {
            taints: Some(vec![Taint {
                key: key.into(),
                value: Some(value.into()),
                effect: "NoSchedule".into(),
                time_added: None,
            }]),
            ..Default::default()
        });
        a.cache.upsert_node(Arc::new(n));
    }

    fn message(a: &mut Algorithm, p: &Arc<PodInfo>) -> String {
        match a.schedule(p, &NoListers, &NoVolumes) {
            Err(unfit) => match unfit.failure {
                Failure::Fit { num_nodes, diagnosis } => fit_error_message(num_nodes, &diagnosis),
                other => format!("{other:?}"),
            },
            Ok(slot) => format!("scheduled on {}", a.cache.node(slot).name()),
        }
    }

    #[test]
    fn adaptive_percentage_of_nodes() {
        assert_eq!(num_feasible_nodes_to_find(3), 3);
        assert_eq!(num_feasible_nodes_to_find(150), 100);
        assert_eq!(num_feasible_nodes_to_find(1000), 420);
        assert_eq!(num_feasible_nodes_to_find(5000), 500);
        assert_eq!(num_feasible_nodes_to_find(10_000), 500);
    }

    #[test]
    fn picks_the_least_allocated_node() {
        let mut a = cluster(&[("a", "4"), ("b", "4")]);
        let slot_a = a.cache.slot("a").unwrap();
        a.cache.assume(info(pod("busy", &[("cpu", "3")], &[])), slot_a);
        let p = info(pod("p", &[("cpu", "500m"), ("memory", "1Gi")], &[]));
        assert_eq!(message(&mut a, &p), "scheduled on b");
    }

    #[test]
    fn unschedulable_message_matches_upstream() {
        let mut a = cluster(&[("a", "1"), ("b", "1"), ("c", "1")]);
        taint(&mut a, "c", "k", "v");
        let p = info(pod("big", &[("cpu", "2")], &[]));
        assert_eq!(
            message(&mut a, &p),
            "0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu."
        );
        let mut empty = Algorithm::default();
        assert_eq!(message(&mut empty, &p), "NoNodes");
    }

    #[test]
    fn nominated_pods_hold_their_room() {
        let mut a = cluster(&[("a", "2")]);
        let high = {
            let mut p = pod("high", &[("cpu", "2")], &[]);
            p.spec.as_mut().unwrap().priority = Some(100);
            info(p)
        };
        a.nominator.add(high, "a");
        let low = info(pod("low", &[("cpu", "1")], &[]));
        assert_eq!(message(&mut a, &low), "0/1 nodes are available: 1 Insufficient cpu.");
        a.nominator.remove("uid-high");
        assert_eq!(message(&mut a, &low), "scheduled on a");
    }

    #[test]
    fn rotates_the_start_index() {
        let names: Vec<String> = (0..300).map(|i| format!("n{i:03}")).collect();
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "4")).collect();
        let mut a = cluster(&pairs);
        let p = info(pod("p", &[("cpu", "1")], &[]));
        a.schedule(&p, &NoListers, &NoVolumes).ok();
        // 300 nodes: 50% - 2 = 48% → 144 feasible nodes are looked at; the next cycle starts after them.
        assert_eq!(a.next_start, num_feasible_nodes_to_find(300));
    }
}
