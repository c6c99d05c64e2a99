//! The scheduler: kube-scheduler's default profile on the shared informers.
//!
//! Pods with an empty nodeName and schedulerName `default-scheduler` are queued by priority
//! ([`queue`]), scheduled one at a time against the scheduler's own cache of node infos and
//! assumed pods ([`cache`], [`algorithm`]) with the default profile's filter and score plugins
//! ([`plugins`]), bound asynchronously through pods/binding, and — when they fit nowhere —
//! reported with upstream's FailedScheduling message and retried with backoff when a cluster
//! event may help ([`hints`]), after preempting lower-priority pods where that makes room
//! ([`preemption`]). Like upstream's, the loop is a queue with its own ordering, backoff and
//! pools rather than a per-object reconciler, so it follows kube-runtime reflector stores and
//! change streams (the shared informers) instead of a `Controller`.

pub mod algorithm;
pub mod api;
pub mod cache;
pub mod framework;
pub mod hints;
pub mod labels;
pub mod listers;
pub mod node_info;
pub mod plugins;
pub mod pod_info;
pub mod preemption;
pub mod queue;
pub mod resources;
pub mod run;

use crate::core::credentials::Identity;
use crate::core::informers::Informers;
use framework::VolumeHooks;
use k8s_openapi::api::core::v1::{Node, Pod};
use std::future::Future;
use std::sync::Arc;

/// Subscribe the scheduler to the shared informers it needs and return its loop, which runs
/// until the informers' streams end, with the VolumeBinding plugin.
pub fn start(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    start_with_volumes(
        informers,
        Arc::new(plugins::volume_binding::VolumeBinding::new(informers)),
    )
}

/// [`start`] with the volume plugins' hooks (the persistent-volume support plugs in here).
pub fn start_with_volumes(
    informers: &Informers,
    volumes: Arc<dyn VolumeHooks>,
) -> impl Future<Output = ()> + Send + 'static {
    let pods = informers.get::<Pod>();
    let nodes = informers.get::<Node>();
    let pod_changes = pods.subscribe();
    let node_changes = nodes.subscribe();
    let listers = listers::InformerListers::new(informers);
    let scheduler = run::Scheduler::new(informers.client_as(Identity::Scheduler), pods, nodes, listers, volumes);
    scheduler.run(Box::pin(pod_changes), Box::pin(node_changes))
}
