//! Pods as the workload loops see them: new pods from a template with a controller reference, and
//! upstream's readiness, activity and availability predicates (pkg/api/v1/pod, pkg/controller).

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use kube::{Resource, ResourceExt};

/// The controller reference to `owner` that its dependents carry (controller and
/// blockOwnerDeletion true, as upstream's controllers set).
pub fn controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.name_any(),
        uid: owner.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The controller reference among `meta`'s owner references, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|r| r.controller == Some(true))
}

/// A new pod from `template` owned by `owner` (upstream's GetPodFromTemplate): the template's
/// labels, annotations, finalizers and spec, `generateName` `<prefix>-` unless a `name` is given.
pub fn from_template(template: &PodTemplateSpec, owner: OwnerReference, prefix: &str, name: Option<String>) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    let generate_name = name.is_none().then(|| format!("{prefix}-"));
    Pod {
        metadata: ObjectMeta {
            name,
            generate_name,
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// The PersistentVolumeClaims the pod's volumes name.
pub fn claim_names(pod: &Pod) -> impl Iterator<Item = String> + '_ {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref().map(|c| c.claim_name.clone()))
}

/// The pod's phase, "" when none is reported yet.
pub fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

/// Not terminated and not being deleted (upstream's IsPodActive).
pub fn is_active(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_none()
}

/// The pod's Ready condition, when it is True: the time it became so.
pub fn ready_since(pod: &Pod) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .conditions
        .as_deref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map(|Time(t)| *t)
                .unwrap_or_else(Timestamp::now)
        })
}

/// Ready (upstream's IsPodReady).
pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Ready for at least `min_ready_seconds` at `now` (upstream's IsPodAvailable).
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_since(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(since) => since.as_second() + i64::from(min_ready_seconds) <= now.as_second(),
    }
}

/// Being deleted but not yet terminated (upstream's FilterTerminatingPods): counted as
/// `terminatingReplicas`.
pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some() && !matches!(phase(pod), "Succeeded" | "Failed")
}

/// When a ready pod that is not yet available becomes so (`None` when it is not ready, or
/// already available at `now`): the moment to look again.
pub fn available_at(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> Option<Timestamp> {
    let since = ready_since(pod)?;
    if is_available(pod, min_ready_seconds, now) {
        return None;
    }
    Timestamp::from_second(since.as_second() + i64::from(min_ready_seconds)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};

    fn ready_pod(seconds_ago: i64) -> Pod {
        let since = Timestamp::from_second(Timestamp::now().as_second() - seconds_ago).unwrap();
        Pod {
            status: Some(PodStatus {
                phase: Some("Running".into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(since)),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn availability_waits_for_min_ready_seconds() {
        let pod = ready_pod(5);
        assert!(is_ready(&pod));
        assert!(is_available(&pod, 0, Timestamp::now()));
        assert!(is_available(&pod, 5, Timestamp::now()));
        assert!(!is_available(&pod, 10, Timestamp::now()));
        assert!(!is_available(&Pod::default(), 0, Timestamp::now()));
    }

    #[test]
    fn template_pods_carry_the_controller_reference() {
        let mut rs = ReplicaSet::default();
        rs.metadata.name = Some("web-abc".into());
        rs.metadata.uid = Some("u1".into());
        let owner = controller_ref(&rs);
        assert_eq!(
            (owner.kind.as_str(), owner.api_version.as_str()),
            ("ReplicaSet", "apps/v1")
        );
        let pod = from_template(&PodTemplateSpec::default(), owner, "web-abc", None);
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-abc-"));
        assert_eq!(controller_of(&pod.metadata).map(|r| r.uid.as_str()), Some("u1"));
        assert!(is_active(&pod));
    }
}
