//! The pod lifecycle of a node agent (the kubelet's pod worker `SyncPod` / `SyncTerminatingPod`):
//! one sync brings a pod's containers as far as they can go now ([`plan`]), with the runtime
//! doing the work and the events Pulling / Pulled / Created / Started / Killing / BackOff
//! recorded, then reports the result in one status write ([`status`]), and finally deletes a
//! terminated pod that is being deleted with grace 0. Syncs are level-triggered and idempotent:
//! what runs is asked from the runtime, never remembered here.

pub mod plan;
pub mod status;

use self::plan::{init_kind, Inputs, Plan, Step, Waiting};
use self::status::{StatusInputs, KUBELET_CONDITIONS};
use super::backoff;
use super::format::{self, go_duration};
use super::pool::{NodeAgent, Pool};
use super::runtime::{ContainerKind, PodKey, PullPolicy, RuntimeError};
use crate::core::api_errors::is_not_found;
use k8s_openapi::api::core::v1::{Container, ObjectReference, Pod, PodCondition, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::ResourceExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::time::Duration;

/// Passes of plan-and-act per sync (instant steps, like init containers that complete at once,
/// all happen in one sync and one status write).
const MAX_PASSES: usize = 16;
/// The annotation that marks a mirror pod, holding its static pod's config hash.
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// How long a failed start waits before the next try.
const START_RETRY: Duration = Duration::from_secs(10);

/// The runtime's key of a pod: a mirror pod is its static pod (the config hash).
pub fn pod_key(pod: &Pod) -> PodKey {
    let uid = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(MIRROR_ANNOTATION))
        .cloned()
        .or_else(|| pod.metadata.uid.clone())
        .unwrap_or_default();
    PodKey {
        uid,
        namespace: pod.namespace().unwrap_or_default(),
        name: pod.name_any(),
    }
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|s| s.phase.as_deref())
}

/// Whether the pod ran longer than its `activeDeadlineSeconds`, and when it will if not yet.
fn deadline(pod: &Pod, started: Timestamp, now: Timestamp) -> Option<Result<(), Timestamp>> {
    let seconds = pod.spec.as_ref()?.active_deadline_seconds?;
    let at = started + Duration::from_secs(seconds.max(0) as u64);
    Some(if now >= at { Ok(()) } else { Err(at) })
}

/// Sync one pod bound to `agent`'s node.
pub async fn sync(pool: &Pool, agent: &NodeAgent, pod: &Pod) -> Result<Action, kube::Error> {
    let key = pod_key(pod);
    let api: Api<Pod> = Api::namespaced(pool.client.clone(), &key.namespace);
    let deleting = pod.metadata.deletion_timestamp.is_some();
    if deleting && agent.static_is_live(pod) {
        // The mirror of a static pod that still runs: deleted now, made anew by the static pod
        // manager; the static pod itself keeps running.
        delete_now(&api, pod).await?;
        return Ok(Action::await_change());
    }
    let terminal_phase = matches!(phase(pod), Some("Succeeded" | "Failed"));
    if !deleting && !terminal_phase && !agent.static_is_live(pod) {
        if let Err(rejection) = agent.admit(pool, &key.uid, pod) {
            return reject(pool, agent, &api, pod, rejection).await;
        }
    }
    let now = Timestamp::now();
    let start_time = agent.start_time(&key.uid, pod, now);
    let deadline = deadline(pod, start_time, now);
    let exceeded = matches!(deadline, Some(Ok(())));
    let stop_all = deleting || exceeded || terminal_phase;
    let host_network = pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false);
    let ips = agent.pod_ips(&key.uid, pod, host_network);
    let sandbox_ready = !ips.is_empty();
    let mut observed = pool.runtime.status(&key, pod).await;
    if terminal_phase && !deleting && observed.containers.is_empty() {
        // Done before this agent ran anything of it (rejected, or finished before a restart).
        return Ok(Action::await_change());
    }
    let mut plan = Plan::default();
    if sandbox_ready && !observed.sandbox && !stop_all {
        if let Err(error) = pool.runtime.run_sandbox(&key, &agent.config.name, pod).await {
            tracing::debug!(pod = %key.name, %error, "sandbox not created");
        }
        observed = pool.runtime.status(&key, pod).await;
    }
    if observed.sandbox || stop_all {
        for _ in 0..MAX_PASSES {
            plan = {
                let backoff = pool.backoff();
                plan::plan(&Inputs {
                    pod,
                    uid: &key.uid,
                    observed: &observed,
                    backoff: &backoff,
                    now: Timestamp::now(),
                    stop_all,
                })
            };
            if plan.steps.is_empty() {
                break;
            }
            for step in std::mem::take(&mut plan.steps) {
                execute(pool, agent, pod, &key, step, &mut plan).await;
            }
            observed = pool.runtime.status(&key, pod).await;
        }
    }
    let mut ready = BTreeMap::new();
    for c in all_containers(pod) {
        if observed.containers.get(&c.name).is_some_and(|h| h.current.running()) {
            ready.insert(c.name.clone(), pool.runtime.ready(&key, pod, c).await);
        }
    }
    let running = observed.containers.values().any(|h| h.current.running());
    let terminal = stop_all && !running;
    let previous = agent.previous_conditions(&key.uid, pod);
    let mut status = status::pod_status(&StatusInputs {
        pod,
        observed: &observed,
        plan: &plan,
        ready: &ready,
        sandbox_ready: sandbox_ready && observed.sandbox,
        host_ip: &agent.host_ip,
        pod_ips: &ips,
        start_time,
        terminal,
        previous: &previous,
        now: Timestamp::now(),
    });
    if exceeded {
        status.phase = Some("Failed".into());
        status.reason = Some("DeadlineExceeded".into());
        status.message = Some("Pod was active on the node longer than the specified deadline".into());
    }
    if deleting && terminal {
        if !observed.containers.is_empty() {
            write_status(agent, &api, pod, &key, &status).await?;
        }
        delete_now(&api, pod).await?;
        pool.forget(agent, pod);
        return Ok(Action::await_change());
    }
    write_status(agent, &api, pod, &key, &status).await?;
    backoff_events(pool, agent, pod, &key, &plan);
    if !pool.is_live(pod) {
        pool.forget(agent, pod);
        return Ok(Action::await_change());
    }
    let wake = [plan.next_wake(), deadline.and_then(|d| d.err())]
        .into_iter()
        .flatten()
        .min();
    Ok(match wake {
        Some(at) => Action::requeue(at.duration_since(Timestamp::now()).unsigned_abs() + Duration::from_millis(5)),
        None => Action::await_change(),
    })
}

/// Reject a pod the node cannot admit: a warning event and a Failed status with the reason.
async fn reject(
    pool: &Pool,
    agent: &NodeAgent,
    api: &Api<Pod>,
    pod: &Pod,
    rejection: super::admission::Rejection,
) -> Result<Action, kube::Error> {
    pool.events.emit(
        agent.index,
        &agent.recorder,
        pod_ref(pod),
        EventType::Warning,
        &rejection.reason,
        "Admit".into(),
        rejection.message.clone(),
    );
    let patch = json!({"metadata": {"uid": pod.metadata.uid}, "status": {
        "phase": "Failed",
        "reason": rejection.reason,
        "message": format!("Pod was rejected: {}", rejection.message),
    }});
    match api
        .patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Strategic(&patch))
        .await
    {
        Ok(_) => Ok(Action::await_change()),
        Err(e) if is_not_found(&e) => Ok(Action::await_change()),
        Err(e) => Err(e),
    }
}

fn all_containers(pod: &Pod) -> impl Iterator<Item = &Container> {
    let (inits, regular) = plan::containers(pod);
    inits.iter().chain(regular)
}

/// Delete a pod with grace 0, precondition on its uid (the kubelet's status manager does this
/// once a deleted pod's containers are gone).
async fn delete_now(api: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&pod.name_any(), &params).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        // The uid precondition failed: a new pod has the name; this one is gone.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// The reference events about a container carry.
fn container_ref(pod: &Pod, name: &str, kind: ContainerKind) -> ObjectReference {
    let list = if kind == ContainerKind::Regular {
        "containers"
    } else {
        "initContainers"
    };
    ObjectReference {
        field_path: Some(format!("spec.{list}{{{name}}}")),
        ..pod_ref(pod)
    }
}

pub fn pod_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: Some(pod.name_any()),
        namespace: pod.namespace(),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

/// Record an event about a container. kube-runtime's recorder folds repeats into a series by
/// regarding object and action (not the field path), so the action names the container, as
/// client-go's correlator keys on the field path.
fn container_event(
    pool: &Pool,
    agent: &NodeAgent,
    pod: &Pod,
    name: &str,
    kind: ContainerKind,
    type_: EventType,
    reason: &str,
    note: String,
) {
    pool.events.emit(
        agent.index,
        &agent.recorder,
        container_ref(pod, name, kind),
        type_,
        reason,
        format!("{reason} {name}"),
        note,
    );
}

fn grace(pod: &Pod) -> Duration {
    let seconds = pod
        .metadata
        .deletion_grace_period_seconds
        .or_else(|| pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds))
        .unwrap_or(30);
    Duration::from_secs(seconds.max(0) as u64)
}

async fn execute(pool: &Pool, agent: &NodeAgent, pod: &Pod, key: &PodKey, step: Step, plan: &mut Plan) {
    match step {
        Step::Stop { name, kind } => {
            container_event(
                pool,
                agent,
                pod,
                &name,
                kind,
                EventType::Normal,
                "Killing",
                format!("Stopping container {name}"),
            );
            pool.runtime.stop_container(key, pod, &name, grace(pod)).await;
        }
        Step::Start {
            name,
            kind,
            attempt,
            after_exit,
        } => {
            let Some(container) = all_containers(pod).find(|c| c.name == name) else {
                return;
            };
            let image = container.image.clone().unwrap_or_default();
            let policy = PullPolicy::of(container);
            let event =
                |type_, reason: &str, note: String| container_event(pool, agent, pod, &name, kind, type_, reason, note);
            let pulled = match pool.runtime.pull_image(&agent.config.name, &image, policy).await {
                Ok(pulled) => pulled,
                Err(error) => {
                    let (reason, message) = failure(&error, "ErrImagePull");
                    event(
                        EventType::Warning,
                        "Failed",
                        format!("Failed to pull image {image:?}: {message}"),
                    );
                    hold(plan, &name, reason, message);
                    return;
                }
            };
            if pulled.pulled {
                event(EventType::Normal, "Pulling", format!("Pulling image {image:?}"));
                event(
                    EventType::Normal,
                    "Pulled",
                    format!(
                        "Successfully pulled image {image:?} in {} ({} including waiting). Image size: {} bytes.",
                        go_duration(pulled.took),
                        go_duration(pulled.took_including_wait),
                        pulled.size_bytes
                    ),
                );
            } else {
                event(
                    EventType::Normal,
                    "Pulled",
                    format!("Container image {image:?} already present on machine and can be accessed by the pod"),
                );
            }
            if let Some(finished) = after_exit {
                pool.backoff()
                    .restarted(&backoff::key(&key.uid, &name), finished, Timestamp::now());
            }
            match pool
                .runtime
                .start_container(key, pod, container, kind, attempt, &pulled)
                .await
            {
                Ok(()) => {
                    event(EventType::Normal, "Created", "Container created".into());
                    event(EventType::Normal, "Started", "Container started".into());
                }
                Err(error) => {
                    let (reason, message) = failure(&error, "CreateContainerError");
                    event(EventType::Warning, "Failed", format!("Error: {message}"));
                    hold(plan, &name, reason, message);
                }
            }
        }
    }
}

/// The waiting reason and message of a runtime failure.
fn failure(error: &RuntimeError, default_reason: &'static str) -> (&'static str, String) {
    match error {
        RuntimeError::Image { reason, message } | RuntimeError::Container { reason, message } => {
            (reason, message.clone())
        }
        RuntimeError::Unsupported(message) => (default_reason, message.clone()),
    }
}

fn hold(plan: &mut Plan, name: &str, reason: &str, message: String) {
    plan.waiting.insert(
        name.to_string(),
        Waiting {
            reason: reason.into(),
            message,
            until: Some(Timestamp::now() + START_RETRY),
        },
    );
}

/// A BackOff warning for each container that has just entered its back-off.
fn backoff_events(pool: &Pool, agent: &NodeAgent, pod: &Pod, key: &PodKey, plan: &Plan) {
    for (name, waiting) in &plan.waiting {
        if waiting.reason != plan::CRASH_LOOP_BACK_OFF {
            continue;
        }
        let Some(until) = waiting.until else { continue };
        if !agent.note_backoff(&key.uid, name, until) {
            continue;
        }
        let kind = plan::containers(pod)
            .0
            .iter()
            .find(|c| &c.name == name)
            .map(init_kind)
            .unwrap_or(ContainerKind::Regular);
        container_event(
            pool,
            agent,
            pod,
            name,
            kind,
            EventType::Warning,
            "BackOff",
            format!(
                "Back-off restarting failed container {name} in pod {}",
                podfmt(pod, key)
            ),
        );
    }
}

/// `format.Pod` with the runtime uid (a static pod's is its config hash).
fn podfmt(pod: &Pod, key: &PodKey) -> String {
    let mut named = Pod::default();
    named.metadata.name = pod.metadata.name.clone();
    named.metadata.namespace = pod.metadata.namespace.clone();
    named.metadata.uid = Some(key.uid.clone());
    format::pod(&named)
}

/// The status fields the kubelet reports, as JSON (for comparison and the patch).
fn reported(status: &PodStatus) -> Value {
    let mut v = serde_json::to_value(status).unwrap_or(Value::Null);
    if let Some(map) = v.as_object_mut() {
        map.retain(|k, _| {
            matches!(
                k.as_str(),
                "phase"
                    | "conditions"
                    | "hostIP"
                    | "hostIPs"
                    | "podIP"
                    | "podIPs"
                    | "startTime"
                    | "initContainerStatuses"
                    | "containerStatuses"
                    | "observedGeneration"
                    | "reason"
                    | "message"
            )
        });
        if let Some(Value::Array(conditions)) = map.get_mut("conditions") {
            conditions.retain(|c| KUBELET_CONDITIONS.contains(&c["type"].as_str().unwrap_or_default()));
            conditions.sort_by(|a, b| a["type"].as_str().cmp(&b["type"].as_str()));
        }
    }
    v
}

/// Write the status unless the API already shows it (one write per lifecycle step).
async fn write_status(
    agent: &NodeAgent,
    api: &Api<Pod>,
    pod: &Pod,
    key: &PodKey,
    status: &PodStatus,
) -> Result<(), kube::Error> {
    let new = reported(status);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    // A mirror pod made anew is a new object to write to, though its runtime pod is the same.
    (&pod.metadata.uid, new.to_string()).hash(&mut hasher);
    let digest = hasher.finish();
    let conditions = status.conditions.clone().unwrap_or_default();
    let unchanged = pod.status.as_ref().map(reported).is_some_and(|old| {
        let mut old = old;
        // Fields we do not report (none) compare equal when absent on both sides.
        if let (Some(o), Some(n)) = (old.as_object_mut(), new.as_object()) {
            o.retain(|k, _| n.contains_key(k));
        }
        old == new
    });
    if unchanged || agent.written(&key.uid) == Some(digest) {
        agent.remember_written(&key.uid, digest, &conditions);
        return Ok(());
    }
    let mut body = serde_json::to_value(status).unwrap_or(Value::Null);
    let order: Vec<Value> = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
        .iter()
        .filter(|c| !KUBELET_CONDITIONS.contains(&c.type_.as_str()))
        .map(|c| json!({"type": c.type_}))
        .chain(conditions.iter().map(|c| json!({"type": c.type_})))
        .collect();
    if let Some(map) = body.as_object_mut() {
        map.insert("$setElementOrder/conditions".into(), Value::Array(order));
    }
    let patch = json!({"metadata": {"uid": pod.metadata.uid}, "status": body});
    match api
        .patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Strategic(&patch))
        .await
    {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
    }
    agent.remember_written(&key.uid, digest, &conditions);
    Ok(())
}

/// The conditions to carry transition times from: what this agent last wrote, else what the
/// API shows (after a restart).
pub fn previous_conditions(written: Option<&[(String, String, Timestamp)]>, pod: &Pod) -> Vec<PodCondition> {
    let reported = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let Some(written) = written else {
        return reported;
    };
    let mut conditions: Vec<PodCondition> = written
        .iter()
        .filter(|(t, _, _)| t != "PodScheduled")
        .map(|(type_, status, at)| PodCondition {
            type_: type_.clone(),
            status: status.clone(),
            last_transition_time: Some(Time(*at)),
            ..Default::default()
        })
        .collect();
    let scheduled = reported.into_iter().find(|c| c.type_ == "PodScheduled").or_else(|| {
        written
            .iter()
            .find(|(t, _, _)| t == "PodScheduled")
            .map(|(type_, status, at)| PodCondition {
                type_: type_.clone(),
                status: status.clone(),
                last_transition_time: Some(Time(*at)),
                ..Default::default()
            })
    });
    conditions.extend(scheduled);
    conditions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_pods_are_keyed_by_their_config_hash() {
        let mut pod = Pod::default();
        pod.metadata.name = Some("etcd-n1".into());
        pod.metadata.namespace = Some("kube-system".into());
        pod.metadata.uid = Some("api-uid".into());
        assert_eq!(pod_key(&pod).uid, "api-uid");
        pod.metadata.annotations = Some([(MIRROR_ANNOTATION.to_string(), "hash".to_string())].into());
        let key = pod_key(&pod);
        assert_eq!((key.uid.as_str(), key.name.as_str()), ("hash", "etcd-n1"));
    }

    #[test]
    fn container_events_name_the_container_field() {
        let mut pod = Pod::default();
        pod.metadata.name = Some("p".into());
        pod.metadata.uid = Some("u".into());
        let r = container_ref(&pod, "app", ContainerKind::Regular);
        assert_eq!(r.field_path.as_deref(), Some("spec.containers{app}"));
        let r = container_ref(&pod, "init", ContainerKind::Init);
        assert_eq!(r.field_path.as_deref(), Some("spec.initContainers{init}"));
        assert_eq!(r.uid.as_deref(), Some("u"));
    }

    #[test]
    fn active_deadlines_expire() {
        let mut pod = Pod::default();
        let t0 = Timestamp::from_second(1_700_000_000).unwrap();
        assert_eq!(deadline(&pod, t0, t0), None);
        pod.spec = Some(k8s_openapi::api::core::v1::PodSpec {
            active_deadline_seconds: Some(5),
            ..Default::default()
        });
        assert_eq!(deadline(&pod, t0, t0), Some(Err(t0 + Duration::from_secs(5))));
        assert_eq!(deadline(&pod, t0, t0 + Duration::from_secs(5)), Some(Ok(())));
    }

    #[test]
    fn transitions_come_from_the_last_write_and_scheduling_from_the_api() {
        let t0 = Timestamp::from_second(1_700_000_000).unwrap();
        let mut pod = Pod::default();
        pod.status = Some(PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "PodScheduled".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let written = vec![("Ready".to_string(), "True".to_string(), t0)];
        let prev = previous_conditions(Some(&written), &pod);
        assert_eq!(prev.len(), 2);
        assert_eq!(prev[0].last_transition_time, Some(Time(t0)));
        assert_eq!(previous_conditions(None, &pod).len(), 1);
    }
}
