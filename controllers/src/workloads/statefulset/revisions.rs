//! A StatefulSet's ControllerRevisions (upstream's getStatefulSetRevisions and truncateHistory):
//! the revision data is the patch `{"spec":{"template":{…,"$patch":"replace"}}}` that
//! `kubectl rollout undo` applies; the update revision is the newest equal revision (renumbered
//! to the newest when it is an older one, a rollback) or a new one; the current revision is the
//! one status names, or the update revision at first.

use crate::workloads::claim::ClaimError;
use crate::workloads::history;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::{Client, ResourceExt};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;

/// The patch a revision of `set` holds (upstream's getPatch).
pub fn patch(set: &StatefulSet) -> Value {
    history::template_patch(set.spec.as_ref().map(|s| &s.template))
}

/// The pod template a revision holds (upstream's ApplyRevision, for the patches of [`patch`]).
pub fn template(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let RawExtension(data) = revision.data.as_ref()?;
    let mut template = data.get("spec")?.get("template")?.clone();
    template.as_object_mut()?.remove("$patch");
    serde_json::from_value(template).ok()
}

/// The set's current and update revisions, and the collision count to record.
pub struct Revisions {
    pub current: ControllerRevision,
    pub update: ControllerRevision,
    pub collision_count: i32,
}

/// Find or make the update revision among the set's `revisions` (sorted oldest first) and find
/// the current one.
pub async fn current_and_update(
    client: &Client,
    set: &StatefulSet,
    revisions: &[Arc<ControllerRevision>],
) -> Result<Revisions, kube::Error> {
    let mut collision_count = set.status.as_ref().and_then(|s| s.collision_count).unwrap_or(0);
    let labels = set
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.as_ref());
    let mut wanted = history::new_revision(
        set,
        labels,
        patch(set),
        history::next_revision(revisions),
        Some(collision_count),
    );
    wanted.metadata.annotations = set.metadata.annotations.clone();
    let equal = history::find_equal(revisions, &wanted);
    let update = match (equal.last(), revisions.last()) {
        (Some(found), Some(newest)) if history::equal(newest, found) => newest.as_ref().clone(),
        (Some(found), _) => history::renumber(client, found, wanted.revision).await?,
        (None, _) => history::create(client, set, &wanted, &mut collision_count).await?,
    };
    let named = set.status.as_ref().and_then(|s| s.current_revision.as_deref());
    let current = revisions
        .iter()
        .find(|r| Some(r.name_any().as_str()) == named)
        .map(|r| r.as_ref().clone())
        .unwrap_or_else(|| update.clone());
    Ok(Revisions {
        current,
        update,
        collision_count,
    })
}

/// Delete the revisions beyond spec.revisionHistoryLimit (10 by default) that neither status nor
/// a pod uses (upstream's truncateHistory).
pub async fn truncate(
    client: &Client,
    set: &StatefulSet,
    revisions: &[Arc<ControllerRevision>],
    pods: &[Arc<Pod>],
    kept: &Revisions,
) -> Result<(), ClaimError> {
    let limit = set.spec.as_ref().and_then(|s| s.revision_history_limit).unwrap_or(10);
    let mut live: HashSet<String> = pods
        .iter()
        .map(|p| super::identity::revision_of(p).to_string())
        .collect();
    live.insert(kept.current.name_any());
    live.insert(kept.update.name_any());
    for revision in history::beyond_limit(revisions, &live, limit) {
        history::delete(client, &revision).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSetSpec;

    #[test]
    fn revisions_round_trip_the_template() {
        let mut set = StatefulSet::default();
        let mut spec = StatefulSetSpec::default();
        spec.template.metadata = Some(Default::default());
        spec.template.metadata.as_mut().unwrap().labels = Some([("app".to_string(), "web".to_string())].into());
        set.spec = Some(spec);
        let data = patch(&set);
        assert_eq!(data["spec"]["template"]["$patch"], "replace");
        let revision = ControllerRevision {
            data: Some(RawExtension(data)),
            ..Default::default()
        };
        assert_eq!(template(&revision), Some(set.spec.unwrap().template));
    }
}
