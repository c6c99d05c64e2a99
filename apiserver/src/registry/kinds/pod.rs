//! Pods and PodTemplates: upstream's pod strategy (defaulting, Pending status with QoS class on
//! create, the narrow set of spec fields an update may change) and the PodTemplate strategy.

use super::meta::keep_status;
use super::podspec::{default_pod, default_template};
use super::podvalidation::{validate_pod_spec, validate_template};
use super::validation::quantity;
use super::value::{entries, items};
use crate::registry::{FieldError, Strategy};
use serde_json::{json, Value};

/// upstream's message when a pod update changes a field it may not.
const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

pub struct Pod;

impl Strategy for Pod {
    fn default(&self, obj: &mut Value) {
        default_pod(obj);
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
        let mut status = json!({"phase": "Pending", "qosClass": qos_class(&spec)});
        if !items(&spec, "schedulingGates").is_empty() {
            status["conditions"] = json!([{
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": null,
                "lastTransitionTime": null,
                "reason": "SchedulingGated",
                "message": "Scheduling is blocked due to non-empty scheduling gates",
            }]);
        }
        obj["status"] = status;
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        keep_status(new, old);
    }

    /// Upstream's pod CheckGracefulDelete: the request's grace, else the spec's
    /// terminationGracePeriodSeconds (30); pods never scheduled or already terminated go at once.
    fn grace_period(&self, pod: &Value, requested: Option<i64>) -> i64 {
        let unscheduled = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        let terminated = matches!(
            pod.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        );
        if unscheduled || terminated {
            return 0;
        }
        let default = pod
            .pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30);
        match requested.unwrap_or(default) {
            g if g < 0 => 1,
            g => g,
        }
    }

    /// pods/ephemeralcontainers (upstream's podEphemeralContainersStrategy): only
    /// spec.ephemeralContainers changes; existing ones may be neither removed nor changed, and
    /// static pods take none.
    fn subresource_update(&self, subresource: &str, new: &Value, old: &Value) -> Option<(Value, Vec<FieldError>)> {
        if subresource != "ephemeralcontainers" {
            return None;
        }
        let mut merged = old.clone();
        match new.pointer("/spec/ephemeralContainers") {
            Some(list) => merged["spec"]["ephemeralContainers"] = list.clone(),
            None => {
                if let Some(spec) = merged.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.shift_remove("ephemeralContainers");
                }
            }
        }
        default_pod(&mut merged);
        if old
            .pointer("/metadata/annotations/kubernetes.io~1config.mirror")
            .is_some()
        {
            return Some((
                merged,
                vec![FieldError::forbidden(
                    "",
                    "static pods do not support ephemeral containers",
                )],
            ));
        }
        let mut errs = self.validate_create(&merged);
        let now = items(&merged["spec"], "ephemeralContainers");
        for before in items(&old["spec"], "ephemeralContainers") {
            let name = before.get("name").and_then(Value::as_str).unwrap_or("");
            match now.iter().find(|c| c.get("name").and_then(Value::as_str) == Some(name)) {
                None => errs.push(FieldError::forbidden(
                    "spec.ephemeralContainers",
                    format!("existing ephemeral containers {name:?} may not be removed\n"),
                )),
                Some(after) if after != before => errs.push(FieldError::forbidden(
                    "spec.ephemeralContainers",
                    format!("existing ephemeral containers {name:?} may not be changed\n"),
                )),
                Some(_) => {}
            }
        }
        Some((merged, errs))
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        validate_pod_spec(obj.get("spec").unwrap_or(&Value::Null), "spec")
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errs = self.validate_create(new);
        let (new_spec, old_spec) = (mutable_masked(new, old), mutable_masked(old, old));
        if new_spec != old_spec {
            errs.push(FieldError::forbidden("spec", POD_UPDATE_FORBIDDEN));
        }
        errs
    }
}

/// The pod's spec with what an update may change replaced by the old pod's values.
fn mutable_masked(pod: &Value, old: &Value) -> Value {
    let mut spec = pod.get("spec").cloned().unwrap_or(Value::Null);
    let old_spec = old.get("spec").cloned().unwrap_or(Value::Null);
    for list in ["containers", "initContainers"] {
        if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for (i, c) in containers.iter_mut().enumerate() {
                if let (Some(c), Some(old_image)) = (c.as_object_mut(), old_spec[list][i].get("image")) {
                    c.insert("image".into(), old_image.clone());
                }
            }
        }
    }
    if let Some(map) = spec.as_object_mut() {
        for key in [
            "activeDeadlineSeconds",
            "terminationGracePeriodSeconds",
            "schedulingGates",
        ] {
            map.remove(key);
        }
        // Tolerations may only grow: keep the old ones as the comparison base.
        let old_tolerations = items(&old_spec, "tolerations");
        let new_tolerations = items(pod.get("spec").unwrap_or(&Value::Null), "tolerations");
        if old_tolerations.iter().all(|t| new_tolerations.contains(t)) {
            map.remove("tolerations");
        }
    }
    spec
}

/// upstream's qos.GetPodQOS over regular and init containers.
pub fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .flat_map(|list| items(spec, list))
        .collect();
    let positive = |res: &Value, key: &str, name: &str| {
        entries(res, key)
            .into_iter()
            .find(|(n, _)| n.as_str() == name)
            .and_then(|(_, q)| q.as_str().and_then(quantity).or_else(|| q.as_f64()))
            .filter(|q| *q > 0.0)
    };
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let res = c.get("resources").unwrap_or(&Value::Null);
        for name in ["cpu", "memory"] {
            let (req, lim) = (positive(res, "requests", name), positive(res, "limits", name));
            any |= req.is_some() || lim.is_some();
            if lim.is_none() || (req.is_some() && req != lim) {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

pub struct PodTemplate;

impl Strategy for PodTemplate {
    fn default(&self, obj: &mut Value) {
        if let Some(template) = obj.get_mut("template") {
            default_template(template);
        }
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        validate_template(obj.get("template"), "template")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    }

    #[test]
    fn create_sets_pending_status() {
        let mut p = pod();
        p["status"] = json!({"phase": "Running"});
        Pod.default(&mut p);
        Pod.prepare_for_create(&mut p);
        assert_eq!(p["status"], json!({"phase": "Pending", "qosClass": "BestEffort"}));
        assert!(Pod.validate_create(&p).is_empty());
    }

    #[test]
    fn scheduling_gates_add_condition() {
        let mut p = pod();
        p["spec"]["schedulingGates"] = json!([{"name": "wait"}]);
        Pod.prepare_for_create(&mut p);
        assert_eq!(p["status"]["conditions"][0]["reason"], "SchedulingGated");
    }

    #[test]
    fn qos_classes() {
        let c = |res: Value| json!({"containers": [{"name": "c", "resources": res}]});
        assert_eq!(qos_class(&c(json!({}))), "BestEffort");
        assert_eq!(qos_class(&c(json!({"requests": {"cpu": "100m"}}))), "Burstable");
        let both = json!({"cpu": "1", "memory": "1Gi"});
        assert_eq!(
            qos_class(&c(json!({"requests": both.clone(), "limits": both}))),
            "Guaranteed"
        );
    }

    #[test]
    fn updates_may_only_change_images_and_a_few_fields() {
        let mut old = pod();
        Pod.default(&mut old);
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("nginx:2");
        new["spec"]["activeDeadlineSeconds"] = json!(5);
        assert!(Pod.validate_update(&new, &old).is_empty());
        new["spec"]["restartPolicy"] = json!("Never");
        let errs = Pod.validate_update(&new, &old);
        assert_eq!(errs[0].to_string(), format!("spec: Forbidden: {POD_UPDATE_FORBIDDEN}"));
    }
}
