//! What the replica controller needs of its two kinds, ReplicaSet (apps/v1) and
//! ReplicationController (core/v1), so that one piece of code runs both, as upstream runs the RC
//! manager through the ReplicaSet controller.

use crate::workloads::claim::Namespaced;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition};
use k8s_openapi::api::core::v1::{PodTemplateSpec, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// A kind whose objects keep `replicas` pods from a template running.
pub trait ReplicaKind: Namespaced {
    /// The controller's name (events' `source.component`).
    const CONTROLLER: &'static str;
    /// Whether its status has `terminatingReplicas` (DeploymentReplicaSetTerminatingReplicas, beta
    /// and on by default in 1.35, for ReplicaSets only).
    const TERMINATING_REPLICAS: bool;

    /// The pod selector (`None` when there is none).
    fn selector(&self) -> Option<LabelSelector>;
    /// The pod template.
    fn template(&self) -> Option<&PodTemplateSpec>;
    /// spec.replicas (1 when unset, as defaulting does).
    fn desired(&self) -> i32;
    /// spec.minReadySeconds.
    fn min_ready_seconds(&self) -> i32;
    /// The status as last written.
    fn current_status(&self) -> ReplicaStatus;
}

/// The status both kinds share (ReplicaSetStatus; ReplicationControllerStatus has the same
/// fields but terminatingReplicas, and the same condition shape).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplicaStatus {
    pub replicas: i32,
    pub fully_labeled_replicas: i32,
    pub ready_replicas: i32,
    pub available_replicas: i32,
    pub observed_generation: i64,
    pub terminating_replicas: Option<i32>,
    pub conditions: Vec<ReplicaSetCondition>,
}

impl ReplicaStatus {
    /// The status as a merge patch: zero counters and no conditions are dropped, as Go's
    /// `omitempty` leaves them out of the object upstream writes.
    pub fn to_patch(&self, terminating: bool) -> serde_json::Value {
        let count = |n: i32| if n == 0 { serde_json::Value::Null } else { n.into() };
        let mut status = serde_json::json!({
            "replicas": self.replicas,
            "fullyLabeledReplicas": count(self.fully_labeled_replicas),
            "readyReplicas": count(self.ready_replicas),
            "availableReplicas": count(self.available_replicas),
            "observedGeneration": if self.observed_generation == 0 { serde_json::Value::Null } else { self.observed_generation.into() },
            "conditions": if self.conditions.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::to_value(&self.conditions).unwrap_or_default()
            },
        });
        if terminating {
            status["terminatingReplicas"] = self.terminating_replicas.into();
        }
        serde_json::json!({ "status": status })
    }
}

impl ReplicaKind for ReplicaSet {
    const CONTROLLER: &'static str = "replicaset-controller";
    const TERMINATING_REPLICAS: bool = true;

    fn selector(&self) -> Option<LabelSelector> {
        self.spec.as_ref().map(|s| s.selector.clone())
    }
    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref()?.template.as_ref()
    }
    fn desired(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
    }
    fn current_status(&self) -> ReplicaStatus {
        let Some(s) = &self.status else {
            return ReplicaStatus::default();
        };
        ReplicaStatus {
            replicas: s.replicas,
            fully_labeled_replicas: s.fully_labeled_replicas.unwrap_or(0),
            ready_replicas: s.ready_replicas.unwrap_or(0),
            available_replicas: s.available_replicas.unwrap_or(0),
            observed_generation: s.observed_generation.unwrap_or(0),
            terminating_replicas: s.terminating_replicas,
            conditions: s.conditions.clone().unwrap_or_default(),
        }
    }
}

impl ReplicaKind for ReplicationController {
    const CONTROLLER: &'static str = "replication-controller";
    const TERMINATING_REPLICAS: bool = false;

    fn selector(&self) -> Option<LabelSelector> {
        let labels = self.spec.as_ref()?.selector.clone()?;
        (!labels.is_empty()).then(|| LabelSelector {
            match_labels: Some(labels),
            match_expressions: None,
        })
    }
    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref()?.template.as_ref()
    }
    fn desired(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
    }
    fn current_status(&self) -> ReplicaStatus {
        let Some(s) = &self.status else {
            return ReplicaStatus::default();
        };
        // The two condition types have the same fields and JSON.
        let conditions = s
            .conditions
            .as_ref()
            .and_then(|c| serde_json::to_value(c).ok())
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        ReplicaStatus {
            replicas: s.replicas,
            fully_labeled_replicas: s.fully_labeled_replicas.unwrap_or(0),
            ready_replicas: s.ready_replicas.unwrap_or(0),
            available_replicas: s.available_replicas.unwrap_or(0),
            observed_generation: s.observed_generation.unwrap_or(0),
            terminating_replicas: None,
            conditions,
        }
    }
}
