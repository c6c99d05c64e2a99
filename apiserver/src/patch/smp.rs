//! Strategic merge patch (patch format version 2, as kubectl sends it), applied server-side the way
//! upstream's apimachinery `strategicpatch.StrategicMergeMapPatch` does: parallel lists are merged and
//! nulls that match nothing are dropped.
//!
//! Hand-written because no crate implements strategic merge patch against OpenAPI definitions.

use serde_json::{Map, Value};

use super::gofmt::go_v;
use super::meta::FieldMeta;
use super::order::{
    as_map, bad_arg_type, element_kind, no_merge_key, normalize_element_order, partition, validate_set_order, Kind,
};
use super::schema::Node;
use super::{PatchError, DELETE_FROM_PRIMITIVE_LIST_PREFIX, DIRECTIVE_MARKER, RETAIN_KEYS_DIRECTIVE, SET_ORDER_PREFIX};

/// Applies strategic merge patch `patch` to `doc`, whose kind is definition `root` of `defs`.
pub fn strategic_merge_patch(
    doc: &Value,
    patch: &Value,
    defs: &Map<String, Value>,
    root: &str,
) -> Result<Value, PatchError> {
    let original = match doc {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => return Err(PatchError::BadJsonDoc),
    };
    let Value::Object(patch) = patch else {
        return Err(PatchError::BadJsonDoc);
    };
    merge_map(original, patch.clone(), Node::root(defs, root)).map(Value::Object)
}

/// The patch strategy (without `retainKeys`) and merge key of a field.
fn strategy_of(meta: Option<&FieldMeta>) -> (&'static str, Option<&'static str>) {
    meta.map_or(("", None), |m| (m.base_strategy(), m.merge_key))
}

/// Merges a patch map into an original map.
fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    node: Node,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER) {
        return match directive.as_str() {
            Some("replace") => {
                patch.shift_remove(DIRECTIVE_MARKER);
                Ok(sanitize_map(patch, false))
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(bad_patch_type(directive, &patch)),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    apply_set_element_order(&mut original, &mut patch, node)?;

    for (key, patch_v) in patch {
        let (key, is_delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
            (extract_key(&key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)?, true)
        } else {
            (key, false)
        };
        if patch_v.is_null() {
            original.shift_remove(&key);
            continue;
        }
        let Some(slot) = original.get_mut(&key) else {
            if !is_delete_list {
                if let Some(v) = sanitize(patch_v, true) {
                    original.insert(key, v);
                }
            }
            continue;
        };
        if !same_type(slot, &patch_v) {
            if !is_delete_list {
                match sanitize(patch_v, true) {
                    Some(v) => *slot = v,
                    None => {
                        original.shift_remove(&key);
                    }
                }
            }
            continue;
        }
        let (child, meta) = node.field(&key);
        let (strategy, merge_key) = strategy_of(meta);
        *slot = match (std::mem::take(slot), patch_v) {
            (Value::Object(_), Value::Object(p)) if strategy == "replace" => Value::Object(sanitize_map(p, false)),
            (Value::Object(o), Value::Object(p)) => Value::Object(merge_map(o, p, child)?),
            (Value::Array(o), Value::Array(p)) => Value::Array(merge_list_field(
                o,
                p,
                child.items(),
                strategy,
                merge_key,
                is_delete_list,
            )?),
            (_, scalar) => scalar,
        };
    }
    Ok(original)
}

/// Whether two values have the same JSON type.
fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// `unknown patch type: <t> in map: <m>`.
fn bad_patch_type(directive: &Value, m: &Map<String, Value>) -> PatchError {
    PatchError::Strategic(format!(
        "unknown patch type: {} in map: {}",
        go_v(directive),
        go_v(&Value::Object(m.clone()))
    ))
}

/// The field name after a directive prefix (`$setElementOrder/containers` gives `containers`).
fn extract_key(key: &str, prefix: &str) -> Result<String, PatchError> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Ok(field.to_string()),
        _ if prefix == SET_ORDER_PREFIX => Err(PatchError::BadPatchFormatForSetElementOrderList),
        _ => Err(PatchError::BadPatchFormatForPrimitiveList),
    }
}

/// Handles a list-valued field: merged under the merge strategy (or as a deletion list), else replaced.
fn merge_list_field(
    original: Vec<Value>,
    patch: Vec<Value>,
    elements: Node,
    strategy: &str,
    merge_key: Option<&str>,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if strategy == "merge" || is_delete_list {
        merge_list(original, patch, elements, merge_key, is_delete_list)
    } else {
        Ok(patch.into_iter().filter_map(|v| sanitize(v, false)).collect())
    }
}

/// Merges two lists: scalars by union (or deletion), maps by merge key; then orders the result.
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    elements: Node,
    merge_key: Option<&str>,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = element_kind(&[&original, &patch])?;
    let (original, merged, patch) = if kind != Kind::Object {
        if is_delete_list {
            return Ok(original.into_iter().filter(|v| !patch.contains(v)).collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(&patch) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        (original, merged, patch)
    } else {
        let Some(key) = merge_key else {
            return Err(PatchError::Strategic(format!(
                "cannot merge lists without merge key for {}",
                elements.name()
            )));
        };
        let (original, patch) = apply_special_elements(original, patch, key)?;
        let merged = merge_by_key(original.clone(), &patch, key, elements)?;
        (original, merged, patch)
    };
    let (patch_items, server_only) = partition(merged, &patch, merge_key, kind)?;
    normalize_element_order(patch_items, server_only, &patch, &original, merge_key, kind)
}

/// Applies `$patch` elements of a list of maps: `delete` removes matching originals, `replace` makes the
/// plain patch elements the whole list. Returns the new original and the patch without special elements.
fn apply_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let m = as_map(&item)?;
        let Some(directive) = m.get(DIRECTIVE_MARKER) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let value = m.get(key).ok_or_else(|| no_merge_key(m, key))?;
                original.retain(|o| o.get(key) != Some(value));
            }
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(PatchError::Strategic(
                    "merging lists cannot yet be specified in the patch".into(),
                ));
            }
            _ => return Err(bad_patch_type(directive, m)),
        }
    }
    if replace {
        Ok((
            plain.into_iter().filter_map(|v| sanitize(v, false)).collect(),
            Vec::new(),
        ))
    } else {
        Ok((original, plain))
    }
}

/// Merges each patch element into the original element with the same merge key value, or appends it.
fn merge_by_key(
    mut original: Vec<Value>,
    patch: &[Value],
    key: &str,
    elements: Node,
) -> Result<Vec<Value>, PatchError> {
    for item in patch {
        let m = as_map(item)?;
        let value = m.get(key).ok_or_else(|| no_merge_key(m, key))?;
        let mut found = None;
        for (i, o) in original.iter().enumerate() {
            let o = o
                .as_object()
                .ok_or_else(|| PatchError::Strategic(format!("value for key {i} is not a map")))?;
            if o.get(key) == Some(value) {
                found = Some(i);
                break;
            }
        }
        match found {
            Some(i) => {
                let Value::Object(o) = std::mem::take(&mut original[i]) else {
                    continue;
                };
                original[i] = Value::Object(merge_map(o, m.clone(), elements)?);
            }
            None => original.extend(sanitize(item.clone(), false)),
        }
    }
    Ok(original)
}

/// `$retainKeys`: drops original keys not listed, after checking every patched key is listed.
fn apply_retain_keys(original: &mut Map<String, Value>, patch: &mut Map<String, Value>) -> Result<(), PatchError> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::BadPatchFormatForRetainKeys);
    };
    let listed = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (k, v) in patch.iter() {
        let directive = k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) || k.starts_with(SET_ORDER_PREFIX);
        if !v.is_null() && !directive && !listed(k) {
            return Err(PatchError::BadPatchFormatForRetainKeys);
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// `$setElementOrder/<field>`: merges the field's list now and orders it as the directive says.
fn apply_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    node: Node,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ORDER_PREFIX))
        .cloned()
        .collect();
    for directive_key in keys {
        let Some(order) = patch.shift_remove(&directive_key) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(bad_arg_type("[]interface {}", &order));
        };
        let field = extract_key(&directive_key, SET_ORDER_PREFIX)?;
        let original_list = list_at(original, &field)?;
        let patch_list = list_at(patch, &field)?;
        let (child, meta) = node.field(&field);
        let (strategy, merge_key) = strategy_of(meta);
        validate_set_order(patch_list.as_deref().unwrap_or_default(), &order, merge_key)?;
        let original_items = original_list.clone().unwrap_or_default();
        let patch_items = patch_list.clone().unwrap_or_default();
        let merged = match (original_list, patch_list) {
            (Some(o), None) => o,
            (None, Some(p)) => p.into_iter().filter_map(|v| sanitize(v, true)).collect(),
            (Some(o), Some(p)) => merge_list_field(o, p, child.items(), strategy, merge_key, false)?,
            (None, None) => continue,
        };
        let kind = element_kind(&[&original_items, &patch_items])?;
        let (in_order, server_only) = partition(merged, &order, merge_key, kind)?;
        let ordered = normalize_element_order(in_order, server_only, &order, &original_items, merge_key, kind)?;
        original.insert(field.clone(), Value::Array(ordered));
        patch.shift_remove(&field);
    }
    Ok(())
}

/// The list at `field` of a map, if present; any other value there is a type error.
fn list_at(map: &Map<String, Value>, field: &str) -> Result<Option<Vec<Value>>, PatchError> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items.clone())),
        Some(other) => Err(bad_arg_type("[]interface {}", other)),
    }
}

/// Cleans a patch value that is taken as is: drops directive keys and null map values, and (for values new
/// to the object, `drop_directive_maps`) maps that carry `$patch`. `None` means the value itself goes.
fn sanitize(value: Value, drop_directive_maps: bool) -> Option<Value> {
    match value {
        Value::Object(m) if drop_directive_maps && m.contains_key(DIRECTIVE_MARKER) => None,
        Value::Object(m) => Some(Value::Object(sanitize_map(m, drop_directive_maps))),
        Value::Array(items) => Some(Value::Array(
            items
                .into_iter()
                .filter_map(|v| sanitize(v, drop_directive_maps))
                .collect(),
        )),
        other => Some(other),
    }
}

/// [`sanitize`] for the fields of a map.
fn sanitize_map(m: Map<String, Value>, drop_directive_maps: bool) -> Map<String, Value> {
    m.into_iter()
        .filter(|(k, v)| !v.is_null() && !is_directive_key(k))
        .filter_map(|(k, v)| sanitize(v, drop_directive_maps).map(|v| (k, v)))
        .collect()
}

/// Whether a map key is a patch directive rather than a field.
fn is_directive_key(key: &str) -> bool {
    key == DIRECTIVE_MARKER
        || key == RETAIN_KEYS_DIRECTIVE
        || key.starts_with(SET_ORDER_PREFIX)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
}
