//! JSON patch, JSON merge patch and strategic merge patch. (Temporary stand-in; replaced by the
//! patch engines.)

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("{0}")]
    Invalid(String),
}

pub fn json_patch(doc: &Value, patch: &[u8]) -> Result<Value, PatchError> {
    let patch: json_patch::Patch = serde_json::from_slice(patch).map_err(|e| PatchError::Invalid(e.to_string()))?;
    let mut doc = doc.clone();
    json_patch::patch(&mut doc, &patch).map_err(|e| PatchError::Invalid(e.to_string()))?;
    Ok(doc)
}

pub fn merge_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let mut doc = doc.clone();
    json_patch::merge(&mut doc, patch);
    Ok(doc)
}

pub fn strategic_merge_patch(
    doc: &Value,
    patch: &Value,
    _defs: &serde_json::Map<String, Value>,
    _root: &str,
) -> Result<Value, PatchError> {
    merge_patch(doc, patch)
}
