//! One sync of a ReplicaSet or ReplicationController (upstream's syncReplicaSet): claim the pods
//! its selector matches, create or delete pods towards spec.replicas (only once the shared store
//! has caught up with what the last sync did), and write the status when it changed.

use super::kind::{ReplicaKind, ReplicaStatus};
use super::ranking;
use super::Context;
use crate::core::api_errors;
use crate::core::status;
use crate::workloads::claim::{ClaimError, Claimer};
use crate::workloads::pod_control::PodControl;
use crate::workloads::pods;
use k8s_openapi::api::apps::v1::ReplicaSetCondition;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// At most this many pods are created or deleted in one sync (upstream's burstReplicas).
pub const BURST_REPLICAS: usize = 500;

/// Why a sync failed; the loop retries with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Claim(#[from] ClaimError),
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// Creating or deleting pods failed (the ReplicaFailure condition's message).
    #[error("{0}")]
    Manage(String),
    #[error("the shared pod watch stopped")]
    StoreGone,
}

/// Sync one object of kind `K`.
pub async fn sync<K: ReplicaKind>(rs: Arc<K>, ctx: Arc<Context<K>>) -> Result<Action, Error> {
    ctx.pods
        .store()
        .wait_until_ready()
        .await
        .map_err(|_| Error::StoreGone)?;
    let uid = rs.uid().unwrap_or_default();
    let namespace = rs.namespace().unwrap_or_default();
    let needs_sync = ctx.expectations.satisfied(&uid, ctx.pods.store());
    let Some(selector) = rs.selector() else {
        return Ok(Action::await_change());
    };
    let matches = |pod: &Pod| skiff_machinery::labels::matches(Some(&selector), pod.labels());
    let owned = ctx.pods.owned_by(&uid);
    let ours = |pod: &Pod| pods::controller_of(&pod.metadata).is_some_and(|r| r.uid == uid);
    let mut candidates: Vec<Arc<Pod>> = owned.iter().filter(|p| ours(p)).cloned().collect();
    candidates.extend(ctx.pods.orphans_in(&namespace));
    candidates.retain(|p| pods::is_active(p));
    let claimer = Claimer {
        client: &ctx.client,
        owner: rs.as_ref(),
        owner_ref: pods::controller_ref(rs.as_ref()),
        selector: &selector,
    };
    let claimed = claimer.claim(candidates).await?;

    let manage_error = if needs_sync && rs.meta().deletion_timestamp.is_none() {
        manage(&rs, &claimed, &ctx).await.err()
    } else {
        None
    };
    let terminating = K::TERMINATING_REPLICAS.then(|| {
        owned
            .iter()
            .filter(|p| ours(p) && matches(p) && pods::is_terminating(p))
            .count() as i32
    });
    let now = Timestamp::now();
    let current = rs.current_status();
    let status = calculate(rs.as_ref(), &current, &claimed, manage_error.as_ref(), terminating, now);
    if status != current || rs.meta().generation.unwrap_or(0) != current.observed_generation {
        let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
        let patch = status.to_patch(K::TERMINATING_REPLICAS);
        match status::update_status_on_latest(&api, rs.as_ref(), &patch).await {
            Ok(_) => {}
            Err(error) if api_errors::is_not_found(&error) => return Ok(Action::await_change()),
            Err(error) => return Err(error.into()),
        }
    }
    if let Some(error) = manage_error {
        return Err(error);
    }
    // Look again when the next ready pod becomes available (minReadySeconds).
    let next = claimed
        .iter()
        .filter_map(|p| pods::available_at(p, rs.min_ready_seconds(), now))
        .min();
    Ok(match next {
        Some(at) => {
            let wait = (at.as_second() - now.as_second()).max(0) as u64;
            Action::requeue(Duration::from_secs(wait + 1))
        }
        None => Action::await_change(),
    })
}

/// The status the pods make (upstream's calculateStatus); observedGeneration is the object's.
pub fn calculate<K: ReplicaKind>(
    rs: &K,
    current: &ReplicaStatus,
    claimed: &[Arc<Pod>],
    manage_error: Option<&Error>,
    terminating: Option<i32>,
    now: Timestamp,
) -> ReplicaStatus {
    let template_labels: BTreeMap<String, String> = rs
        .template()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let fully_labeled = claimed
        .iter()
        .filter(|p| template_labels.iter().all(|(k, v)| p.labels().get(k) == Some(v)))
        .count();
    let ready = claimed.iter().filter(|p| pods::is_ready(p)).count();
    let available = claimed
        .iter()
        .filter(|p| pods::is_available(p, rs.min_ready_seconds(), now))
        .count();
    let mut conditions = current.conditions.clone();
    let failure = conditions.iter().position(|c| c.type_ == "ReplicaFailure");
    match (manage_error, failure) {
        (Some(error), None) => {
            let diff = claimed.len() as i64 - i64::from(rs.desired());
            let reason = match diff {
                d if d < 0 => "FailedCreate",
                d if d > 0 => "FailedDelete",
                _ => "",
            };
            conditions.push(ReplicaSetCondition {
                type_: "ReplicaFailure".into(),
                status: "True".into(),
                reason: Some(reason.into()),
                message: Some(error.to_string()),
                last_transition_time: Some(Time(now)),
            });
        }
        (None, Some(index)) => {
            conditions.remove(index);
        }
        _ => {}
    }
    ReplicaStatus {
        replicas: claimed.len() as i32,
        fully_labeled_replicas: fully_labeled as i32,
        ready_replicas: ready as i32,
        available_replicas: available as i32,
        observed_generation: rs.meta().generation.unwrap_or(0),
        terminating_replicas: terminating,
        conditions,
    }
}

/// Create or delete pods so that `claimed` moves towards spec.replicas (upstream's manageReplicas).
async fn manage<K: ReplicaKind>(rs: &Arc<K>, claimed: &[Arc<Pod>], ctx: &Context<K>) -> Result<(), Error> {
    let diff = claimed.len() as i64 - i64::from(rs.desired());
    if diff < 0 {
        let count = ((-diff) as usize).min(BURST_REPLICAS);
        return create(rs, count, ctx).await;
    }
    if diff > 0 {
        let count = (diff as usize).min(BURST_REPLICAS);
        let related = related_pods(rs.as_ref(), ctx);
        let doomed = ranking::pods_to_delete(claimed.to_vec(), &related, count, Timestamp::now());
        return delete(rs, doomed, ctx).await;
    }
    Ok(())
}

/// The pod writes of `rs`.
fn control<'a, K: ReplicaKind>(rs: &'a K, ctx: &'a Context<K>) -> PodControl<'a, K> {
    PodControl {
        client: &ctx.client,
        owner: rs,
        expectations: &ctx.expectations,
        recorder: &ctx.recorder,
    }
}

/// Create `count` pods from the template in slow-start batches.
async fn create<K: ReplicaKind>(rs: &Arc<K>, count: usize, ctx: &Context<K>) -> Result<(), Error> {
    let Some(template) = rs.template() else {
        return Ok(());
    };
    let pod = pods::from_template(template, pods::controller_ref(rs.as_ref()), &rs.name_any(), None);
    let control = control(rs.as_ref(), ctx);
    control.create(vec![pod; count]).await.map_err(Error::Manage)
}

/// Delete `doomed` in parallel.
async fn delete<K: ReplicaKind>(rs: &Arc<K>, doomed: Vec<Arc<Pod>>, ctx: &Context<K>) -> Result<(), Error> {
    control(rs.as_ref(), ctx).delete(&doomed).await.map_err(Error::Manage)
}

/// The pods of every replica set with the same controller as `rs` (upstream's
/// getIndirectlyRelatedPods), `rs`'s own included; none when `rs` has no controller.
fn related_pods<K: ReplicaKind>(rs: &K, ctx: &Context<K>) -> Vec<Arc<Pod>> {
    let Some(controller) = pods::controller_of(rs.meta()) else {
        return Vec::new();
    };
    let siblings = ctx.owners.owned_by(&controller.uid);
    let mut related = Vec::new();
    for sibling in siblings {
        if pods::controller_of(sibling.meta()).is_none_or(|r| r.uid != controller.uid) {
            continue;
        }
        let sibling_uid = sibling.uid().unwrap_or_default();
        related.extend(
            ctx.pods
                .owned_by(&sibling_uid)
                .into_iter()
                .filter(|p| pods::controller_of(&p.metadata).is_some_and(|r| r.uid == sibling_uid)),
        );
    }
    related
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec};
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn rs(replicas: i32, min_ready: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                generation: Some(3),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: Some(min_ready),
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some([("app".to_string(), "web".to_string())].into()),
                        ..Default::default()
                    }),
                    spec: None,
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn pod(labels: &[(&str, &str)], ready_ago: Option<i64>) -> Arc<Pod> {
        let mut pod = Pod::default();
        pod.metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        pod.status = Some(PodStatus {
            phase: Some("Running".into()),
            conditions: ready_ago.map(|ago| {
                vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(
                        Timestamp::from_second(Timestamp::now().as_second() - ago).unwrap(),
                    )),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        });
        Arc::new(pod)
    }

    #[test]
    fn status_counts_labels_readiness_and_availability() {
        let rs = rs(3, 10);
        let pods = vec![
            pod(&[("app", "web")], Some(60)),
            pod(&[("app", "web")], Some(1)),
            pod(&[("other", "x")], None),
        ];
        let status = calculate(&rs, &ReplicaStatus::default(), &pods, None, Some(0), Timestamp::now());
        assert_eq!(
            (
                status.replicas,
                status.fully_labeled_replicas,
                status.ready_replicas,
                status.available_replicas
            ),
            (3, 2, 2, 1)
        );
        assert_eq!(status.observed_generation, 3);
        assert!(status.conditions.is_empty());
    }

    #[test]
    fn create_failures_set_and_success_clears_replica_failure() {
        let rs = rs(2, 0);
        let error = Error::Manage("pods \"web-x\" is forbidden: exceeded quota: q".into());
        let failed = calculate(
            &rs,
            &ReplicaStatus::default(),
            &[],
            Some(&error),
            None,
            Timestamp::now(),
        );
        let condition = &failed.conditions[0];
        assert_eq!(condition.type_, "ReplicaFailure");
        assert_eq!(condition.reason.as_deref(), Some("FailedCreate"));
        assert_eq!(
            condition.message.as_deref(),
            Some("pods \"web-x\" is forbidden: exceeded quota: q")
        );
        let healed = calculate(&rs, &failed, &[], None, None, Timestamp::now());
        assert!(healed.conditions.is_empty());
    }

    #[test]
    fn status_patch_leaves_out_zero_counters() {
        let status = ReplicaStatus {
            replicas: 0,
            observed_generation: 2,
            terminating_replicas: Some(0),
            ..Default::default()
        };
        let patch = status.to_patch(true);
        assert_eq!(patch["status"]["replicas"], 0);
        assert!(patch["status"]["readyReplicas"].is_null());
        assert_eq!(patch["status"]["terminatingReplicas"], 0);
        assert!(status.to_patch(false)["status"].get("terminatingReplicas").is_none());
    }
}
