//! The Deployment controller (upstream's pkg/controller/deployment): each Deployment's
//! ReplicaSets follow its template through RollingUpdate or Recreate rollouts. Woken by changes of
//! Deployments, of their ReplicaSets (the controller, the one before, and for orphans every
//! Deployment whose selector matches), and by deleted pods (a Recreate rollout waits for them).

pub mod progress;
pub mod recreate;
pub mod rolling;
pub mod sync;
pub mod util;

use crate::core::backoff::ErrorBackoff;
use crate::core::credentials::Identity;
use crate::core::informers::{Informer, Informers};
use crate::workloads::events::Recorder;
use crate::workloads::pods;
use crate::workloads::replicaset::is_kind;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::controller::{Config, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// Deployments synced at once (kube-controller-manager's --concurrent-deployment-syncs default).
const CONCURRENCY: u16 = 5;
/// The controller's name (events' source).
pub const CONTROLLER: &str = "deployment-controller";

/// What every sync shares.
pub struct Context {
    pub client: Client,
    pub deployments: Informer<Deployment>,
    pub replica_sets: Informer<ReplicaSet>,
    pub pods: Informer<Pod>,
    pub recorder: Recorder,
    backoff: ErrorBackoff,
}

/// Subscribe to Deployments, ReplicaSets and pods now; the returned future runs the loop.
pub fn start(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    let deployments = informers.get::<Deployment>();
    let replica_sets = informers.get::<ReplicaSet>();
    let pods = informers.get::<Pod>();
    let deployment_changes = deployments.subscribe();
    let rs_changes = replica_sets.subscribe();
    let pod_changes = pods.subscribe();
    let client = informers.client_as(Identity::Controller("deployment-controller"));
    async move {
        let ctx = Arc::new(Context {
            recorder: Recorder::new(client.clone(), CONTROLLER),
            client,
            deployments: deployments.clone(),
            replica_sets: replica_sets.clone(),
            pods: pods.clone(),
            backoff: ErrorBackoff::default(),
        });
        let rs_owners = RsOwners {
            deployments: deployments.clone(),
            replica_sets: replica_sets.clone(),
            last: Mutex::new(HashMap::new()),
        };
        let pod_owners = replica_sets.clone();
        let live_pods = pods.clone();
        let outcomes = Controller::for_shared_stream(deployment_changes, deployments.store().clone())
            .with_config(Config::default().concurrency(CONCURRENCY))
            .watches_shared_stream(rs_changes, move |rs: Arc<ReplicaSet>| rs_owners.owners_of(&rs))
            .watches_shared_stream(pod_changes, move |pod: Arc<Pod>| {
                deleted_pod_owner(&pod, &live_pods, &pod_owners)
            })
            .run(
                |d: Arc<Deployment>, ctx: Arc<Context>| async move {
                    let key = d.uid().unwrap_or_default();
                    let result = sync::sync(d, &ctx).await;
                    ctx.backoff.track(&key, result)
                },
                |d, _error, ctx| ctx.backoff.requeue(&d.uid().unwrap_or_default()),
                ctx,
            );
        crate::core::outcomes::drain(CONTROLLER, outcomes).await;
    }
}

/// Maps a ReplicaSet change to the Deployments that must look again.
struct RsOwners {
    deployments: Informer<Deployment>,
    replica_sets: Informer<ReplicaSet>,
    /// The controlling Deployment each live ReplicaSet (by UID) had when last seen.
    last: Mutex<HashMap<String, Option<ObjectRef<Deployment>>>>,
}

impl RsOwners {
    fn owners_of(&self, rs: &ReplicaSet) -> Vec<ObjectRef<Deployment>> {
        let namespace = rs.namespace().unwrap_or_default();
        let uid = rs.uid().unwrap_or_default();
        let controller = pods::controller_of(&rs.metadata);
        let current = controller
            .filter(|r| is_kind::<Deployment>(&r.api_version, &r.kind))
            .map(|r| ObjectRef::<Deployment>::new(&r.name).within(&namespace));
        let gone = self
            .replica_sets
            .get(Some(&namespace), &rs.name_any())
            .is_none_or(|live| live.uid().as_deref() != Some(uid.as_str()));
        let previous = {
            let mut last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if gone {
                last.remove(&uid).flatten()
            } else {
                last.insert(uid, current.clone()).flatten()
            }
        };
        let mut wake: Vec<ObjectRef<Deployment>> = current.iter().cloned().collect();
        if let Some(previous) = previous.filter(|p| Some(p) != current.as_ref()) {
            wake.push(previous);
        }
        if controller.is_none() && !gone {
            for d in self.deployments.store().state() {
                let selector = d.spec.as_ref().map(|s| &s.selector);
                if d.namespace().as_deref() == Some(namespace.as_str())
                    && selector.is_some_and(|s| !skiff_machinery::labels::is_empty(s))
                    && skiff_machinery::labels::matches(selector, rs.labels())
                {
                    wake.push(ObjectRef::from_obj(d.as_ref()));
                }
            }
        }
        wake
    }
}

/// The Deployment of a deleted pod's ReplicaSet (pod updates do not concern Deployments).
fn deleted_pod_owner(
    pod: &Pod,
    live: &Informer<Pod>,
    replica_sets: &Informer<ReplicaSet>,
) -> Option<ObjectRef<Deployment>> {
    let namespace = pod.namespace().unwrap_or_default();
    let still_there = live
        .get(Some(&namespace), &pod.name_any())
        .is_some_and(|p| p.uid() == pod.uid());
    if still_there {
        return None;
    }
    let owner = pods::controller_of(&pod.metadata).filter(|r| is_kind::<ReplicaSet>(&r.api_version, &r.kind))?;
    let rs = replica_sets.get(Some(&namespace), &owner.name)?;
    let deployment = pods::controller_of(&rs.metadata).filter(|r| is_kind::<Deployment>(&r.api_version, &r.kind))?;
    Some(ObjectRef::new(&deployment.name).within(&namespace))
}
