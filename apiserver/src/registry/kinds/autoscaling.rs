//! `autoscaling`: HorizontalPodAutoscalers, defaulted as upstream's v1 and v2 defaulters do
//! (minReplicas 1; on v2 the 80% CPU metric when none is given and the default scaling rules
//! under a given behavior) and validated as upstream (replica bounds, scale target reference).

use super::meta::{keep_status, reset_status, NameRule};
use super::validation::path_segment_name;
use super::value::set_default;
use super::Kind;
use crate::registry::{FieldError, Strategy};
use serde_json::{json, Value};

/// The rules of an autoscaling kind.
pub fn lookup(kind: &str) -> Option<Kind> {
    (kind == "HorizontalPodAutoscaler").then(|| Kind::new(NameRule::Subdomain, HorizontalPodAutoscaler))
}

struct HorizontalPodAutoscaler;

/// upstream's default scale-up rules: no stabilization, the larger of 4 pods or 100% per 15 s.
fn scale_up_default() -> Value {
    json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15}]})
}

/// upstream's default scale-down rules: 100% per 15 s (the stabilization window is the
/// controller's flag, so it stays unset).
fn scale_down_default() -> Value {
    json!({"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]})
}

/// Given rules with the defaults filled in field by field.
fn rules_with_defaults(given: Option<&Value>, defaults: Value) -> Value {
    let mut rules = defaults;
    if let (Some(Value::Object(given)), Value::Object(out)) = (given, &mut rules) {
        for (key, value) in given.iter().filter(|(_, v)| !v.is_null()) {
            out.insert(key.clone(), value.clone());
        }
    }
    rules
}

impl Strategy for HorizontalPodAutoscaler {
    fn default(&self, obj: &mut Value) {
        let v2 = obj["apiVersion"] == "autoscaling/v2";
        let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
            return;
        };
        set_default(spec, "minReplicas", json!(1));
        if !v2 {
            return;
        }
        if spec["metrics"].as_array().is_none_or(Vec::is_empty) {
            spec["metrics"] = json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]);
        }
        if let Some(behavior) = spec.get_mut("behavior").filter(|b| b.is_object()) {
            behavior["scaleUp"] = rules_with_defaults(behavior.get("scaleUp"), scale_up_default());
            behavior["scaleDown"] = rules_with_defaults(behavior.get("scaleDown"), scale_down_default());
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        reset_status(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        keep_status(new, old);
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let spec = obj.get("spec").unwrap_or(&Value::Null);
        let mut errs = Vec::new();
        let min = spec["minReplicas"].as_i64();
        let max = spec["maxReplicas"].as_i64().unwrap_or(0);
        if let Some(min) = min.filter(|m| *m < 1) {
            errs.push(FieldError::invalid(
                "spec.minReplicas",
                json!(min),
                "must be greater than or equal to 1",
            ));
        }
        if max < 1 {
            errs.push(FieldError::invalid(
                "spec.maxReplicas",
                json!(max),
                "must be greater than 0",
            ));
        }
        if min.is_some_and(|min| max < min) {
            errs.push(FieldError::invalid(
                "spec.maxReplicas",
                json!(max),
                "must be greater than or equal to `minReplicas`",
            ));
        }
        for field in ["kind", "name"] {
            let path = format!("spec.scaleTargetRef.{field}");
            match spec
                .pointer(&format!("/scaleTargetRef/{field}"))
                .and_then(Value::as_str)
            {
                None | Some("") => errs.push(FieldError::required(path, "")),
                Some(value) => errs.extend(
                    path_segment_name(value)
                        .into_iter()
                        .map(|msg| FieldError::invalid(path.clone(), json!(value), msg)),
                ),
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(obj: &Value) -> Vec<String> {
        HorizontalPodAutoscaler
            .validate_create(obj)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn v2_defaults_fill_min_replicas_metrics_and_behavior_rules() {
        let mut hpa = json!({"apiVersion": "autoscaling/v2", "spec": {"maxReplicas": 3,
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}});
        HorizontalPodAutoscaler.default(&mut hpa);
        assert_eq!(hpa["spec"]["minReplicas"], 1);
        assert_eq!(
            hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
        assert_eq!(hpa["spec"]["behavior"]["scaleUp"], scale_up_default());
        assert_eq!(
            hpa["spec"]["behavior"]["scaleDown"],
            json!({"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
                "stabilizationWindowSeconds": 60})
        );
        let mut v1 = json!({"apiVersion": "autoscaling/v1", "spec": {"maxReplicas": 3}});
        HorizontalPodAutoscaler.default(&mut v1);
        assert_eq!(v1["spec"], json!({"maxReplicas": 3, "minReplicas": 1}));
    }

    #[test]
    fn replica_bounds_and_target_reference() {
        let good = json!({"spec": {"minReplicas": 1, "maxReplicas": 2,
            "scaleTargetRef": {"kind": "Deployment", "name": "web"}}});
        assert!(messages(&good).is_empty());
        let bad = json!({"spec": {"minReplicas": 5, "maxReplicas": 2, "scaleTargetRef": {"kind": "Deployment"}}});
        assert_eq!(
            messages(&bad),
            [
                "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
                "spec.scaleTargetRef.name: Required value",
            ]
        );
        let zero = json!({"spec": {"minReplicas": 0, "maxReplicas": 0,
            "scaleTargetRef": {"kind": "Deployment", "name": "a/b"}}});
        assert_eq!(
            messages(&zero),
            [
                "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
                "spec.maxReplicas: Invalid value: 0: must be greater than 0",
                "spec.scaleTargetRef.name: Invalid value: \"a/b\": may not contain '/'",
            ]
        );
    }
}
