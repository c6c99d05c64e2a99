//! The StatefulSet controller (upstream's pkg/controller/statefulset): pods with stable ordinal
//! names and claims, created and deleted in order (OrderedReady) or all at once (Parallel),
//! updated through ControllerRevisions by RollingUpdate (partition, maxUnavailable) or OnDelete.
//! Woken by changes of StatefulSets, of their pods (the controller, or for orphans the set their
//! name belongs to) and of their ControllerRevisions.

pub mod identity;
pub mod revisions;
pub mod sync;
pub mod update;

use crate::core::backoff::ErrorBackoff;
use crate::core::credentials::Identity;
use crate::core::expectations::Expectations;
use crate::core::informers::{Informer, Informers};
use crate::workloads::claim::ClaimError;
use crate::workloads::events::Recorder;
use crate::workloads::pods;
use crate::workloads::replicaset::is_kind;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::runtime::controller::{Config, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, Resource, ResourceExt};
use std::future::Future;
use std::sync::Arc;

/// Sets synced at once (kube-controller-manager's --concurrent-statefulset-syncs default).
const CONCURRENCY: u16 = 5;
/// The controller's name (events' source).
pub const CONTROLLER: &str = "statefulset-controller";

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error(transparent)]
    Claim(#[from] ClaimError),
}

/// What every sync shares.
pub struct Context {
    pub client: Client,
    pub sets: Informer<StatefulSet>,
    pub pods: Informer<Pod>,
    pub revisions: Informer<ControllerRevision>,
    pub claims: Informer<PersistentVolumeClaim>,
    /// Pods each set (by UID) created or deleted and has not seen in the store yet.
    pub expectations: Expectations<Pod>,
    pub recorder: Recorder,
    backoff: ErrorBackoff,
}

/// Subscribe to StatefulSets, pods and ControllerRevisions now; the returned future runs the loop.
pub fn start(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    let sets = informers.get::<StatefulSet>();
    let pods = informers.get::<Pod>();
    let revisions = informers.get::<ControllerRevision>();
    let claims = informers.get::<PersistentVolumeClaim>();
    let set_changes = sets.subscribe();
    let pod_changes = pods.subscribe();
    let revision_changes = revisions.subscribe();
    let client = informers.client_as(Identity::Controller("statefulset-controller"));
    async move {
        let ctx = Arc::new(Context {
            recorder: Recorder::new(client.clone(), CONTROLLER),
            client,
            sets: sets.clone(),
            pods,
            revisions,
            claims,
            expectations: Expectations::default(),
            backoff: ErrorBackoff::default(),
        });
        // A deleted set's expectations are dropped (the object arrives in its last state).
        let forget = ctx.clone();
        let triggers = set_changes.inspect(move |set| {
            let live = forget.sets.get(set.namespace().as_deref(), &set.name_any());
            if live.and_then(|s| s.uid()) != set.uid() {
                forget.expectations.forget(&set.uid().unwrap_or_default());
            }
        });
        let pod_sets = sets.clone();
        let outcomes = Controller::for_shared_stream(triggers, sets.store().clone())
            .with_config(Config::default().concurrency(CONCURRENCY))
            .watches_shared_stream(pod_changes, move |pod: Arc<Pod>| set_of_pod(&pod, &pod_sets))
            .watches_shared_stream(revision_changes, |revision: Arc<ControllerRevision>| {
                controlling_set(revision.as_ref())
            })
            .run(
                |set: Arc<StatefulSet>, ctx: Arc<Context>| async move {
                    let key = set.uid().unwrap_or_default();
                    let result = sync::sync(set, &ctx).await;
                    ctx.backoff.track(&key, result)
                },
                |set, _error, ctx| ctx.backoff.requeue(&set.uid().unwrap_or_default()),
                ctx,
            );
        crate::core::outcomes::drain(CONTROLLER, outcomes).await;
    }
}

/// The StatefulSet named by an object's controller reference.
fn controlling_set<K: Resource<DynamicType = ()>>(object: &K) -> Option<ObjectRef<StatefulSet>> {
    let owner = pods::controller_of(object.meta()).filter(|r| is_kind::<StatefulSet>(&r.api_version, &r.kind))?;
    Some(ObjectRef::new(&owner.name).within(&object.namespace().unwrap_or_default()))
}

/// The set a pod belongs to: its controller, or for an orphan the set its name `<set>-<i>` names
/// when that set's selector matches it (upstream's getStatefulSetsForPod with isMemberOf).
fn set_of_pod(pod: &Pod, sets: &Informer<StatefulSet>) -> Option<ObjectRef<StatefulSet>> {
    if pods::controller_of(&pod.metadata).is_some() {
        return controlling_set(pod);
    }
    let namespace = pod.namespace().unwrap_or_default();
    let (parent, _) = pod
        .name_any()
        .rsplit_once('-')
        .map(|(p, o)| (p.to_string(), o.to_string()))?;
    let set = sets.get(Some(&namespace), &parent)?;
    let selector = set.spec.as_ref().map(|s| &s.selector);
    (selector.is_some_and(|s| !skiff_machinery::labels::is_empty(s))
        && skiff_machinery::labels::matches(selector, pod.labels()))
    .then(|| ObjectRef::from_obj(set.as_ref()))
}
