//! The disruption controller (upstream's pkg/controller/disruption): keeps every
//! PodDisruptionBudget's status — expectedPods, desiredHealthy from minAvailable or
//! maxUnavailable (integers, or percentages of the scale of the pods' controllers: Deployment,
//! ReplicaSet, StatefulSet, ReplicationController, or any resource with a scale subresource),
//! currentHealthy (Ready pods not being deleted and not just disrupted), disruptionsAllowed,
//! disruptedPods (entries dropped once the pod is deleted or two minutes pass), observedGeneration
//! and the DisruptionAllowed condition (SufficientPods / InsufficientPods, SyncFailed when the
//! status cannot be computed). The eviction subresource reads disruptionsAllowed. It also turns
//! DisruptionTarget conditions of pods that were never deleted False after two minutes.

use crate::core::api_errors;
use crate::core::backoff::ErrorBackoff;
use crate::core::credentials::Identity;
use crate::core::informers::{Informer, Informers};
use crate::workloads::events::{api_message, Recorder};
use crate::workloads::pods;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a pod stays in disruptedPods waiting to be seen deleted (upstream's DeletionTimeout).
pub const DELETION_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a DisruptionTarget condition may stand on a pod that is not being deleted.
const STALE_DISRUPTION_TIMEOUT: Duration = Duration::from_secs(120);
const COMPONENT: &str = "controllermanager";
const CONDITION: &str = "DisruptionAllowed";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", api_message(.0))]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Sync(String),
}

struct Context {
    client: Client,
    pods: Informer<Pod>,
    replica_sets: Informer<ReplicaSet>,
    deployments: Informer<Deployment>,
    stateful_sets: Informer<StatefulSet>,
    controllers: Informer<ReplicationController>,
    recorder: Recorder,
    backoff: ErrorBackoff,
}

/// Subscribe to PDBs, pods and the workload kinds now; the returned future runs the controller.
pub fn start(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    let pdbs = informers.get::<PodDisruptionBudget>();
    let pods = informers.get::<Pod>();
    let pdb_changes = pdbs.subscribe();
    let pod_changes = pods.subscribe();
    let stale_changes = pods.subscribe();
    let client = informers.client_as(Identity::Controller("disruption-controller"));
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), COMPONENT),
        client,
        pods: pods.clone(),
        replica_sets: informers.get::<ReplicaSet>(),
        deployments: informers.get::<Deployment>(),
        stateful_sets: informers.get::<StatefulSet>(),
        controllers: informers.get::<ReplicationController>(),
        backoff: ErrorBackoff::default(),
    });
    async move {
        for ready in [
            ctx.pods.store().wait_until_ready().boxed(),
            pdbs.store().wait_until_ready().boxed(),
            ctx.replica_sets.store().wait_until_ready().boxed(),
            ctx.deployments.store().wait_until_ready().boxed(),
            ctx.stateful_sets.store().wait_until_ready().boxed(),
            ctx.controllers.store().wait_until_ready().boxed(),
        ] {
            if ready.await.is_err() {
                return;
            }
        }
        let stale = stale_disruptions(ctx.clone(), stale_changes);
        let lookup = pdbs.clone();
        let recorder = ctx.recorder.clone();
        let outcomes = Controller::for_shared_stream(pdb_changes, pdbs.store().clone())
            .watches_shared_stream(pod_changes, move |pod: Arc<Pod>| pdbs_for_pod(&lookup, &recorder, &pod))
            .run(
                |pdb: Arc<PodDisruptionBudget>, ctx: Arc<Context>| async move {
                    let key = pdb.uid().unwrap_or_default();
                    let result = sync(&pdb, &ctx).await;
                    ctx.backoff.track(&key, result)
                },
                |pdb, _error, ctx| ctx.backoff.requeue(&pdb.uid().unwrap_or_default()),
                ctx.clone(),
            );
        tokio::join!(crate::core::outcomes::drain("disruption-controller", outcomes), stale);
    }
}

/// The PDBs of the pod's namespace whose (non-empty) selector matches it; several is a warning.
fn pdbs_for_pod(
    pdbs: &Informer<PodDisruptionBudget>,
    recorder: &Recorder,
    pod: &Pod,
) -> Vec<ObjectRef<PodDisruptionBudget>> {
    let namespace = pod.namespace();
    let mut found: Vec<Arc<PodDisruptionBudget>> = pdbs
        .store()
        .state()
        .into_iter()
        .filter(|p| p.namespace() == namespace)
        .filter(|p| {
            let selector = p.spec.as_ref().and_then(|s| s.selector.as_ref());
            selector.is_some_and(|s| !skiff_machinery::labels::is_empty(s))
                && skiff_machinery::labels::matches(selector, pod.labels())
        })
        .collect();
    found.sort_by_key(|p| p.name_any());
    if found.len() > 1 && pods::is_active(pod) {
        let msg = format!(
            "Pod {:?}/{:?} matches multiple PodDisruptionBudgets.  Chose {:?} arbitrarily.",
            pod.namespace().unwrap_or_default(),
            pod.name_any(),
            found[0].name_any()
        );
        recorder.warning(pod, "MultiplePodDisruptionBudgets", msg);
    }
    found.iter().map(|p| ObjectRef::from_obj(p.as_ref())).collect()
}

/// The pods the PDB selects (an empty selector selects the whole namespace).
fn pods_of(pdb: &PodDisruptionBudget, pods: &Informer<Pod>) -> Vec<Arc<Pod>> {
    let selector = pdb.spec.as_ref().and_then(|s| s.selector.as_ref());
    let namespace = pdb.namespace();
    pods.store()
        .state()
        .into_iter()
        .filter(|p| p.namespace() == namespace && skiff_machinery::labels::matches(selector, p.labels()))
        .collect()
}

/// An int or a percentage of `total`, percentages rounded up (upstream's
/// GetScaledValueFromIntOrPercent with roundUp).
pub fn scaled(value: &IntOrString, total: i32) -> Result<i32, String> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let Some(p) = s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) else {
                return Err("invalid value for IntOrString: invalid type: string is not a percentage".into());
            };
            Ok(((p * i64::from(total)) as f64 / 100.0).ceil() as i32)
        }
    }
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

fn is(r: &OwnerReference, kind: &str, groups: &[&str]) -> bool {
    r.kind == kind && groups.contains(&group_of(&r.api_version))
}

impl Context {
    /// The scale of the controller `r` refers to (upstream's finders: RC, Deployment through its
    /// ReplicaSet, ReplicaSet, StatefulSet, then any scale subresource).
    async fn scale_of(&self, r: &OwnerReference, namespace: &str) -> Result<Option<(String, i32)>, Error> {
        let ns = Some(namespace);
        if is(r, "ReplicationController", &[""]) {
            if let Some(rc) = self
                .controllers
                .get(ns, &r.name)
                .filter(|o| o.uid().as_deref() == Some(&r.uid))
            {
                return Ok(Some((
                    r.uid.clone(),
                    rc.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                )));
            }
            return Ok(None);
        }
        if is(r, "ReplicaSet", &["apps", "extensions"]) {
            let Some(rs) = self
                .replica_sets
                .get(ns, &r.name)
                .filter(|o| o.uid().as_deref() == Some(&r.uid))
            else {
                return Ok(None);
            };
            match pods::controller_of(&rs.metadata) {
                Some(owner) if owner.kind == "Deployment" => {
                    if !is(owner, "Deployment", &["apps", "extensions"]) {
                        return Ok(None);
                    }
                    let d = self
                        .deployments
                        .get(ns, &owner.name)
                        .filter(|o| o.uid().as_deref() == Some(&owner.uid));
                    return Ok(d.map(|d| (owner.uid.clone(), d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1))));
                }
                _ => {
                    return Ok(Some((
                        r.uid.clone(),
                        rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                    )))
                }
            }
        }
        if is(r, "StatefulSet", &["apps"]) {
            let ss = self
                .stateful_sets
                .get(ns, &r.name)
                .filter(|o| o.uid().as_deref() == Some(&r.uid));
            return Ok(ss.map(|s| (r.uid.clone(), s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1))));
        }
        // Anything else with a scale subresource.
        let (group, version) = match r.api_version.rsplit_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), r.api_version.clone()),
        };
        let gvk = GroupVersionKind::gvk(&group, &version, &r.kind);
        let (resource, caps) = kube::discovery::pinned_kind(&self.client, &gvk).await?;
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), namespace, &resource);
        match api.get_scale(&r.name).await {
            Ok(scale) if scale.metadata.uid.as_deref() == Some(r.uid.as_str()) => {
                Ok(Some((r.uid.clone(), scale.spec.and_then(|s| s.replicas).unwrap_or(0))))
            }
            Ok(_) => Ok(None),
            Err(e) if api_errors::is_not_found(&e) => {
                if caps.subresources.iter().any(|(s, _)| s.plural == "scale") {
                    Ok(None)
                } else {
                    let gr = if group.is_empty() {
                        resource.plural.clone()
                    } else {
                        format!("{}.{group}", resource.plural)
                    };
                    Err(Error::Sync(format!("{gr} does not implement the scale subresource")))
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The sum of the scales of the pods' controllers, and the pods without one (upstream's
    /// getExpectedScale).
    async fn expected_scale(&self, pods: &[Arc<Pod>]) -> Result<(i32, Vec<String>), Error> {
        let mut scales: HashMap<String, i32> = HashMap::new();
        let mut unmanaged = Vec::new();
        for pod in pods {
            let Some(r) = pods::controller_of(&pod.metadata) else {
                unmanaged.push(pod.name_any());
                continue;
            };
            if scales.contains_key(&r.uid) {
                continue;
            }
            match self.scale_of(r, &pod.namespace().unwrap_or_default()).await? {
                Some((uid, scale)) => {
                    scales.insert(uid, scale);
                }
                None => {
                    return Err(Error::Sync(format!(
                        "found no controllers for pod {:?}",
                        pod.name_any()
                    )))
                }
            }
        }
        Ok((scales.values().sum(), unmanaged))
    }

    /// expectedPods, desiredHealthy and the unmanaged pods (upstream's getExpectedPodCount).
    async fn expected(&self, pdb: &PodDisruptionBudget, pods: &[Arc<Pod>]) -> Result<(i32, i32, Vec<String>), Error> {
        let spec = pdb.spec.clone().unwrap_or_default();
        if let Some(max_unavailable) = &spec.max_unavailable {
            let (expected, unmanaged) = self.expected_scale(pods).await?;
            let max = scaled(max_unavailable, expected).map_err(Error::Sync)?;
            return Ok((expected, (expected - max).max(0), unmanaged));
        }
        match &spec.min_available {
            Some(IntOrString::Int(n)) => Ok((pods.len() as i32, *n, Vec::new())),
            Some(percent) => {
                let (expected, unmanaged) = self.expected_scale(pods).await?;
                let min = scaled(percent, expected).map_err(Error::Sync)?;
                Ok((expected, min, unmanaged))
            }
            None => Ok((0, 0, Vec::new())),
        }
    }
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX))
        .unwrap_or(Timestamp::MAX)
}

/// The disruptedPods entries still pending (the pod exists, is not being deleted, and its time is
/// not up), and the earliest time one expires (upstream's buildDisruptedPodMap).
pub fn disrupted_pods(
    pdb: &PodDisruptionBudget,
    pods: &[Arc<Pod>],
    now: Timestamp,
) -> (BTreeMap<String, Time>, Option<Timestamp>) {
    let mut kept = BTreeMap::new();
    let mut recheck: Option<Timestamp> = None;
    let Some(disrupted) = pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref()) else {
        return (kept, None);
    };
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(at) = disrupted.get(&pod.name_any()) else {
            continue;
        };
        let expires = add(at.0, DELETION_TIMEOUT);
        if expires < now {
            tracing::info!(pod = %pod.name_any(), pdb = %pdb.name_any(), "pod was expected to be deleted but it wasn't, updating PDB");
        } else {
            recheck = Some(recheck.map_or(expires, |r| r.min(expires)));
            kept.insert(pod.name_any(), at.clone());
        }
    }
    (kept, recheck)
}

/// Ready pods that are not being deleted and not pending a disruption (upstream's
/// countHealthyPods).
pub fn current_healthy(pods: &[Arc<Pod>], disrupted: &BTreeMap<String, Time>, now: Timestamp) -> i32 {
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            disrupted
                .get(&p.name_any())
                .is_none_or(|at| add(at.0, DELETION_TIMEOUT) <= now)
        })
        .filter(|p| pods::is_ready(p))
        .count() as i32
}

/// Set (or update) the condition of its type as upstream's meta.SetStatusCondition does.
pub fn set_condition(conditions: &mut Vec<Condition>, mut wanted: Condition, now: Timestamp) {
    match conditions.iter_mut().find(|c| c.type_ == wanted.type_) {
        None => {
            wanted.last_transition_time = Time(now);
            conditions.push(wanted);
        }
        Some(existing) => {
            if existing.status != wanted.status {
                existing.status = wanted.status;
                existing.last_transition_time = Time(now);
            }
            existing.reason = wanted.reason;
            existing.message = wanted.message;
            existing.observed_generation = wanted.observed_generation;
        }
    }
}

fn allowed_condition(status: &PodDisruptionBudgetStatus) -> Condition {
    let (value, reason) = if status.disruptions_allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    Condition {
        type_: CONDITION.into(),
        status: value.into(),
        reason: reason.into(),
        message: String::new(),
        observed_generation: status.observed_generation,
        last_transition_time: Time(Timestamp::now()),
    }
}

fn conditions_up_to_date(pdb: &PodDisruptionBudget) -> bool {
    let Some(status) = pdb.status.as_ref() else {
        return false;
    };
    let Some(c) = status
        .conditions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == CONDITION)
    else {
        return false;
    };
    if status.observed_generation != pdb.metadata.generation {
        return false;
    }
    if status.disruptions_allowed > 0 {
        c.status == "True" && c.reason == "SufficientPods"
    } else {
        c.status == "False" && c.reason == "InsufficientPods"
    }
}

/// The status for these counts (upstream's updatePdbStatus), None when it is already so.
pub fn next_status(
    pdb: &PodDisruptionBudget,
    current_healthy: i32,
    desired_healthy: i32,
    expected: i32,
    disrupted: BTreeMap<String, Time>,
) -> Option<PodDisruptionBudgetStatus> {
    let mut allowed = current_healthy - desired_healthy;
    if expected <= 0 || allowed <= 0 {
        allowed = 0;
    }
    let old = pdb.status.clone().unwrap_or_default();
    let same_disrupted = old.disrupted_pods.clone().unwrap_or_default() == disrupted;
    if old.current_healthy == current_healthy
        && old.desired_healthy == desired_healthy
        && old.expected_pods == expected
        && old.disruptions_allowed == allowed
        && same_disrupted
        && old.observed_generation == pdb.metadata.generation
        && conditions_up_to_date(pdb)
    {
        return None;
    }
    let mut status = PodDisruptionBudgetStatus {
        current_healthy,
        desired_healthy,
        expected_pods: expected,
        disruptions_allowed: allowed,
        disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
        observed_generation: pdb.metadata.generation,
        conditions: old.conditions,
    };
    let mut conditions = status.conditions.take().unwrap_or_default();
    set_condition(&mut conditions, allowed_condition(&status), Timestamp::now());
    status.conditions = Some(conditions);
    Some(status)
}

async fn write_status(
    ctx: &Context,
    pdb: &PodDisruptionBudget,
    status: PodDisruptionBudgetStatus,
) -> Result<(), kube::Error> {
    let mut next = pdb.clone();
    next.status = Some(status);
    let api: Api<PodDisruptionBudget> = Api::namespaced(ctx.client.clone(), &pdb.namespace().unwrap_or_default());
    api.replace_status(&pdb.name_any(), &PostParams::default(), &next)
        .await
        .map(drop)
}

async fn sync(pdb: &PodDisruptionBudget, ctx: &Context) -> Result<Action, Error> {
    match try_sync(pdb, ctx).await {
        Ok(action) => Ok(action),
        Err(Error::Api(kube::Error::Api(s))) if s.code == 409 => Err(Error::Api(kube::Error::Api(s))),
        Err(e) => {
            tracing::warn!(pdb = %pdb.name_any(), error = %e, "Failed to sync PDB");
            // Fail safe: allow no disruption while the status cannot be computed.
            let mut status = pdb.status.clone().unwrap_or_default();
            status.disruptions_allowed = 0;
            let mut conditions = status.conditions.take().unwrap_or_default();
            let failed = Condition {
                type_: CONDITION.into(),
                status: "False".into(),
                reason: "SyncFailed".into(),
                message: e.to_string(),
                observed_generation: status.observed_generation,
                last_transition_time: Time(Timestamp::now()),
            };
            set_condition(&mut conditions, failed, Timestamp::now());
            status.conditions = Some(conditions);
            write_status(ctx, pdb, status).await?;
            Err(e)
        }
    }
}

async fn try_sync(pdb: &PodDisruptionBudget, ctx: &Context) -> Result<Action, Error> {
    let pods = pods_of(pdb, &ctx.pods);
    if pods.is_empty() {
        ctx.recorder.normal(pdb, "NoPods", "No matching pods found".into());
    }
    let (expected, desired, unmanaged) = match ctx.expected(pdb, &pods).await {
        Ok(v) => v,
        Err(e) => {
            ctx.recorder.warning(
                pdb,
                "CalculateExpectedPodCountFailed",
                format!("Failed to calculate the number of expected pods: {e}"),
            );
            return Err(e);
        }
    };
    if !unmanaged.is_empty() {
        let selector = pdb
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .map(format_selector)
            .unwrap_or_else(|| "nil".into());
        ctx.recorder.warning(
            pdb,
            "UnmanagedPods",
            format!(
                "Pods selected by this PodDisruptionBudget (selector: {selector}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value."
            ),
        );
    }
    let now = Timestamp::now();
    let (disrupted, recheck) = disrupted_pods(pdb, &pods, now);
    let healthy = current_healthy(&pods, &disrupted, now);
    if let Some(status) = next_status(pdb, healthy, desired, expected, disrupted) {
        write_status(ctx, pdb, status).await?;
    }
    Ok(
        match recheck.and_then(|r| Duration::try_from(r.duration_since(Timestamp::now())).ok()) {
            Some(wait) => Action::requeue(wait),
            None => Action::await_change(),
        },
    )
}

/// A LabelSelector as Go's %v prints the struct pointer (`&LabelSelector{MatchLabels:...}`).
fn format_selector(s: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector) -> String {
    let labels: Vec<String> = s
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}: {v},"))
        .collect();
    let expressions: Vec<String> = s
        .match_expressions
        .iter()
        .flatten()
        .map(|e| {
            format!(
                "LabelSelectorRequirement{{Key:{},Operator:{},Values:[{}],}}",
                e.key,
                e.operator,
                e.values.clone().unwrap_or_default().join(" ")
            )
        })
        .collect();
    format!(
        "&LabelSelector{{MatchLabels:map[string]string{{{}}},MatchExpressions:[]LabelSelectorRequirement{{{}}},}}",
        labels.join(""),
        expressions.join(",")
    )
}

/// The DisruptionTarget condition of a pod not being deleted, and when it became so; None when
/// it is not stale-able (False, set by the kubelet, or the pod is terminal).
fn disruption_target_since(pod: &Pod) -> Option<Timestamp> {
    if pod.metadata.deletion_timestamp.is_some() || matches!(pods::phase(pod), "Succeeded" | "Failed") {
        return None;
    }
    let c = pod
        .status
        .as_ref()?
        .conditions
        .as_deref()?
        .iter()
        .find(|c| c.type_ == "DisruptionTarget")?;
    if c.status != "True" || c.reason.as_deref() == Some("TerminationByKubelet") {
        return None;
    }
    Some(
        c.last_transition_time
            .as_ref()
            .map(|t| t.0)
            .unwrap_or_else(Timestamp::now),
    )
}

/// Turn DisruptionTarget False on pods that carried it two minutes without being deleted
/// (upstream's stalePodDisruptionWorker).
async fn stale_disruptions(ctx: Arc<Context>, changes: impl futures::Stream<Item = Arc<Pod>> + Send) {
    let mut changes = std::pin::pin!(changes);
    let mut timers: BinaryHeap<Reverse<(Instant, String, String)>> = BinaryHeap::new();
    let schedule = |timers: &mut BinaryHeap<Reverse<(Instant, String, String)>>, pod: &Pod| {
        if let Some(since) = disruption_target_since(pod) {
            let left = Duration::try_from(add(since, STALE_DISRUPTION_TIMEOUT).duration_since(Timestamp::now()))
                .unwrap_or(Duration::ZERO);
            timers.push(Reverse((
                Instant::now() + left,
                pod.namespace().unwrap_or_default(),
                pod.name_any(),
            )));
        }
    };
    for pod in ctx.pods.store().state() {
        schedule(&mut timers, &pod);
    }
    loop {
        let wake = timers.peek().map(|Reverse((at, _, _))| *at);
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => futures::future::pending().await,
            }
        };
        tokio::select! {
            pod = changes.next() => match pod {
                Some(pod) => schedule(&mut timers, &pod),
                None => return,
            },
            _ = sleep => {}
        }
        let now = Instant::now();
        while timers.peek().is_some_and(|Reverse((at, _, _))| *at <= now) {
            let Some(Reverse((_, namespace, name))) = timers.pop() else {
                break;
            };
            let Some(pod) = ctx.pods.get(Some(&namespace), &name) else {
                continue;
            };
            let Some(since) = disruption_target_since(&pod) else {
                continue;
            };
            if add(since, STALE_DISRUPTION_TIMEOUT) > Timestamp::now() {
                schedule(&mut timers, &pod);
                continue;
            }
            let mut next = (*pod).clone();
            if let Some(conditions) = next.status.as_mut().and_then(|s| s.conditions.as_mut()) {
                for c in conditions.iter_mut().filter(|c| c.type_ == "DisruptionTarget") {
                    c.status = "False".into();
                    c.reason = None;
                    c.message = None;
                    c.last_transition_time = Some(Time(Timestamp::now()));
                }
            }
            let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
            if let Err(e) = api.replace_status(&name, &PostParams::default(), &next).await {
                if !api_errors::is_not_found(&e) {
                    tracing::debug!(%namespace, pod = %name, error = %e, "could not clear a stale DisruptionTarget condition; retrying");
                    timers.push(Reverse((Instant::now() + Duration::from_secs(1), namespace, name)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;

    fn pod(name: &str, ready: bool) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.status = Some(PodStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        Arc::new(p)
    }

    fn pdb(min: Option<IntOrString>, max: Option<IntOrString>) -> PodDisruptionBudget {
        PodDisruptionBudget {
            metadata: kube::api::ObjectMeta {
                name: Some("web".into()),
                generation: Some(3),
                ..Default::default()
            },
            spec: Some(PodDisruptionBudgetSpec {
                min_available: min,
                max_unavailable: max,
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&IntOrString::String("50%".into()), 3), Ok(2));
        assert_eq!(scaled(&IntOrString::String("34%".into()), 3), Ok(2));
        assert_eq!(scaled(&IntOrString::String("100%".into()), 5), Ok(5));
        assert_eq!(scaled(&IntOrString::Int(2), 5), Ok(2));
        assert!(scaled(&IntOrString::String("half".into()), 5).is_err());
    }

    #[test]
    fn disruptions_allowed_is_healthy_minus_desired() {
        let p = pdb(Some(IntOrString::Int(2)), None);
        let status = next_status(&p, 3, 2, 3, BTreeMap::new()).unwrap();
        assert_eq!((status.disruptions_allowed, status.observed_generation), (1, Some(3)));
        let c = &status.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
            ("DisruptionAllowed", "True", "SufficientPods")
        );
        let status = next_status(&p, 2, 2, 3, BTreeMap::new()).unwrap();
        assert_eq!(status.disruptions_allowed, 0);
        assert_eq!(status.conditions.as_ref().unwrap()[0].reason, "InsufficientPods");
        // No expected pods: never allowed.
        assert_eq!(
            next_status(&p, 3, 0, 0, BTreeMap::new()).unwrap().disruptions_allowed,
            0
        );
        // An up-to-date status is not written again.
        let mut written = p.clone();
        written.status = next_status(&p, 3, 2, 3, BTreeMap::new());
        assert!(next_status(&written, 3, 2, 3, BTreeMap::new()).is_none());
        // A new generation is.
        written.metadata.generation = Some(4);
        assert!(next_status(&written, 3, 2, 3, BTreeMap::new()).is_some());
    }

    #[test]
    fn disrupted_pods_count_as_unhealthy_until_they_expire() {
        let now = Timestamp::now();
        let pods = vec![pod("a", true), pod("b", true), pod("c", false)];
        let mut p = pdb(Some(IntOrString::Int(1)), None);
        let recent = Time(now);
        let old = Time(now.checked_sub(SignedDuration::from_secs(300)).unwrap());
        p.status = Some(PodDisruptionBudgetStatus {
            disrupted_pods: Some([("a".to_string(), recent.clone()), ("b".to_string(), old)].into()),
            ..Default::default()
        });
        let (kept, recheck) = disrupted_pods(&p, &pods, now);
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(recheck, Some(add(now, DELETION_TIMEOUT)));
        assert_eq!(current_healthy(&pods, &kept, now), 1);
    }

    #[test]
    fn conditions_keep_their_transition_time_while_status_holds() {
        let t0 = Timestamp::from_second(1_000).unwrap();
        let t1 = Timestamp::from_second(2_000).unwrap();
        let mut conditions = Vec::new();
        let c = |status: &str, reason: &str| Condition {
            type_: CONDITION.into(),
            status: status.into(),
            reason: reason.into(),
            message: String::new(),
            observed_generation: Some(1),
            last_transition_time: Time(t0),
        };
        set_condition(&mut conditions, c("True", "SufficientPods"), t0);
        set_condition(&mut conditions, c("True", "SufficientPods"), t1);
        assert_eq!(conditions[0].last_transition_time, Time(t0));
        set_condition(&mut conditions, c("False", "InsufficientPods"), t1);
        assert_eq!(conditions[0].last_transition_time, Time(t1));
        assert_eq!(conditions.len(), 1);
    }
}
