//! One sync of a DaemonSet (upstream's syncDaemonSet): claim its pods and ControllerRevisions,
//! settle the revision of the current template (its hash labels the pods as
//! controller-revision-hash), map pods to nodes, carry out the [`update`] plan with slow-start
//! batched creates, write the status, and truncate the history.

use super::placement::{self, Fit};
use super::update::{self, Judge, NodeState, Strategy};
use super::{Context, Error};
use crate::core::api_errors::ignore_not_found;
use crate::core::status;
use crate::workloads::claim::Claimer;
use crate::workloads::deployment::util::scaled_value;
use crate::workloads::pod_control::PodControl;
use crate::workloads::{history, pods};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// The label naming the revision a pod was made from (apps/v1 DefaultDaemonSetUniqueLabelKey).
pub const REVISION_LABEL: &str = "controller-revision-hash";
/// The deprecated label with the set's generation at the pod's creation.
pub const GENERATION_LABEL: &str = "pod-template-generation";
/// At most this many pods are created or deleted in one sync (upstream's BurstReplicas).
const BURST: usize = 250;

/// Reconcile one DaemonSet.
pub async fn sync(set: Arc<DaemonSet>, ctx: &Context) -> Result<Action, Error> {
    let key = set.uid().unwrap_or_default();
    let Some(spec) = set.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    if set.meta().deletion_timestamp.is_some() || skiff_machinery::labels::is_empty(&spec.selector) {
        return Ok(Action::await_change());
    }
    let namespace = set.namespace().unwrap_or_default();
    let mut candidates = ctx.pods.owned_by(&key);
    candidates.extend(ctx.pods.orphans_in(&namespace));
    let claimer = Claimer {
        client: &ctx.client,
        owner: set.as_ref(),
        owner_ref: pods::controller_ref(set.as_ref()),
        selector: &spec.selector,
    };
    let claimed = claimer.claim(candidates).await?;
    let mut revisions = history::claim(&ctx.client, set.as_ref(), &spec.selector, &ctx.revisions).await?;
    history::sort(&mut revisions);
    let (current, collision_count) = current_revision(ctx, &set, &revisions).await?;
    let hash = current.labels().get(history::HASH_LABEL).cloned().unwrap_or_default();
    let is_new = |pod: &Pod| pod.labels().get(REVISION_LABEL) == Some(&hash);
    let nodes = node_states(ctx, spec, &claimed);
    let desired = nodes.iter().filter(|n| n.should_run).count() as i32;
    let now = Timestamp::now();
    let judge = Judge {
        is_new: &is_new,
        min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
        now,
    };
    let mut failure = None;
    if ctx.expectations.satisfied(&key, ctx.pods.store()) {
        let plan = update::plan(&nodes, strategy(spec, desired), &judge);
        let control = PodControl {
            client: &ctx.client,
            owner: set.as_ref(),
            expectations: &ctx.expectations,
            recorder: &ctx.recorder,
        };
        let doomed: Vec<Arc<Pod>> = plan.delete.into_iter().take(BURST).collect();
        failure = control.delete(&doomed).await.err();
        if let Err(message) = control.create(new_pods(&set, &hash, &plan.create_on)).await {
            failure.get_or_insert(message);
        }
    }
    write_status(ctx, &set, &nodes, &judge, collision_count).await?;
    truncate(ctx, &set, &revisions, &claimed, &current).await?;
    if let Some(message) = failure {
        return Err(Error::Manage(message));
    }
    let min_ready = judge.min_ready_seconds;
    let next = claimed
        .iter()
        .filter_map(|p| pods::available_at(p, min_ready, now))
        .min();
    Ok(next
        .map(|at| {
            Action::requeue(Duration::from_secs(
                u64::try_from(at.as_second() - now.as_second()).unwrap_or(0).max(1),
            ))
        })
        .unwrap_or_else(Action::await_change))
}

/// The revision of the set's current template (renumbered to the newest on a rollback, created
/// when none is equal), and the collision count to record (upstream's constructHistory).
async fn current_revision(
    ctx: &Context,
    set: &DaemonSet,
    revisions: &[Arc<ControllerRevision>],
) -> Result<(ControllerRevision, i32), Error> {
    let mut collision_count = set.status.as_ref().and_then(|s| s.collision_count).unwrap_or(0);
    let template = set.spec.as_ref().map(|s| &s.template);
    let labels = template
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.as_ref());
    let data = history::template_patch(template);
    let wanted = history::new_revision(
        set,
        labels,
        data,
        history::next_revision(revisions),
        Some(collision_count),
    );
    let equal = history::find_equal(revisions, &wanted);
    let current = match (equal.last(), revisions.last()) {
        (Some(found), Some(newest)) if history::equal(newest, found) => newest.as_ref().clone(),
        (Some(found), _) => history::renumber(&ctx.client, found, wanted.revision).await?,
        (None, _) => history::create(&ctx.client, set, &wanted, &mut collision_count).await?,
    };
    Ok((current, collision_count))
}

/// Every node with the daemon pods on it (pods being deleted left out, oldest first).
fn node_states(ctx: &Context, spec: &DaemonSetSpec, claimed: &[Arc<Pod>]) -> Vec<NodeState> {
    let mut pod_spec = spec.template.spec.clone().unwrap_or_default();
    placement::add_default_tolerations(&mut pod_spec);
    let mut by_node: BTreeMap<String, Vec<Arc<Pod>>> = BTreeMap::new();
    for pod in claimed.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
        if let Some(node) = placement::target_node(pod) {
            by_node.entry(node).or_default().push(pod.clone());
        }
    }
    let mut nodes: Vec<NodeState> = ctx
        .nodes
        .store()
        .state()
        .iter()
        .map(|node| {
            let Fit {
                should_run,
                should_continue_running,
            } = placement::fit(&pod_spec, node);
            let mut pods = by_node.remove(&node.name_any()).unwrap_or_default();
            pods.sort_by_key(|p| (p.metadata.creation_timestamp.as_ref().map(|t| t.0), p.name_any()));
            NodeState {
                name: node.name_any(),
                should_run,
                should_continue_running,
                pods,
            }
        })
        .collect();
    // Pods on nodes that no longer exist go too.
    nodes.extend(by_node.into_iter().map(|(name, pods)| NodeState {
        name,
        should_run: false,
        should_continue_running: false,
        pods,
    }));
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    nodes
}

/// The strategy with maxUnavailable (default 1) and maxSurge (default 0) scaled against the
/// desired number, rounding up; both zero means one unavailable at a time, as upstream.
fn strategy(spec: &DaemonSetSpec, desired: i32) -> Strategy {
    let strategy = spec.update_strategy.as_ref();
    if strategy.and_then(|s| s.type_.as_deref()) == Some("OnDelete") {
        return Strategy::OnDelete;
    }
    let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
    let scale = |value: Option<&IntOrString>, default: i32| {
        value
            .map_or(Ok(default), |v| scaled_value(v, desired, true))
            .unwrap_or(default)
    };
    let max_surge = scale(rolling.and_then(|r| r.max_surge.as_ref()), 0);
    let max_unavailable = scale(rolling.and_then(|r| r.max_unavailable.as_ref()), 1);
    Strategy::RollingUpdate {
        max_unavailable: if max_surge == 0 && max_unavailable == 0 {
            1
        } else {
            max_unavailable
        },
        max_surge,
    }
}

/// The pods to create for `nodes` (the template with the revision labels and the daemon
/// tolerations, pinned to each node); at most [`BURST`].
fn new_pods(set: &DaemonSet, hash: &str, nodes: &[String]) -> Vec<Pod> {
    let Some(spec) = set.spec.as_ref() else {
        return Vec::new();
    };
    let mut template = pods::from_template(&spec.template, pods::controller_ref(set), &set.name_any(), None);
    let labels = template.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(REVISION_LABEL.into(), hash.into());
    labels.insert(GENERATION_LABEL.into(), set.meta().generation.unwrap_or(0).to_string());
    placement::add_default_tolerations(template.spec.get_or_insert_with(Default::default));
    nodes
        .iter()
        .take(BURST)
        .map(|node| {
            let mut pod = template.clone();
            placement::pin_to_node(pod.spec.get_or_insert_with(Default::default), node);
            pod
        })
        .collect()
}

/// Upstream's updateDaemonSetStatus: per node that should run a pod and has one, its oldest pod
/// counts as scheduled, ready, available and updated; pods on other nodes are misscheduled.
async fn write_status(
    ctx: &Context,
    set: &DaemonSet,
    nodes: &[NodeState],
    judge: &Judge<'_>,
    collision_count: i32,
) -> Result<(), Error> {
    let (mut desired, mut scheduled, mut misscheduled, mut ready, mut available, mut updated) = (0, 0, 0, 0, 0, 0);
    for node in nodes {
        if node.should_run {
            desired += 1;
        }
        match node.pods.first() {
            Some(pod) if node.should_run => {
                scheduled += 1;
                if pods::is_ready(pod) {
                    ready += 1;
                    if pods::is_available(pod, judge.min_ready_seconds, judge.now) {
                        available += 1;
                    }
                }
                if (judge.is_new)(pod) {
                    updated += 1;
                }
            }
            Some(_) => misscheduled += 1,
            None => {}
        }
    }
    let count = |n: i32| if n == 0 { serde_json::Value::Null } else { n.into() };
    let wanted = json!({
        "observedGeneration": set.meta().generation,
        "desiredNumberScheduled": desired,
        "currentNumberScheduled": scheduled,
        "numberMisscheduled": misscheduled,
        "numberReady": ready,
        "updatedNumberScheduled": count(updated),
        "numberAvailable": count(available),
        "numberUnavailable": count(desired - available),
        "collisionCount": (collision_count != 0).then_some(collision_count),
    });
    let old = serde_json::to_value(set.status.clone().unwrap_or_default()).unwrap_or_default();
    let unchanged = wanted.as_object().is_some_and(|w| {
        w.iter()
            .all(|(k, v)| old.get(k).unwrap_or(&serde_json::Value::Null) == v)
    });
    if unchanged {
        return Ok(());
    }
    let api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    let patch = json!({ "status": wanted });
    let written = status::update_status_on_latest(&api, set, &patch).await;
    Ok(ignore_not_found(written)?)
}

/// Delete the revisions beyond spec.revisionHistoryLimit (10 by default) that neither the
/// current template nor a pod uses (upstream's cleanupHistory).
async fn truncate(
    ctx: &Context,
    set: &DaemonSet,
    revisions: &[Arc<ControllerRevision>],
    claimed: &[Arc<Pod>],
    current: &ControllerRevision,
) -> Result<(), Error> {
    let limit = set.spec.as_ref().and_then(|s| s.revision_history_limit).unwrap_or(10);
    let used: HashSet<&String> = claimed.iter().filter_map(|p| p.labels().get(REVISION_LABEL)).collect();
    let mut live: HashSet<String> = revisions
        .iter()
        .filter(|r| r.labels().get(history::HASH_LABEL).is_some_and(|h| used.contains(h)))
        .map(|r| r.name_any())
        .collect();
    live.insert(current.name_any());
    for revision in history::beyond_limit(revisions, &live, limit) {
        history::delete(&ctx.client, &revision).await?;
    }
    Ok(())
}
