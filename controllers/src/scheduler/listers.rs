//! The plugins' listers over the shared informers: namespaces (for namespaceSelector), the
//! Services / ReplicationControllers / ReplicaSets / StatefulSets that give pods their default
//! spreading selector, and PodDisruptionBudgets for preemption.

use super::framework::Listers;
use super::labels::{labels_of, Labels, Requirement, Selector};
use crate::core::informers::{Informer, Informers};
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Pod, ReplicationController, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use std::sync::Arc;

pub struct InformerListers {
    namespaces: Informer<Namespace>,
    services: Informer<Service>,
    controllers: Informer<ReplicationController>,
    replica_sets: Informer<ReplicaSet>,
    stateful_sets: Informer<StatefulSet>,
    pdbs: Informer<PodDisruptionBudget>,
}

impl InformerListers {
    pub fn new(informers: &Informers) -> Self {
        InformerListers {
            namespaces: informers.get(),
            services: informers.get(),
            controllers: informers.get(),
            replica_sets: informers.get(),
            stateful_sets: informers.get(),
            pdbs: informers.get(),
        }
    }
}

fn add_set(requirements: &mut Vec<Requirement>, set: &Labels) {
    for (k, v) in set {
        let r = Requirement::In(k.clone(), vec![v.clone()]);
        if !requirements.contains(&r) {
            requirements.push(r);
        }
    }
}

impl Listers for InformerListers {
    fn namespace_labels(&self, namespace: &str) -> Option<Labels> {
        self.namespaces
            .get(None, namespace)
            .map(|n| labels_of(&n.metadata.labels).clone())
    }

    fn namespaces_matching(&self, selector: &Selector) -> Vec<String> {
        self.namespaces
            .store()
            .state()
            .into_iter()
            .filter(|n| selector.matches(labels_of(&n.metadata.labels)))
            .filter_map(|n| n.metadata.name.clone())
            .collect()
    }

    fn default_spread_selector(&self, pod: &Pod) -> Selector {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
        let labels = labels_of(&pod.metadata.labels);
        let mut requirements: Vec<Requirement> = Vec::new();
        for service in self.services.store().state() {
            if service.metadata.namespace.as_deref() != Some(namespace) {
                continue;
            }
            let Some(selector) = service.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
                continue;
            };
            if !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
                add_set(&mut requirements, selector);
            }
        }
        let owner = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true));
        if let Some(owner) = owner {
            match (owner.api_version.as_str(), owner.kind.as_str()) {
                ("v1", "ReplicationController") => {
                    if let Some(rc) = self.controllers.get(Some(namespace), &owner.name) {
                        if let Some(s) = rc.spec.as_ref().and_then(|s| s.selector.as_ref()) {
                            add_set(&mut requirements, s);
                        }
                    }
                }
                ("apps/v1", "ReplicaSet") => {
                    if let Some(rs) = self.replica_sets.get(Some(namespace), &owner.name) {
                        let s = Selector::from_label_selector(rs.spec.as_ref().map(|s| &s.selector));
                        requirements.extend(s.requirements().unwrap_or(&[]).iter().cloned());
                    }
                }
                ("apps/v1", "StatefulSet") => {
                    if let Some(ss) = self.stateful_sets.get(Some(namespace), &owner.name) {
                        let s = Selector::from_label_selector(ss.spec.as_ref().map(|s| &s.selector));
                        requirements.extend(s.requirements().unwrap_or(&[]).iter().cloned());
                    }
                }
                _ => {}
            }
        }
        Selector::All(requirements)
    }

    fn pdbs(&self) -> Vec<Arc<PodDisruptionBudget>> {
        self.pdbs.store().state()
    }
}
