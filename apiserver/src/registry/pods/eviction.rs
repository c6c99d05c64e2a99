//! pods/eviction, as upstream's EvictionREST: a pod whose budget need not be consulted (terminal,
//! Pending or already being deleted) is deleted at once; otherwise the one PodDisruptionBudget
//! selecting it must allow a disruption, which the eviction takes (a compare-and-swap update of
//! the budget's status: one fewer disruptionsAllowed, the pod in disruptedPods), unless the pod is
//! not ready and the budget lets unready pods go. The pod then gets the DisruptionTarget
//! condition and is deleted with the eviction's deleteOptions (gracefully, as any delete).

use super::set_pod_condition;
use crate::registry::selector::LabelSelector;
use crate::registry::store::object::{self, meta_mut, meta_str};
use crate::registry::store::{DeleteOptions, Preconditions, Scope, Store, WriteOptions};
use crate::registry::Resources;
use crate::status::{ApiError, ApiResult, Gr};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Upstream's MaxDisruptedPodSize: budgets with more unconfirmed evictions refuse more.
const MAX_DISRUPTED_PODS: usize = 2000;
/// How often a deletion that raced another writer is tried again (upstream's EvictionsRetry).
const RETRIES: usize = 20;

/// Evict the pod `url_name` of `pods` as `eviction` (a policy/v1 or v1beta1 Eviction) asks;
/// `dry_run` is the request's dryRun. Answers the HTTP code and the Status body.
pub async fn evict(
    store: &Store,
    resources: &Resources,
    pods: Scope<'_>,
    url_name: &str,
    eviction: &Value,
    dry_run: bool,
) -> ApiResult<(u16, Value)> {
    check_type(eviction)?;
    super::check_namespace(eviction, pods.namespace)?;
    if meta_str(eviction, "name").unwrap_or("") != url_name {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let mut options: DeleteOptions = match eviction.get("deleteOptions").filter(|o| !o.is_null()) {
        Some(o) => serde_json::from_value(o.clone())
            .map_err(|e| ApiError::bad_request(format!("invalid deleteOptions: {e}")))?,
        None => DeleteOptions::default(),
    };
    if options.dry_run.is_empty() && dry_run {
        options.dry_run = vec!["All".into()];
    }
    let rv_unset = options
        .preconditions
        .as_ref()
        .and_then(|p| p.resource_version.as_ref())
        .is_none();

    // Pods whose budget need not be consulted go at once (retried while other writers race).
    let mut attempt = 0;
    let pod = loop {
        let pod = object::parse(&store.get(pods, url_name).await?.json)?;
        if !can_ignore_budget(&pod) {
            break pod;
        }
        let mut opts = options.clone();
        if enforces_resource_version(&pod) && rv_unset {
            pin_resource_version(&mut opts, &pod);
        }
        match add_condition_and_delete(store, pods, url_name, opts).await {
            Ok(()) => return Ok((201, super::success())),
            Err(e) if e.code == 409 && rv_unset && attempt < RETRIES => attempt += 1,
            Err(e) => return Err(e),
        }
    };

    let budgets = budgets_of(store, &pod);
    let mut pin = false;
    let mut budget_name = String::new();
    match budgets.as_slice() {
        [] => {}
        [budget] => {
            budget_name = meta_str(budget, "name").unwrap_or("").to_string();
            let status = &budget["status"];
            let int = |key: &str| status.get(key).and_then(Value::as_i64).unwrap_or(0);
            let always_allow = budget
                .pointer("/spec/unhealthyPodEvictionPolicy")
                .and_then(Value::as_str)
                == Some("AlwaysAllow");
            let (current, desired) = (int("currentHealthy"), int("desiredHealthy"));
            if !is_ready(&pod) && (always_allow || (current >= desired && desired > 0)) {
                // An unready pod counts for nothing: it goes without taking a disruption, as
                // long as it does not become ready meanwhile.
                pin = true;
            } else {
                take_disruption(
                    store,
                    resources,
                    pods.namespace,
                    &budget_name,
                    url_name,
                    !options.dry_run.is_empty(),
                )
                .await?;
            }
        }
        _ => {
            let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                "code": 500});
            return Ok((500, status));
        }
    }
    let mut opts = options.clone();
    if pin {
        pin_resource_version(&mut opts, &pod);
    }
    match add_condition_and_delete(store, pods, url_name, opts).await {
        Ok(()) => Ok((201, super::success())),
        Err(e) if e.code == 409 && pin && rv_unset => Err(too_many_requests(
            10,
            format!("The disruption budget {budget_name} is still being processed by the server."),
        )),
        Err(e) => Err(e),
    }
}

/// The body must be an Eviction of policy/v1 or policy/v1beta1 (both are accepted upstream).
fn check_type(eviction: &Value) -> ApiResult<()> {
    if !eviction.is_object() {
        return Err(ApiError::bad_request("the object provided is not a JSON object"));
    }
    let version = eviction
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("policy/v1");
    let kind = eviction.get("kind").and_then(Value::as_str).unwrap_or("Eviction");
    if !matches!(version, "policy/v1" | "policy/v1beta1") || kind != "Eviction" {
        return Err(ApiError::bad_request(format!(
            "no kind \"{kind}\" is registered for version \"{version}\" on the eviction subresource: it takes policy/v1 or policy/v1beta1 Eviction"
        )));
    }
    Ok(())
}

/// Upstream's canIgnorePDB: terminal, Pending and terminating pods disrupt nothing more.
fn can_ignore_budget(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed" | "Pending") || pod.pointer("/metadata/deletionTimestamp").is_some()
}

/// Upstream's shouldEnforceResourceVersion: the deletion must not race the pod becoming ready.
fn enforces_resource_version(pod: &Value) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.pointer("/metadata/deletionTimestamp").is_none()
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or("")
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn pin_resource_version(opts: &mut DeleteOptions, pod: &Value) {
    let rv = meta_str(pod, "resourceVersion").map(str::to_string);
    opts.preconditions
        .get_or_insert_with(Preconditions::default)
        .resource_version = rv;
}

/// The budgets of the pod's namespace whose selector matches it (an empty or invalid selector
/// matches nothing).
fn budgets_of(store: &Store, pod: &Value) -> Vec<Value> {
    let namespace = meta_str(pod, "namespace");
    let labels: BTreeMap<String, String> = pod
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    store
        .cached_objects("policy", "poddisruptionbudgets", namespace)
        .iter()
        .filter_map(|o| serde_json::from_slice::<Value>(&o.json).ok())
        .filter(|budget| {
            let selector = budget.pointer("/spec/selector").filter(|s| !s.is_null());
            match selector.map(LabelSelector::from_structured) {
                Some(Ok(selector)) => !selector.is_empty() && selector.matches(&labels),
                _ => false,
            }
        })
        .collect()
}

/// upstream's 429 for an eviction its budget does not allow (now).
fn too_many_requests(retry_after: i64, cause: String) -> ApiError {
    let mut details = json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]});
    if retry_after > 0 {
        details["retryAfterSeconds"] = json!(retry_after);
    }
    ApiError {
        details: Some(details),
        ..ApiError::new(
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
        )
    }
}

/// Whether the budget allows one more disruption now (upstream's checkAndDecrement checks).
fn check_budget(budget: &Value) -> ApiResult<()> {
    let name = meta_str(budget, "name").unwrap_or("");
    let status = &budget["status"];
    let int = |key: &str| status.get(key).and_then(Value::as_i64).unwrap_or(0);
    let generation = budget
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let gr = Gr {
        group: "policy",
        resource: "poddisruptionbudget",
    };
    if int("observedGeneration") < generation {
        return Err(too_many_requests(
            10,
            format!("The disruption budget {name} is still being processed by the server."),
        ));
    }
    let allowed = int("disruptionsAllowed");
    if allowed < 0 {
        return Err(ApiError::forbidden(gr, name, "pdb disruptions allowed is negative"));
    }
    let disrupted = status
        .get("disruptedPods")
        .and_then(Value::as_object)
        .map_or(0, |m| m.len());
    if disrupted > MAX_DISRUPTED_PODS {
        return Err(ApiError::forbidden(
            gr,
            name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    if allowed == 0 {
        return Err(too_many_requests(
            0,
            format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                int("desiredHealthy"),
                int("currentHealthy")
            ),
        ));
    }
    Ok(())
}

/// The budget's status after this eviction took one disruption for `pod`.
fn take_one(budget: &Value, pod: &str) -> Value {
    let mut budget = budget.clone();
    meta_mut(&mut budget).shift_remove("resourceVersion");
    let status = &mut budget["status"];
    let allowed = status.get("disruptionsAllowed").and_then(Value::as_i64).unwrap_or(0) - 1;
    status["disruptionsAllowed"] = json!(allowed);
    if allowed == 0 {
        // upstream's UpdateDisruptionAllowedCondition.
        let observed = status.get("observedGeneration").cloned().unwrap_or(json!(0));
        let condition = json!({"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods",
            "message": "", "observedGeneration": observed});
        if !status["conditions"].is_array() {
            status["conditions"] = json!([]);
        }
        if let Some(conditions) = status["conditions"].as_array_mut() {
            let now = object::now_rfc3339();
            match conditions.iter_mut().find(|c| c["type"] == "DisruptionAllowed") {
                Some(existing) => {
                    let since = if existing["status"] == "False" {
                        existing["lastTransitionTime"].clone()
                    } else {
                        json!(now)
                    };
                    *existing = condition;
                    existing["lastTransitionTime"] = since;
                }
                None => {
                    let mut condition = condition;
                    condition["lastTransitionTime"] = json!(now);
                    conditions.push(condition);
                }
            }
        }
    }
    if !status["disruptedPods"].is_object() {
        status["disruptedPods"] = json!({});
    }
    status["disruptedPods"][pod] = json!(object::now_rfc3339());
    budget
}

/// Check the budget and take one disruption from it (on a conflict, with the budget read again).
async fn take_disruption(
    store: &Store,
    resources: &Resources,
    namespace: Option<&str>,
    budget: &str,
    pod: &str,
    dry_run: bool,
) -> ApiResult<()> {
    let resource = resources
        .lookup("policy", "v1", "poddisruptionbudgets")
        .ok_or_else(ApiError::unknown_resource)?;
    let scope = Scope { resource, namespace };
    if dry_run {
        return check_budget(&object::parse(&store.get(scope, budget).await?.json)?);
    }
    let updated = store
        .update_with(scope, budget, Some("status"), &WriteOptions::default(), |current| {
            check_budget(current)?;
            Ok(take_one(current, pod))
        })
        .await;
    match updated {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Err(ApiError {
            details: Some(json!({"retryAfterSeconds": 10})),
            ..ApiError::timeout(format!(
                "Timeout: couldn't update PodDisruptionBudget \"{budget}\" due to conflicts"
            ))
        }),
        Err(e) => Err(e),
    }
}

/// upstream's addConditionAndDeletePod: the DisruptionTarget condition (honouring the delete's
/// preconditions), then the delete.
async fn add_condition_and_delete(
    store: &Store,
    pods: Scope<'_>,
    name: &str,
    mut opts: DeleteOptions,
) -> ApiResult<()> {
    if opts.dry_run.is_empty() {
        let preconditions = opts.preconditions.clone().unwrap_or_default();
        let gr = Gr {
            group: "",
            resource: "Pod",
        };
        let updated = store
            .update_with(pods, name, Some("status"), &WriteOptions::default(), |pod| {
                let (uid, rv) = (meta_str(pod, "uid").unwrap_or(""), meta_str(pod, "resourceVersion").unwrap_or(""));
                if let Some(want) = preconditions.uid.as_deref().filter(|u| !u.is_empty() && *u != uid) {
                    return Err(ApiError::conflict(gr, name, &format!(
                        "the UID in the precondition ({want}) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
                    )));
                }
                if let Some(want) = preconditions.resource_version.as_deref().filter(|r| !r.is_empty() && *r != rv) {
                    return Err(ApiError::conflict(gr, name, &format!(
                        "the ResourceVersion in the precondition ({want}) does not match the ResourceVersion in record ({rv}). The object might have been modified"
                    )));
                }
                let mut pod = pod.clone();
                meta_mut(&mut pod).shift_remove("resourceVersion");
                set_pod_condition(
                    &mut pod,
                    json!({"type": "DisruptionTarget", "status": "True", "lastProbeTime": null,
                           "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting"}),
                );
                Ok(pod)
            })
            .await?;
        if let Some(pre) = opts.preconditions.as_mut().filter(|p| p.resource_version.is_some()) {
            // The condition's write moved the pod on: the delete pins that version instead.
            let written = object::parse(&updated)?;
            pre.resource_version = meta_str(&written, "resourceVersion").map(str::to_string);
        }
    }
    store.delete(pods, name, &opts).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(status: Value) -> Value {
        json!({"metadata": {"name": "web", "generation": 1}, "status": status})
    }

    #[test]
    fn budgets_refuse_with_upstreams_texts() {
        let none = check_budget(&budget(
            json!({"observedGeneration": 1, "disruptionsAllowed": 0, "desiredHealthy": 2, "currentHealthy": 2}),
        ))
        .unwrap_err();
        assert_eq!((none.code, none.reason), (429, "TooManyRequests"));
        assert_eq!(
            none.message,
            "Cannot evict pod as it would violate the pod's disruption budget."
        );
        assert_eq!(
            none.details.unwrap(),
            json!({"causes": [{"reason": "DisruptionBudget", "message": "The disruption budget web needs 2 healthy pods and has 2 currently"}]})
        );
        let stale = check_budget(&budget(json!({"disruptionsAllowed": 1}))).unwrap_err();
        assert_eq!(stale.details.unwrap()["retryAfterSeconds"], 10);
        let negative = check_budget(&budget(json!({"observedGeneration": 1, "disruptionsAllowed": -1}))).unwrap_err();
        assert_eq!(
            negative.message,
            "poddisruptionbudget.policy \"web\" is forbidden: pdb disruptions allowed is negative"
        );
        assert!(check_budget(&budget(json!({"observedGeneration": 1, "disruptionsAllowed": 1}))).is_ok());
    }

    #[test]
    fn taking_the_last_disruption_records_the_pod_and_the_condition() {
        let taken = take_one(&budget(json!({"observedGeneration": 1, "disruptionsAllowed": 1})), "p1");
        assert_eq!(taken["status"]["disruptionsAllowed"], 0);
        assert!(taken["status"]["disruptedPods"]["p1"].is_string());
        let condition = &taken["status"]["conditions"][0];
        assert_eq!(
            (condition["type"].as_str(), condition["reason"].as_str()),
            (Some("DisruptionAllowed"), Some("InsufficientPods"))
        );
        let more = take_one(&budget(json!({"observedGeneration": 1, "disruptionsAllowed": 3})), "p1");
        assert!(more["status"].get("conditions").is_none());
    }

    #[test]
    fn which_pods_skip_the_budget() {
        let pod = |phase: &str| json!({"metadata": {}, "status": {"phase": phase}});
        assert!(can_ignore_budget(&pod("Pending")) && can_ignore_budget(&pod("Succeeded")));
        assert!(!can_ignore_budget(&pod("Running")));
        assert!(enforces_resource_version(&pod("Pending")) && !enforces_resource_version(&pod("Failed")));
        assert!(check_type(&json!({"apiVersion": "policy/v1beta1", "kind": "Eviction"})).is_ok());
        assert_eq!(
            check_type(&json!({"apiVersion": "v1", "kind": "Eviction"}))
                .unwrap_err()
                .code,
            400
        );
    }
}
