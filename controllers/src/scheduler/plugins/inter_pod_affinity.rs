//! InterPodAffinity: the incoming pod's required affinity and anti-affinity, and the required
//! anti-affinity of the pods already placed, as a filter over topology domains; preferred terms
//! (both ways) and existing pods' required affinity (hard weight 1) as a score.

use crate::scheduler::cache::Cache;
use crate::scheduler::framework::{Listers, Plugin, Status};
use crate::scheduler::labels::Labels;
use crate::scheduler::node_info::NodeInfo;
use crate::scheduler::pod_info::{AffinityTerm, PodInfo, WeightedTerm};
use std::collections::HashMap;
use std::sync::Arc;

pub const ERR_EXISTING_ANTI_AFFINITY: &str = "node(s) didn't satisfy existing pods anti-affinity rules";
pub const ERR_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const ERR_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
/// The default profile's hardPodAffinityWeight.
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

static NO_LABELS: Labels = Labels::new();

type Counts = HashMap<(String, String), i64>;

fn bump(counts: &mut Counts, node: &NodeInfo, key: &str, value: i64) {
    if let Some(v) = node.labels().get(key) {
        let pair = (key.to_string(), v.clone());
        let entry = counts.entry(pair.clone()).or_insert(0);
        *entry += value;
        if *entry == 0 {
            counts.remove(&pair);
        }
    }
}

/// The incoming pod's terms with their namespace selectors resolved to namespaces
/// (mergeAffinityTermNamespacesIfNotEmpty).
fn merged(terms: &[AffinityTerm], listers: &dyn Listers) -> Vec<AffinityTerm> {
    terms
        .iter()
        .map(|t| {
            let mut t = t.clone();
            if !t.namespace_selector.is_empty() && t.namespace_selector != crate::scheduler::labels::Selector::Nothing {
                t.namespaces.extend(listers.namespaces_matching(&t.namespace_selector));
                t.namespace_selector = crate::scheduler::labels::Selector::Nothing;
            }
            t
        })
        .collect()
}

fn merged_weighted(terms: &[WeightedTerm], listers: &dyn Listers) -> Vec<WeightedTerm> {
    terms
        .iter()
        .map(|w| WeightedTerm {
            term: merged(std::slice::from_ref(&w.term), listers).remove(0),
            weight: w.weight,
        })
        .collect()
}

fn matches_all(terms: &[AffinityTerm], pod: &PodInfo) -> bool {
    !terms.is_empty()
        && terms
            .iter()
            .all(|t| t.matches(&pod.namespace, pod.labels(), Some(&NO_LABELS)))
}

/// The PreFilter state.
#[derive(Clone, Debug)]
pub struct AffinityFilterState {
    affinity_terms: Arc<Vec<AffinityTerm>>,
    anti_terms: Arc<Vec<AffinityTerm>>,
    namespace_labels: Arc<Labels>,
    existing_anti: Counts,
    affinity: Counts,
    anti: Counts,
}

/// PreFilter; None (Skip) when neither the pod nor any placed pod has required terms.
pub fn pre_filter(pod: &PodInfo, cache: &Cache, listers: &dyn Listers) -> Option<AffinityFilterState> {
    let namespace_labels = Arc::new(listers.namespace_labels(&pod.namespace).unwrap_or_default());
    let mut existing_anti = Counts::new();
    for slot in cache.nodes_with_required_anti_affinity() {
        let node = cache.node(slot);
        for existing in node.pods_with_required_anti_affinity() {
            for t in &existing.required_anti_affinity {
                if t.matches(&pod.namespace, pod.labels(), Some(&namespace_labels)) {
                    bump(&mut existing_anti, node, &t.topology_key, 1);
                }
            }
        }
    }
    let affinity_terms = merged(&pod.required_affinity, listers);
    let anti_terms = merged(&pod.required_anti_affinity, listers);
    if existing_anti.is_empty() && affinity_terms.is_empty() && anti_terms.is_empty() {
        return None;
    }
    let mut affinity = Counts::new();
    let mut anti = Counts::new();
    if !affinity_terms.is_empty() || !anti_terms.is_empty() {
        for slot in cache.order() {
            let node = cache.node(*slot);
            for existing in &node.pods {
                if matches_all(&affinity_terms, existing) {
                    for t in &affinity_terms {
                        bump(&mut affinity, node, &t.topology_key, 1);
                    }
                }
                for t in &anti_terms {
                    if t.matches(&existing.namespace, existing.labels(), Some(&NO_LABELS)) {
                        bump(&mut anti, node, &t.topology_key, 1);
                    }
                }
            }
        }
    }
    Some(AffinityFilterState {
        affinity_terms: Arc::new(affinity_terms),
        anti_terms: Arc::new(anti_terms),
        namespace_labels,
        existing_anti,
        affinity,
        anti,
    })
}

impl AffinityFilterState {
    /// AddPod / RemovePod (`delta` +1 / -1) of `other` on `node` while `pod` is evaluated.
    pub fn update_with_pod(&mut self, other: &PodInfo, pod: &PodInfo, node: &NodeInfo, delta: i64) {
        for t in &other.required_anti_affinity {
            if t.matches(&pod.namespace, pod.labels(), Some(&self.namespace_labels)) {
                bump(&mut self.existing_anti, node, &t.topology_key, delta);
            }
        }
        if matches_all(&self.affinity_terms, other) {
            for t in self.affinity_terms.iter() {
                bump(&mut self.affinity, node, &t.topology_key, delta);
            }
        }
        for t in self.anti_terms.iter() {
            if t.matches(&other.namespace, other.labels(), Some(&NO_LABELS)) {
                bump(&mut self.anti, node, &t.topology_key, delta);
            }
        }
    }
}

/// Filter: affinity, then the pod's anti-affinity, then the placed pods' anti-affinity.
pub fn filter(state: &AffinityFilterState, pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
    let labels = node.labels();
    // satisfyPodAffinity
    let mut pods_exist = true;
    for t in state.affinity_terms.iter() {
        match labels.get(&t.topology_key) {
            Some(v) => {
                if state
                    .affinity
                    .get(&(t.topology_key.clone(), v.clone()))
                    .copied()
                    .unwrap_or(0)
                    <= 0
                {
                    pods_exist = false;
                }
            }
            None => return Some(Status::unresolvable(Plugin::InterPodAffinity, ERR_AFFINITY)),
        }
    }
    if !pods_exist {
        // The first pod of a group with affinity to itself may go anywhere with the topologies.
        let first_of_group = state.affinity.is_empty() && matches_all(&state.affinity_terms, pod);
        if !first_of_group {
            return Some(Status::unresolvable(Plugin::InterPodAffinity, ERR_AFFINITY));
        }
    }
    // satisfyPodAntiAffinity
    if !state.anti.is_empty() {
        for t in state.anti_terms.iter() {
            if let Some(v) = labels.get(&t.topology_key) {
                if state
                    .anti
                    .get(&(t.topology_key.clone(), v.clone()))
                    .copied()
                    .unwrap_or(0)
                    > 0
                {
                    return Some(Status::unschedulable(Plugin::InterPodAffinity, ERR_ANTI_AFFINITY));
                }
            }
        }
    }
    // satisfyExistingPodsAntiAffinity
    if !state.existing_anti.is_empty() {
        for (k, v) in labels {
            if state.existing_anti.get(&(k.clone(), v.clone())).copied().unwrap_or(0) > 0 {
                return Some(Status::unschedulable(
                    Plugin::InterPodAffinity,
                    ERR_EXISTING_ANTI_AFFINITY,
                ));
            }
        }
    }
    None
}

/// The PreScore state: score per topology key and value.
pub struct AffinityScoreState {
    topology_score: HashMap<String, HashMap<String, i64>>,
}

fn add_score(scores: &mut HashMap<String, HashMap<String, i64>>, node: &NodeInfo, key: &str, weight: i64) {
    if let Some(v) = node.labels().get(key) {
        *scores.entry(key.to_string()).or_default().entry(v.clone()).or_insert(0) += weight;
    }
}

/// PreScore; None (Skip) when nothing would score.
pub fn pre_score(pod: &PodInfo, cache: &Cache, listers: &dyn Listers) -> Option<AffinityScoreState> {
    let preferred = merged_weighted(&pod.preferred_affinity, listers);
    let preferred_anti = merged_weighted(&pod.preferred_anti_affinity, listers);
    let has_constraints = !preferred.is_empty() || !preferred_anti.is_empty();
    let namespace_labels = listers.namespace_labels(&pod.namespace).unwrap_or_default();
    let mut scores: HashMap<String, HashMap<String, i64>> = HashMap::new();
    let slots: Vec<usize> = if has_constraints {
        cache.order().to_vec()
    } else {
        cache.nodes_with_affinity().collect()
    };
    for slot in slots {
        let node = cache.node(slot);
        if node.labels().is_empty() {
            continue;
        }
        for existing in &node.pods {
            if !has_constraints && !existing.has_affinity() {
                continue;
            }
            for w in &preferred {
                if w.term.matches(&existing.namespace, existing.labels(), Some(&NO_LABELS)) {
                    add_score(&mut scores, node, &w.term.topology_key, i64::from(w.weight));
                }
            }
            for w in &preferred_anti {
                if w.term.matches(&existing.namespace, existing.labels(), Some(&NO_LABELS)) {
                    add_score(&mut scores, node, &w.term.topology_key, -i64::from(w.weight));
                }
            }
            for t in &existing.required_affinity {
                if t.matches(&pod.namespace, pod.labels(), Some(&namespace_labels)) {
                    add_score(&mut scores, node, &t.topology_key, HARD_POD_AFFINITY_WEIGHT);
                }
            }
            for w in &existing.preferred_affinity {
                if w.term.matches(&pod.namespace, pod.labels(), Some(&namespace_labels)) {
                    add_score(&mut scores, node, &w.term.topology_key, i64::from(w.weight));
                }
            }
            for w in &existing.preferred_anti_affinity {
                if w.term.matches(&pod.namespace, pod.labels(), Some(&namespace_labels)) {
                    add_score(&mut scores, node, &w.term.topology_key, -i64::from(w.weight));
                }
            }
        }
    }
    (!scores.is_empty()).then_some(AffinityScoreState { topology_score: scores })
}

pub fn score(state: &AffinityScoreState, node: &NodeInfo) -> i64 {
    let labels = node.labels();
    state
        .topology_score
        .iter()
        .filter_map(|(key, values)| labels.get(key).and_then(|v| values.get(v)))
        .sum()
}

/// NormalizeScore: min-max to 0..100.
pub fn normalize(scores: &mut [i64]) {
    let (Some(min), Some(max)) = (scores.iter().min().copied(), scores.iter().max().copied()) else {
        return;
    };
    let diff = max - min;
    for s in scores.iter_mut() {
        *s = if diff > 0 {
            (100.0 * ((*s - min) as f64 / diff as f64)) as i64
        } else {
            0
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::framework::NoListers;
    use crate::scheduler::node_info::tests::{info, node, pod};
    use crate::scheduler::plugins::topology_spread::HOSTNAME;
    use k8s_openapi::api::core::v1::{
        Affinity, PodAffinity, PodAffinityTerm, PodAntiAffinity, WeightedPodAffinityTerm,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn term(app: &str) -> PodAffinityTerm {
        PodAffinityTerm {
            label_selector: Some(LabelSelector {
                match_labels: Some([("app".to_string(), app.to_string())].into()),
                match_expressions: None,
            }),
            topology_key: HOSTNAME.into(),
            ..Default::default()
        }
    }

    fn with(
        name: &str,
        app: &str,
        affinity: Option<&str>,
        anti: Option<&str>,
        preferred: Option<&str>,
    ) -> Arc<PodInfo> {
        let mut p = pod(name, &[], &[("app", app)]);
        p.spec.as_mut().unwrap().affinity = Some(Affinity {
            pod_affinity: Some(PodAffinity {
                required_during_scheduling_ignored_during_execution: affinity.map(|a| vec![term(a)]),
                preferred_during_scheduling_ignored_during_execution: preferred.map(|a| {
                    vec![WeightedPodAffinityTerm {
                        weight: 10,
                        pod_affinity_term: term(a),
                    }]
                }),
            }),
            pod_anti_affinity: anti.map(|a| PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![term(a)]),
                ..Default::default()
            }),
            ..Default::default()
        });
        info(p)
    }

    fn cluster() -> Cache {
        let mut cache = Cache::default();
        for n in ["a", "b", "c"] {
            cache.upsert_node(node(n, "4", "4Gi", "110", &[(HOSTNAME, n)]));
        }
        cache.ordered();
        cache
    }

    fn node_of<'a>(cache: &'a Cache, name: &str) -> &'a NodeInfo {
        cache.node(cache.slot(name).unwrap())
    }

    #[test]
    fn anti_affinity_spreads_replicas() {
        let mut cache = cluster();
        cache.add_or_update_pod(with("w1", "web", None, Some("web"), None), "a");
        let p = with("w2", "web", None, Some("web"), None);
        let state = pre_filter(&p, &cache, &NoListers).unwrap();
        // a holds a web pod: the new pod's own anti-affinity rejects it.
        assert_eq!(
            filter(&state, &p, node_of(&cache, "a")).unwrap().message(),
            ERR_ANTI_AFFINITY
        );
        assert!(filter(&state, &p, node_of(&cache, "b")).is_none());
        // A pod without terms is still kept off a by w1's anti-affinity.
        let plain = with("x", "web", None, None, None);
        let state = pre_filter(&plain, &cache, &NoListers).unwrap();
        assert_eq!(
            filter(&state, &plain, node_of(&cache, "a")).unwrap().message(),
            ERR_EXISTING_ANTI_AFFINITY
        );
        let other = with("y", "db", None, None, None);
        assert!(pre_filter(&other, &cache, &NoListers).is_none());
    }

    #[test]
    fn affinity_needs_a_matching_pod_or_is_the_first() {
        let mut cache = cluster();
        let p = with("c1", "cache", Some("cache"), None, None);
        // No pod matches anywhere yet, and the pod matches its own term: any node.
        let state = pre_filter(&p, &cache, &NoListers).unwrap();
        assert!(filter(&state, &p, node_of(&cache, "a")).is_none());
        cache.add_or_update_pod(with("c0", "cache", None, None, None), "b");
        let state = pre_filter(&p, &cache, &NoListers).unwrap();
        assert_eq!(
            filter(&state, &p, node_of(&cache, "a")).unwrap().message(),
            ERR_AFFINITY
        );
        assert!(filter(&state, &p, node_of(&cache, "b")).is_none());
        let mut state = state;
        let c0 = cache.pod("uid-c0").unwrap().info.clone();
        state.update_with_pod(&c0, &p, node_of(&cache, "b"), -1);
        assert!(
            filter(&state, &p, node_of(&cache, "b")).is_none(),
            "first of its group again"
        );
    }

    #[test]
    fn preferred_affinity_scores() {
        let mut cache = cluster();
        cache.add_or_update_pod(with("d", "db", None, None, None), "c");
        let p = with("w", "web", None, None, Some("db"));
        let state = pre_score(&p, &cache, &NoListers).unwrap();
        let mut scores: Vec<i64> = ["a", "b", "c"]
            .iter()
            .map(|n| score(&state, node_of(&cache, n)))
            .collect();
        assert_eq!(scores, [0, 0, 10]);
        normalize(&mut scores);
        assert_eq!(scores, [0, 0, 100]);
    }
}
