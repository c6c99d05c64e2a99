//! The ReplicaSet and ReplicationController controllers (upstream's pkg/controller/replicaset,
//! which also runs the RC manager): one generic loop over [`ReplicaKind`], woken by changes of its
//! objects and of their pods (a pod's controller, the controller it had before, and, for orphans,
//! every object whose selector matches it).

pub mod kind;
pub mod ranking;
pub mod sync;

use crate::core::backoff::ErrorBackoff;
use crate::core::credentials::Identity;
use crate::core::expectations::Expectations;
use crate::core::informers::{Informer, Informers};
use crate::workloads::events::Recorder;
use crate::workloads::pods;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use kind::ReplicaKind;
use kube::runtime::controller::{Config, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, Resource, ResourceExt};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// Objects synced at once (kube-controller-manager's --concurrent-replicaset-syncs default).
const CONCURRENCY: u16 = 5;

/// What every sync of one kind shares.
pub struct Context<K: ReplicaKind> {
    pub client: Client,
    pub owners: Informer<K>,
    pub pods: Informer<Pod>,
    /// Pods each owner (by UID) created or deleted and has not seen in the store yet.
    pub expectations: Expectations<Pod>,
    pub recorder: Recorder,
    backoff: ErrorBackoff,
}

/// The ReplicaSet controller.
pub fn start_replica_sets(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    start::<ReplicaSet>(informers)
}

/// The ReplicationController manager.
pub fn start_replication_controllers(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    start::<ReplicationController>(informers)
}

/// Subscribe to `K` and pods now; the returned future runs the loop.
pub fn start<K: ReplicaKind>(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    let owners = informers.get::<K>();
    let pods = informers.get::<Pod>();
    let owner_changes = owners.subscribe();
    let pod_changes = pods.subscribe();
    let client = informers.client_as(Identity::Controller(K::CONTROLLER));
    async move {
        let ctx = Arc::new(Context {
            recorder: Recorder::new(client.clone(), K::CONTROLLER),
            client,
            owners: owners.clone(),
            pods: pods.clone(),
            expectations: Expectations::default(),
            backoff: ErrorBackoff::default(),
        });
        // A deleted owner's expectations are dropped (the object arrives in its last state).
        let forget = ctx.clone();
        let triggers = owner_changes.inspect(move |owner| {
            let live = forget.owners.get(owner.namespace().as_deref(), &owner.name_any());
            if live.and_then(|o| o.uid()) != owner.uid() {
                forget.expectations.forget(&owner.uid().unwrap_or_default());
            }
        });
        let mapper = PodOwners::<K> {
            owners: owners.clone(),
            pods,
            last: Mutex::new(HashMap::new()),
        };
        let outcomes = Controller::for_shared_stream(triggers, owners.store().clone())
            .with_config(Config::default().concurrency(CONCURRENCY))
            .watches_shared_stream(pod_changes, move |pod: Arc<Pod>| mapper.owners_of(&pod))
            .run(
                |object: Arc<K>, ctx: Arc<Context<K>>| async move {
                    let key = object.uid().unwrap_or_default();
                    let result = sync::sync(object, ctx.clone()).await;
                    ctx.backoff.track(&key, result)
                },
                |object, _error, ctx| ctx.backoff.requeue(&object.uid().unwrap_or_default()),
                ctx,
            );
        crate::core::outcomes::drain(K::CONTROLLER, outcomes).await;
    }
}

/// Maps a pod change to the owners that must look again.
struct PodOwners<K: ReplicaKind> {
    owners: Informer<K>,
    pods: Informer<Pod>,
    /// The controller each live pod (by UID) had when last seen.
    last: Mutex<HashMap<String, Option<ObjectRef<K>>>>,
}

impl<K: ReplicaKind> PodOwners<K> {
    fn owners_of(&self, pod: &Pod) -> Vec<ObjectRef<K>> {
        let namespace = pod.namespace().unwrap_or_default();
        let uid = pod.uid().unwrap_or_default();
        let current = pods::controller_of(&pod.metadata)
            .filter(|r| is_kind::<K>(&r.api_version, &r.kind))
            .map(|r| ObjectRef::<K>::new(&r.name).within(&namespace));
        let gone = self
            .pods
            .get(Some(&namespace), &pod.name_any())
            .is_none_or(|live| live.uid().as_deref() != Some(uid.as_str()));
        let previous = {
            let mut last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if gone {
                last.remove(&uid).flatten()
            } else {
                last.insert(uid, current.clone()).flatten()
            }
        };
        let mut wake: Vec<ObjectRef<K>> = current.iter().cloned().collect();
        if let Some(previous) = previous.filter(|p| Some(p) != current.as_ref()) {
            wake.push(previous);
        }
        if current.is_none() && !gone && pods::controller_of(&pod.metadata).is_none() {
            // An orphan: every object of ours in its namespace that would adopt it.
            for owner in self.owners.store().state() {
                if owner.namespace().as_deref() == Some(namespace.as_str())
                    && skiff_machinery::labels::matches(owner.selector().as_ref(), pod.labels())
                {
                    wake.push(ObjectRef::from_obj(owner.as_ref()));
                }
            }
        }
        wake
    }
}

/// Whether an owner reference's apiVersion and kind name `K` (any version of its group).
pub fn is_kind<K: Resource<DynamicType = ()>>(api_version: &str, kind: &str) -> bool {
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    kind == K::kind(&()) && group == K::group(&())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_kinds_match_by_group_and_kind() {
        assert!(is_kind::<ReplicaSet>("apps/v1", "ReplicaSet"));
        assert!(is_kind::<ReplicaSet>("apps/v1beta2", "ReplicaSet"));
        assert!(!is_kind::<ReplicaSet>("v1", "ReplicaSet"));
        assert!(is_kind::<ReplicationController>("v1", "ReplicationController"));
        assert!(!is_kind::<ReplicationController>("v1", "ReplicaSet"));
    }
}
