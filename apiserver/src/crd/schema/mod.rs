//! A CRD version's structural schema applied to custom objects as upstream's apiextensions-apiserver
//! does: unknown fields pruned, defaults filled, values validated (with kube-openapi's messages) and
//! x-kubernetes-list-type sets and maps checked for duplicates (on update, ratcheted as upstream).

mod defaults;
mod format;
mod lists;
mod pattern;
mod prune;
mod validate;

use crate::registry::FieldError;
use serde_json::Value;

pub use defaults::default;
pub use prune::{prune, unknown_fields};

/// Every schema violation of a new `obj`, in upstream's field.Error form.
pub fn validate(schema: &Value, obj: &Value) -> Vec<FieldError> {
    let mut errors = validate::validate(schema, obj, None);
    errors.extend(lists::validate(schema, obj, ""));
    errors
}

/// The violations of `obj` replacing `old`, ratcheted as upstream: unchanged values are not held
/// to the schema, and list-type duplicates count only if `old` had none.
pub fn validate_update(schema: &Value, obj: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate::validate(schema, obj, Some(old));
    if lists::validate(schema, old, "").is_empty() {
        errors.extend(lists::validate(schema, obj, ""));
    }
    errors
}

/// The path of a child field, as upstream's field.Path renders it.
pub(crate) fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The schema of a property of an object schema, falling back to additionalProperties.
fn property_schema<'a>(schema: &'a Value, name: &str) -> Option<&'a Value> {
    schema
        .pointer("/properties")
        .and_then(|p| p.get(name))
        .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()))
}

fn flag(schema: &Value, name: &str) -> bool {
    schema.get(name).and_then(Value::as_bool).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validation_adds_list_type_errors_to_schema_errors() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string", "maxLength": 2}}}}}});
        let errors: Vec<String> = validate(&schema, &json!({"spec": {"tags": ["abc", "abc"]}}))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "spec.tags[0]: Too long: may not be more than 2 bytes",
                "spec.tags[1]: Too long: may not be more than 2 bytes",
                "spec.tags[1]: Duplicate value: \"abc\"",
            ]
        );
    }
}
