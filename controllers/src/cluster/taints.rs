//! Taints and tolerations as the node controllers use them (upstream's pkg/util/taints,
//! v1helper.GetMatchingTolerations and controller.AddOrUpdateTaintOnNode/RemoveTaintOffNode):
//! matching, set differences, and swapping taints on a Node with a resourceVersion-guarded
//! patch that is retried on conflict from a fresh read.

use crate::core::api_errors;
use k8s_openapi::api::core::v1::{Node, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};

pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
pub const MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
pub const DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
pub const PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
pub const NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";
pub const OUT_OF_SERVICE: &str = "node.kubernetes.io/out-of-service";
pub const NO_EXECUTE: &str = "NoExecute";
pub const NO_SCHEDULE: &str = "NoSchedule";

/// A taint with `key` and `effect` and no value.
pub fn taint(key: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        effect: effect.into(),
        value: None,
        time_added: None,
    }
}

/// Same key and effect (upstream's MatchTaint).
pub fn same(a: &Taint, b: &Taint) -> bool {
    a.key == b.key && a.effect == b.effect
}

/// The node's taints.
pub fn of(node: &Node) -> &[Taint] {
    node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or_default()
}

/// Whether the node has a taint matching `t` by key and effect.
pub fn has(node: &Node, t: &Taint) -> bool {
    of(node).iter().any(|x| same(x, t))
}

/// The taints of `wanted` missing from `current`, and those of `current` not in `wanted`
/// (upstream's TaintSetDiff).
pub fn diff(wanted: &[Taint], current: &[Taint]) -> (Vec<Taint>, Vec<Taint>) {
    let add = wanted
        .iter()
        .filter(|w| !current.iter().any(|c| same(c, w)))
        .cloned()
        .collect();
    let remove = current
        .iter()
        .filter(|c| !wanted.iter().any(|w| same(c, w)))
        .cloned()
        .collect();
    (add, remove)
}

/// Whether `toleration` tolerates `taint` (upstream's Toleration.ToleratesTaint).
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        _ => false,
    }
}

/// Whether every taint is tolerated, and the first toleration used for each (upstream's
/// GetMatchingTolerations).
pub fn matching_tolerations(taints: &[Taint], tolerations: &[Toleration]) -> (bool, Vec<Toleration>) {
    let mut used = Vec::new();
    for t in taints {
        match tolerations.iter().find(|tol| tolerates(tol, t)) {
            Some(tol) => used.push(tol.clone()),
            None => return (false, Vec::new()),
        }
    }
    (true, used)
}

/// How long the used tolerations let a pod stay: `Some(0)` when one has no time left (or there
/// are none), `None` when all tolerate forever (upstream's getMinTolerationTime).
pub fn min_toleration_seconds(used: &[Toleration]) -> Option<i64> {
    if used.is_empty() {
        return Some(0);
    }
    let mut min: Option<i64> = None;
    for t in used {
        if let Some(s) = t.toleration_seconds {
            if s <= 0 {
                return Some(0);
            }
            min = Some(min.map_or(s, |m| m.min(s)));
        }
    }
    min
}

/// `taints` with `add` (stamped `time_added` now; an existing taint with the same key, effect
/// and value is kept as it is) and without those matching `remove`. None when nothing changes.
pub fn swapped(taints: &[Taint], add: &[Taint], remove: &[Taint]) -> Option<Vec<Taint>> {
    let mut next: Vec<Taint> = taints
        .iter()
        .filter(|t| !remove.iter().any(|r| same(r, t)))
        .cloned()
        .collect();
    let mut changed = next.len() != taints.len();
    for a in add {
        match next.iter_mut().find(|t| same(t, a)) {
            Some(existing) if existing.value == a.value => {}
            Some(existing) => {
                *existing = stamped(a);
                changed = true;
            }
            None => {
                next.push(stamped(a));
                changed = true;
            }
        }
    }
    changed.then_some(next)
}

fn stamped(t: &Taint) -> Taint {
    Taint {
        time_added: Some(Time(Timestamp::now())),
        ..t.clone()
    }
}

/// Add `add` to and remove `remove` from the node's taints, starting from `cached` and retrying
/// from a fresh read on conflict (upstream's SwapNodeControllerTaint). Ok(false) when the node
/// already looked that way or is gone.
pub async fn swap(client: &Client, cached: &Node, add: &[Taint], remove: &[Taint]) -> Result<bool, kube::Error> {
    let api: Api<Node> = Api::all(client.clone());
    let name = cached.name_any();
    let mut node = cached.clone();
    for attempt in 0..5 {
        if attempt > 0 {
            node = match api.get(&name).await {
                Ok(n) => n,
                Err(e) if api_errors::is_not_found(&e) => return Ok(false),
                Err(e) => return Err(e),
            };
        }
        let Some(next) = swapped(of(&node), add, remove) else {
            return Ok(false);
        };
        let patch = serde_json::json!({
            "metadata": {"resourceVersion": node.resource_version()},
            "spec": {"taints": next},
        });
        match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) if api_errors::is_not_found(&e) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Err(kube::Error::Api(
        kube::core::Status::failure(
            &format!("too many conflicts updating the taints of node {name}"),
            "Conflict",
        )
        .with_code(409)
        .boxed(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toleration(key: &str, op: &str, effect: &str, seconds: Option<i64>) -> Toleration {
        Toleration {
            key: (!key.is_empty()).then(|| key.to_string()),
            operator: Some(op.into()),
            effect: (!effect.is_empty()).then(|| effect.to_string()),
            toleration_seconds: seconds,
            value: None,
        }
    }

    #[test]
    fn tolerations_match_by_key_effect_and_operator() {
        let t = taint(UNREACHABLE, NO_EXECUTE);
        assert!(tolerates(&toleration(UNREACHABLE, "Exists", NO_EXECUTE, None), &t));
        assert!(tolerates(&toleration("", "Exists", "", None), &t));
        assert!(!tolerates(&toleration(NOT_READY, "Exists", NO_EXECUTE, None), &t));
        assert!(!tolerates(&toleration(UNREACHABLE, "Exists", NO_SCHEDULE, None), &t));
        assert!(tolerates(&toleration(UNREACHABLE, "Equal", "", None), &t));
    }

    #[test]
    fn toleration_seconds_pick_the_shortest() {
        let taints = [taint(UNREACHABLE, NO_EXECUTE)];
        let (all, used) = matching_tolerations(&taints, &[toleration(UNREACHABLE, "Exists", NO_EXECUTE, Some(300))]);
        assert!(all);
        assert_eq!(min_toleration_seconds(&used), Some(300));
        let (all, _) = matching_tolerations(&taints, &[toleration(NOT_READY, "Exists", NO_EXECUTE, Some(300))]);
        assert!(!all);
        let (_, used) = matching_tolerations(&taints, &[toleration("", "Exists", "", None)]);
        assert_eq!(min_toleration_seconds(&used), None);
        let two = [taint(UNREACHABLE, NO_EXECUTE), taint(NOT_READY, NO_EXECUTE)];
        let tols = [
            toleration(UNREACHABLE, "Exists", NO_EXECUTE, Some(30)),
            toleration(NOT_READY, "Exists", NO_EXECUTE, Some(10)),
        ];
        let (_, used) = matching_tolerations(&two, &tols);
        assert_eq!(min_toleration_seconds(&used), Some(10));
        let tols = [toleration(UNREACHABLE, "Exists", NO_EXECUTE, Some(0))];
        let (_, used) = matching_tolerations(&taints, &tols);
        assert_eq!(min_toleration_seconds(&used), Some(0));
    }

    #[test]
    fn swapping_keeps_existing_taints_and_stamps_new_ones() {
        let current = vec![taint(NOT_READY, NO_EXECUTE), taint("user", NO_SCHEDULE)];
        let next = swapped(
            &current,
            &[taint(UNREACHABLE, NO_EXECUTE)],
            &[taint(NOT_READY, NO_EXECUTE)],
        )
        .unwrap();
        assert_eq!(next.len(), 2);
        assert_eq!(next[0].key, "user");
        assert_eq!(next[1].key, UNREACHABLE);
        assert!(next[1].time_added.is_some());
        assert!(swapped(&next, &[taint(UNREACHABLE, NO_EXECUTE)], &[]).is_none());
        let (add, remove) = diff(&[taint(UNREACHABLE, NO_SCHEDULE)], &[taint(NOT_READY, NO_SCHEDULE)]);
        assert_eq!((add[0].key.as_str(), remove[0].key.as_str()), (UNREACHABLE, NOT_READY));
    }
}
