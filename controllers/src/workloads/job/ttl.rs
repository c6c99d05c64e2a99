//! The TTL-after-finished controller (upstream's pkg/controller/ttlafterfinished): a finished
//! Job (Complete or Failed) with `ttlSecondsAfterFinished` is deleted, with its pods in the
//! background, that many seconds after it finished.

use crate::core::api_errors;
use crate::core::backoff::ErrorBackoff;
use crate::core::credentials::Identity;
use crate::core::informers::Informers;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PropagationPolicy};
use kube::runtime::controller::{Action, Controller};
use kube::ResourceExt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

const CONTROLLER: &str = "ttl-after-finished-controller";

/// Subscribe to Jobs now; the returned future runs the loop.
pub fn start(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    let jobs = informers.get::<Job>();
    let changes = jobs.subscribe();
    let client = informers.client_as(Identity::Controller("ttl-after-finished-controller"));
    async move {
        let backoff = Arc::new(ErrorBackoff::default());
        let outcomes = Controller::for_shared_stream(changes, jobs.store().clone()).run(
            move |job: Arc<Job>, client: Arc<kube::Client>| {
                let backoff = backoff.clone();
                async move {
                    let key = job.uid().unwrap_or_default();
                    let result = expire(&job, &client).await;
                    backoff.track(&key, result)
                }
            },
            |_job, _error: &kube::Error, _| Action::requeue(Duration::from_secs(5)),
            Arc::new(client),
        );
        crate::core::outcomes::drain(CONTROLLER, outcomes.boxed()).await;
    }
}

/// Delete the Job once its time is up, or come back then.
async fn expire(job: &Job, client: &kube::Client) -> Result<Action, kube::Error> {
    let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else {
        return Ok(Action::await_change());
    };
    if job.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let finished_at = job
        .status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .filter(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .filter_map(|c| c.last_transition_time.as_ref().map(|t| t.0))
        .min();
    let Some(finished_at) = finished_at else {
        return Ok(Action::await_change());
    };
    let expires = finished_at + Duration::from_secs(ttl.max(0) as u64);
    let now = Timestamp::now();
    if expires > now {
        let wait = Duration::try_from(expires.duration_since(now)).unwrap_or(Duration::ZERO);
        return Ok(Action::requeue(wait + Duration::from_millis(50)));
    }
    let api: Api<Job> = Api::namespaced(client.clone(), &job.namespace().unwrap_or_default());
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        preconditions: Some(kube::api::Preconditions {
            uid: job.uid(),
            resource_version: None,
        }),
        ..Default::default()
    };
    api_errors::ignore_not_found(api.delete(&job.name_any(), &params).await)?;
    Ok(Action::await_change())
}
