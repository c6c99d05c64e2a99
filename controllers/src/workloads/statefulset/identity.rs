//! The stable identity of a StatefulSet's pods and claims (upstream's stateful_set_utils.go):
//! ordinal names `<set>-<i>`, hostname and subdomain, the pod-name, pod-index and
//! controller-revision-hash labels, claims `<template>-<set>-<i>` from volumeClaimTemplates
//! mounted as the template's volumes, and the owner references persistentVolumeClaimRetentionPolicy
//! asks of each claim.

use crate::workloads::pods;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;

/// The label with the pod's own name (upstream's StatefulSetPodNameLabel).
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The label with the pod's ordinal (upstream's PodIndexLabel).
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// The label with the name of the revision the pod was made from (ControllerRevisionHashLabelKey).
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// `<set>-<ordinal>`.
pub fn pod_name(set: &str, ordinal: i32) -> String {
    format!("{set}-{ordinal}")
}

/// The ordinal of a pod named `<set>-<i>` (upstream's getParentNameAndOrdinal with the parent
/// checked, as isMemberOf does); `None` for pods of other names.
pub fn ordinal_of(set: &str, pod: &str) -> Option<i32> {
    let (parent, digits) = pod.rsplit_once('-')?;
    if parent != set || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The first ordinal (spec.ordinals.start, 0 by default).
pub fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.ordinals.as_ref())
        .and_then(|o| o.start)
        .unwrap_or(0)
}

/// spec.replicas (1 when unset).
pub fn replicas(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// Whether `ordinal` is within [start, start + replicas).
pub fn in_range(set: &StatefulSet, ordinal: i32) -> bool {
    let start = start_ordinal(set);
    ordinal >= start && ordinal < start + replicas(set)
}

fn claim_templates(set: &StatefulSet) -> &[PersistentVolumeClaim] {
    set.spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.as_deref())
        .unwrap_or_default()
}

/// `<template>-<set>-<ordinal>`.
pub fn claim_name(template: &str, set: &str, ordinal: i32) -> String {
    format!("{template}-{set}-{ordinal}")
}

/// The claims of the pod with `ordinal`, from the set's templates (upstream's
/// getPersistentVolumeClaims): the template's spec and labels plus the selector's matchLabels.
pub fn claims(set: &StatefulSet, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    let selector_labels = set
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    claim_templates(set)
        .iter()
        .map(|template| {
            let mut labels = template.metadata.labels.clone().unwrap_or_default();
            labels.extend(selector_labels.clone());
            PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim_name(&template.name_any(), &set.name_any(), ordinal)),
                    namespace: set.namespace(),
                    labels: Some(labels),
                    annotations: template.metadata.annotations.clone(),
                    ..Default::default()
                },
                spec: template.spec.clone(),
                status: None,
            }
        })
        .collect()
}

/// The pod with `ordinal` made from `template` (the set's or a revision's), with its identity,
/// its claims as volumes, and the revision label (upstream's newStatefulSetPod + setPodRevision).
pub fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, ordinal: i32, revision: &str) -> Pod {
    let set_name = set.name_any();
    let name = pod_name(&set_name, ordinal);
    let mut pod = pods::from_template(template, pods::controller_ref(set), &set_name, Some(name.clone()));
    pod.metadata.generate_name = Some(format!("{set_name}-"));
    pod.metadata.namespace = set.namespace();
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.extend(identity_labels(&name, ordinal));
    labels.insert(REVISION_LABEL.into(), revision.into());
    let service = set
        .spec
        .as_ref()
        .and_then(|s| s.service_name.clone())
        .filter(|s| !s.is_empty());
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.hostname = Some(name);
    spec.subdomain = service;
    let claim_volumes: Vec<Volume> = claim_templates(set)
        .iter()
        .map(|t| Volume {
            name: t.name_any(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(&t.name_any(), &set_name, ordinal),
                read_only: None,
            }),
            ..Default::default()
        })
        .collect();
    if !claim_volumes.is_empty() {
        let others: Vec<Volume> = spec
            .volumes
            .take()
            .unwrap_or_default()
            .into_iter()
            .filter(|v| !claim_volumes.iter().any(|c| c.name == v.name))
            .collect();
        spec.volumes = Some(claim_volumes.into_iter().chain(others).collect());
    }
    pod
}

/// The labels that give a pod its identity.
fn identity_labels(name: &str, ordinal: i32) -> [(String, String); 2] {
    [
        (POD_NAME_LABEL.into(), name.into()),
        (POD_INDEX_LABEL.into(), ordinal.to_string()),
    ]
}

/// The identity labels `pod` lacks or has wrong (upstream's identityMatches, whose fix is
/// updateIdentity); empty when it matches.
pub fn identity_fix(pod: &Pod, ordinal: i32) -> BTreeMap<String, String> {
    identity_labels(&pod.name_any(), ordinal)
        .into_iter()
        .filter(|(k, v)| pod.labels().get(k) != Some(v))
        .collect()
}

/// The revision a pod was made from (its controller-revision-hash label).
pub fn revision_of(pod: &Pod) -> &str {
    pod.labels().get(REVISION_LABEL).map(String::as_str).unwrap_or("")
}

/// What persistentVolumeClaimRetentionPolicy asks of a claim's owner references: (whether the
/// set owns it, whether its pod does), as upstream's updateClaimOwnerRefForSetAndPod.
pub fn wanted_owners(set: &StatefulSet, ordinal: i32) -> (bool, bool) {
    let policy = set
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    let delete = |v: Option<&String>| v.is_some_and(|v| v == "Delete");
    let when_deleted = delete(policy.and_then(|p| p.when_deleted.as_ref()));
    let when_scaled = delete(policy.and_then(|p| p.when_scaled.as_ref()));
    let scaled_down = !in_range(set, ordinal);
    match (when_scaled, when_deleted) {
        (false, false) => (false, false),
        (false, true) => (true, false),
        (true, false) => (false, scaled_down),
        (true, true) => (!scaled_down, scaled_down),
    }
}

/// A claim's owner references with those to `set` and `pod` present or absent as wanted; `None`
/// when they already are, or when another controller owns the claim (left alone, as upstream's
/// hasUnexpectedController).
pub fn claim_owner_refs(
    claim: &PersistentVolumeClaim,
    set: &StatefulSet,
    pod: Option<&Pod>,
    (set_owns, pod_owns): (bool, bool),
) -> Option<Vec<OwnerReference>> {
    let mut refs = claim.metadata.owner_references.clone().unwrap_or_default();
    let before = refs.clone();
    let set_uid = set.uid().unwrap_or_default();
    let pod_uid = pod.and_then(|p| p.uid());
    let foreign =
        pods::controller_of(&claim.metadata).is_some_and(|r| r.uid != set_uid && Some(&r.uid) != pod_uid.as_ref());
    if foreign {
        return None;
    }
    toggle(&mut refs, &set_uid, set_owns.then(|| pods::controller_ref(set)));
    if let Some(pod) = pod {
        let pod_ref = OwnerReference {
            api_version: Pod::api_version(&()).into_owned(),
            kind: Pod::kind(&()).into_owned(),
            name: pod.name_any(),
            uid: pod.uid().unwrap_or_default(),
            controller: None,
            block_owner_deletion: None,
        };
        toggle(&mut refs, &pod_ref.uid.clone(), pod_owns.then_some(pod_ref));
    }
    (refs != before).then_some(refs)
}

fn toggle(refs: &mut Vec<OwnerReference>, uid: &str, wanted: Option<OwnerReference>) {
    let has = refs.iter().any(|r| r.uid == uid);
    match wanted {
        Some(r) if !has => refs.push(r),
        None if has => refs.retain(|r| r.uid != uid),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec};

    fn set(replicas: i32) -> StatefulSet {
        let claim = PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some("data".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        StatefulSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("ns".into()),
                uid: Some("u1".into()),
                ..Default::default()
            },
            spec: Some(StatefulSetSpec {
                replicas: Some(replicas),
                service_name: Some("nginx".into()),
                selector: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                    match_labels: Some([("app".to_string(), "web".to_string())].into()),
                    match_expressions: None,
                },
                volume_claim_templates: Some(vec![claim]),
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn ordinals_parse_only_members() {
        assert_eq!(ordinal_of("web", "web-0"), Some(0));
        assert_eq!(ordinal_of("web", "web-12"), Some(12));
        assert_eq!(ordinal_of("web", "web-x"), None);
        assert_eq!(ordinal_of("web", "webby-1"), None);
        assert_eq!(ordinal_of("my-web", "my-web-3"), Some(3));
        assert_eq!(ordinal_of("web", "web-"), None);
    }

    #[test]
    fn pods_get_identity_claims_and_revision() {
        let s = set(2);
        let pod = new_pod(&s, &PodTemplateSpec::default(), 1, "web-abc");
        assert_eq!(pod.name_any(), "web-1");
        assert_eq!(pod.labels().get(POD_NAME_LABEL).map(String::as_str), Some("web-1"));
        assert_eq!(pod.labels().get(POD_INDEX_LABEL).map(String::as_str), Some("1"));
        assert_eq!(revision_of(&pod), "web-abc");
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(
            (spec.hostname.as_deref(), spec.subdomain.as_deref()),
            (Some("web-1"), Some("nginx"))
        );
        let volume = &spec.volumes.as_ref().unwrap()[0];
        assert_eq!(
            volume.persistent_volume_claim.as_ref().unwrap().claim_name,
            "data-web-1"
        );
        assert!(identity_fix(&pod, 1).is_empty());
        let claim = &claims(&s, 1)[0];
        assert_eq!(claim.name_any(), "data-web-1");
        assert_eq!(claim.labels().get("app").map(String::as_str), Some("web"));
    }

    #[test]
    fn retention_policy_decides_owners() {
        let mut s = set(2);
        assert_eq!(wanted_owners(&s, 0), (false, false));
        s.spec.as_mut().unwrap().persistent_volume_claim_retention_policy =
            Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some("Delete".into()),
                when_scaled: Some("Delete".into()),
            });
        assert_eq!(wanted_owners(&s, 1), (true, false));
        assert_eq!(wanted_owners(&s, 2), (false, true));
        let claim = &claims(&s, 0)[0];
        let refs = claim_owner_refs(claim, &s, None, (true, false)).unwrap();
        assert_eq!(refs[0].uid, "u1");
        let mut owned = claim.clone();
        owned.metadata.owner_references = Some(refs);
        assert!(claim_owner_refs(&owned, &s, None, (true, false)).is_none());
        let mut foreign = claim.clone();
        foreign.metadata.owner_references = Some(vec![OwnerReference {
            uid: "other".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        assert!(claim_owner_refs(&foreign, &s, None, (true, false)).is_none());
    }
}
