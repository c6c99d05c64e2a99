//! Upstream's DefaultStorageClass admission plugin: a new PersistentVolumeClaim that names no
//! storageClassName (absent, not `""`) gets the default StorageClass — the one annotated
//! `storageclass.kubernetes.io/is-default-class: "true"`, the newest when several are. And the
//! StorageObjectInUseProtection plugin: new claims and volumes carry the pvc-protection and
//! pv-protection finalizers, which the persistent volume controller lifts once they are unused.
//! And PersistentVolumeClaimResize: a claim may only grow when its StorageClass has
//! allowVolumeExpansion.

use crate::registry::Store;
use crate::status::{ApiError, ApiResult, Gr};
use serde_json::Value;
use skiff_machinery::quantity::Quantity;

const IS_DEFAULT: &str = "storageclass.kubernetes.io/is-default-class";

pub(super) fn admit_claim(store: &Store, claim: &mut Value) {
    let Some(spec) = claim.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if spec.get("storageClassName").is_some_and(|c| !c.is_null()) {
        return;
    }
    let newest_default = store
        .cached_objects("storage.k8s.io", "storageclasses", None)
        .iter()
        .filter_map(|o| serde_json::from_slice::<Value>(&o.json).ok())
        .filter(|c| {
            c.pointer("/metadata/annotations")
                .and_then(|a| a.get(IS_DEFAULT))
                .and_then(Value::as_str)
                == Some("true")
        })
        .max_by(|a, b| {
            let created = |c: &Value| {
                c.pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            created(a).cmp(&created(b))
        });
    if let Some(name) = newest_default
        .as_ref()
        .and_then(|c| c.pointer("/metadata/name"))
        .cloned()
    {
        spec.insert("storageClassName".into(), name);
    }
}

/// Upstream's PersistentVolumeClaimResize: growing `claim`'s storage request (over `old`'s) needs
/// a StorageClass that allows volume expansion.
pub(super) fn admit_resize(store: &Store, claim: &Value, old: &Value, name: &str) -> ApiResult<()> {
    let size = |c: &Value| {
        c.pointer("/spec/resources/requests/storage")
            .and_then(Value::as_str)
            .and_then(Quantity::parse)
            .unwrap_or(Quantity::ZERO)
    };
    if size(claim) <= size(old) {
        return Ok(());
    }
    let class = claim
        .pointer("/spec/storageClassName")
        .and_then(Value::as_str)
        .unwrap_or("");
    let expandable = !class.is_empty()
        && store
            .cached_objects("storage.k8s.io", "storageclasses", None)
            .iter()
            .filter_map(|o| serde_json::from_slice::<Value>(&o.json).ok())
            .any(|c| {
                c.pointer("/metadata/name").and_then(Value::as_str) == Some(class)
                    && c.get("allowVolumeExpansion").and_then(Value::as_bool) == Some(true)
            });
    if expandable {
        return Ok(());
    }
    Err(ApiError::forbidden(
        Gr { group: "", resource: "persistentvolumeclaims" },
        name,
        "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize",
    ))
}

/// Add `finalizer` to a new object's finalizers (once).
pub(super) fn protect(obj: &mut Value, finalizer: &str) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let list = meta.entry("finalizers").or_insert_with(|| Value::Array(Vec::new()));
    if let Some(list) = list.as_array_mut() {
        if !list.iter().any(|f| f.as_str() == Some(finalizer)) {
            list.push(finalizer.into());
        }
    }
}
