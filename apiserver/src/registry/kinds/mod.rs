//! Per-kind strategies of the built-in kinds: upstream's defaulting, validation and write
//! preparation, one module per API family, plugged into the registry through [`strategy_for`].

mod admission;
mod admission_policy;
pub mod apiextensions;
mod apps;
mod autoscaling;
mod batch;
mod certificates;
mod config;
mod core;
pub(crate) mod crd_validation;
mod endpoints;
mod meta;
mod networking;
mod pod;
mod podspec;
mod podvalidation;
mod policy;
mod rbac;
mod service;
mod storage;
pub(crate) mod validation;
mod value;
mod workload;

use super::{fields, tables, Column, FieldError, Strategy};
use serde_json::Value;
use std::sync::Arc;

pub use meta::NameRule;
pub(crate) use policy::SYSTEM_PRIORITY_CLASSES;

/// upstream's ObjectMeta validation (name, labels, annotations, finalizers), for kinds defined at
/// run time.
pub fn validate_metadata(obj: &Value) -> Vec<FieldError> {
    meta::validate(obj, NameRule::Subdomain)
}

/// A kind's own rules: how its name is checked and the strategy for the rest.
pub struct Kind {
    pub names: NameRule,
    pub strategy: Box<dyn Strategy>,
}

impl Kind {
    fn new(names: NameRule, strategy: impl Strategy + 'static) -> Self {
        Kind {
            names,
            strategy: Box::new(strategy),
        }
    }
}

/// The strategy for a built-in kind.
pub fn strategy_for(group: &str, kind: &str) -> Arc<dyn Strategy> {
    let rules = match group {
        "" => core::lookup(kind),
        "apps" => apps::lookup(kind),
        "autoscaling" => autoscaling::lookup(kind),
        "batch" => batch::lookup(kind),
        "certificates.k8s.io" => certificates::lookup(kind),
        "rbac.authorization.k8s.io" => rbac::lookup(kind),
        "networking.k8s.io" => networking::lookup(kind),
        "policy" | "scheduling.k8s.io" => policy::lookup(kind),
        "discovery.k8s.io" => endpoints::lookup(kind),
        "admissionregistration.k8s.io" => admission::lookup(kind).or_else(|| admission_policy::lookup(kind)),
        "storage.k8s.io" => storage::lookup(kind),
        "apiextensions.k8s.io" => apiextensions::lookup(kind),
        _ => None,
    }
    .unwrap_or_else(|| plain(group, kind));
    Arc::new(Builtin {
        group: group.to_string(),
        kind: kind.to_string(),
        rules,
    })
}

/// Built-in kinds with no rules beyond metadata: whether they track generation and own a status.
fn plain(group: &str, kind: &str) -> Kind {
    let generation = matches!(
        (group, kind),
        ("admissionregistration.k8s.io", _)
            | ("flowcontrol.apiserver.k8s.io", _)
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("resource.k8s.io", "DeviceClass")
    );
    let status = matches!(
        (group, kind),
        ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("apiregistration.k8s.io", "APIService")
            | ("flowcontrol.apiserver.k8s.io", _)
            | ("storage.k8s.io", "VolumeAttachment")
            | ("resource.k8s.io", "ResourceClaim")
    );
    let names = match group {
        "flowcontrol.apiserver.k8s.io" => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    };
    Kind::new(names, meta::Plain { generation, status })
}

/// The built-in kinds whose upstream registry sets `ReturnDeletedObject: true`: a DELETE that
/// removes one answers with the object, not a Status.
fn returns_deleted_object(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        (
            "",
            "Pod" | "Service" | "ServiceAccount" | "Namespace" | "PersistentVolume" | "PersistentVolumeClaim"
        ) | (
            "storage.k8s.io",
            "StorageClass" | "CSIDriver" | "CSINode" | "VolumeAttachment" | "VolumeAttributesClass"
        )
    )
}

/// Wraps a kind's rules with what every built-in kind shares: metadata validation, and upstream's
/// table columns and selectable fields.
struct Builtin {
    group: String,
    kind: String,
    rules: Kind,
}

impl Strategy for Builtin {
    fn default(&self, obj: &mut Value) {
        self.rules.strategy.default(obj);
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        self.rules.strategy.prepare_for_create(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        self.rules.strategy.prepare_for_update(new, old);
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = meta::validate(obj, self.rules.names);
        errs.extend(self.rules.strategy.validate_create(obj));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errs = meta::validate(new, self.rules.names);
        errs.extend(self.rules.strategy.validate_update(new, old));
        errs
    }

    fn status_updates_annotations(&self) -> bool {
        self.rules.strategy.status_updates_annotations()
    }

    fn subresource_update(&self, subresource: &str, new: &Value, old: &Value) -> Option<(Value, Vec<FieldError>)> {
        let (merged, errs) = self.rules.strategy.subresource_update(subresource, new, old)?;
        let mut all = meta::validate(&merged, self.rules.names);
        all.extend(errs);
        Some((merged, all))
    }

    fn tracks_generation(&self) -> bool {
        self.rules.strategy.tracks_generation()
    }

    fn deletion_pending(&self, obj: &Value) -> bool {
        self.rules.strategy.deletion_pending(obj)
    }

    fn prepare_for_delete(&self, obj: &mut Value) {
        self.rules.strategy.prepare_for_delete(obj)
    }

    fn grace_period(&self, obj: &Value, requested: Option<i64>) -> i64 {
        self.rules.strategy.grace_period(obj, requested)
    }

    fn delete_forbidden(&self, obj: &Value) -> Option<String> {
        self.rules.strategy.delete_forbidden(obj)
    }

    fn returns_deleted_object(&self) -> bool {
        returns_deleted_object(&self.group, &self.kind)
    }

    fn columns(&self) -> Option<&[Column]> {
        tables::columns_for(&self.group, &self.kind)
    }

    fn field(&self, obj: &Value, path: &str) -> Option<String> {
        fields::selectable_field(&self.group, &self.kind, obj, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_kinds_validate_names_and_skip_generation() {
        let s = strategy_for("coordination.k8s.io", "Lease");
        assert!(!s.tracks_generation());
        let errs = s.validate_create(&json!({"metadata": {"name": "Bad"}}));
        assert_eq!(errs.len(), 1);
        assert!(strategy_for("admissionregistration.k8s.io", "ValidatingWebhookConfiguration").tracks_generation());
    }

    #[test]
    fn missing_name_is_required() {
        let errs = strategy_for("", "ConfigMap").validate_create(&json!({"metadata": {}}));
        assert_eq!(
            errs[0].to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
    }
}
