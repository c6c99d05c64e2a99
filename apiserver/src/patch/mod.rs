//! JSON patch, JSON merge patch and strategic merge patch.
//!
//! `json_patch` and `merge_patch` wrap the json-patch crate with upstream's limits and error wording;
//! strategic merge patch lives in [`smp`], driven by the field metadata table in [`meta`].

mod gofmt;
mod meta;
mod order;
mod schema;
mod smp;
#[cfg(test)]
mod smp_tests;

use serde_json::Value;

pub use meta::{field_meta, FieldMeta};
pub use smp::strategic_merge_patch;

/// `$patch`: replace, delete or merge the map or list element it sits in.
const DIRECTIVE_MARKER: &str = "$patch";
/// `$retainKeys`: the only keys the map keeps.
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
/// `$setElementOrder/<field>`: the order of the merged list.
const SET_ORDER_PREFIX: &str = "$setElementOrder";
/// `$deleteFromPrimitiveList/<field>`: scalars to remove from a merged list.
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";

/// The most operations a JSON patch may hold, as upstream's apiserver allows.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Why a patch could not be applied; messages are upstream's where clients see them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatchError {
    #[error("invalid JSON document")]
    BadJsonDoc,
    #[error("Invalid JSON Patch")]
    BadJsonPatch,
    #[error("lists of lists are not supported")]
    NoListOfLists,
    #[error("invalid patch format of primitive list")]
    BadPatchFormatForPrimitiveList,
    #[error("invalid patch format of retainKeys")]
    BadPatchFormatForRetainKeys,
    #[error("invalid patch format of setElementOrder list")]
    BadPatchFormatForSetElementOrderList,
    /// Any other strategic merge patch failure, worded as upstream words it.
    #[error("{0}")]
    Strategic(String),
    /// The JSON patch document does not parse.
    #[error("{0}")]
    JsonPatchDecode(String),
    #[error("The allowed maximum operations in a JSON patch is {max}, got {got}")]
    TooManyOperations { max: usize, got: usize },
    /// A JSON patch operation does not apply to the document.
    #[error("{0}")]
    JsonPatchApply(String),
}

impl PatchError {
    /// The HTTP status upstream answers with for this error.
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::BadJsonDoc
            | PatchError::BadJsonPatch
            | PatchError::BadPatchFormatForPrimitiveList
            | PatchError::BadPatchFormatForRetainKeys
            | PatchError::BadPatchFormatForSetElementOrderList
            | PatchError::JsonPatchDecode(_) => 400,
            PatchError::TooManyOperations { .. } => 413,
            PatchError::NoListOfLists | PatchError::JsonPatchApply(_) => 422,
            PatchError::Strategic(_) => 500,
        }
    }
}

/// Applies an RFC 6902 JSON patch document (`patch` is its JSON text) to `doc`.
pub fn json_patch(doc: &Value, patch: &[u8]) -> Result<Value, PatchError> {
    let ops: json_patch::Patch =
        serde_json::from_slice(patch).map_err(|e| PatchError::JsonPatchDecode(e.to_string()))?;
    if ops.0.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations {
            max: MAX_JSON_PATCH_OPERATIONS,
            got: ops.0.len(),
        });
    }
    let mut out = doc.clone();
    for op in &ops.0 {
        if tests_missing_member_for_null(&out, op) {
            continue;
        }
        json_patch::patch(&mut out, std::slice::from_ref(op)).map_err(|e| json_patch_error(op, &e))?;
    }
    Ok(out)
}

/// Whether `op` tests that a member absent from `doc` (in an object that exists) is null: upstream's
/// JSON patch library passes that test, and kube-rs's finalizer helper relies on it to add the first
/// finalizer; the json-patch crate fails it.
fn tests_missing_member_for_null(doc: &Value, op: &json_patch::PatchOperation) -> bool {
    let json_patch::PatchOperation::Test(test) = op else {
        return false;
    };
    let path = test.path.as_str();
    let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
    test.value.is_null() && doc.pointer(path).is_none() && doc.pointer(parent).is_some_and(Value::is_object)
}

/// Words a failed operation the way upstream's JSON patch library does.
fn json_patch_error(op: &json_patch::PatchOperation, err: &json_patch::PatchError) -> PatchError {
    use json_patch::{PatchErrorKind, PatchOperation};
    let path = err.path.to_string();
    let message = match (op, &err.kind) {
        (PatchOperation::Test(_), _) | (_, PatchErrorKind::TestFailed) => {
            format!("testing value {path} failed: test failed")
        }
        (PatchOperation::Add(_), _) => {
            format!("add operation does not apply: doc is missing path: \"{path}\": missing value")
        }
        (PatchOperation::Remove(_), _) => {
            format!("remove operation does not apply: doc is missing path: \"{path}\": missing value")
        }
        (PatchOperation::Replace(_), _) => {
            format!("replace operation does not apply: doc is missing key: {path}: missing value")
        }
        (PatchOperation::Move(op), PatchErrorKind::InvalidFromPointer) => {
            format!(
                "move operation does not apply: doc is missing from path: {}: missing value",
                op.from
            )
        }
        (PatchOperation::Copy(op), PatchErrorKind::InvalidFromPointer) => {
            format!(
                "copy operation does not apply: doc is missing from path: {}: missing value",
                op.from
            )
        }
        (PatchOperation::Move(_), _) => {
            format!("move operation does not apply: doc is missing destination path: {path}")
        }
        (PatchOperation::Copy(_), _) => {
            format!("copy operation does not apply: doc is missing destination path: {path}")
        }
    };
    PatchError::JsonPatchApply(message)
}

/// Applies an RFC 7386 JSON merge patch: objects merge recursively, `null` deletes, anything else replaces.
pub fn merge_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    if !patch.is_object() {
        return Err(PatchError::BadJsonPatch);
    }
    let mut out = doc.clone();
    json_patch::merge(&mut out, patch);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_applies_all_operations() {
        let doc = json!({"spec": {"replicas": 1, "a": [1, 2]}, "metadata": {"labels": {"x": "1"}}});
        let ops = br#"[
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/spec/a/-", "value": 3},
            {"op": "remove", "path": "/spec/a/0"},
            {"op": "copy", "from": "/metadata/labels/x", "path": "/metadata/labels/y"},
            {"op": "move", "from": "/metadata/labels/x", "path": "/metadata/labels/z"}
        ]"#;
        let out = json_patch(&doc, ops).unwrap();
        assert_eq!(
            out,
            json!({"spec": {"replicas": 3, "a": [2, 3]}, "metadata": {"labels": {"y": "1", "z": "1"}}})
        );
    }

    #[test]
    fn json_patch_test_of_a_missing_member_against_null_passes_like_upstream() {
        // kube-rs's finalizer helper adds the first finalizer this way.
        let doc = json!({"metadata": {"name": "w"}});
        let ops = br#"[{"op": "test", "path": "/metadata/finalizers", "value": null},
                       {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}]"#;
        let out = json_patch(&doc, ops).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["f"]));
        // Once present, the same test fails, so a second writer cannot add the list twice.
        let err = json_patch(&out, ops).unwrap_err();
        assert_eq!(
            err.to_string(),
            "testing value /metadata/finalizers failed: test failed"
        );
        let err = json_patch(
            &doc,
            br#"[{"op": "test", "path": "/metadata/finalizers", "value": ["f"]}]"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "testing value /metadata/finalizers failed: test failed"
        );
    }

    #[test]
    fn json_patch_failures_read_like_upstream() {
        let doc = json!({"spec": {"replicas": 1}});
        let err = json_patch(&doc, br#"[{"op": "test", "path": "/spec/replicas", "value": 2}]"#).unwrap_err();
        assert_eq!(err.to_string(), "testing value /spec/replicas failed: test failed");
        assert_eq!(err.status_code(), 422);
        let err = json_patch(&doc, br#"[{"op": "remove", "path": "/spec/nope"}]"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "remove operation does not apply: doc is missing path: \"/spec/nope\": missing value"
        );
        let err = json_patch(&doc, b"{not json").unwrap_err();
        assert_eq!(err.status_code(), 400);
    }

    #[test]
    fn json_patch_caps_operation_count() {
        let ops: Vec<Value> = (0..=MAX_JSON_PATCH_OPERATIONS)
            .map(|_| json!({"op": "test", "path": "", "value": {}}))
            .collect();
        let err = json_patch(&json!({}), &serde_json::to_vec(&ops).unwrap()).unwrap_err();
        assert_eq!(
            err,
            PatchError::TooManyOperations {
                max: 10_000,
                got: 10_001
            }
        );
        assert_eq!(err.status_code(), 413);
    }

    #[test]
    fn merge_patch_merges_and_null_deletes() {
        let doc = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"ports": [1, 2]}});
        let patch = json!({"metadata": {"labels": {"a": null, "c": "3"}}, "spec": {"ports": [3]}});
        let out = merge_patch(&doc, &patch).unwrap();
        assert_eq!(
            out,
            json!({"metadata": {"labels": {"b": "2", "c": "3"}}, "spec": {"ports": [3]}})
        );
        assert_eq!(merge_patch(&doc, &json!(null)).unwrap_err(), PatchError::BadJsonPatch);
    }
}
