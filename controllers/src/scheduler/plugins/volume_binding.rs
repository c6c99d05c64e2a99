//! The VolumeBinding plugin (upstream's pkg/scheduler/framework/plugins/volumebinding), over the
//! shared claim, volume and class informers:
//! - Filter: a node outside a bound volume's node affinity is rejected
//!   (`node(s) had volume node affinity conflict`);
//! - PreBind: a claim that is missing, being deleted or unbound under an `Immediate` class fails
//!   the binding (the pod is retried with backoff); an unbound `WaitForFirstConsumer` claim gets
//!   the `volume.kubernetes.io/selected-node` annotation and the pod waits (up to upstream's 600 s
//!   bind timeout) until the persistent volume controller has bound it, so pods start only on
//!   bound claims.

use crate::core::credentials::Identity;
use crate::core::informers::{Informer, Informers};
use crate::scheduler::framework::{Plugin, Status, VolumeHooks};
use crate::scheduler::labels::NodeSelectorTerms;
use crate::scheduler::node_info::NodeInfo;
use crate::scheduler::pod_info::PodInfo;
use crate::workloads::pods::claim_names;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, Patch, PatchParams};
use kube::Client;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// Upstream's default bindTimeoutSeconds.
const BIND_TIMEOUT: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(100);

/// The plugin's view of the cluster.
#[derive(Clone)]
pub struct VolumeBinding {
    client: Client,
    claims: Informer<PersistentVolumeClaim>,
    volumes: Informer<PersistentVolume>,
    classes: Informer<StorageClass>,
}

impl VolumeBinding {
    pub fn new(informers: &Informers) -> VolumeBinding {
        VolumeBinding {
            client: informers.client_as(Identity::Scheduler),
            claims: informers.get::<PersistentVolumeClaim>(),
            volumes: informers.get::<PersistentVolume>(),
            classes: informers.get::<StorageClass>(),
        }
    }

    /// Whether `claim` waits for its first consumer before binding.
    fn waits_for_consumer(&self, claim: &PersistentVolumeClaim) -> bool {
        let class = claim
            .spec
            .as_ref()
            .and_then(|s| s.storage_class_name.as_deref())
            .unwrap_or_default();
        self.classes
            .get(None, class)
            .is_some_and(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"))
    }

    /// The claims the pod's volumes name, as the cache has them (None: not found).
    fn claims_of(&self, pod: &Pod) -> Vec<(String, Option<Arc<PersistentVolumeClaim>>)> {
        let namespace = pod.metadata.namespace.as_deref();
        claim_names(pod)
            .map(|name| (name.clone(), self.claims.get(namespace, &name)))
            .collect()
    }

    /// Check the pod's claims once: Ok(true) when all are bound, Ok(false) while some wait for
    /// the volume controller, Err for a claim that cannot bind as things are.
    async fn claims_ready(&self, pod: &Pod, node: &str) -> Result<bool, String> {
        let mut ready = true;
        for (name, claim) in self.claims_of(pod) {
            let Some(claim) = claim else {
                return Err(format!("persistentvolumeclaim \"{name}\" not found"));
            };
            if claim.metadata.deletion_timestamp.is_some() {
                return Err(format!("persistentvolumeclaim \"{name}\" is being deleted"));
            }
            if bound_volume(&claim).is_some() {
                continue;
            }
            if !self.waits_for_consumer(&claim) {
                return Err("pod has unbound immediate PersistentVolumeClaims".into());
            }
            ready = false;
            let selected = claim.metadata.annotations.as_ref().and_then(|a| a.get(SELECTED_NODE));
            if selected.map(String::as_str) != Some(node) {
                let api: Api<PersistentVolumeClaim> = Api::namespaced(
                    self.client.clone(),
                    claim.metadata.namespace.as_deref().unwrap_or_default(),
                );
                let patch = json!({"metadata": {"annotations": {SELECTED_NODE: node}}});
                api.patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                    .await
                    .map_err(|e| format!("binding volumes: {e}"))?;
            }
        }
        Ok(ready)
    }
}

/// The volume a claim is bound to, once the binder has completed it.
fn bound_volume(claim: &PersistentVolumeClaim) -> Option<&str> {
    let phase = claim.status.as_ref().and_then(|s| s.phase.as_deref());
    let name = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .filter(|n| !n.is_empty());
    name.filter(|_| phase == Some("Bound"))
}

impl VolumeHooks for VolumeBinding {
    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Option<Status> {
        let node = node.node.as_ref()?;
        let conflict = self.claims_of(&pod.pod).into_iter().any(|(_, claim)| {
            let Some(volume) = claim
                .as_deref()
                .and_then(bound_volume)
                .and_then(|v| self.volumes.get(None, v))
            else {
                return false;
            };
            let terms = volume
                .spec
                .as_ref()
                .and_then(|s| s.node_affinity.as_ref())
                .and_then(|a| a.required.as_ref())
                .map(|r| r.node_selector_terms.clone());
            terms.is_some_and(|terms| !NodeSelectorTerms::new(&terms).matches(node))
        });
        conflict.then(|| Status::unresolvable(Plugin::VolumeBinding, "node(s) had volume node affinity conflict"))
    }

    fn pre_bind(&self, pod: Arc<PodInfo>, node: String) -> BoxFuture<'static, Result<(), String>> {
        let this = self.clone();
        Box::pin(async move {
            let deadline = Instant::now() + BIND_TIMEOUT;
            while !this.claims_ready(&pod.pod, &node).await? {
                if Instant::now() > deadline {
                    return Err("binding volumes: context deadline exceeded".into());
                }
                tokio::time::sleep(POLL).await;
            }
            Ok(())
        })
    }
}
