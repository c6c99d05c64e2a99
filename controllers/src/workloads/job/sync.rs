//! One Job's sync: count finished pods (finalizer first recorded in uncountedTerminatedPods, then
//! lifted, then counted), decide success, failure, suspension or progress, create or delete pods,
//! and write the status.

use super::{indexes, Context};
use crate::core::api_errors;
use crate::core::status;
use crate::workloads::pods;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;

const TRACKING: &str = "batch.kubernetes.io/job-tracking";
const INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// Upstream's pod failure backoff: 10 s doubling up to 6 minutes.
const BACKOFF_BASE: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(360);

pub async fn sync(cached: &Job, ctx: &Context) -> Result<Action, kube::Error> {
    let uid = cached.uid().unwrap_or_default();
    if cached.metadata.deletion_timestamp.is_some() || !ctx.expectations.satisfied(&uid, ctx.pods.store()) {
        return Ok(Action::await_change());
    }
    let namespace = cached.namespace().unwrap_or_default();
    // The status counts pods whose finalizer is already gone: decide on the latest one, never on
    // a cached copy older than the pods seen (that would count a finished pod as missing).
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
    let Some(fresh) = jobs.get_opt(&cached.name_any()).await? else {
        return Ok(Action::await_change());
    };
    if fresh.uid() != cached.uid() {
        return Ok(Action::await_change());
    }
    let job = &fresh;
    let pod_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let spec = job.spec.clone().unwrap_or_default();
    let old = job.status.clone().unwrap_or_default();
    let mut status = old.clone();
    let mut owned = ctx.pods.owned_by(&uid);
    let mut seen = BTreeSet::new();
    owned.retain(|p| seen.insert(p.uid()));
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");

    // 1. Finished pods: recorded as uncounted, their finalizer lifted, then counted.
    let mut uncounted = status.uncounted_terminated_pods.clone().unwrap_or_default();
    let recorded: BTreeSet<String> = uncounted
        .succeeded
        .iter()
        .chain(uncounted.failed.iter())
        .flatten()
        .cloned()
        .collect();
    let mut newly = false;
    for pod in &owned {
        let pod_uid = pod.uid().unwrap_or_default();
        if !has_tracking(pod) || recorded.contains(&pod_uid) {
            continue;
        }
        match outcome(pod) {
            Outcome::Succeeded => uncounted.succeeded.get_or_insert_with(Vec::new).push(pod_uid),
            Outcome::Failed => uncounted.failed.get_or_insert_with(Vec::new).push(pod_uid),
            // Deleted before it finished (by this loop or anyone): not counted, let go.
            Outcome::Deleted => {
                release(&pod_api, pod).await?;
                continue;
            }
            Outcome::Running => continue,
        }
        newly = true;
    }
    if newly {
        status.uncounted_terminated_pods = Some(uncounted);
        write_status(ctx, job, &old, status).await?;
        return Ok(Action::await_change());
    }
    let mut completed = indexes::parse(status.completed_indexes.as_deref().unwrap_or(""));
    for (list, succeeded) in [(&mut uncounted.succeeded, true), (&mut uncounted.failed, false)] {
        let mut still = Vec::new();
        for pod_uid in list.take().unwrap_or_default() {
            let pod = owned.iter().find(|p| p.uid().as_deref() == Some(pod_uid.as_str()));
            match pod {
                Some(pod) if has_tracking(pod) => {
                    release(&pod_api, pod).await?;
                    still.push(pod_uid);
                }
                _ => {
                    if succeeded {
                        status.succeeded = Some(status.succeeded.unwrap_or(0) + 1);
                        if let Some(i) = pod.and_then(|p| completion_index(p)) {
                            completed.insert(i);
                        }
                    } else {
                        status.failed = Some(status.failed.unwrap_or(0) + 1);
                    }
                }
            }
        }
        *list = Some(still);
    }
    let still_uncounted = uncounted
        .succeeded
        .iter()
        .chain(uncounted.failed.iter())
        .flatten()
        .count();
    status.uncounted_terminated_pods = Some(uncounted);
    if indexed {
        status.completed_indexes = Some(indexes::format(&completed));
    }
    if still_uncounted > 0 {
        // Finished pods not counted yet: nothing is decided until they are (their finalizer's
        // removal syncs the Job again), or a finished pod would look like a missing one.
        write_status(ctx, job, &old, status).await?;
        return Ok(Action::await_change());
    }

    let active: Vec<&std::sync::Arc<Pod>> = owned.iter().filter(|p| outcome(p) == Outcome::Running).collect();
    let now = Timestamp::now();
    if finished(&status) {
        for pod in &active {
            delete_pod(ctx, job, &pod_api, pod).await?;
        }
        return finish_status(ctx, job, &old, status, &owned).await;
    }

    // 2. Suspension.
    if spec.suspend == Some(true) {
        for pod in &active {
            delete_pod(ctx, job, &pod_api, pod).await?;
        }
        if !condition_is(&status, "Suspended", "True") {
            set_condition(&mut status, "Suspended", "True", "JobSuspended", "Job suspended", now);
            ctx.recorder.normal(job, "Suspended", "Job suspended".into());
        }
        status.start_time = None;
        return finish_status(ctx, job, &old, status, &owned).await;
    }
    if condition_is(&status, "Suspended", "True") {
        set_condition(&mut status, "Suspended", "False", "JobResumed", "Job resumed", now);
        ctx.recorder.normal(job, "Resumed", "Job resumed".into());
    }
    let started = status.start_time.get_or_insert(Time(now)).clone();

    // 3. Failure and success.
    let failed = status.failed.unwrap_or(0);
    let backoff_limit = spec.backoff_limit.unwrap_or(6);
    let deadline = spec
        .active_deadline_seconds
        .map(|s| started.0 + Duration::from_secs(s.max(0) as u64));
    let failure = if failed > backoff_limit {
        Some(("BackoffLimitExceeded", "Job has reached the specified backoff limit"))
    } else if deadline.is_some_and(|d| d <= now) {
        Some(("DeadlineExceeded", "Job was active longer than specified deadline"))
    } else {
        None
    };
    if let Some((reason, message)) = failure {
        for pod in &active {
            delete_pod(ctx, job, &pod_api, pod).await?;
        }
        set_condition(&mut status, "FailureTarget", "True", reason, message, now);
        set_condition(&mut status, "Failed", "True", reason, message, now);
        ctx.recorder.warning(job, reason, message.into());
        return finish_status(ctx, job, &old, status, &owned).await;
    }
    let completions = spec.completions;
    let succeeded = status.succeeded.unwrap_or(0);
    let done = match (indexed, completions) {
        (true, Some(c)) => completed.len() as i32 >= c,
        (false, Some(c)) => succeeded >= c,
        (_, None) => succeeded >= 1 && active.is_empty(),
    };
    if done {
        for pod in &active {
            delete_pod(ctx, job, &pod_api, pod).await?;
        }
        let message = "Reached expected number of succeeded pods";
        set_condition(
            &mut status,
            "SuccessCriteriaMet",
            "True",
            "CompletionsReached",
            message,
            now,
        );
        set_condition(&mut status, "Complete", "True", "CompletionsReached", message, now);
        status.completion_time = Some(Time(now));
        ctx.recorder.normal(job, "Completed", "Job completed".into());
        return finish_status(ctx, job, &old, status, &owned).await;
    }

    // 4. Progress: as many active pods as parallelism and the remaining completions allow.
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    let want = match completions {
        Some(c) if indexed => parallelism.min(c - completed.len() as i32),
        Some(c) => parallelism.min(c - succeeded),
        None if succeeded > 0 => 0,
        None => parallelism,
    }
    .max(0) as usize;
    let mut requeue = deadline.map(|d| duration_until(now, d));
    if active.len() > want {
        let mut extra = active.clone();
        extra.sort_by_key(|p| std::cmp::Reverse(p.metadata.creation_timestamp.clone().map(|t| t.0)));
        for pod in extra.into_iter().take(active.len() - want) {
            delete_pod(ctx, job, &pod_api, pod).await?;
        }
    } else if active.len() < want {
        let wait = backoff_remaining(&owned, failed, now);
        if wait.is_zero() {
            let busy: BTreeSet<i32> = active.iter().filter_map(|p| completion_index(p)).collect();
            let mut missing = (0..completions.unwrap_or(0)).filter(|i| !completed.contains(i) && !busy.contains(i));
            for _ in active.len()..want {
                let index = if indexed { missing.next() } else { None };
                if indexed && index.is_none() {
                    break;
                }
                create_pod(ctx, job, &pod_api, index).await?;
            }
        } else {
            requeue = Some(requeue.map_or(wait, |r| r.min(wait)));
        }
    }
    finish_status(ctx, job, &old, status, &owned).await?;
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// The counts of what is running now, then the status write.
async fn finish_status(
    ctx: &Context,
    job: &Job,
    old: &JobStatus,
    mut status: JobStatus,
    owned: &[std::sync::Arc<Pod>],
) -> Result<Action, kube::Error> {
    let running: Vec<&std::sync::Arc<Pod>> = owned.iter().filter(|p| outcome(p) == Outcome::Running).collect();
    status.active = Some(running.len() as i32);
    status.ready = Some(running.iter().filter(|p| pods::is_ready(p)).count() as i32);
    status.terminating = Some(owned.iter().filter(|p| outcome(p) == Outcome::Deleted).count() as i32);
    write_status(ctx, job, old, status).await?;
    Ok(Action::await_change())
}

async fn write_status(ctx: &Context, job: &Job, old: &JobStatus, status: JobStatus) -> Result<(), kube::Error> {
    if &status == old {
        return Ok(());
    }
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &job.namespace().unwrap_or_default());
    let mut body = serde_json::to_value(&status).unwrap_or_default();
    // A merge patch drops what the status no longer has.
    for key in ["startTime", "completionTime", "completedIndexes"] {
        if body.get(key).is_none() {
            body[key] = serde_json::Value::Null;
        }
    }
    // A PUT of the version read: a write from a stale cache fails, and the newer Job (already
    // on its way) syncs again.
    match status::update_status(&api, job, &json!({ "status": body })).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error),
    }
}

fn finished(status: &JobStatus) -> bool {
    condition_is(status, "Complete", "True") || condition_is(status, "Failed", "True")
}

fn condition_is(status: &JobStatus, type_: &str, value: &str) -> bool {
    status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == type_ && c.status == value)
}

fn set_condition(status: &mut JobStatus, type_: &str, value: &str, reason: &str, message: &str, now: Timestamp) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let fresh = JobCondition {
        type_: type_.into(),
        status: value.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) if existing.status == value => {}
        Some(existing) => *existing = fresh,
        None => conditions.push(fresh),
    }
}

/// Where a pod of the Job stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Running,
    Succeeded,
    Failed,
    /// Being deleted before it finished (suspension, scale-down, a user).
    Deleted,
}

fn outcome(pod: &Pod) -> Outcome {
    match pods::phase(pod) {
        "Succeeded" => Outcome::Succeeded,
        "Failed" => Outcome::Failed,
        _ if pod.metadata.deletion_timestamp.is_some() => Outcome::Deleted,
        _ => Outcome::Running,
    }
}

fn has_tracking(pod: &Pod) -> bool {
    pod.finalizers().iter().any(|f| f == TRACKING)
}

fn completion_index(pod: &Pod) -> Option<i32> {
    pod.annotations().get(INDEX)?.parse().ok()
}

/// Lift the tracking finalizer (pinned to the pod's resourceVersion, so no concurrent change of
/// its finalizers is lost; on a conflict the changed pod syncs the Job again).
async fn release(api: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    let rest: Vec<&String> = pod.finalizers().iter().filter(|f| *f != TRACKING).collect();
    let patch = json!({"metadata": {"finalizers": if rest.is_empty() { None } else { Some(rest) }, "resourceVersion": pod.resource_version()}});
    match api
        .patch(&pod.name_any(), &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if matches!(status.code, 404 | 409) => Ok(()),
        Err(error) => Err(error),
    }
}

/// How long new pods still wait after the last failure (10 s doubling per failure, 6 min cap).
fn backoff_remaining(owned: &[std::sync::Arc<Pod>], failed: i32, now: Timestamp) -> Duration {
    if failed == 0 {
        return Duration::ZERO;
    }
    let last_failure = owned
        .iter()
        .filter(|p| outcome(p) == Outcome::Failed)
        .filter_map(|p| finished_at(p))
        .max();
    let Some(last) = last_failure else {
        return Duration::ZERO;
    };
    let delay = BACKOFF_BASE
        .checked_mul(1u32 << (failed - 1).clamp(0, 16))
        .unwrap_or(BACKOFF_MAX)
        .min(BACKOFF_MAX);
    duration_until(now, last + delay)
}

fn finished_at(pod: &Pod) -> Option<Timestamp> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses
        .iter()
        .filter_map(|s| s.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref().map(|t| t.0))
        .max()
}

fn duration_until(now: Timestamp, then: Timestamp) -> Duration {
    Duration::try_from(then.duration_since(now)).unwrap_or(Duration::ZERO)
}

async fn create_pod(ctx: &Context, job: &Job, api: &Api<Pod>, index: Option<i32>) -> Result<(), kube::Error> {
    let spec = job.spec.clone().unwrap_or_default();
    let name = job.name_any();
    let prefix = match index {
        Some(i) => format!("{name}-{i}"),
        None => name.clone(),
    };
    let mut pod = pods::from_template(&spec.template, pods::controller_ref(job), &prefix, None);
    pod.metadata
        .finalizers
        .get_or_insert_with(Vec::new)
        .push(TRACKING.into());
    if let Some(i) = index {
        pod.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(INDEX.into(), i.to_string());
        pod.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(INDEX.into(), i.to_string());
        if let Some(pod_spec) = pod.spec.as_mut() {
            if pod_spec.hostname.is_none() {
                pod_spec.hostname = Some(format!("{name}-{i}"));
            }
            let env = EnvVar {
                name: "JOB_COMPLETION_INDEX".into(),
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: format!("metadata.annotations['{INDEX}']"),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            };
            for container in pod_spec
                .containers
                .iter_mut()
                .chain(pod_spec.init_containers.iter_mut().flatten())
            {
                container.env.get_or_insert_with(Vec::new).push(env.clone());
            }
        }
    }
    match api.create(&PostParams::default(), &pod).await {
        Ok(created) => {
            ctx.expectations.created(&job.uid().unwrap_or_default(), &created);
            ctx.recorder
                .normal(job, "SuccessfulCreate", format!("Created pod: {}", created.name_any()));
            Ok(())
        }
        Err(error) => {
            ctx.recorder.warning(
                job,
                "FailedCreate",
                format!("Error creating: {}", crate::workloads::events::api_message(&error)),
            );
            Err(error)
        }
    }
}

async fn delete_pod(ctx: &Context, job: &Job, api: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    api_errors::ignore_not_found(api.delete(&pod.name_any(), &DeleteParams::default()).await)?;
    ctx.expectations.deleted(&job.uid().unwrap_or_default(), pod);
    ctx.recorder
        .normal(job, "SuccessfulDelete", format!("Deleted pod: {}", pod.name_any()));
    Ok(())
}

/// Pods whose Job is gone (or is another Job of the same name) keep no tracking finalizer once
/// they finish or are being deleted.
pub async fn release_orphans(
    client: kube::Client,
    jobs: crate::core::informers::Informer<Job>,
    changes: impl futures::Stream<Item = std::sync::Arc<Pod>>,
) {
    use futures::StreamExt;
    futures::pin_mut!(changes);
    while let Some(pod) = changes.next().await {
        if !has_tracking(&pod) || outcome(&pod) == Outcome::Running {
            continue;
        }
        let owner = pods::controller_of(&pod.metadata).cloned();
        let live = owner
            .as_ref()
            .and_then(|o| jobs.get(pod.namespace().as_deref(), &o.name))
            .is_some_and(|job| job.uid().as_deref() == owner.as_ref().map(|o| o.uid.as_str()));
        if !live {
            let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
            if let Err(error) = release(&api, &pod).await {
                tracing::debug!(%error, pod = %pod.name_any(), "releasing an orphaned Job pod");
            }
        }
    }
}
