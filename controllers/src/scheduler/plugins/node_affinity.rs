//! NodeAffinity: nodeSelector and required node affinity as a filter (with the PreFilter
//! shortcut to the nodes named by matchFields metadata.name), preferred terms as a score.

use crate::scheduler::framework::{Plugin, Status};
use crate::scheduler::labels::{PreferredTerms, RequiredNodeAffinity};
use crate::scheduler::node_info::NodeInfo;
use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeSet;

pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";
pub const ERR_REASON_CONFLICT: &str = "pod affinity terms conflict";

/// The pod's compiled node affinity.
#[derive(Clone, Debug, Default)]
pub struct NodeAffinityState {
    /// None: the plugin skips the filter (no selector, no required affinity).
    pub required: Option<RequiredNodeAffinity>,
    pub preferred: PreferredTerms,
}

impl NodeAffinityState {
    pub fn new(pod: &Pod) -> NodeAffinityState {
        let spec = pod.spec.as_ref();
        let node_affinity = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref());
        let required_terms = node_affinity
            .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
            .map(|r| r.node_selector_terms.as_slice());
        let selector = spec.and_then(|s| s.node_selector.as_ref());
        let required = (required_terms.is_some() || selector.is_some())
            .then(|| RequiredNodeAffinity::new(selector, required_terms));
        let preferred = node_affinity
            .and_then(|n| n.preferred_during_scheduling_ignored_during_execution.as_deref())
            .map(PreferredTerms::new)
            .unwrap_or_default();
        NodeAffinityState { required, preferred }
    }
}

/// PreFilter: when every required term names nodes with `metadata.name In`, only those nodes
/// can fit (Ok(Some(names))); conflicting terms reject the pod everywhere.
pub fn pre_filter(pod: &Pod) -> Result<Option<BTreeSet<String>>, Status> {
    let terms = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
        .map(|r| r.node_selector_terms.as_slice())
        .unwrap_or(&[]);
    if terms.is_empty() {
        return Ok(None);
    }
    let mut names: BTreeSet<String> = BTreeSet::new();
    for term in terms {
        let mut term_names: Option<BTreeSet<String>> = None;
        for r in term.match_fields.iter().flatten() {
            if r.key == "metadata.name" && r.operator == "In" {
                let set: BTreeSet<String> = r.values.iter().flatten().cloned().collect();
                term_names = Some(match term_names {
                    None => set,
                    Some(existing) => existing.intersection(&set).cloned().collect(),
                });
            }
        }
        match term_names {
            // A term without a node name allows every node (the terms are ORed).
            None => return Ok(None),
            Some(t) => names.extend(t),
        }
    }
    if names.is_empty() {
        return Err(Status::unresolvable(Plugin::NodeAffinity, ERR_REASON_CONFLICT));
    }
    Ok(Some(names))
}

pub fn filter(state: &NodeAffinityState, node: &NodeInfo) -> Option<Status> {
    let required = state.required.as_ref()?;
    let matches = node.node.as_ref().is_some_and(|n| required.matches(n));
    (!matches).then(|| Status::unresolvable(Plugin::NodeAffinity, ERR_REASON_POD))
}

/// The sum of the weights of the preferred terms the node matches.
pub fn score(state: &NodeAffinityState, node: &NodeInfo) -> i64 {
    node.node.as_ref().map(|n| state.preferred.score(n)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::node_info::tests::{node, pod};
    use k8s_openapi::api::core::v1::{
        Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PreferredSchedulingTerm,
    };

    fn term(field: Option<&[&str]>, label: Option<(&str, &str)>) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_fields: field.map(|names| {
                vec![NodeSelectorRequirement {
                    key: "metadata.name".into(),
                    operator: "In".into(),
                    values: Some(names.iter().map(|n| n.to_string()).collect()),
                }]
            }),
            match_expressions: label.map(|(k, v)| {
                vec![NodeSelectorRequirement {
                    key: k.into(),
                    operator: "In".into(),
                    values: Some(vec![v.into()]),
                }]
            }),
        }
    }

    fn with_affinity(required: Vec<NodeSelectorTerm>, preferred: Vec<PreferredSchedulingTerm>) -> Pod {
        let mut p = pod("p", &[], &[]);
        p.spec.as_mut().unwrap().affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: (!required.is_empty()).then(|| NodeSelector {
                    node_selector_terms: required,
                }),
                preferred_during_scheduling_ignored_during_execution: (!preferred.is_empty()).then_some(preferred),
            }),
            ..Default::default()
        });
        p
    }

    #[test]
    fn selector_and_required_terms_filter() {
        let ssd = NodeInfo::new(node("a", "1", "1Gi", "10", &[("disk", "ssd")]));
        let hdd = NodeInfo::new(node("b", "1", "1Gi", "10", &[("disk", "hdd")]));
        let mut p = pod("p", &[], &[]);
        assert!(NodeAffinityState::new(&p).required.is_none());
        p.spec.as_mut().unwrap().node_selector = Some([("disk".to_string(), "ssd".to_string())].into());
        let s = NodeAffinityState::new(&p);
        assert!(filter(&s, &ssd).is_none());
        assert_eq!(filter(&s, &hdd).unwrap().message(), ERR_REASON_POD);
        let s = NodeAffinityState::new(&with_affinity(vec![term(None, Some(("disk", "hdd")))], vec![]));
        assert!(filter(&s, &ssd).is_some() && filter(&s, &hdd).is_none());
    }

    #[test]
    fn prefilter_narrows_to_named_nodes() {
        let p = with_affinity(vec![term(Some(&["n1"]), None), term(Some(&["n2"]), None)], vec![]);
        assert_eq!(
            pre_filter(&p).unwrap(),
            Some(BTreeSet::from(["n1".to_string(), "n2".to_string()]))
        );
        let open = with_affinity(vec![term(Some(&["n1"]), None), term(None, Some(("a", "b")))], vec![]);
        assert_eq!(pre_filter(&open).unwrap(), None);
        let conflict = with_affinity(
            vec![NodeSelectorTerm {
                match_fields: Some(vec![
                    NodeSelectorRequirement {
                        key: "metadata.name".into(),
                        operator: "In".into(),
                        values: Some(vec!["n1".into()]),
                    },
                    NodeSelectorRequirement {
                        key: "metadata.name".into(),
                        operator: "In".into(),
                        values: Some(vec!["n2".into()]),
                    },
                ]),
                match_expressions: None,
            }],
            vec![],
        );
        assert_eq!(pre_filter(&conflict).unwrap_err().message(), ERR_REASON_CONFLICT);
    }

    #[test]
    fn preferred_terms_score() {
        let p = with_affinity(
            vec![],
            vec![PreferredSchedulingTerm {
                weight: 10,
                preference: term(None, Some(("zone", "a"))),
            }],
        );
        let s = NodeAffinityState::new(&p);
        assert_eq!(
            score(&s, &NodeInfo::new(node("a", "1", "1Gi", "10", &[("zone", "a")]))),
            10
        );
        assert_eq!(
            score(&s, &NodeInfo::new(node("b", "1", "1Gi", "10", &[("zone", "b")]))),
            0
        );
    }
}
