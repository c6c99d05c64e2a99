//! The core (`v1`) group: which strategy each kind gets, and the small kinds with their own rules
//! (Namespace, ReplicationController, PersistentVolumeClaim/Volume, ResourceQuota, Node).

use super::config::{ConfigMap, Secret};
use super::endpoints::Endpoints;
use super::meta::{keep_status, reset_status, NameRule, Plain};
use super::pod::{Pod, PodTemplate};
use super::podspec::default_template;
use super::podvalidation::{one_of, validate_template};
use super::service::Service;
use super::validation::{non_negative, resource_list};
use super::value::{child, each_mut, entries, is_empty, items, set_default, set_default_str, str_of};
use super::workload::template_matches;
use super::Kind;
use crate::registry::{FieldError, Strategy};
use serde_json::{json, Value};

/// The rules of a core kind.
pub fn lookup(kind: &str) -> Option<Kind> {
    Some(match kind {
        "Pod" => Kind::new(NameRule::Subdomain, Pod),
        "PodTemplate" => Kind::new(NameRule::Subdomain, PodTemplate),
        "Service" => Kind::new(NameRule::Dns1035, Service),
        "ConfigMap" => Kind::new(NameRule::Subdomain, ConfigMap),
        "Secret" => Kind::new(NameRule::Subdomain, Secret),
        "Namespace" => Kind::new(NameRule::Label, Namespace),
        "ReplicationController" => Kind::new(NameRule::Subdomain, ReplicationController),
        "PersistentVolumeClaim" => Kind::new(NameRule::Subdomain, PersistentVolumeClaim),
        "PersistentVolume" => Kind::new(NameRule::Subdomain, PersistentVolume),
        "ResourceQuota" => Kind::new(NameRule::Subdomain, ResourceQuota),
        "Node" => Kind::new(NameRule::Subdomain, Node),
        "Endpoints" => Kind::new(NameRule::Subdomain, Endpoints),
        "LimitRange" => Kind::new(NameRule::Subdomain, LimitRange),
        _ => Kind::new(
            NameRule::Subdomain,
            Plain {
                generation: false,
                status: false,
            },
        ),
    })
}

/// Namespaces: the `kubernetes.io/metadata.name` label, the `kubernetes` finalizer and phase Active.
pub struct Namespace;

impl Strategy for Namespace {
    fn default(&self, obj: &mut Value) {
        let name = super::meta::name(obj).to_string();
        if !name.is_empty() {
            if let Some(labels) = child(obj, "metadata").and_then(|m| child(m, "labels")) {
                labels["kubernetes.io/metadata.name"] = json!(name);
            }
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({"phase": "Active"});
        if let Some(spec) = child(obj, "spec") {
            set_default(spec, "finalizers", json!([]));
            if let Some(finalizers) = spec["finalizers"].as_array_mut() {
                if !finalizers.iter().any(|f| f == "kubernetes") {
                    finalizers.push(json!("kubernetes"));
                }
            }
        }
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        keep_status(new, old);
        match old.get("spec") {
            Some(spec) => new["spec"] = spec.clone(),
            None => {
                if let Some(map) = new.as_object_mut() {
                    map.remove("spec");
                }
            }
        }
    }

    fn tracks_generation(&self) -> bool {
        false
    }

    fn deletion_pending(&self, obj: &Value) -> bool {
        let nonempty = |p| obj.pointer(p).and_then(Value::as_array).is_some_and(|f| !f.is_empty());
        nonempty("/metadata/finalizers") || nonempty("/spec/finalizers")
    }

    fn prepare_for_delete(&self, obj: &mut Value) {
        obj["status"]["phase"] = json!("Terminating");
    }
}

/// ReplicationControllers: selector and labels from the template, replicas 1.
pub struct ReplicationController;

impl Strategy for ReplicationController {
    fn default(&self, obj: &mut Value) {
        let template_labels = obj
            .pointer("/spec/template/metadata/labels")
            .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
            .cloned();
        if let Some(labels) = template_labels {
            if let Some(spec) = child(obj, "spec") {
                if is_empty(spec, "selector") {
                    spec["selector"] = labels.clone();
                }
            }
            if let Some(meta) = child(obj, "metadata") {
                if is_empty(meta, "labels") {
                    meta["labels"] = labels;
                }
            }
        }
        if let Some(spec) = child(obj, "spec") {
            set_default(spec, "replicas", json!(1));
            if let Some(template) = spec.get_mut("template").filter(|t| t.is_object()) {
                default_template(template);
            }
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({"replicas": 0});
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        keep_status(new, old);
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let spec = obj.get("spec").unwrap_or(&Value::Null);
        let mut errs = Vec::new();
        if is_empty(spec, "selector") {
            errs.push(FieldError::required("spec.selector", ""));
        }
        errs.extend(super::validation::labels(spec, "selector", "spec.selector"));
        errs.extend(non_negative(spec, "replicas", "spec.replicas"));
        let selector = json!({"matchLabels": spec.get("selector").cloned().unwrap_or(json!({}))});
        errs.extend(template_matches(&selector, spec.get("template"), "spec.template"));
        errs.extend(validate_template(spec.get("template"), "spec.template"));
        errs.extend(super::workload::restart_always(spec));
        errs
    }
}

/// PersistentVolumeClaims: volumeMode Filesystem, phase Pending, a spec fixed after creation.
pub struct PersistentVolumeClaim;

const ACCESS_MODES: &[&str] = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];

fn access_modes(spec: &Value) -> Vec<FieldError> {
    if items(spec, "accessModes").is_empty() {
        return vec![FieldError::required(
            "spec.accessModes",
            "at least 1 access mode is required",
        )];
    }
    items(spec, "accessModes")
        .iter()
        .filter(|m| !m.as_str().is_some_and(|m| ACCESS_MODES.contains(&m)))
        .map(|m| FieldError::not_supported("spec.accessModes", m.clone(), ACCESS_MODES))
        .collect()
}

/// On create of a volume or a claim: the status starts as phase `Pending`.
fn start_pending(obj: &mut Value) {
    if let Some(map) = obj.as_object_mut() {
        map.insert("status".into(), json!({"phase": "Pending"}));
    }
}

impl Strategy for PersistentVolumeClaim {
    fn default(&self, obj: &mut Value) {
        if let Some(spec) = child(obj, "spec") {
            set_default_str(spec, "volumeMode", "Filesystem");
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        start_pending(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        keep_status(new, old);
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let spec = obj.get("spec").unwrap_or(&Value::Null);
        let mut errs = access_modes(spec);
        let resources = spec.get("resources").unwrap_or(&Value::Null);
        if !entries(resources, "requests").iter().any(|(k, _)| *k == "storage") {
            errs.push(FieldError::required("spec.resources[storage]", ""));
        }
        errs.extend(resource_list(resources, "requests", "spec.resources.requests"));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errs = self.validate_create(new);
        let mutable_masked = |obj: &Value| {
            let mut spec = obj.get("spec").cloned().unwrap_or(Value::Null);
            if let Some(map) = spec.as_object_mut() {
                map.remove("volumeAttributesClassName");
                if let Some(resources) = map.get_mut("resources").and_then(Value::as_object_mut) {
                    resources.remove("requests");
                }
                if str_of(old.get("spec").unwrap_or(&Value::Null), "volumeName").is_empty() {
                    map.remove("volumeName");
                }
            }
            spec
        };
        if mutable_masked(new) != mutable_masked(old) {
            errs.push(FieldError::forbidden(
                "spec",
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
            ));
        }
        errs
    }

    fn tracks_generation(&self) -> bool {
        false
    }
}

/// PersistentVolumes: reclaim policy Retain, volumeMode Filesystem, phase Pending.
pub struct PersistentVolume;

impl Strategy for PersistentVolume {
    fn default(&self, obj: &mut Value) {
        if let Some(spec) = child(obj, "spec") {
            set_default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
            set_default_str(spec, "volumeMode", "Filesystem");
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        start_pending(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        keep_status(new, old);
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let spec = obj.get("spec").unwrap_or(&Value::Null);
        let mut errs = access_modes(spec);
        if is_empty(spec, "capacity") {
            errs.push(FieldError::required("spec.capacity", ""));
        }
        errs.extend(resource_list(spec, "capacity", "spec.capacity"));
        errs.extend(one_of(
            spec,
            "persistentVolumeReclaimPolicy",
            "spec.persistentVolumeReclaimPolicy",
            &["Delete", "Recycle", "Retain"],
        ));
        errs
    }

    fn tracks_generation(&self) -> bool {
        false
    }
}

/// ResourceQuotas: well-formed hard limits; status owned by the quota controller.
pub struct ResourceQuota;

impl Strategy for ResourceQuota {
    fn prepare_for_create(&self, obj: &mut Value) {
        reset_status(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        keep_status(new, old);
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        resource_list(obj.get("spec").unwrap_or(&Value::Null), "hard", "spec.hard")
    }

    fn tracks_generation(&self) -> bool {
        false
    }
}

/// LimitRanges: container items get default limits from max, and default requests from the
/// default limits or min.
pub struct LimitRange;

impl Strategy for LimitRange {
    fn default(&self, obj: &mut Value) {
        let Some(spec) = obj.get_mut("spec") else {
            return;
        };
        each_mut(spec, "limits", |item| {
            if str_of(item, "type") != "Container" {
                return;
            }
            let fill = |item: &mut Value, target: &str, source: &str| {
                let from = item.get(source).and_then(Value::as_object).cloned().unwrap_or_default();
                if let Some(to) = child(item, target).and_then(Value::as_object_mut) {
                    for (k, v) in from {
                        to.entry(k).or_insert(v);
                    }
                }
            };
            fill(item, "default", "max");
            fill(item, "defaultRequest", "default");
            fill(item, "defaultRequest", "min");
        });
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let spec = obj.get("spec").unwrap_or(&Value::Null);
        let mut errs = Vec::new();
        for (i, item) in items(spec, "limits").iter().enumerate() {
            for key in ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"] {
                errs.extend(resource_list(item, key, &format!("spec.limits[{i}].{key}")));
            }
        }
        errs
    }

    fn tracks_generation(&self) -> bool {
        false
    }
}

/// Nodes: allocatable defaults to capacity; the status is kept on spec updates.
pub struct Node;

impl Strategy for Node {
    fn default(&self, obj: &mut Value) {
        let capacity = obj.pointer("/status/capacity").cloned();
        if let (Some(capacity), Some(status)) = (capacity, obj.get_mut("status")) {
            set_default(status, "allocatable", capacity);
        }
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        keep_status(new, old);
    }

    fn tracks_generation(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_lifecycle() {
        let mut ns = json!({"metadata": {"name": "team-a"}});
        Namespace.default(&mut ns);
        Namespace.prepare_for_create(&mut ns);
        assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "team-a");
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["status"]["phase"], "Active");
        let mut update = json!({"metadata": {"name": "team-a"}, "spec": {"finalizers": []}});
        Namespace.prepare_for_update(&mut update, &ns);
        assert_eq!(update["spec"]["finalizers"], json!(["kubernetes"]));
        let kind = lookup("Namespace").unwrap();
        assert_eq!(kind.names, NameRule::Label);
    }

    #[test]
    fn replication_controller_selector_from_template() {
        let mut rc = json!({"metadata": {"name": "rc"}, "spec": {"template": {"metadata": {"labels": {"app": "a"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        ReplicationController.default(&mut rc);
        assert_eq!(rc["spec"]["selector"], json!({"app": "a"}));
        assert_eq!(rc["metadata"]["labels"], json!({"app": "a"}));
        assert_eq!(rc["spec"]["replicas"], 1);
        assert!(ReplicationController.validate_create(&rc).is_empty());
    }

    #[test]
    fn limit_range_defaults() {
        let mut lr =
            json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}}]}});
        LimitRange.default(&mut lr);
        let item = &lr["spec"]["limits"][0];
        assert_eq!(item["default"], json!({"cpu": "2"}));
        assert_eq!(item["defaultRequest"], json!({"cpu": "2", "memory": "64Mi"}));
    }

    #[test]
    fn pvc_rules() {
        let mut pvc =
            json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
        PersistentVolumeClaim.default(&mut pvc);
        PersistentVolumeClaim.prepare_for_create(&mut pvc);
        assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pvc["status"]["phase"], "Pending");
        assert!(PersistentVolumeClaim.validate_create(&pvc).is_empty());
        let mut grown = pvc.clone();
        grown["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        assert!(PersistentVolumeClaim.validate_update(&grown, &pvc).is_empty());
        grown["spec"]["accessModes"] = json!(["ReadWriteMany"]);
        assert_eq!(
            PersistentVolumeClaim.validate_update(&grown, &pvc)[0].to_string(),
            "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
        );
        assert_eq!(
            PersistentVolumeClaim.validate_create(&json!({"spec": {}}))[0].to_string(),
            "spec.accessModes: Required value: at least 1 access mode is required"
        );
    }
}
