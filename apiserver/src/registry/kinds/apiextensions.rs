//! CustomResourceDefinition: upstream's defaults, the checks that keep a CRD servable, status kept
//! apart from spec, and deletion that always waits for the cleanup of its custom resources.

use super::{Kind, NameRule};
use crate::registry::{FieldError, Strategy};
use serde_json::{json, Value};

/// The finalizer under which the CRD cleanup loop deletes every custom resource first.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

pub fn lookup(kind: &str) -> Option<Kind> {
    (kind == "CustomResourceDefinition").then(|| Kind::new(NameRule::Subdomain, Crd))
}

struct Crd;

fn str_at<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

impl Strategy for Crd {
    fn default(&self, obj: &mut Value) {
        let kind = str_at(obj, "/spec/names/kind").to_string();
        let Some(names) = obj.pointer_mut("/spec/names").and_then(Value::as_object_mut) else {
            return;
        };
        if !kind.is_empty() {
            names.entry("singular").or_insert_with(|| json!(kind.to_lowercase()));
            names.entry("listKind").or_insert_with(|| json!(format!("{kind}List")));
        }
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            spec.entry("conversion").or_insert_with(|| json!({"strategy": "None"}));
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        let storage = storage_version(obj).unwrap_or_default();
        obj["status"] = json!({"acceptedNames": {"kind": "", "plural": ""}, "storedVersions": [storage]});
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        let mut status = old.get("status").cloned().unwrap_or(json!({}));
        if let Some(storage) = storage_version(new) {
            let stored = status["storedVersions"].as_array().cloned().unwrap_or_default();
            if !stored.iter().any(|v| v == storage.as_str()) {
                let mut stored = stored;
                stored.push(json!(storage));
                status["storedVersions"] = json!(stored);
            }
        }
        new["status"] = status;
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let mut errors = super::crd_validation::validate_create(obj);
        errors.extend(crate::crd::cel::crd_errors(obj));
        errors
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errors = super::crd_validation::validate_update(new, old);
        if new.get("spec") != old.get("spec") {
            errors.extend(crate::crd::cel::crd_errors(new));
        }
        errors
    }

    /// A CRD's first delete only marks it; it goes once the cleanup finalizer is removed.
    fn deletion_pending(&self, obj: &Value) -> bool {
        let deleting = obj.pointer("/metadata/deletionTimestamp").is_some();
        let finalizers = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        !deleting || finalizers
    }

    fn prepare_for_delete(&self, obj: &mut Value) {
        let finalizers = obj["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
        if !finalizers.iter().any(|f| f == CLEANUP_FINALIZER) {
            let mut finalizers = finalizers;
            finalizers.push(json!(CLEANUP_FINALIZER));
            obj["metadata"]["finalizers"] = json!(finalizers);
        }
        let mut conditions: Vec<Value> = obj
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        conditions.retain(|c| c["type"] != "Terminating");
        conditions.push(json!({
            "type": "Terminating",
            "status": "True",
            "lastTransitionTime": crate::registry::store::object::now_rfc3339(),
            "reason": "InstanceDeletionPending",
            "message": "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
        }));
        obj["status"]["conditions"] = json!(conditions);
    }
}

/// The name of the version marked `storage: true`.
pub fn storage_version(crd: &Value) -> Option<String> {
    crd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v["storage"] == json!(true))
        .and_then(|v| v["name"].as_str())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd() -> Value {
        json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object"}}}]}
        })
    }

    #[test]
    fn defaults_and_validates() {
        let mut obj = crd();
        Crd.default(&mut obj);
        assert_eq!(obj["spec"]["names"]["singular"], "widget");
        assert_eq!(obj["spec"]["names"]["listKind"], "WidgetList");
        assert_eq!(obj["spec"]["conversion"]["strategy"], "None");
        Crd.prepare_for_create(&mut obj);
        assert!(Crd.validate_create(&obj).is_empty(), "{:?}", Crd.validate_create(&obj));
        obj["metadata"]["name"] = json!("wrong.example.com");
        obj["spec"]["versions"][0]["storage"] = json!(false);
        let errors: Vec<String> = Crd.validate_create(&obj).iter().map(|e| e.to_string()).collect();
        assert!(
            errors.contains(
                &"metadata.name: Invalid value: \"wrong.example.com\": must be spec.names.plural+\".\"+spec.group"
                    .to_string()
            ),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.ends_with("must have exactly one version marked as storage version")),
            "{errors:?}"
        );
    }

    #[test]
    fn deletion_waits_for_cleanup() {
        let mut obj = crd();
        assert!(Crd.deletion_pending(&obj));
        Crd.prepare_for_delete(&mut obj);
        assert_eq!(obj["metadata"]["finalizers"], json!([CLEANUP_FINALIZER]));
        obj["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert!(Crd.deletion_pending(&obj));
        obj["metadata"]["finalizers"] = json!([]);
        assert!(!Crd.deletion_pending(&obj));
    }
}
