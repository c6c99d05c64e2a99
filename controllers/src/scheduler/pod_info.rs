//! A pod as the scheduler keeps it (framework.PodInfo): the object plus everything the plugins
//! need precomputed once — requests, host ports, parsed inter-pod affinity terms, priority.

use super::labels::{labels_of, Labels, Requirement, Selector};
use super::resources::PodRequests;
use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, WeightedPodAffinityTerm};
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeSet;
use std::sync::Arc;

/// One parsed pod affinity term (framework.AffinityTerm).
#[derive(Clone, Debug)]
pub struct AffinityTerm {
    pub namespaces: BTreeSet<String>,
    pub namespace_selector: Selector,
    pub selector: Selector,
    pub topology_key: String,
}

impl AffinityTerm {
    fn new(owner: &Pod, term: &PodAffinityTerm) -> AffinityTerm {
        let owner_labels = labels_of(&owner.metadata.labels);
        let mut selector = Selector::from_label_selector(term.label_selector.as_ref());
        // matchLabelKeys / mismatchLabelKeys: the owner's values join the selector (the
        // apiserver merges them at creation upstream; merging again is harmless).
        let keyed = |keys: &Option<Vec<String>>, matching: bool| -> Vec<Requirement> {
            keys.iter()
                .flatten()
                .filter_map(|k| {
                    let v = owner_labels.get(k)?;
                    Some(if matching {
                        Requirement::In(k.clone(), vec![v.clone()])
                    } else {
                        Requirement::NotIn(k.clone(), vec![v.clone()])
                    })
                })
                .collect()
        };
        if term.label_selector.is_some() {
            let more: Vec<Requirement> = keyed(&term.match_label_keys, true)
                .into_iter()
                .chain(keyed(&term.mismatch_label_keys, false))
                .collect();
            if let Some(existing) = selector.requirements() {
                let new: Vec<Requirement> = more.into_iter().filter(|r| !existing.contains(r)).collect();
                selector = selector.and(new);
            }
        }
        let namespace = owner.metadata.namespace.clone().unwrap_or_default();
        let listed = term.namespaces.clone().unwrap_or_default();
        let namespaces = if listed.is_empty() && term.namespace_selector.is_none() {
            BTreeSet::from([namespace])
        } else {
            listed.into_iter().collect()
        };
        AffinityTerm {
            namespaces,
            namespace_selector: Selector::from_label_selector(term.namespace_selector.as_ref()),
            selector,
            topology_key: term.topology_key.clone(),
        }
    }

    /// Whether `pod` (in `namespace`, with `labels`) matches the term; `namespace_labels` are
    /// the labels of the pod's namespace when the term's namespace selector must be consulted.
    pub fn matches(&self, namespace: &str, labels: &Labels, namespace_labels: Option<&Labels>) -> bool {
        let namespace_ok = self.namespaces.contains(namespace)
            || namespace_labels.is_some_and(|nl| self.namespace_selector.matches(nl));
        namespace_ok && self.selector.matches(labels)
    }
}

/// A weighted (preferred) affinity term.
#[derive(Clone, Debug)]
pub struct WeightedTerm {
    pub term: AffinityTerm,
    pub weight: i32,
}

/// A host port a pod claims on its node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

impl HostPort {
    /// Whether two claims collide (HostPortInfo.CheckConflict: 0.0.0.0 overlaps every address).
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// A pod with its precomputed scheduling data.
#[derive(Debug)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub priority: i32,
    pub requests: PodRequests,
    pub host_ports: Vec<HostPort>,
    pub required_affinity: Vec<AffinityTerm>,
    pub required_anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<WeightedTerm>,
    pub preferred_anti_affinity: Vec<WeightedTerm>,
    pub terminating: bool,
    /// When the pod started (status.startTime), else when it was created.
    pub start_time: Option<Timestamp>,
}

impl PodInfo {
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        let spec = pod.spec.as_ref();
        let affinity = spec.and_then(|s| s.affinity.as_ref());
        let pa = affinity.and_then(|a| a.pod_affinity.as_ref());
        let paa = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let terms = |t: Option<&Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            t.into_iter().flatten().map(|t| AffinityTerm::new(&pod, t)).collect()
        };
        let weighted = |t: Option<&Vec<WeightedPodAffinityTerm>>| -> Vec<WeightedTerm> {
            t.into_iter()
                .flatten()
                .map(|t| WeightedTerm {
                    term: AffinityTerm::new(&pod, &t.pod_affinity_term),
                    weight: t.weight,
                })
                .collect()
        };
        let mut host_ports = Vec::new();
        if let Some(spec) = spec {
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            for c in spec.containers.iter().chain(sidecars) {
                for p in c.ports.iter().flatten() {
                    if let Some(port) = p.host_port.filter(|p| *p > 0) {
                        host_ports.push(HostPort {
                            ip: p
                                .host_ip
                                .clone()
                                .filter(|ip| !ip.is_empty())
                                .unwrap_or_else(|| "0.0.0.0".into()),
                            protocol: p
                                .protocol
                                .clone()
                                .filter(|p| !p.is_empty())
                                .unwrap_or_else(|| "TCP".into()),
                            port,
                        });
                    }
                }
            }
        }
        let start_time = pod
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .or(pod.metadata.creation_timestamp.as_ref())
            .map(|t| t.0);
        PodInfo {
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            priority: spec.and_then(|s| s.priority).unwrap_or(0),
            requests: PodRequests::of(&pod),
            host_ports,
            required_affinity: terms(pa.and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref())),
            required_anti_affinity: terms(
                paa.and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref()),
            ),
            preferred_affinity: weighted(
                pa.and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_ref()),
            ),
            preferred_anti_affinity: weighted(
                paa.and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_ref()),
            ),
            terminating: pod.metadata.deletion_timestamp.is_some(),
            start_time,
            pod,
        }
    }

    /// The info for a newer version of the same pod: reused when only its status or metadata
    /// other than labels changed, rebuilt otherwise.
    pub fn refreshed(&self, pod: Arc<Pod>) -> PodInfo {
        let same = pod.spec == self.pod.spec
            && pod.metadata.labels == self.pod.metadata.labels
            && pod.metadata.deletion_timestamp.is_some() == self.terminating;
        if !same {
            return PodInfo::new(pod);
        }
        let start_time = pod
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .or(pod.metadata.creation_timestamp.as_ref())
            .map(|t| t.0);
        PodInfo {
            uid: self.uid.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            priority: self.priority,
            requests: self.requests.clone(),
            host_ports: self.host_ports.clone(),
            required_affinity: self.required_affinity.clone(),
            required_anti_affinity: self.required_anti_affinity.clone(),
            preferred_affinity: self.preferred_affinity.clone(),
            preferred_anti_affinity: self.preferred_anti_affinity.clone(),
            terminating: self.terminating,
            start_time,
            pod,
        }
    }

    pub fn labels(&self) -> &Labels {
        labels_of(&self.pod.metadata.labels)
    }

    /// Any inter-pod affinity or anti-affinity, required or preferred.
    pub fn has_affinity(&self) -> bool {
        !self.required_affinity.is_empty()
            || !self.required_anti_affinity.is_empty()
            || !self.preferred_affinity.is_empty()
            || !self.preferred_anti_affinity.is_empty()
    }

    pub fn has_required_anti_affinity(&self) -> bool {
        !self.required_anti_affinity.is_empty()
    }

    /// The node the pod is bound to, "" if none.
    pub fn node_name(&self) -> &str {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or("")
    }

    /// "namespace/name".
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// More important first: higher priority, then the one that started earlier (util.MoreImportantPod).
pub fn more_important(a: &PodInfo, b: &PodInfo) -> bool {
    if a.priority != b.priority {
        return a.priority > b.priority;
    }
    match (a.start_time, b.start_time) {
        (Some(x), Some(y)) => x < y,
        (Some(_), None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Affinity, Container, ContainerPort, PodAntiAffinity, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    #[test]
    fn parses_terms_ports_and_priority() {
        let mut pod = Pod::default();
        pod.metadata.namespace = Some("ns".into());
        pod.metadata.labels = Some([("app".to_string(), "web".to_string()), ("rev".into(), "1".into())].into());
        pod.spec = Some(PodSpec {
            priority: Some(7),
            containers: vec![Container {
                name: "c".into(),
                ports: Some(vec![ContainerPort {
                    container_port: 80,
                    host_port: Some(8080),
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            affinity: Some(Affinity {
                pod_anti_affinity: Some(PodAntiAffinity {
                    required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                        label_selector: Some(LabelSelector {
                            match_labels: Some([("app".to_string(), "web".to_string())].into()),
                            match_expressions: None,
                        }),
                        match_label_keys: Some(vec!["rev".into()]),
                        topology_key: "kubernetes.io/hostname".into(),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        let info = PodInfo::new(Arc::new(pod));
        assert_eq!(info.priority, 7);
        assert_eq!(
            info.host_ports,
            vec![HostPort {
                ip: "0.0.0.0".into(),
                protocol: "TCP".into(),
                port: 8080
            }]
        );
        let term = &info.required_anti_affinity[0];
        assert!(info.has_required_anti_affinity() && info.has_affinity());
        let same: Labels = [("app".to_string(), "web".to_string()), ("rev".into(), "1".into())].into();
        let other_rev: Labels = [("app".to_string(), "web".to_string()), ("rev".into(), "2".into())].into();
        assert!(term.matches("ns", &same, None));
        assert!(!term.matches("ns", &other_rev, None));
        assert!(!term.matches("other", &same, None));
    }

    #[test]
    fn host_port_conflicts() {
        let any = HostPort {
            ip: "0.0.0.0".into(),
            protocol: "TCP".into(),
            port: 80,
        };
        let one = HostPort {
            ip: "10.0.0.1".into(),
            ..any.clone()
        };
        let two = HostPort {
            ip: "10.0.0.2".into(),
            ..any.clone()
        };
        assert!(any.conflicts(&one) && one.conflicts(&any));
        assert!(!one.conflicts(&two));
        assert!(!any.conflicts(&HostPort {
            protocol: "UDP".into(),
            ..any.clone()
        }));
    }
}
