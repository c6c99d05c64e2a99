//! ControllerRevision history of the controllers that keep versions of a pod template
//! (StatefulSet, DaemonSet), as upstream's pkg/controller/history: revisions named
//! `<owner>-<hash>` where the hash covers the revision's data (the patch of the owner's template)
//! and a collision count, revision numbers, equality of revisions, adoption and release by
//! controllerRef, and the choice of which old revisions to delete beyond revisionHistoryLimit.
//! Generic over the owner kind; each controller decides what its revision data is.

use crate::core::informers::Informer;
use crate::workloads::claim::{ClaimError, Claimer, Namespaced};
use crate::workloads::deployment::util::safe_encode;
use crate::workloads::pods::controller_ref;
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// The label every revision carries with its hash (upstream's ControllerRevisionHashLabel).
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// Longest owner-name prefix of a revision name, so that `-<hash>` fits in 253 characters.
const MAX_PREFIX: usize = 223;

/// The hash of a revision's data and `probe` (the collision count), as upstream's
/// HashControllerRevision: 32-bit FNV-1 over the data's JSON bytes and the probe's decimal form,
/// re-encoded with the safe alphabet.
pub fn hash(data: &Value, probe: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(data).unwrap_or_default();
    if let Some(probe) = probe {
        bytes.extend_from_slice(probe.to_string().as_bytes());
    }
    safe_encode(&fnv32(&bytes).to_string())
}

/// 32-bit FNV-1 (Go's fnv.New32; multiply before xor, unlike FNV-1a).
fn fnv32(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(0x811c_9dc5u32, |hash, b| hash.wrapping_mul(0x0100_0193) ^ u32::from(*b))
}

/// `<prefix>-<hash>` with the prefix cut to 223 characters (upstream's ControllerRevisionName).
pub fn revision_name(prefix: &str, hash: &str) -> String {
    let cut: String = prefix.chars().take(MAX_PREFIX).collect();
    format!("{cut}-{hash}")
}

/// A new revision of `owner` (upstream's NewControllerRevision): number `revision`, `data`, the
/// template's labels plus the hash label, a controller reference to the owner, and the name
/// `<owner>-<hash>`.
pub fn new_revision<O: Namespaced>(
    owner: &O,
    template_labels: Option<&BTreeMap<String, String>>,
    data: Value,
    revision: i64,
    collision_count: Option<i32>,
) -> ControllerRevision {
    let hash = hash(&data, collision_count);
    let mut labels = template_labels.cloned().unwrap_or_default();
    labels.insert(HASH_LABEL.to_string(), hash.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(&owner.name_any(), &hash)),
            namespace: owner.namespace(),
            labels: Some(labels),
            owner_references: Some(vec![controller_ref(owner)]),
            ..Default::default()
        },
        data: Some(RawExtension(data)),
        revision,
    }
}

/// The revision data of a pod template, as StatefulSet and DaemonSet keep it (upstream's
/// getPatch): `{"spec":{"template":{…,"$patch":"replace"}}}`, which `kubectl rollout undo` applies.
pub fn template_patch(template: Option<&PodTemplateSpec>) -> Value {
    let mut template = template
        .and_then(|t| serde_json::to_value(t).ok())
        .unwrap_or_else(|| serde_json::json!({}));
    if let Some(map) = template.as_object_mut() {
        map.insert("$patch".into(), "replace".into());
    }
    serde_json::json!({"spec": {"template": template}})
}

fn data(revision: &ControllerRevision) -> Option<&Value> {
    revision.data.as_ref().map(|RawExtension(v)| v)
}

/// Whether two revisions hold the same data (upstream's EqualRevision: its hash labels never
/// parse as the numbers it compares, so in effect the data alone decides).
pub fn equal(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    data(a) == data(b)
}

/// The revisions among `revisions` equal to `needle`, in the order given.
pub fn find_equal<'a>(
    revisions: &'a [Arc<ControllerRevision>],
    needle: &ControllerRevision,
) -> Vec<&'a Arc<ControllerRevision>> {
    revisions.iter().filter(|r| equal(r, needle)).collect()
}

/// Oldest first: by revision number, then creation time, then name (upstream's
/// SortControllerRevisions).
pub fn sort(revisions: &mut [Arc<ControllerRevision>]) {
    revisions.sort_by(|a, b| by_age(a, b));
}

fn by_age(a: &ControllerRevision, b: &ControllerRevision) -> Ordering {
    let created = |r: &ControllerRevision| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
    a.revision
        .cmp(&b.revision)
        .then_with(|| created(a).cmp(&created(b)))
        .then_with(|| a.name_any().cmp(&b.name_any()))
}

/// One more than the highest revision number (1 for an empty history).
pub fn next_revision(revisions: &[Arc<ControllerRevision>]) -> i64 {
    revisions.iter().map(|r| r.revision).max().unwrap_or(0) + 1
}

/// The revisions `owner` controls after adopting orphans its `selector` matches and releasing
/// its own that no longer match (upstream's ClaimControllerRevisions over the shared store).
pub async fn claim<O: Namespaced>(
    client: &Client,
    owner: &O,
    selector: &LabelSelector,
    revisions: &Informer<ControllerRevision>,
) -> Result<Vec<Arc<ControllerRevision>>, ClaimError> {
    let namespace = owner.namespace().unwrap_or_default();
    let mut candidates = revisions.owned_by(&owner.uid().unwrap_or_default());
    candidates.extend(revisions.orphans_in(&namespace));
    let claimer = Claimer {
        client,
        owner,
        owner_ref: controller_ref(owner),
        selector,
    };
    claimer.claim(candidates).await
}

/// Write `revision` for `owner` (upstream's CreateControllerRevision): when its name is taken by
/// a revision with other data, bump `collision_count` and try the next name; an equal revision
/// already there is returned as it is.
pub async fn create<O: Namespaced>(
    client: &Client,
    owner: &O,
    revision: &ControllerRevision,
    collision_count: &mut i32,
) -> Result<ControllerRevision, kube::Error> {
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &owner.namespace().unwrap_or_default());
    let content = data(revision).cloned().unwrap_or(Value::Null);
    loop {
        let mut attempt = revision.clone();
        let hash = hash(&content, Some(*collision_count));
        attempt.metadata.name = Some(revision_name(&owner.name_any(), &hash));
        attempt
            .metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(HASH_LABEL.to_string(), hash);
        match api.create(&PostParams::default(), &attempt).await {
            Ok(created) => return Ok(created),
            Err(error) if crate::core::api_errors::is_already_exists(&error) => {
                let existing = api.get(&attempt.name_any()).await?;
                if equal(&existing, &attempt) {
                    return Ok(existing);
                }
                *collision_count = collision_count.saturating_add(1);
            }
            Err(error) => return Err(error),
        }
    }
}

/// Give `revision` the number `number` (upstream's UpdateControllerRevision, used to roll back to
/// an earlier revision by making it the newest).
pub async fn renumber(
    client: &Client,
    revision: &ControllerRevision,
    number: i64,
) -> Result<ControllerRevision, kube::Error> {
    if revision.revision == number {
        return Ok(revision.clone());
    }
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &revision.namespace().unwrap_or_default());
    let patch = serde_json::json!({"revision": number});
    api.patch(&revision.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
}

/// The revisions to delete so that at most `limit` of those not `live` remain: the oldest first
/// (`revisions` sorted oldest first; `live` names the revisions still in use by the owner's
/// status or its pods, which are never deleted).
pub fn beyond_limit(
    revisions: &[Arc<ControllerRevision>],
    live: &HashSet<String>,
    limit: i32,
) -> Vec<Arc<ControllerRevision>> {
    let history: Vec<&Arc<ControllerRevision>> = revisions.iter().filter(|r| !live.contains(&r.name_any())).collect();
    let excess = history.len().saturating_sub(usize::try_from(limit.max(0)).unwrap_or(0));
    history.into_iter().take(excess).cloned().collect()
}

/// Delete one revision; one already gone is fine.
pub async fn delete(client: &Client, revision: &ControllerRevision) -> Result<(), kube::Error> {
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &revision.namespace().unwrap_or_default());
    crate::core::api_errors::ignore_not_found(api.delete(&revision.name_any(), &DeleteParams::default()).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSet;
    use serde_json::json;

    fn owner() -> StatefulSet {
        let mut set = StatefulSet::default();
        set.metadata.name = Some("web".into());
        set.metadata.namespace = Some("ns".into());
        set.metadata.uid = Some("u1".into());
        set
    }

    fn rev(number: i64, data: Value, name: &str) -> Arc<ControllerRevision> {
        let mut r = new_revision(&owner(), None, data, number, None);
        r.metadata.name = Some(name.into());
        Arc::new(r)
    }

    #[test]
    fn names_and_hashes_are_stable_and_probe_dependent() {
        let data = json!({"spec": {"template": {"$patch": "replace"}}});
        let r = new_revision(&owner(), None, data.clone(), 1, None);
        let h = hash(&data, None);
        assert_eq!(r.name_any(), format!("web-{h}"));
        assert_eq!(r.labels().get(HASH_LABEL), Some(&h));
        assert_eq!(h, hash(&data, None));
        assert_ne!(h, hash(&data, Some(1)));
        assert!(h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
        assert_eq!(revision_name(&"x".repeat(300), "h").len(), 225);
        assert_eq!(r.metadata.owner_references.as_ref().unwrap()[0].kind, "StatefulSet");
    }

    #[test]
    fn fnv1_matches_go() {
        // hash/fnv New32 of "a" and of the empty input.
        assert_eq!(fnv32(b""), 0x811c_9dc5);
        assert_eq!(fnv32(b"a"), 0x050c_5d7e);
    }

    #[test]
    fn equality_sorting_numbers_and_truncation() {
        let a = rev(1, json!({"a": 1}), "web-a");
        let b = rev(2, json!({"b": 1}), "web-b");
        let c = rev(3, json!({"a": 1}), "web-c");
        assert!(equal(&a, &c));
        assert!(!equal(&a, &b));
        let mut all = vec![c.clone(), a.clone(), b.clone()];
        sort(&mut all);
        let names: Vec<String> = all.iter().map(|r| r.name_any()).collect();
        assert_eq!(names, ["web-a", "web-b", "web-c"]);
        assert_eq!(next_revision(&all), 4);
        assert_eq!(find_equal(&all, &a).len(), 2);
        let live: HashSet<String> = ["web-c".to_string()].into();
        let gone: Vec<String> = beyond_limit(&all, &live, 1).iter().map(|r| r.name_any()).collect();
        assert_eq!(gone, ["web-a"]);
        assert!(beyond_limit(&all, &live, 10).is_empty());
        assert_eq!(beyond_limit(&all, &HashSet::new(), 0).len(), 3);
    }
}
