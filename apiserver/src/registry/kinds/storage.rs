//! The `storage.k8s.io` group: StorageClass and CSIDriver defaults, and the StorageClass fields
//! that may not change.

use super::meta::NameRule;
use super::podvalidation::one_of;
use super::value::{child, set_default, set_default_str, str_of};
use super::Kind;
use crate::registry::{FieldError, Strategy};
use serde_json::{json, Value};

/// The rules of a storage kind.
pub fn lookup(kind: &str) -> Option<Kind> {
    match kind {
        "StorageClass" => Some(Kind::new(NameRule::Subdomain, StorageClass)),
        "CSIDriver" => Some(Kind::new(NameRule::Subdomain, CsiDriver)),
        _ => None,
    }
}

pub struct StorageClass;

impl Strategy for StorageClass {
    fn default(&self, obj: &mut Value) {
        set_default_str(obj, "reclaimPolicy", "Delete");
        set_default_str(obj, "volumeBindingMode", "Immediate");
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if str_of(obj, "provisioner").is_empty() {
            errs.push(FieldError::required("provisioner", ""));
        }
        errs.extend(one_of(
            obj,
            "reclaimPolicy",
            "reclaimPolicy",
            &["Delete", "Recycle", "Retain"],
        ));
        errs.extend(one_of(
            obj,
            "volumeBindingMode",
            "volumeBindingMode",
            &["Immediate", "WaitForFirstConsumer"],
        ));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errs = self.validate_create(new);
        for field in ["parameters", "provisioner", "reclaimPolicy", "volumeBindingMode"] {
            if new.get(field) != old.get(field) {
                errs.push(FieldError::forbidden(
                    field,
                    format!("updates to {field} are forbidden."),
                ));
            }
        }
        errs
    }

    fn tracks_generation(&self) -> bool {
        false
    }
}

pub struct CsiDriver;

impl Strategy for CsiDriver {
    fn default(&self, obj: &mut Value) {
        if let Some(spec) = child(obj, "spec") {
            set_default(spec, "attachRequired", json!(true));
            set_default(spec, "podInfoOnMount", json!(false));
            set_default(spec, "storageCapacity", json!(false));
            set_default_str(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType");
            set_default(spec, "volumeLifecycleModes", json!(["Persistent"]));
            set_default(spec, "requiresRepublish", json!(false));
            set_default(spec, "seLinuxMount", json!(false));
        }
    }

    fn tracks_generation(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_class_rules() {
        let mut sc = json!({"metadata": {"name": "fast"}, "provisioner": "example.com/disk"});
        StorageClass.default(&mut sc);
        assert_eq!(sc["reclaimPolicy"], "Delete");
        assert_eq!(sc["volumeBindingMode"], "Immediate");
        assert!(StorageClass.validate_create(&sc).is_empty());
        let mut changed = sc.clone();
        changed["parameters"] = json!({"type": "ssd"});
        assert_eq!(
            StorageClass.validate_update(&changed, &sc)[0].to_string(),
            "parameters: Forbidden: updates to parameters are forbidden."
        );
    }

    #[test]
    fn csi_driver_defaults() {
        let mut d = json!({"spec": {}});
        CsiDriver.default(&mut d);
        assert_eq!(d["spec"]["attachRequired"], true);
        assert_eq!(d["spec"]["volumeLifecycleModes"], json!(["Persistent"]));
    }
}
