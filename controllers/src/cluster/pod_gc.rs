//! The pod garbage collector (upstream's pkg/controller/podgc), every 20 seconds over the shared
//! stores: terminated pods beyond --terminated-pod-gc-threshold (12500; evicted and oldest
//! first), terminating pods on not-Ready nodes tainted node.kubernetes.io/out-of-service, pods
//! bound to nodes that no longer exist (after a 40 s quarantine and a fresh read of the node;
//! marked Failed with DisruptionTarget DeletionByPodGC), and terminating pods never scheduled.
//! Pods not yet terminal are marked Failed before they are force-deleted.

use crate::cluster::taints::{self, OUT_OF_SERVICE};
use crate::core::api_errors;
use crate::core::credentials::Identity;
use crate::core::informers::{Informer, Informers};
use crate::workloads::pods;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// --terminated-pod-gc-threshold default.
pub const DEFAULT_TERMINATED_THRESHOLD: usize = 12500;
/// How often the collector looks (upstream's gcCheckPeriod).
const CHECK_PERIOD: Duration = Duration::from_secs(20);
/// How long a missing node is waited for before its pods go (upstream's quarantineTime).
const QUARANTINE: Duration = Duration::from_secs(40);

/// Subscribe to Pods and Nodes now; the returned future runs the collector.
pub fn start(informers: &Informers, threshold: usize) -> impl Future<Output = ()> + Send + 'static {
    let pods = informers.get::<Pod>();
    let nodes = informers.get::<Node>();
    let client = informers.client_as(Identity::Controller("pod-garbage-collector"));
    async move {
        if pods.store().wait_until_ready().await.is_err() || nodes.store().wait_until_ready().await.is_err() {
            return;
        }
        let mut gc = PodGc {
            client,
            pods,
            nodes,
            threshold,
            missing: HashMap::new(),
        };
        let mut tick = tokio::time::interval(CHECK_PERIOD);
        loop {
            tick.tick().await;
            gc.pass().await;
        }
    }
}

struct PodGc {
    client: Client,
    pods: Informer<Pod>,
    nodes: Informer<Node>,
    threshold: usize,
    /// Nodes pods are bound to that the store lacks, since when.
    missing: HashMap<String, Instant>,
}

fn is_terminated(pod: &Pod) -> bool {
    !matches!(pods::phase(pod), "Pending" | "Running" | "Unknown")
}

fn is_evicted(pod: &Pod) -> bool {
    pods::phase(pod) == "Failed" && pod.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("Evicted")
}

fn node_name(pod: &Pod) -> &str {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or("")
}

fn is_node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

/// The terminated pods to delete beyond `threshold`: evicted first, then oldest, by name.
pub fn terminated_to_delete(pods: &[Arc<Pod>], threshold: usize) -> Vec<Arc<Pod>> {
    let mut terminated: Vec<Arc<Pod>> = pods.iter().filter(|p| is_terminated(p)).cloned().collect();
    if terminated.len() <= threshold {
        return Vec::new();
    }
    let excess = terminated.len() - threshold;
    terminated.sort_by(|a, b| {
        let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
        is_evicted(b)
            .cmp(&is_evicted(a))
            .then_with(|| created(a).cmp(&created(b)))
            .then_with(|| a.name_any().cmp(&b.name_any()))
    });
    terminated.truncate(excess);
    terminated
}

impl PodGc {
    async fn pass(&mut self) {
        let all = self.pods.store().state();
        if self.threshold > 0 {
            for pod in terminated_to_delete(&all, self.threshold) {
                self.delete(&pod, None).await;
            }
        }
        for pod in &all {
            if pod.metadata.deletion_timestamp.is_none() {
                continue;
            }
            let node = node_name(pod);
            if node.is_empty() {
                // Terminating and never scheduled: nothing will ever finish it.
                self.delete(pod, None).await;
                continue;
            }
            let out_of_service = self
                .nodes
                .get(None, node)
                .is_some_and(|n| !is_node_ready(&n) && taints::of(&n).iter().any(|t| t.key == OUT_OF_SERVICE));
            if out_of_service {
                self.delete(pod, None).await;
            }
        }
        self.orphans(&all).await;
    }

    /// Pods of nodes that are gone, once the node stayed missing through the quarantine.
    async fn orphans(&mut self, all: &[Arc<Pod>]) {
        let now = Instant::now();
        let mut still_missing: HashSet<String> = HashSet::new();
        for pod in all {
            let node = node_name(pod);
            if !node.is_empty() && self.nodes.get(None, node).is_none() {
                still_missing.insert(node.to_string());
            }
        }
        self.missing.retain(|n, _| still_missing.contains(n));
        for n in &still_missing {
            self.missing.entry(n.clone()).or_insert(now);
        }
        let due: Vec<String> = self
            .missing
            .iter()
            .filter(|(_, since)| now.duration_since(**since) >= QUARANTINE)
            .map(|(n, _)| n.clone())
            .collect();
        let api: Api<Node> = Api::all(self.client.clone());
        for node in due {
            self.missing.remove(&node);
            match api.get(&node).await {
                Err(e) if api_errors::is_not_found(&e) => {}
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(%node, error = %e, "error while getting node");
                    continue;
                }
            }
            for pod in all.iter().filter(|p| node_name(p) == node) {
                tracing::info!(pod = %pod.name_any(), %node, "found orphaned Pod assigned to the Node, deleting");
                let condition = serde_json::json!({
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "DeletionByPodGC",
                    "message": "PodGC: node no longer exists",
                    "lastTransitionTime": Time(Timestamp::now()),
                });
                self.delete(pod, Some(condition)).await;
            }
        }
    }

    /// Mark the pod Failed (with `condition`) unless it is terminal, then force-delete it
    /// (upstream's markFailedAndDeletePodWithCondition).
    async fn delete(&self, pod: &Pod, condition: Option<serde_json::Value>) {
        let namespace = pod.namespace().unwrap_or_default();
        let name = pod.name_any();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        tracing::info!(%namespace, pod = %name, "PodGC is force deleting Pod");
        if !matches!(pods::phase(pod), "Succeeded" | "Failed") {
            let mut status = serde_json::json!({"phase": "Failed"});
            if let Some(c) = condition {
                status["conditions"] = serde_json::json!([c]);
            }
            let patch = serde_json::json!({"status": status});
            match api
                .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                .await
            {
                Ok(_) => {}
                Err(e) if api_errors::is_not_found(&e) => return,
                Err(e) => {
                    tracing::warn!(%namespace, pod = %name, error = %e, "could not mark the pod Failed");
                    return;
                }
            }
        }
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => {}
            Err(e) if api_errors::is_not_found(&e) => {}
            Err(e) => tracing::warn!(%namespace, pod = %name, error = %e, "could not delete the pod"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodStatus;

    fn pod(name: &str, phase: &str, created: i64, reason: Option<&str>) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.creation_timestamp = Some(Time(Timestamp::from_second(created).unwrap()));
        p.status = Some(PodStatus {
            phase: Some(phase.into()),
            reason: reason.map(Into::into),
            ..Default::default()
        });
        Arc::new(p)
    }

    #[test]
    fn terminated_pods_beyond_the_threshold_go_evicted_and_oldest_first() {
        let pods = vec![
            pod("running", "Running", 1, None),
            pod("old", "Succeeded", 10, None),
            pod("new", "Failed", 30, None),
            pod("evicted", "Failed", 40, Some("Evicted")),
            pod("mid", "Succeeded", 20, None),
        ];
        let names = |v: Vec<Arc<Pod>>| v.iter().map(|p| p.name_any()).collect::<Vec<_>>();
        assert_eq!(names(terminated_to_delete(&pods, 2)), ["evicted", "old"]);
        assert!(terminated_to_delete(&pods, 4).is_empty());
    }
}
