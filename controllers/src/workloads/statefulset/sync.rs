//! One sync of a StatefulSet (upstream's syncStatefulSet + UpdateStatefulSet): claim its pods
//! (members by name and selector) and revisions, settle the current and update revisions, run
//! one update pass, write status, and truncate the history.

use super::identity::ordinal_of;
use super::{revisions, update, Context, Error};
use crate::core::api_errors::ignore_not_found;
use crate::core::status;
use crate::workloads::claim::Claimer;
use crate::workloads::{history, pods};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Reconcile one StatefulSet.
pub async fn sync(set: Arc<StatefulSet>, ctx: &Context) -> Result<Action, Error> {
    let key = set.uid().unwrap_or_default();
    let Some(spec) = set.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    if set.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    if skiff_machinery::labels::is_empty(&spec.selector) {
        ctx.recorder.warning(
            set.as_ref(),
            "SelectingAll",
            "This statefulset is selecting all pods. A non-empty selector is required.".into(),
        );
        return Ok(Action::await_change());
    }
    if !ctx.expectations.satisfied(&key, ctx.pods.store()) {
        return Ok(Action::await_change());
    }
    let namespace = set.namespace().unwrap_or_default();
    let name = set.name_any();
    let mut candidates = ctx.pods.owned_by(&key);
    candidates.extend(ctx.pods.orphans_in(&namespace));
    candidates.retain(|p| ordinal_of(&name, &p.name_any()).is_some());
    let claimer = Claimer {
        client: &ctx.client,
        owner: set.as_ref(),
        owner_ref: pods::controller_ref(set.as_ref()),
        selector: &spec.selector,
    };
    let claimed = claimer.claim(candidates).await?;
    let mut revisions = history::claim(&ctx.client, set.as_ref(), &spec.selector, &ctx.revisions).await?;
    history::sort(&mut revisions);
    let revs = revisions::current_and_update(&ctx.client, &set, &revisions).await?;
    let mut status = update::run(ctx, &set, &revs, &claimed).await?;
    complete_rolling_update(&set, &mut status);
    write_status(ctx, &set, &status).await?;
    revisions::truncate(&ctx.client, &set, &revisions, &claimed, &revs).await?;
    Ok(recheck_availability(&set, &claimed))
}

/// A finished RollingUpdate makes the update revision current (upstream's completeRollingUpdate).
fn complete_rolling_update(set: &StatefulSet, status: &mut StatefulSetStatus) {
    let rolling = set
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate");
    if rolling && status.updated_replicas == Some(status.replicas) && status.ready_replicas == Some(status.replicas) {
        status.current_replicas = status.updated_replicas;
        status.current_revision = status.update_revision.clone();
    }
}

/// The status as a merge patch, zero counters dropped as Go's `omitempty` drops them
/// (availableReplicas and collisionCount are always written, as upstream writes them).
fn status_patch(status: &StatefulSetStatus) -> Value {
    let count = |n: Option<i32>| match n {
        Some(n) if n != 0 => Value::from(n),
        _ => Value::Null,
    };
    json!({"status": {
        "observedGeneration": status.observed_generation,
        "replicas": status.replicas,
        "readyReplicas": count(status.ready_replicas),
        "currentReplicas": count(status.current_replicas),
        "updatedReplicas": count(status.updated_replicas),
        "availableReplicas": status.available_replicas.unwrap_or(0),
        "currentRevision": status.current_revision,
        "updateRevision": status.update_revision,
        "collisionCount": status.collision_count.unwrap_or(0),
    }})
}

async fn write_status(ctx: &Context, set: &StatefulSet, status: &StatefulSetStatus) -> Result<(), Error> {
    let old = set.status.clone().unwrap_or_default();
    let wanted = status_patch(status);
    if status_patch(&old) == wanted {
        return Ok(());
    }
    let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    let written = status::update_status_on_latest(&api, set, &wanted).await;
    Ok(ignore_not_found(written)?)
}

/// Look again when a ready pod becomes available (minReadySeconds), else on the next change.
fn recheck_availability(set: &StatefulSet, claimed: &[Arc<k8s_openapi::api::core::v1::Pod>]) -> Action {
    let min_ready = set.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0);
    let now = Timestamp::now();
    claimed
        .iter()
        .filter_map(|p| pods::available_at(p, min_ready, now))
        .min()
        .map(|at| {
            let wait = u64::try_from(at.as_second() - now.as_second()).unwrap_or(0);
            Action::requeue(Duration::from_secs(wait.max(1)))
        })
        .unwrap_or_else(Action::await_change)
}
