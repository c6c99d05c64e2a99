//! Field paths and small JSON accessors shared by the CRD checks, rendered as upstream's field.Path.

use serde_json::Value;

pub(crate) use crate::crd::schema::child;

/// `path[key]` (a map key, as field.Path.Key renders it).
pub fn key(path: &str, key: &str) -> String {
    format!("{path}[{key}]")
}

/// `path[i]`.
pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// A string member, "" when absent.
pub fn text<'a>(v: &'a Value, name: &str) -> &'a str {
    v.get(name).and_then(Value::as_str).unwrap_or("")
}

/// A boolean member, false when absent.
pub fn flag(v: &Value, name: &str) -> bool {
    v.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// The members of an object member (empty when absent).
pub fn members<'a>(v: &'a Value, name: &str) -> Vec<(&'a String, &'a Value)> {
    v.get(name)
        .and_then(Value::as_object)
        .map(|m| m.iter().collect())
        .unwrap_or_default()
}

/// The elements of an array member (empty when absent).
pub fn elements<'a>(v: &'a Value, name: &str) -> &'a [Value] {
    v.get(name).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}
