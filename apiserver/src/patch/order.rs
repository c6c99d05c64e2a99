//! List helpers of strategic merge patch: element kinds, partitioning by presence, and the element order
//! rules (`$setElementOrder` > order in the patch > order in the live list) as upstream applies them.

use serde_json::{Map, Value};

use super::gofmt::{go_type, go_v};
use super::{PatchError, DIRECTIVE_MARKER, SET_ORDER_PREFIX};

/// The JSON kind of list elements, with integers and floats apart as Go's decoded types are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Int,
    Float,
    String,
    Object,
}

/// The one element kind shared by all the given lists; lists of lists and mixed kinds are errors.
pub fn element_kind(lists: &[&[Value]]) -> Result<Kind, PatchError> {
    let mut kind = None;
    for item in lists.iter().flat_map(|l| l.iter()) {
        let this = match item {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(n) if n.is_f64() => Kind::Float,
            Value::Number(_) => Kind::Int,
            Value::String(_) => Kind::String,
            Value::Object(_) => Kind::Object,
            Value::Array(_) => return Err(PatchError::NoListOfLists),
        };
        match kind {
            None => kind = Some(this),
            Some(seen) if seen != this => {
                let all = Value::Array(lists.iter().map(|l| Value::Array(l.to_vec())).collect());
                return Err(PatchError::Strategic(format!(
                    "list element types are not identical: {}",
                    go_v(&all)
                )));
            }
            Some(_) => {}
        }
    }
    kind.ok_or_else(|| PatchError::Strategic("no elements in any of the given slices".into()))
}

/// `expected a <expected>, but received a <actual's type>`.
pub fn bad_arg_type(expected: &str, actual: &Value) -> PatchError {
    PatchError::Strategic(format!("expected a {expected}, but received a {}", go_type(actual)))
}

/// `map: <m> does not contain declared merge key: <key>`.
pub fn no_merge_key(m: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::Strategic(format!(
        "map: {} does not contain declared merge key: {key}",
        go_v(&Value::Object(m.clone()))
    ))
}

/// The element as a map, or upstream's type error.
pub fn as_map(v: &Value) -> Result<&Map<String, Value>, PatchError> {
    v.as_object().ok_or_else(|| bad_arg_type("map[string]interface {}", v))
}

/// Whether `a` and `b` are the same element: same merge key value, or equal when there is no merge key.
fn same_element(a: &Value, b: &Value, merge_key: Option<&str>, kind: Kind) -> bool {
    match merge_key {
        Some(key) if kind == Kind::Object => a.get(key) == b.get(key),
        _ => a == b,
    }
}

/// Position of `item` in `list`.
fn index(list: &[Value], item: &Value, merge_key: Option<&str>, kind: Kind) -> Option<usize> {
    list.iter().position(|v| same_element(item, v, merge_key, kind))
}

/// Splits `merged` into the items present in `by` and the rest (server-only items), keeping their order.
pub fn partition(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: Option<&str>,
    kind: Kind,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let (mut present, mut server_only) = (Vec::new(), Vec::new());
    for item in merged {
        let found = match merge_key {
            Some(key) if kind == Kind::Object => map_present_in(&item, by, key)?,
            _ => by.contains(&item),
        };
        if found {
            present.push(item);
        } else {
            server_only.push(item);
        }
    }
    Ok((present, server_only))
}

/// Whether a list of maps `by` holds an item with `item`'s merge key value.
fn map_present_in(item: &Value, by: &[Value], key: &str) -> Result<bool, PatchError> {
    let m = as_map(item)?;
    let value = m.get(key).ok_or_else(|| no_merge_key(m, key))?;
    for (i, candidate) in by.iter().enumerate() {
        let candidate = candidate
            .as_object()
            .ok_or_else(|| PatchError::Strategic(format!("value for key {i} is not a map")))?;
        if candidate.get(key) == Some(value) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Orders patch items by `patch_order` and server-only items by `server_order`, then interleaves them.
pub fn normalize_element_order(
    patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    let patch = normalize_slice_order(patch, patch_order, merge_key, kind)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    Ok(merge_sorted(server_only, patch, server_order, merge_key, kind))
}

/// Sorts `to_sort` by the positions of its items in `order`; `$patch: delete` items go last.
fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: Option<&str>,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    let (mut keep, deletes) = match (merge_key, kind) {
        (Some(key), Kind::Object) => {
            for item in to_sort.iter().chain(order) {
                let m = as_map(item)?;
                if !m.contains_key(key) {
                    return Err(no_merge_key(m, key));
                }
            }
            split_deletes(to_sort)?
        }
        _ => (to_sort, Vec::new()),
    };
    keep.sort_by_key(|item| index(order, item, merge_key, kind).unwrap_or(usize::MAX));
    keep.extend(deletes);
    Ok(keep)
}

/// Splits a list of maps into the items to keep and those carrying `$patch: delete`.
pub fn split_deletes(list: Vec<Value>) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let (mut keep, mut delete) = (Vec::new(), Vec::new());
    for item in list {
        if as_map(&item)?.get(DIRECTIVE_MARKER).and_then(Value::as_str) == Some("delete") {
            delete.push(item);
        } else {
            keep.push(item);
        }
    }
    Ok((keep, delete))
}

/// Inserts each server-only item (`left`) among the patch items (`right`), both already sorted: a left item
/// goes first only when both are in the live list and it comes earlier there.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: Option<&str>,
    kind: Kind,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                match (
                    index(server_order, l, merge_key, kind),
                    index(server_order, r, merge_key, kind),
                ) {
                    (Some(li), Some(ri)) => li < ri,
                    _ => false,
                }
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// Checks that the patch list's items appear in the `$setElementOrder` list in the same relative order.
pub fn validate_set_order(patch: &[Value], order: &[Value], merge_key: Option<&str>) -> Result<(), PatchError> {
    if order.is_empty() || patch.is_empty() {
        return Ok(());
    }
    let non_delete = match merge_key {
        Some(_) => split_deletes(patch.to_vec())?.0,
        None => patch.to_vec(),
    };
    let (mut pi, mut oi) = (0, 0);
    while pi < non_delete.len() && oi < order.len() {
        let item = &non_delete[pi];
        if item.as_object().is_some_and(|m| m.contains_key(DIRECTIVE_MARKER)) {
            pi += 1;
            continue;
        }
        if merge_key_value_equal(item, &order[oi], merge_key)? {
            pi += 1;
        }
        oi += 1;
    }
    if pi < non_delete.len() && oi >= order.len() {
        return Err(PatchError::Strategic(format!(
            "the order in patch list:\n{}\n doesn't match {SET_ORDER_PREFIX} list:\n{}",
            go_v(&Value::Array(patch.to_vec())),
            go_v(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

/// Whether two list items have the same merge key value (or are equal, without a merge key).
fn merge_key_value_equal(left: &Value, right: &Value, merge_key: Option<&str>) -> Result<bool, PatchError> {
    let Some(key) = merge_key else { return Ok(left == right) };
    let (l, r) = (as_map(left)?, as_map(right)?);
    let lv = l.get(key).ok_or_else(|| no_merge_key(l, key))?;
    let rv = r.get(key).ok_or_else(|| no_merge_key(r, key))?;
    Ok(lv == rv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list(v: Value) -> Vec<Value> {
        v.as_array().unwrap().clone()
    }

    #[test]
    fn new_patch_items_go_before_server_only_items() {
        let original = list(json!(["a", "b"]));
        let out = normalize_element_order(
            list(json!(["c"])),
            original.clone(),
            &list(json!(["c"])),
            &original,
            None,
            Kind::String,
        )
        .unwrap();
        assert_eq!(out, list(json!(["c", "a", "b"])));
    }

    #[test]
    fn patch_items_keep_live_positions_when_known() {
        let original = list(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]));
        let patch = list(json!([{"name": "b", "x": 1}]));
        let (p, s) = partition(original.clone(), &patch, Some("name"), Kind::Object).unwrap();
        let out = normalize_element_order(p, s, &patch, &original, Some("name"), Kind::Object).unwrap();
        let names: Vec<_> = out.iter().map(|v| v["name"].clone()).collect();
        assert_eq!(names, list(json!(["a", "b", "c"])));
    }

    #[test]
    fn mixed_kinds_are_rejected_like_upstream() {
        let err = element_kind(&[&list(json!(["a"])), &list(json!([1]))]).unwrap_err();
        assert_eq!(err.to_string(), "list element types are not identical: [[a] [1]]");
        assert_eq!(
            element_kind(&[&list(json!([[1]]))]).unwrap_err(),
            PatchError::NoListOfLists
        );
    }

    #[test]
    fn set_order_must_contain_patch_items() {
        let err = validate_set_order(
            &list(json!([{"name": "x"}])),
            &list(json!([{"name": "y"}])),
            Some("name"),
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("the order in patch list:\n[map[name:x]]"),
            "{err}"
        );
    }
}
