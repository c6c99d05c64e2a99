//! The Job controller (upstream's pkg/controller/job): pods run to completion — `completions`
//! successes with up to `parallelism` at once, NonIndexed or Indexed (each index
//! `0..completions` once, with its completion-index annotation, label, `JOB_COMPLETION_INDEX` and
//! hostname) — counted through the `batch.kubernetes.io/job-tracking` finalizer and
//! `uncountedTerminatedPods` so that no finished pod is lost or counted twice; failures past
//! `backoffLimit` (new pods after an exponential backoff) or `activeDeadlineSeconds` fail the
//! Job; `suspend` removes its pods; pods of a deleted Job lose the finalizer. Conditions, status and events as upstream's. Also the
//! TTL-after-finished loop ([`ttl`]).

pub mod indexes;
pub mod sync;
pub mod ttl;

use crate::core::backoff::ErrorBackoff;
use crate::core::credentials::Identity;
use crate::core::expectations::Expectations;
use crate::core::informers::{Informer, Informers};
use crate::workloads::events::Recorder;
use crate::workloads::pods;
use crate::workloads::replicaset::is_kind;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::controller::{Config, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};
use std::future::Future;
use std::sync::Arc;

/// The controller's name (events' source).
pub const CONTROLLER: &str = "job-controller";
/// Jobs synced at once (kube-controller-manager's --concurrent-job-syncs default).
const CONCURRENCY: u16 = 5;

/// What every sync shares.
pub struct Context {
    pub client: Client,
    pub jobs: Informer<Job>,
    pub pods: Informer<Pod>,
    pub expectations: Expectations<Pod>,
    pub recorder: Recorder,
    backoff: ErrorBackoff,
}

/// Subscribe to Jobs and pods now; the returned future runs the Job loop and the TTL loop.
pub fn start(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    let jobs = informers.get::<Job>();
    let pods = informers.get::<Pod>();
    let job_changes = jobs.subscribe();
    let pod_changes = pods.subscribe();
    let orphan_changes = pods.subscribe();
    let ttl_loop = ttl::start(informers);
    let client = informers.client_as(Identity::Controller("job-controller"));
    async move {
        let ctx = Arc::new(Context {
            recorder: Recorder::new(client.clone(), CONTROLLER),
            client,
            jobs: jobs.clone(),
            pods,
            expectations: Expectations::default(),
            backoff: ErrorBackoff::default(),
        });
        let orphans = sync::release_orphans(ctx.client.clone(), jobs.clone(), orphan_changes);
        let outcomes = Controller::for_shared_stream(job_changes, jobs.store().clone())
            .with_config(Config::default().concurrency(CONCURRENCY))
            .watches_shared_stream(pod_changes, |pod: Arc<Pod>| job_of(&pod))
            .run(
                |job: Arc<Job>, ctx: Arc<Context>| async move {
                    let key = job.uid().unwrap_or_default();
                    let result = sync::sync(&job, &ctx).await;
                    ctx.backoff.track(&key, result)
                },
                |job, _error, ctx| ctx.backoff.requeue(&job.uid().unwrap_or_default()),
                ctx,
            );
        tokio::join!(
            crate::core::outcomes::drain(CONTROLLER, outcomes.boxed()),
            ttl_loop,
            orphans
        );
    }
}

/// The Job a pod's controller reference names.
fn job_of(pod: &Pod) -> Option<ObjectRef<Job>> {
    let owner = pods::controller_of(&pod.metadata).filter(|r| is_kind::<Job>(&r.api_version, &r.kind))?;
    Some(ObjectRef::new(&owner.name).within(&pod.namespace().unwrap_or_default()))
}
