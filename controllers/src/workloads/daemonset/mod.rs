//! The DaemonSet controller (upstream's pkg/controller/daemon): one pod per eligible node, pinned
//! through node affinity for the scheduler to bind, updated through ControllerRevisions by
//! RollingUpdate (maxUnavailable, maxSurge) or OnDelete, with upstream's status. Woken by changes
//! of DaemonSets, of their pods and ControllerRevisions, and of any node (every set looks again).

pub mod placement;
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
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::controller::{Config, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, Resource, ResourceExt};
use std::future::Future;
use std::sync::Arc;

/// Sets synced at once (kube-controller-manager's --concurrent-daemonset-syncs default).
const CONCURRENCY: u16 = 2;
/// The controller's name (events' source).
pub const CONTROLLER: &str = "daemonset-controller";

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error(transparent)]
    Claim(#[from] ClaimError),
    /// Creating or deleting pods failed.
    #[error("{0}")]
    Manage(String),
}

/// What every sync shares.
pub struct Context {
    pub client: Client,
    pub sets: Informer<DaemonSet>,
    pub pods: Informer<Pod>,
    pub nodes: Informer<Node>,
    pub revisions: Informer<ControllerRevision>,
    /// Pods each set (by UID) created or deleted and has not seen in the store yet.
    pub expectations: Expectations<Pod>,
    pub recorder: Recorder,
    backoff: ErrorBackoff,
}

/// Subscribe to DaemonSets, pods, nodes and ControllerRevisions now; the returned future runs
/// the loop.
pub fn start(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    let sets = informers.get::<DaemonSet>();
    let pods = informers.get::<Pod>();
    let nodes = informers.get::<Node>();
    let revisions = informers.get::<ControllerRevision>();
    let set_changes = sets.subscribe();
    let pod_changes = pods.subscribe();
    let node_changes = nodes.subscribe();
    let revision_changes = revisions.subscribe();
    let client = informers.client_as(Identity::Controller("daemon-set-controller"));
    async move {
        let ctx = Arc::new(Context {
            recorder: Recorder::new(client.clone(), CONTROLLER),
            client,
            sets: sets.clone(),
            pods,
            nodes,
            revisions,
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
        let all_sets = sets.clone();
        let outcomes = Controller::for_shared_stream(triggers, sets.store().clone())
            .with_config(Config::default().concurrency(CONCURRENCY))
            .watches_shared_stream(pod_changes, |pod: Arc<Pod>| controlling_set(pod.as_ref()))
            .watches_shared_stream(revision_changes, |revision: Arc<ControllerRevision>| {
                controlling_set(revision.as_ref())
            })
            .watches_shared_stream(node_changes, move |_node: Arc<Node>| {
                all_sets
                    .store()
                    .state()
                    .iter()
                    .map(|s| ObjectRef::from_obj(s.as_ref()))
                    .collect::<Vec<_>>()
            })
            .run(
                |set: Arc<DaemonSet>, ctx: Arc<Context>| async move {
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

/// The DaemonSet named by an object's controller reference.
fn controlling_set<K: Resource<DynamicType = ()>>(object: &K) -> Option<ObjectRef<DaemonSet>> {
    let owner = pods::controller_of(object.meta()).filter(|r| is_kind::<DaemonSet>(&r.api_version, &r.kind))?;
    Some(ObjectRef::new(&owner.name).within(&object.namespace().unwrap_or_default()))
}
