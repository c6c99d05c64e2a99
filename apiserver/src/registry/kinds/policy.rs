//! `policy` and `scheduling.k8s.io`: PodDisruptionBudgets (budget and selector rules, status
//! owned by the disruption controller) and PriorityClasses (preemption default, value limits).

use super::meta::{keep_status, NameRule};
use super::validation::label_selector;
use super::value::set_default_str;
use super::Kind;
use crate::registry::{FieldError, Strategy};
use serde_json::{json, Value};

/// The rules of a policy or scheduling kind.
pub fn lookup(kind: &str) -> Option<Kind> {
    match kind {
        "PodDisruptionBudget" => Some(Kind::new(NameRule::Subdomain, PodDisruptionBudget)),
        "PriorityClass" => Some(Kind::new(NameRule::Subdomain, PriorityClass)),
        _ => None,
    }
}

pub struct PodDisruptionBudget;

/// An int-or-percent budget: non-negative, and a percentage at most 100%.
fn budget(spec: &Value, key: &str) -> Option<FieldError> {
    let path = format!("spec.{key}");
    match spec.get(key)? {
        Value::Number(n) if n.as_i64().is_some_and(|n| n < 0) => {
            Some(FieldError::invalid(path, json!(n), "must be greater than or equal to 0"))
        }
        Value::String(s) => match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
            None => Some(FieldError::invalid(path, json!(s), "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")),
            Some(p) if p > 100 => Some(FieldError::invalid(path, json!(s), "must not be greater than 100%")),
            Some(_) => None,
        },
        _ => None,
    }
}

impl Strategy for PodDisruptionBudget {
    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0});
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        keep_status(new, old);
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let spec = obj.get("spec").unwrap_or(&Value::Null);
        let mut errs = Vec::new();
        let set = |k: &str| spec.get(k).is_some_and(|v| !v.is_null());
        if set("minAvailable") && set("maxUnavailable") {
            errs.push(FieldError::invalid(
                "spec",
                spec.clone(),
                "minAvailable and maxUnavailable cannot be both set",
            ));
        }
        errs.extend(budget(spec, "minAvailable"));
        errs.extend(budget(spec, "maxUnavailable"));
        if let Some(selector) = spec.get("selector").filter(|s| !s.is_null()) {
            errs.extend(label_selector(selector, "spec.selector"));
        }
        if let Some(policy) = spec.get("unhealthyPodEvictionPolicy").and_then(Value::as_str) {
            if !["IfHealthyBudget", "AlwaysAllow"].contains(&policy) {
                errs.push(FieldError::not_supported(
                    "spec.unhealthyPodEvictionPolicy",
                    json!(policy),
                    &["AlwaysAllow", "IfHealthyBudget"],
                ));
            }
        }
        errs
    }
}

pub struct PriorityClass;

/// upstream's HighestUserDefinablePriority.
const HIGHEST_USER_PRIORITY: i64 = 1_000_000_000;
/// The system priority classes the apiserver creates itself: name, value and description
/// (upstream's SystemPriorityClasses).
pub(crate) const SYSTEM_PRIORITY_CLASSES: &[(&str, i64, &str)] = &[
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

impl Strategy for PriorityClass {
    fn default(&self, obj: &mut Value) {
        set_default_str(obj, "preemptionPolicy", "PreemptLowerPriority");
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let name = super::meta::name(obj);
        let value = obj.get("value").and_then(Value::as_i64).unwrap_or(0);
        let mut errs = Vec::new();
        if name.starts_with("system-") {
            let problem = match SYSTEM_PRIORITY_CLASSES.iter().find(|(n, _, _)| *n == name) {
                None => Some(format!("{name} is not a known system priority class")),
                Some((_, v, _)) if *v != value => Some(format!("value of {name} PriorityClass must be {v}")),
                Some(_) if obj.get("globalDefault").and_then(Value::as_bool) == Some(true) => {
                    Some(format!("globalDefault of {name} PriorityClass must be false"))
                }
                Some(_) => None,
            };
            if let Some(problem) = problem {
                errs.push(FieldError::forbidden(
                    "metadata.name",
                    format!(
                        "priority class names with 'system-' prefix are reserved for system use only. error: {problem}"
                    ),
                ));
            }
        } else if value > HIGHEST_USER_PRIORITY {
            errs.push(FieldError::forbidden(
                "value",
                format!("maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"),
            ));
        }
        if let Some(policy) = obj.get("preemptionPolicy").and_then(Value::as_str) {
            if !["Never", "PreemptLowerPriority"].contains(&policy) {
                errs.push(FieldError::not_supported(
                    "preemptionPolicy",
                    json!(policy),
                    &["Never", "PreemptLowerPriority"],
                ));
            }
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errs = self.validate_create(new);
        if new.get("value") != old.get("value") {
            errs.push(FieldError::forbidden("value", "may not be changed in an update."));
        }
        errs.extend(super::validation::immutable(
            new.get("preemptionPolicy"),
            old.get("preemptionPolicy"),
            "preemptionPolicy",
        ));
        errs
    }

    fn tracks_generation(&self) -> bool {
        false
    }

    fn delete_forbidden(&self, obj: &Value) -> Option<String> {
        let name = super::meta::name(obj);
        SYSTEM_PRIORITY_CLASSES
            .iter()
            .any(|(n, _, _)| *n == name)
            .then(|| "this is a system priority class and cannot be deleted".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdb_rules() {
        let pdb = json!({"spec": {"minAvailable": 1, "maxUnavailable": "200%"}});
        let errs: Vec<String> = PodDisruptionBudget
            .validate_create(&pdb)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(errs[0].ends_with("minAvailable and maxUnavailable cannot be both set"));
        assert_eq!(
            errs[1],
            "spec.maxUnavailable: Invalid value: \"200%\": must not be greater than 100%"
        );
        let mut created = pdb.clone();
        PodDisruptionBudget.prepare_for_create(&mut created);
        assert_eq!(created["status"]["disruptionsAllowed"], 0);
    }

    #[test]
    fn priority_class_rules() {
        let mut pc = json!({"metadata": {"name": "high"}, "value": 2_000_000_000i64});
        PriorityClass.default(&mut pc);
        assert_eq!(pc["preemptionPolicy"], "PreemptLowerPriority");
        assert_eq!(
            PriorityClass.validate_create(&pc)[0].to_string(),
            "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
        );
        let system = json!({"metadata": {"name": "system-node-critical"}, "value": 2_000_001_000i64});
        assert!(PriorityClass.validate_create(&system).is_empty());
        let mut changed = json!({"metadata": {"name": "low"}, "value": 2});
        let old = json!({"metadata": {"name": "low"}, "value": 1});
        PriorityClass.default(&mut changed);
        assert_eq!(
            PriorityClass.validate_update(&changed, &old)[0].to_string(),
            "value: Forbidden: may not be changed in an update."
        );
    }
}
