//! The CronJob controller (upstream's cronjob_controllerv2): at each scheduled time of its
//! schedule (in `timeZone`, UTC by default) a CronJob makes a Job `<cronjob>-<minutes since the
//! epoch>` from its jobTemplate — only the most recent of missed times, none past
//! startingDeadlineSeconds, none at all after more than 100 misses (upstream's
//! TooManyMissedTimes) — honouring concurrencyPolicy Allow / Forbid / Replace and suspend,
//! keeps status.active, lastScheduleTime and lastSuccessfulTime, and deletes finished Jobs beyond
//! the successful and failed history limits. Woken by its CronJobs, their Jobs, and the clock.

use crate::core::api_errors;
use crate::core::backoff::ErrorBackoff;
use crate::core::credentials::Identity;
use crate::core::informers::{Informer, Informers};
use crate::core::status;
use crate::workloads::events::Recorder;
use crate::workloads::pods;
use crate::workloads::replicaset::is_kind;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams, PropagationPolicy};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};
use serde_json::json;
use skiff_machinery::cron;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

const CONTROLLER: &str = "cronjob-controller";
const SCHEDULED: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// Upstream stops counting missed start times here.
const MISSED_LIMIT: usize = 100;

struct Context {
    client: Client,
    jobs: Informer<Job>,
    recorder: Recorder,
    backoff: ErrorBackoff,
}

/// Subscribe to CronJobs and Jobs now; the returned future runs the loop.
pub fn start(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    let cronjobs = informers.get::<CronJob>();
    let jobs = informers.get::<Job>();
    let changes = cronjobs.subscribe();
    let job_changes = jobs.subscribe();
    let client = informers.client_as(Identity::Controller("cronjob-controller"));
    async move {
        let ctx = Arc::new(Context {
            recorder: Recorder::new(client.clone(), CONTROLLER),
            client,
            jobs,
            backoff: ErrorBackoff::default(),
        });
        let outcomes = Controller::for_shared_stream(changes, cronjobs.store().clone())
            .watches_shared_stream(job_changes, |job: Arc<Job>| {
                let owner =
                    pods::controller_of(&job.metadata).filter(|r| is_kind::<CronJob>(&r.api_version, &r.kind))?;
                Some(ObjectRef::<CronJob>::new(&owner.name).within(&job.namespace().unwrap_or_default()))
            })
            .run(
                |cronjob: Arc<CronJob>, ctx: Arc<Context>| async move {
                    let key = cronjob.uid().unwrap_or_default();
                    let result = sync(&cronjob, &ctx).await;
                    ctx.backoff.track(&key, result)
                },
                |cronjob, _error, ctx| ctx.backoff.requeue(&cronjob.uid().unwrap_or_default()),
                ctx,
            );
        crate::core::outcomes::drain(CONTROLLER, outcomes.boxed()).await;
    }
}

fn finished(job: &Job) -> Option<&'static str> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    conditions
        .iter()
        .find_map(|c| match (c.type_.as_str(), c.status.as_str()) {
            ("Complete", "True") => Some("Complete"),
            ("Failed", "True") => Some("Failed"),
            _ => None,
        })
}

async fn sync(cronjob: &CronJob, ctx: &Context) -> Result<Action, kube::Error> {
    if cronjob.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = cronjob.namespace().unwrap_or_default();
    let uid = cronjob.uid().unwrap_or_default();
    let spec = cronjob.spec.clone().unwrap_or_default();
    let job_api: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
    let mut owned = ctx.jobs.owned_by(&uid);
    owned.sort_by_key(|j| j.metadata.creation_timestamp.clone().map(|t| t.0));
    let old = cronjob.status.clone().unwrap_or_default();
    let mut status = old.clone();

    // Finished Jobs leave `active` (SawCompletedJob) and count for lastSuccessfulTime.
    let was_active: Vec<String> = old.active.iter().flatten().filter_map(|r| r.uid.clone()).collect();
    for job in &owned {
        if let Some(outcome) = finished(job) {
            if job.uid().is_some_and(|u| was_active.contains(&u)) {
                ctx.recorder.normal(
                    cronjob,
                    "SawCompletedJob",
                    format!("Saw completed job: {}, condition: {outcome}", job.name_any()),
                );
            }
            if outcome == "Complete" {
                let done = job.status.as_ref().and_then(|s| s.completion_time.clone());
                if done.as_ref().map(|t| t.0) > status.last_successful_time.as_ref().map(|t| t.0) {
                    status.last_successful_time = done;
                }
            }
        }
    }
    let active: Vec<&Arc<Job>> = owned
        .iter()
        .filter(|j| finished(j).is_none() && j.metadata.deletion_timestamp.is_none())
        .collect();
    status.active = Some(active.iter().map(|j| reference(j)).collect()).filter(|a: &Vec<_>| !a.is_empty());
    clean_history(
        ctx,
        cronjob,
        &job_api,
        &owned,
        spec.successful_jobs_history_limit.unwrap_or(3),
        "Complete",
    )
    .await?;
    clean_history(
        ctx,
        cronjob,
        &job_api,
        &owned,
        spec.failed_jobs_history_limit.unwrap_or(1),
        "Failed",
    )
    .await?;

    let schedule = match cron::parse(&spec.schedule) {
        Ok(schedule) => schedule,
        Err(error) => {
            ctx.recorder.warning(
                cronjob,
                "UnparseableSchedule",
                format!("unparseable schedule: {:?} : {error}", spec.schedule),
            );
            write_status(ctx, cronjob, &old, status).await?;
            return Ok(Action::await_change());
        }
    };
    let zone_name = spec.time_zone.clone().unwrap_or_else(|| "Etc/UTC".into());
    let Some(tz) = cron::time_zone(&zone_name) else {
        ctx.recorder
            .warning(cronjob, "UnknownTimeZone", format!("invalid timeZone: {zone_name:?}"));
        write_status(ctx, cronjob, &old, status).await?;
        return Ok(Action::await_change());
    };
    let now = Timestamp::now();
    let next_wake = |after: Timestamp| {
        schedule
            .next_after(after, tz)
            .map(|t| Duration::try_from(t.duration_since(now)).unwrap_or_default() + Duration::from_millis(100))
    };
    if spec.suspend == Some(true) {
        write_status(ctx, cronjob, &old, status).await?;
        return Ok(Action::await_change());
    }
    let mut earliest = status
        .last_schedule_time
        .as_ref()
        .or(cronjob.metadata.creation_timestamp.as_ref())
        .map_or(now, |t| t.0);
    if let Some(deadline) = spec.starting_deadline_seconds {
        let window = now - Duration::from_secs(deadline.max(0) as u64);
        if window > earliest {
            earliest = window;
        }
    }
    let (scheduled, missed) = schedule.missed(earliest, now, tz, MISSED_LIMIT);
    if missed > MISSED_LIMIT {
        ctx.recorder.warning(
            cronjob,
            "TooManyMissedTimes",
            "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".into(),
        );
    }
    let Some(scheduled) = scheduled else {
        write_status(ctx, cronjob, &old, status).await?;
        return Ok(next_wake(now).map_or_else(Action::await_change, Action::requeue));
    };
    let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
    if policy == "Forbid" && !active.is_empty() {
        ctx.recorder.normal(
            cronjob,
            "JobAlreadyActive",
            "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
        );
        write_status(ctx, cronjob, &old, status).await?;
        return Ok(next_wake(now).map_or_else(Action::await_change, Action::requeue));
    }
    if policy == "Replace" {
        for job in &active {
            let params = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                ..Default::default()
            };
            api_errors::ignore_not_found(job_api.delete(&job.name_any(), &params).await)?;
            ctx.recorder
                .normal(cronjob, "SuccessfulDelete", format!("Deleted job {}", job.name_any()));
        }
        status.active = None;
    }
    let created = create_job(ctx, cronjob, &job_api, scheduled, tz).await?;
    if let Some(job) = created {
        let mut refs = status.active.take().unwrap_or_default();
        refs.push(reference(&job));
        status.active = Some(refs);
    }
    status.last_schedule_time = Some(Time(scheduled));
    write_status(ctx, cronjob, &old, status).await?;
    Ok(next_wake(now).map_or_else(Action::await_change, Action::requeue))
}

/// The Job for the time `scheduled`; `None` when it exists already.
async fn create_job(
    ctx: &Context,
    cronjob: &CronJob,
    api: &Api<Job>,
    scheduled: Timestamp,
    tz: cron::Tz,
) -> Result<Option<Job>, kube::Error> {
    let template = cronjob
        .spec
        .as_ref()
        .map(|s| s.job_template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let name = format!("{}-{}", cronjob.name_any(), scheduled.as_second() / 60);
    let mut annotations = meta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED.into(), cron::rfc3339_in(scheduled, tz));
    let job = Job {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: cronjob.namespace(),
            labels: meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![pods::controller_ref(cronjob)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    };
    match api.create(&PostParams::default(), &job).await {
        Ok(job) => {
            ctx.recorder
                .normal(cronjob, "SuccessfulCreate", format!("Created job {name}"));
            Ok(Some(job))
        }
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(None),
        Err(error) => {
            ctx.recorder.warning(
                cronjob,
                "FailedCreate",
                format!("Error creating job: {}", crate::workloads::events::api_message(&error)),
            );
            Err(error)
        }
    }
}

/// Delete the oldest finished Jobs of `outcome` beyond `limit`.
async fn clean_history(
    ctx: &Context,
    cronjob: &CronJob,
    api: &Api<Job>,
    owned: &[Arc<Job>],
    limit: i32,
    outcome: &str,
) -> Result<(), kube::Error> {
    let done: Vec<&Arc<Job>> = owned
        .iter()
        .filter(|j| finished(j) == Some(outcome) && j.metadata.deletion_timestamp.is_none())
        .collect();
    let extra = done.len().saturating_sub(limit.max(0) as usize);
    for job in done.into_iter().take(extra) {
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        api_errors::ignore_not_found(api.delete(&job.name_any(), &params).await)?;
        ctx.recorder
            .normal(cronjob, "SuccessfulDelete", format!("Deleted job {}", job.name_any()));
    }
    Ok(())
}

fn reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: Some(job.name_any()),
        namespace: job.namespace(),
        uid: job.uid(),
        resource_version: job.resource_version(),
        ..Default::default()
    }
}

async fn write_status(
    ctx: &Context,
    cronjob: &CronJob,
    old: &k8s_openapi::api::batch::v1::CronJobStatus,
    status: k8s_openapi::api::batch::v1::CronJobStatus,
) -> Result<(), kube::Error> {
    let same_active = |a: &Option<Vec<ObjectReference>>| -> Vec<Option<String>> {
        a.iter().flatten().map(|r| r.uid.clone()).collect()
    };
    if same_active(&old.active) == same_active(&status.active)
        && old.last_schedule_time == status.last_schedule_time
        && old.last_successful_time == status.last_successful_time
    {
        return Ok(());
    }
    let api: Api<CronJob> = Api::namespaced(ctx.client.clone(), &cronjob.namespace().unwrap_or_default());
    let body = json!({
        "status": {
            "active": status.active,
            "lastScheduleTime": status.last_schedule_time,
            "lastSuccessfulTime": status.last_successful_time,
        },
    });
    match status::update_status(&api, cronjob, &body).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error),
    }
}
