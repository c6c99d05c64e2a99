//! Deployment arithmetic and bookkeeping, as upstream's pkg/controller/deployment/util: the
//! pod-template-hash, maxSurge/maxUnavailable resolution, revision and replica annotations,
//! template comparison, replica counts, orderings and the rollout predicates. Pure functions.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// The label (and selector term) that tells a Deployment's ReplicaSets apart.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// Annotations never copied from a Deployment to its ReplicaSets.
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];
/// The revision-history annotation is kept under this many characters.
const MAX_REVISION_HISTORY_CHARS: usize = 2000;

// Condition types and reasons (upstream's deploymentutil constants).
pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const REPLICA_FAILURE: &str = "ReplicaFailure";
pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub const RS_UPDATED: &str = "ReplicaSetUpdated";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
pub const PAUSED: &str = "DeploymentPaused";
pub const RESUMED: &str = "DeploymentResumed";

/// upstream's rand.SafeEncodeString alphabet: no vowels, no look-alikes.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The pod-template-hash of `template` (upstream's controller.ComputeHash): FNV-32a over the
/// template and the collision count (as 8 little-endian bytes), its decimal form re-encoded with
/// the safe alphabet. Upstream feeds FNV a spew dump of the Go struct; Skiff feeds it the
/// template's JSON, so values differ from upstream's but are just as stable (the hash only names
/// ReplicaSets; which one is current is decided by comparing templates).
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(template).unwrap_or_default();
    if let Some(count) = collision_count {
        let mut extra = [0u8; 8];
        extra[..4].copy_from_slice(&(count as u32).to_le_bytes());
        bytes.extend_from_slice(&extra);
    }
    safe_encode(&fnv32a(&bytes).to_string())
}

/// 32-bit FNV-1a (the fnv crate offers only the 64-bit variant).
fn fnv32a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |hash, b| {
        (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// upstream's rand.SafeEncodeString: each byte mapped into [`SAFE_ALPHABET`].
pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()] as char)
        .collect()
}

/// An int-or-percent scaled against `total` (upstream's GetScaledValueFromIntOrPercent):
/// percentages round up or down as asked.
pub fn scaled_value(value: &IntOrString, total: i32, round_up: bool) -> Result<i32, String> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let Some(digits) = s.strip_suffix('%') else {
                return Err(format!(
                    "invalid value for IntOrString: invalid type: string is not a percentage"
                ));
            };
            let percent: i64 = digits
                .parse()
                .map_err(|e| format!("invalid value for IntOrString: invalid value {s:?}: {e}"))?;
            let scaled = percent as f64 * f64::from(total) / 100.0;
            Ok(if round_up { scaled.ceil() } else { scaled.floor() } as i32)
        }
    }
}

/// maxSurge rounded up and maxUnavailable rounded down against `desired`; both 0 makes
/// unavailable 1 (upstream's ResolveFenceposts).
pub fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> Result<(i32, i32), String> {
    let zero = IntOrString::Int(0);
    let surge = scaled_value(max_surge.unwrap_or(&zero), desired, true)?;
    let unavailable = scaled_value(max_unavailable.unwrap_or(&zero), desired, false)?;
    Ok(if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    })
}

/// spec.replicas (1 when unset, as defaulting does).
pub fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// A ReplicaSet's spec.replicas.
pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn rs_status(rs: &ReplicaSet) -> (i32, i32, i32) {
    rs.status
        .as_ref()
        .map(|s| {
            (
                s.replicas,
                s.ready_replicas.unwrap_or(0),
                s.available_replicas.unwrap_or(0),
            )
        })
        .unwrap_or_default()
}

/// A ReplicaSet's status.availableReplicas.
pub fn rs_available(rs: &ReplicaSet) -> i32 {
    rs_status(rs).2
}

pub fn is_rolling_update(d: &Deployment) -> bool {
    strategy_type(d) == "RollingUpdate"
}

pub fn strategy_type(d: &Deployment) -> &str {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
}

fn fenceposts(d: &Deployment) -> (i32, i32) {
    let rolling = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let default = IntOrString::String("25%".into());
    let surge = rolling.map_or(Some(&default), |r| r.max_surge.as_ref());
    let unavailable = rolling.map_or(Some(&default), |r| r.max_unavailable.as_ref());
    resolve_fenceposts(surge, unavailable, replicas(d)).unwrap_or((0, 1))
}

/// How many pods may exist above spec.replicas during a rollout (0 for Recreate).
pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling_update(d) {
        return 0;
    }
    fenceposts(d).0
}

/// How many pods may be unavailable during a rollout (0 for Recreate or no replicas).
pub fn max_unavailable(d: &Deployment) -> i32 {
    if !is_rolling_update(d) || replicas(d) == 0 {
        return 0;
    }
    fenceposts(d).1.min(replicas(d))
}

pub fn min_ready_seconds(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
}

pub fn paused(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)
}

/// progressDeadlineSeconds, unless absent or MaxInt32 (no deadline).
pub fn progress_deadline(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .filter(|s| *s != i32::MAX)
}

pub fn revision_history_limit(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .filter(|l| *l != i32::MAX)
}

fn annotation<'a>(annotations: &'a Option<BTreeMap<String, String>>, key: &str) -> Option<&'a str> {
    annotations.as_ref()?.get(key).map(String::as_str)
}

/// A ReplicaSet's revision (0 when missing or unparsable).
pub fn revision(rs: &ReplicaSet) -> i64 {
    annotation(&rs.metadata.annotations, REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

pub fn max_revision<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    rss.into_iter().map(revision).max().unwrap_or(0)
}

/// The desired-replicas annotation, when present and valid.
pub fn desired_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    annotation(&rs.metadata.annotations, DESIRED_REPLICAS)?.parse().ok()
}

fn max_replicas_annotation(rs: &ReplicaSet) -> Option<i32> {
    annotation(&rs.metadata.annotations, MAX_REPLICAS)?.parse().ok()
}

/// Whether the desired/max replicas annotations differ from `desired` and `max`.
pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    annotation(&rs.metadata.annotations, DESIRED_REPLICAS) != Some(desired.to_string().as_str())
        || annotation(&rs.metadata.annotations, MAX_REPLICAS) != Some(max.to_string().as_str())
}

/// Set the desired/max replicas annotations; whether anything changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (key, value) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let value = value.to_string();
        if annotations.get(key) != Some(&value) {
            annotations.insert(key.to_string(), value);
            changed = true;
        }
    }
    changed
}

/// Copy the Deployment's annotations (but the controller's own and last-applied) onto `rs`.
fn copy_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let mut changed = false;
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    for (key, value) in d.metadata.annotations.iter().flatten() {
        if NOT_COPIED.contains(&key.as_str()) || annotations.get(key) == Some(value) {
            continue;
        }
        annotations.insert(key.clone(), value.clone());
        changed = true;
    }
    changed
}

/// Bring the new ReplicaSet's annotations up to date (upstream's SetNewReplicaSetAnnotations):
/// the Deployment's annotations, the revision (keeping earlier revisions of a rolled-back-to
/// ReplicaSet in revision-history), and, for one not yet created, the replica annotations.
pub fn set_new_rs_annotations(d: &Deployment, rs: &mut ReplicaSet, new_revision: &str, exists: bool) -> bool {
    let mut changed = copy_annotations(d, rs);
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let old_revision = annotations.get(REVISION).cloned();
    let old_number = match old_revision.as_deref() {
        None | Some("") => 0,
        Some(text) => match text.parse::<i64>() {
            Ok(n) => n,
            Err(_) => return false,
        },
    };
    let Ok(new_number) = new_revision.parse::<i64>() else {
        return false;
    };
    if old_number < new_number {
        annotations.insert(REVISION.to_string(), new_revision.to_string());
        changed = true;
        if let Some(old) = old_revision.filter(|o| !o.is_empty()) {
            let history = annotations.get(REVISION_HISTORY).cloned().unwrap_or_default();
            if history.is_empty() {
                annotations.insert(REVISION_HISTORY.to_string(), old);
            } else {
                let mut revisions: Vec<&str> = history.split(',').collect();
                let mut total = history.len() + old.len() + 1;
                let mut start = 0;
                while total > MAX_REVISION_HISTORY_CHARS && start < revisions.len() {
                    total -= revisions[start].len() + 1;
                    start += 1;
                }
                if total <= MAX_REVISION_HISTORY_CHARS {
                    revisions = revisions.split_off(start);
                    revisions.push(&old);
                    let joined = revisions.join(",");
                    annotations.insert(REVISION_HISTORY.to_string(), joined);
                }
            }
        }
    }
    if !exists && set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)) {
        changed = true;
    }
    changed
}

/// A template with the pod-template-hash label dropped and empty values removed, for comparing
/// as upstream's semantic equality does (nil and empty are equal).
fn comparable(template: &PodTemplateSpec) -> Value {
    let mut value = serde_json::to_value(template).unwrap_or_default();
    if let Some(labels) = value.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(POD_TEMPLATE_HASH);
    }
    prune(&mut value);
    value
}

fn prune(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for v in map.values_mut() {
                prune(v);
            }
            map.retain(|_, v| !is_empty(v));
        }
        Value::Array(items) => items.iter_mut().for_each(prune),
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Whether two templates are the same but for the pod-template-hash label (EqualIgnoreHash).
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    comparable(a) == comparable(b)
}

pub fn template(rs: &ReplicaSet) -> Option<&PodTemplateSpec> {
    rs.spec.as_ref()?.template.as_ref()
}

/// Older first, then by name (ReplicaSetsByCreationTimestamp).
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let at = |rs: &ReplicaSet| rs.metadata.creation_timestamp.as_ref().map(|t| t.0);
    at(a).cmp(&at(b)).then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// Lower revision first, then older (ReplicaSetsByRevision).
pub fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    revision(a).cmp(&revision(b)).then_with(|| by_creation(a, b))
}

/// Larger first; among equals, newer first (ReplicaSetsBySizeNewer, for scaling up).
pub fn by_size_newer(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    rs_replicas(b).cmp(&rs_replicas(a)).then_with(|| {
        let at = |rs: &ReplicaSet| rs.metadata.creation_timestamp.as_ref().map(|t| t.0);
        at(b).cmp(&at(a))
    })
}

/// Larger first; among equals, older first (ReplicaSetsBySizeOlder, for scaling down).
pub fn by_size_older(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    rs_replicas(b).cmp(&rs_replicas(a)).then_with(|| by_creation(a, b))
}

/// The sum of spec.replicas.
pub fn spec_replicas<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(rs_replicas).sum()
}

/// The sum of status.replicas.
pub fn actual_replicas<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(|rs| rs_status(rs).0).sum()
}

pub fn ready_replicas<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(|rs| rs_status(rs).1).sum()
}

pub fn available_replicas<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i32 {
    rss.into_iter().map(rs_available).sum()
}

/// The sum of status.terminatingReplicas; unknown when any ReplicaSet does not report it.
pub fn terminating_replicas<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> Option<i32> {
    rss.into_iter()
        .map(|rs| rs.status.as_ref().and_then(|s| s.terminating_replicas))
        .sum()
}

/// Has pods or ought to (FilterActiveReplicaSets).
pub fn is_active(rs: &ReplicaSet) -> bool {
    rs_replicas(rs) > 0
}

/// The proportion of `to_add` (already `added`) that `rs` gets when the Deployment is scaled
/// mid-rollout (upstream's GetReplicaSetProportion).
pub fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

fn fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    if replicas(d) == 0 {
        return -rs_replicas(rs);
    }
    let deployment_replicas = replicas(d) + max_surge(d);
    let annotated =
        max_replicas_annotation(rs).unwrap_or_else(|| d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
    if annotated == 0 {
        return 0;
    }
    let size = f64::from(rs_replicas(rs) * deployment_replicas) / f64::from(annotated);
    size.round() as i32 - rs_replicas(rs)
}

/// The new ReplicaSet is at full size and fully available (IsSaturated).
pub fn is_saturated(d: &Deployment, rs: Option<&ReplicaSet>) -> bool {
    let Some(rs) = rs else { return false };
    let Some(desired) = desired_replicas_annotation(rs) else {
        return false;
    };
    rs_replicas(rs) == replicas(d) && desired == replicas(d) && rs_available(rs) == replicas(d)
}

/// How many replicas the new ReplicaSet may have now (NewRSNewReplicas).
pub fn new_rs_new_replicas(d: &Deployment, all_spec_replicas: i32, new_rs_replicas: i32) -> i32 {
    if !is_rolling_update(d) {
        return replicas(d);
    }
    let max_total = replicas(d) + max_surge(d);
    if all_spec_replicas >= max_total {
        return new_rs_replicas;
    }
    let scale_up = (max_total - all_spec_replicas).min(replicas(d) - new_rs_replicas);
    new_rs_replicas + scale_up
}

// Conditions.

pub fn condition<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status.conditions.iter().flatten().find(|c| c.type_ == type_)
}

pub fn new_condition(type_: &str, status: &str, reason: &str, message: String, now: Timestamp) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Set `condition` unless one of its type with the same status and reason is there; keeps the
/// transition time when only the reason changes (SetDeploymentCondition). It goes last.
pub fn set_condition(status: &mut DeploymentStatus, mut condition: DeploymentCondition) {
    if let Some(current) = self::condition(status, &condition.type_) {
        if current.status == condition.status && current.reason == condition.reason {
            return;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time.clone();
        }
    }
    let mut conditions: Vec<DeploymentCondition> = status
        .conditions
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != condition.type_)
        .collect();
    conditions.push(condition);
    status.conditions = Some(conditions);
}

pub fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_ != type_);
        if conditions.is_empty() {
            status.conditions = None;
        }
    }
}

fn count(value: Option<i32>) -> i32 {
    value.unwrap_or(0)
}

/// All replicas updated and available, and the latest spec observed (DeploymentComplete).
pub fn complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let want = replicas(d);
    count(status.updated_replicas) == want
        && count(status.replicas) == want
        && count(status.available_replicas) == want
        && status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// Progress since the last status: more updated, ready or available pods, or fewer old ones.
pub fn progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let old_old = count(old.replicas) - count(old.updated_replicas);
    let new_old = count(new.replicas) - count(new.updated_replicas);
    count(new.updated_replicas) > count(old.updated_replicas)
        || new_old < old_old
        || count(new.ready_replicas) > count(old.ready_replicas)
        || count(new.available_replicas) > count(old.available_replicas)
}

/// No progress within progressDeadlineSeconds of the Progressing condition's last update.
pub fn timed_out(d: &Deployment, new: &DeploymentStatus, now: Timestamp) -> bool {
    let Some(deadline) = progress_deadline(d) else {
        return false;
    };
    let Some(condition) = condition(new, PROGRESSING) else {
        return false;
    };
    match condition.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => false,
        Some(TIMED_OUT) => true,
        _ => condition
            .last_update_time
            .as_ref()
            .is_some_and(|from| from.0.as_second() + i64::from(deadline) < now.as_second()),
    }
}

/// The status as a merge patch, zero counters and empty lists dropped as Go's omitempty does.
pub fn status_patch(status: &DeploymentStatus) -> Value {
    let number = |n: Option<i32>| match n {
        Some(n) if n != 0 => Value::from(n),
        _ => Value::Null,
    };
    serde_json::json!({"status": {
        "observedGeneration": status.observed_generation.filter(|g| *g != 0),
        "replicas": number(status.replicas),
        "updatedReplicas": number(status.updated_replicas),
        "readyReplicas": number(status.ready_replicas),
        "availableReplicas": number(status.available_replicas),
        "unavailableReplicas": number(status.unavailable_replicas),
        "terminatingReplicas": status.terminating_replicas,
        "collisionCount": status.collision_count,
        "conditions": status.conditions.as_ref().filter(|c| !c.is_empty()),
    }})
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, ReplicaSetSpec, RollingUpdateDeployment};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn percent(p: &str) -> IntOrString {
        IntOrString::String(p.into())
    }

    #[test]
    fn surge_rounds_up_unavailable_down() {
        assert_eq!(
            resolve_fenceposts(Some(&percent("25%")), Some(&percent("25%")), 10),
            Ok((3, 2))
        );
        assert_eq!(
            resolve_fenceposts(Some(&percent("25%")), Some(&percent("25%")), 1),
            Ok((1, 0))
        );
        assert_eq!(
            resolve_fenceposts(Some(&percent("25%")), Some(&percent("25%")), 2),
            Ok((1, 0))
        );
        assert_eq!(
            resolve_fenceposts(Some(&IntOrString::Int(2)), Some(&percent("50%")), 5),
            Ok((2, 2))
        );
        // Both zero: one may be unavailable.
        assert_eq!(
            resolve_fenceposts(Some(&IntOrString::Int(0)), Some(&percent("0%")), 3),
            Ok((0, 1))
        );
        assert_eq!(resolve_fenceposts(Some(&percent("1%")), None, 0), Ok((0, 1)));
        assert!(resolve_fenceposts(Some(&percent("x")), None, 3).is_err());
        assert_eq!(
            scaled_value(&percent("10"), 3, true),
            Err("invalid value for IntOrString: invalid type: string is not a percentage".into())
        );
    }

    #[test]
    fn hash_uses_the_safe_alphabet_and_the_collision_count() {
        let mut template = PodTemplateSpec::default();
        template.metadata = Some(ObjectMeta {
            labels: Some([("app".to_string(), "web".to_string())].into()),
            ..Default::default()
        });
        let hash = compute_hash(&template, None);
        assert!(
            !hash.is_empty() && hash.bytes().all(|b| SAFE_ALPHABET.contains(&b)),
            "{hash}"
        );
        assert_eq!(hash, compute_hash(&template, None));
        assert_ne!(hash, compute_hash(&template, Some(1)));
        assert_ne!(compute_hash(&template, Some(1)), compute_hash(&template, Some(2)));
        // Decimal digits land on these letters: '0' → 48 % 27 = 21 → '4'.
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
        assert_eq!(fnv32a(b""), 0x811c_9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
    }

    #[test]
    fn templates_compare_without_the_hash_label() {
        let labelled = |pairs: &[(&str, &str)]| PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
                annotations: Some(BTreeMap::new()),
                ..Default::default()
            }),
            spec: None,
        };
        assert!(equal_ignore_hash(
            &labelled(&[("app", "web"), (POD_TEMPLATE_HASH, "abc")]),
            &labelled(&[("app", "web")])
        ));
        assert!(!equal_ignore_hash(
            &labelled(&[("app", "web")]),
            &labelled(&[("app", "db")])
        ));
    }

    fn deployment(replicas: i32, surge: &str, unavailable: &str) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                name: Some("web".into()),
                annotations: Some(
                    [
                        ("kubernetes.io/change-cause".to_string(), "v2".to_string()),
                        (
                            "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                            "{}".to_string(),
                        ),
                    ]
                    .into(),
                ),
                ..Default::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(percent(surge)),
                        max_unavailable: Some(percent(unavailable)),
                    }),
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn rs(replicas: i32, max_replicas: Option<i32>) -> ReplicaSet {
        let mut rs = ReplicaSet {
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                ..Default::default()
            }),
            ..Default::default()
        };
        if let Some(max) = max_replicas {
            rs.metadata.annotations = Some([(MAX_REPLICAS.to_string(), max.to_string())].into());
        }
        rs
    }

    #[test]
    fn new_rs_surges_within_bounds() {
        let d = deployment(10, "25%", "25%");
        assert_eq!((max_surge(&d), max_unavailable(&d)), (3, 2));
        // 10 old + 0 new: surge 3.
        assert_eq!(new_rs_new_replicas(&d, 10, 0), 3);
        // At the ceiling already: no change.
        assert_eq!(new_rs_new_replicas(&d, 13, 3), 3);
        // Never beyond spec.replicas.
        assert_eq!(new_rs_new_replicas(&d, 9, 8), 10);
    }

    #[test]
    fn proportional_scaling_follows_max_replicas() {
        // A Deployment of 10 (max 13) scaled to 20 (max 25): an old RS of 8 and a new one of 5.
        let d = deployment(20, "25%", "25%");
        let (old, new) = (rs(8, Some(13)), rs(5, Some(13)));
        let to_add = 25 - 13;
        let old_part = proportion(&old, &d, to_add, 0);
        let new_part = proportion(&new, &d, to_add, old_part);
        assert_eq!((old_part, new_part), (7, 5));
        // Scaling down to zero takes everything.
        let zero = deployment(0, "25%", "25%");
        assert_eq!(proportion(&old, &zero, -13, 0), -8);
    }

    #[test]
    fn revision_annotations_keep_history_on_rollback() {
        let d = deployment(3, "25%", "25%");
        let mut fresh = ReplicaSet::default();
        assert!(set_new_rs_annotations(&d, &mut fresh, "1", false));
        let a = fresh.metadata.annotations.clone().unwrap();
        assert_eq!(a.get(REVISION).map(String::as_str), Some("1"));
        assert_eq!(a.get("kubernetes.io/change-cause").map(String::as_str), Some("v2"));
        assert!(!a.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
        assert_eq!(a.get(DESIRED_REPLICAS).map(String::as_str), Some("3"));
        assert_eq!(a.get(MAX_REPLICAS).map(String::as_str), Some("4"));
        // Rolled back to as revision 3, then 5.
        assert!(set_new_rs_annotations(&d, &mut fresh, "3", true));
        assert!(set_new_rs_annotations(&d, &mut fresh, "5", true));
        let a = fresh.metadata.annotations.clone().unwrap();
        assert_eq!(a.get(REVISION).map(String::as_str), Some("5"));
        assert_eq!(a.get(REVISION_HISTORY).map(String::as_str), Some("1,3"));
        assert!(!set_new_rs_annotations(&d, &mut fresh, "5", true));
    }

    #[test]
    fn conditions_keep_transition_times_for_same_status() {
        let mut status = DeploymentStatus::default();
        let t0 = Timestamp::from_second(1_000).unwrap();
        let t1 = Timestamp::from_second(2_000).unwrap();
        set_condition(
            &mut status,
            new_condition(PROGRESSING, "True", NEW_RS_CREATED, "a".into(), t0),
        );
        set_condition(
            &mut status,
            new_condition(AVAILABLE, "False", MINIMUM_REPLICAS_UNAVAILABLE, "b".into(), t0),
        );
        set_condition(
            &mut status,
            new_condition(PROGRESSING, "True", RS_UPDATED, "c".into(), t1),
        );
        let progressing = condition(&status, PROGRESSING).unwrap();
        assert_eq!(progressing.reason.as_deref(), Some(RS_UPDATED));
        assert_eq!(progressing.last_transition_time, Some(Time(t0)));
        assert_eq!(progressing.last_update_time, Some(Time(t1)));
        let order: Vec<&str> = status.conditions.iter().flatten().map(|c| c.type_.as_str()).collect();
        assert_eq!(order, [AVAILABLE, PROGRESSING]);
    }

    #[test]
    fn timeouts_count_from_the_last_update() {
        let mut d = deployment(1, "25%", "25%");
        d.spec.as_mut().unwrap().progress_deadline_seconds = Some(60);
        let mut status = DeploymentStatus::default();
        let t0 = Timestamp::from_second(1_000).unwrap();
        set_condition(
            &mut status,
            new_condition(PROGRESSING, "True", RS_UPDATED, "x".into(), t0),
        );
        assert!(!timed_out(&d, &status, Timestamp::from_second(1_050).unwrap()));
        assert!(timed_out(&d, &status, Timestamp::from_second(1_061).unwrap()));
        d.spec.as_mut().unwrap().progress_deadline_seconds = Some(i32::MAX);
        assert!(!timed_out(&d, &status, Timestamp::from_second(1_061).unwrap()));
    }
}
