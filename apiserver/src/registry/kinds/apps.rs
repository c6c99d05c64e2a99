//! The `apps` group: Deployments, ReplicaSets, StatefulSets and DaemonSets (upstream's apps/v1
//! defaulters, validation and status handling); ControllerRevisions need nothing special.

use super::meta::{keep_status, NameRule, Plain};
use super::podspec::default_template;
use super::podvalidation::validate_template_with;
use super::validation::non_negative;
use super::value::{child, set_default, set_default_str, str_of};
use super::workload::{restart_always, selector_and_template, selector_immutable};
use super::Kind;
use crate::registry::{FieldError, Strategy};
use serde_json::{json, Value};

/// The rules of an apps kind.
pub fn lookup(kind: &str) -> Option<Kind> {
    let workload = match kind {
        "Deployment" => Workload::Deployment,
        "ReplicaSet" => Workload::ReplicaSet,
        "StatefulSet" => Workload::StatefulSet,
        "DaemonSet" => Workload::DaemonSet,
        "ControllerRevision" => {
            return Some(Kind::new(
                NameRule::Subdomain,
                Plain {
                    generation: false,
                    status: false,
                },
            ))
        }
        _ => return None,
    };
    Some(Kind::new(NameRule::Subdomain, workload))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
}

impl Workload {
    /// The lower-case name upstream uses in "empty selector is invalid for …".
    fn noun(self) -> &'static str {
        match self {
            Workload::Deployment => "deployment",
            Workload::ReplicaSet => "deployment",
            Workload::StatefulSet => "statefulset",
            Workload::DaemonSet => "daemonset",
        }
    }

    fn default_spec(self, spec: &mut Value) {
        if self != Workload::DaemonSet {
            set_default(spec, "replicas", json!(1));
        }
        match self {
            Workload::Deployment => {
                if let Some(strategy) = child(spec, "strategy") {
                    set_default_str(strategy, "type", "RollingUpdate");
                    if str_of(strategy, "type") == "RollingUpdate" {
                        if let Some(rolling) = child(strategy, "rollingUpdate") {
                            set_default(rolling, "maxUnavailable", json!("25%"));
                            set_default(rolling, "maxSurge", json!("25%"));
                        }
                    }
                }
                set_default(spec, "progressDeadlineSeconds", json!(600));
            }
            Workload::StatefulSet => {
                set_default_str(spec, "podManagementPolicy", "OrderedReady");
                if let Some(strategy) = child(spec, "updateStrategy") {
                    // Only a defaulted type brings a rollingUpdate block with it.
                    if str_of(strategy, "type").is_empty() {
                        strategy["type"] = json!("RollingUpdate");
                        set_default(strategy, "rollingUpdate", json!({}));
                    }
                    let rolling_type = str_of(strategy, "type") == "RollingUpdate";
                    let rolling = strategy.get_mut("rollingUpdate").filter(|r| r.is_object());
                    if let Some(rolling) = rolling.filter(|_| rolling_type) {
                        set_default(rolling, "partition", json!(0));
                        set_default(rolling, "maxUnavailable", json!(1));
                    }
                }
                if let Some(policy) = child(spec, "persistentVolumeClaimRetentionPolicy") {
                    set_default_str(policy, "whenDeleted", "Retain");
                    set_default_str(policy, "whenScaled", "Retain");
                }
            }
            Workload::DaemonSet => {
                if let Some(strategy) = child(spec, "updateStrategy") {
                    set_default_str(strategy, "type", "RollingUpdate");
                    if str_of(strategy, "type") == "RollingUpdate" {
                        if let Some(rolling) = child(strategy, "rollingUpdate") {
                            set_default(rolling, "maxUnavailable", json!(1));
                            set_default(rolling, "maxSurge", json!(0));
                        }
                    }
                }
            }
            Workload::ReplicaSet => {}
        }
        if self != Workload::ReplicaSet {
            set_default(spec, "revisionHistoryLimit", json!(10));
        }
        if let Some(template) = spec.get_mut("template").filter(|t| t.is_object()) {
            default_template(template);
        }
    }

    fn validate_spec(self, spec: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        errs.extend(non_negative(spec, "replicas", "spec.replicas"));
        errs.extend(non_negative(spec, "minReadySeconds", "spec.minReadySeconds"));
        errs.extend(non_negative(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit"));
        errs.extend(selector_and_template(spec, self.noun()));
        // A StatefulSet's pods also get a volume per claim template, which its containers mount.
        let claims: Vec<&str> = match self {
            Workload::StatefulSet => super::value::items(spec, "volumeClaimTemplates")
                .iter()
                .filter_map(|t| t.pointer("/metadata/name").and_then(Value::as_str))
                .collect(),
            _ => Vec::new(),
        };
        errs.extend(validate_template_with(spec.get("template"), "spec.template", &claims));
        errs.extend(restart_always(spec));
        match self {
            Workload::Deployment => errs.extend(deployment_strategy(spec)),
            Workload::StatefulSet => {
                errs.extend(super::podvalidation::one_of(
                    spec,
                    "podManagementPolicy",
                    "spec.podManagementPolicy",
                    &["OrderedReady", "Parallel"],
                ));
                errs.extend(update_strategy_type(spec));
            }
            Workload::DaemonSet => errs.extend(update_strategy_type(spec)),
            Workload::ReplicaSet => {}
        }
        errs
    }
}

/// StatefulSet and DaemonSet `spec.updateStrategy.type`: OnDelete or RollingUpdate.
fn update_strategy_type(spec: &Value) -> Option<FieldError> {
    let strategy = spec.get("updateStrategy").unwrap_or(&Value::Null);
    super::podvalidation::one_of(
        strategy,
        "type",
        "spec.updateStrategy.type",
        &["OnDelete", "RollingUpdate"],
    )
}

/// Deployment strategy rules: known type, no rollingUpdate with Recreate, sane surge/unavailable.
fn deployment_strategy(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let strategy = spec.get("strategy").unwrap_or(&Value::Null);
    errs.extend(super::podvalidation::one_of(
        strategy,
        "type",
        "spec.strategy.type",
        &["Recreate", "RollingUpdate"],
    ));
    let rolling = strategy.get("rollingUpdate").filter(|r| !r.is_null());
    match (str_of(strategy, "type"), rolling) {
        ("Recreate", Some(_)) => errs.push(FieldError::forbidden(
            "spec.strategy.rollingUpdate",
            "may not be specified when strategy `type` is 'Recreate'",
        )),
        ("RollingUpdate", Some(rolling)) => {
            let zero = |key: &str| match rolling.get(key) {
                Some(Value::Number(n)) => n.as_i64() == Some(0),
                Some(Value::String(s)) => s == "0%" || s == "0",
                _ => false,
            };
            if zero("maxUnavailable") && zero("maxSurge") {
                errs.push(FieldError::invalid(
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    rolling["maxUnavailable"].clone(),
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
            if let Some(Value::String(s)) = rolling.get("maxUnavailable") {
                if s.trim_end_matches('%').parse::<i64>().is_ok_and(|p| p > 100) {
                    errs.push(FieldError::invalid(
                        "spec.strategy.rollingUpdate.maxUnavailable",
                        json!(s),
                        "must not be greater than 100%",
                    ));
                }
            }
        }
        _ => {}
    }
    if let (Some(deadline), min_ready) = (
        spec.get("progressDeadlineSeconds").and_then(Value::as_i64),
        spec.get("minReadySeconds").and_then(Value::as_i64).unwrap_or(0),
    ) {
        if deadline <= min_ready {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                json!(deadline),
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
}

impl Strategy for Workload {
    fn default(&self, obj: &mut Value) {
        if let Some(spec) = child(obj, "spec") {
            self.default_spec(spec);
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        // The empty status as Go serializes it (non-omitempty counters show as 0).
        obj["status"] = match self {
            Workload::Deployment => json!({}),
            Workload::ReplicaSet => json!({"replicas": 0}),
            Workload::StatefulSet => json!({"replicas": 0, "availableReplicas": 0}),
            Workload::DaemonSet => json!({"currentNumberScheduled": 0, "numberMisscheduled": 0,
                "desiredNumberScheduled": 0, "numberReady": 0}),
        };
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        keep_status(new, old);
    }

    fn status_updates_annotations(&self) -> bool {
        *self == Workload::Deployment
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        self.validate_spec(obj.get("spec").unwrap_or(&Value::Null))
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errs = self.validate_create(new);
        errs.extend(selector_immutable(new, old));
        if *self == Workload::StatefulSet {
            errs.extend(statefulset_update(new, old));
        }
        errs
    }
}

/// StatefulSet updates may change only a few spec fields.
fn statefulset_update(new: &Value, old: &Value) -> Option<FieldError> {
    const MUTABLE: &[&str] = &[
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
        "revisionHistoryLimit",
    ];
    let masked = |obj: &Value| {
        let mut spec = obj.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(map) = spec.as_object_mut() {
            map.retain(|k, _| !MUTABLE.contains(&k.as_str()));
        }
        spec
    };
    (masked(new) != masked(old)).then(|| {
        FieldError::forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    }

    #[test]
    fn deployment_defaults() {
        let mut d = deployment();
        Workload::Deployment.default(&mut d);
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        assert_eq!(spec["template"]["spec"]["restartPolicy"], "Always");
        assert!(Workload::Deployment.validate_create(&d).is_empty());
    }

    #[test]
    fn statefulset_and_daemonset_defaults() {
        let mut s = deployment();
        Workload::StatefulSet.default(&mut s);
        assert_eq!(s["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            s["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 1}})
        );
        let mut explicit = deployment();
        explicit["spec"]["updateStrategy"] = json!({"type": "RollingUpdate"});
        Workload::StatefulSet.default(&mut explicit);
        assert_eq!(explicit["spec"]["updateStrategy"], json!({"type": "RollingUpdate"}));
        assert_eq!(
            s["spec"]["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        let mut ds = deployment();
        Workload::DaemonSet.default(&mut ds);
        assert!(ds["spec"].get("replicas").is_none());
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        let mut rs = deployment();
        Workload::ReplicaSet.default(&mut rs);
        assert_eq!(rs["spec"]["replicas"], 1);
        assert!(rs["spec"].get("revisionHistoryLimit").is_none());
    }

    #[test]
    fn selector_rules() {
        let mut d = deployment();
        Workload::Deployment.default(&mut d);
        let mut other = d.clone();
        other["spec"]["template"]["metadata"]["labels"]["app"] = json!("other");
        let errs: Vec<String> = Workload::Deployment
            .validate_create(&other)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            vec!["spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`"]
        );
        let mut moved = d.clone();
        moved["spec"]["selector"]["matchLabels"]["tier"] = json!("x");
        moved["spec"]["template"]["metadata"]["labels"]["tier"] = json!("x");
        let errs = Workload::Deployment.validate_update(&moved, &d);
        assert_eq!(
            errs[0].to_string(),
            "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"tier\":\"x\"}}: field is immutable"
        );
    }

    #[test]
    fn status_reset_and_kept() {
        let mut d = deployment();
        d["status"] = json!({"replicas": 3});
        Workload::Deployment.prepare_for_create(&mut d);
        assert_eq!(d["status"], json!({}));
        let mut new = deployment();
        Workload::Deployment.prepare_for_update(&mut new, &json!({"status": {"replicas": 2}}));
        assert_eq!(new["status"]["replicas"], 2);
    }

    #[test]
    fn statefulset_containers_may_mount_their_claim_templates() {
        let mut s = deployment();
        s["kind"] = json!("StatefulSet");
        s["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] =
            json!([{"name": "redis-data", "mountPath": "/data"}]);
        s["spec"]["volumeClaimTemplates"] = json!([{"metadata": {"name": "redis-data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]);
        Workload::StatefulSet.default(&mut s);
        assert!(
            Workload::StatefulSet.validate_create(&s).is_empty(),
            "{:?}",
            Workload::StatefulSet.validate_create(&s)
        );
        // Other workloads have no claim templates: the same mount names no volume.
        let mut d = s.clone();
        d["spec"]["volumeClaimTemplates"] = json!([]);
        assert_eq!(
            Workload::StatefulSet.validate_create(&d)[0].to_string(),
            "spec.template.spec.containers[0].volumeMounts[0].name: Not found: \"redis-data\""
        );
    }

    #[test]
    fn negative_replicas() {
        let mut d = deployment();
        Workload::Deployment.default(&mut d);
        d["spec"]["replicas"] = json!(-1);
        assert_eq!(
            Workload::Deployment.validate_create(&d)[0].to_string(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
    }
}
