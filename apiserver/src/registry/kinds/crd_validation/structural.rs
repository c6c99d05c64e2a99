//! Upstream's structural-schema rules (apiextensions-apiserver pkg/apiserver/schema/validation.go):
//! every specified field has a type, value validations (anyOf, allOf, oneOf, not) only restrict
//! fields specified outside them, and metadata at the root only restricts name and generateName.

use super::path::{child, elements, flag, index, key, members, text};
use crate::registry::FieldError;
use serde_json::{json, Value};

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Root,
    Item,
    Field,
}

/// The structural violations of `schema` (at `path`), sorted by message as upstream sorts them.
pub fn validate(schema: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    invariants(schema, Level::Root, path, &mut errors);
    structural_completeness(schema, path, &mut errors);
    errors.sort_by_key(ToString::to_string);
    errors
}

fn invariants(s: &Value, level: Level, path: &str, errors: &mut Vec<FieldError>) {
    let ty = text(s, "type");
    if ty == "array" && s.get("items").is_none() {
        errors.push(FieldError::required(child(path, "items"), "must be specified"));
    }
    if let Some(items) = s.get("items").filter(|i| i.is_object()) {
        invariants(items, Level::Item, &child(path, "items"), errors);
    }
    for (name, property) in members(s, "properties") {
        invariants(property, Level::Field, &key(&child(path, "properties"), name), errors);
    }
    if let Some(additional) = s.get("additionalProperties") {
        if level == Level::Root {
            errors.push(FieldError::forbidden(
                child(path, "additionalProperties"),
                "must not be used at the root",
            ));
        }
        if additional.is_object() {
            invariants(additional, Level::Field, &child(path, "additionalProperties"), errors);
        }
    }
    let (int_or_string, preserve, embedded) = (
        flag(s, "x-kubernetes-int-or-string"),
        flag(s, "x-kubernetes-preserve-unknown-fields"),
        flag(s, "x-kubernetes-embedded-resource"),
    );
    if int_or_string && preserve {
        errors.push(FieldError::invalid(
            child(path, "x-kubernetes-preserve-unknown-fields"),
            json!(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    if int_or_string && embedded {
        errors.push(FieldError::invalid(
            child(path, "x-kubernetes-embedded-resource"),
            json!(true),
            "must be false if x-kubernetes-int-or-string is true",
        ));
    }
    value_validation(s, int_or_string_any_of(s), int_or_string_all_of(s), path, errors);
    let type_path = child(path, "type");
    if embedded && ty != "object" {
        let detail = "must be object if x-kubernetes-embedded-resource is true";
        errors.push(if ty.is_empty() {
            FieldError::required(type_path.clone(), detail)
        } else {
            FieldError::invalid(type_path.clone(), json!(ty), detail)
        });
    } else if ty.is_empty() && !int_or_string && !preserve {
        let detail = match level {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errors.push(FieldError::required(type_path.clone(), detail));
    }
    if embedded && s.get("additionalProperties").is_some() {
        errors.push(FieldError::forbidden(
            child(path, "additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    if level == Level::Root && !ty.is_empty() && ty != "object" {
        errors.push(FieldError::invalid(type_path, json!(ty), "must be object at the root"));
    }
    let properties = s.get("properties");
    let property = |name: &str| properties.and_then(|p| p.get(name));
    if level == Level::Root || embedded {
        for (name, wanted) in [("kind", "string"), ("apiVersion", "string"), ("metadata", "object")] {
            if let Some(p) = property(name) {
                let actual = text(p, "type");
                if actual != wanted {
                    errors.push(FieldError::invalid(
                        child(&key(&child(path, "properties"), name), "type"),
                        json!(actual),
                        format!("must be {wanted}"),
                    ));
                }
            }
        }
    }
    if let Some(metadata) = property("metadata").filter(|_| level == Level::Root) {
        if !metadata_only_names(metadata) {
            errors.push(FieldError::forbidden(
                key(&child(path, "properties"), "metadata"),
                "must not specify anything other than name and generateName, but metadata is implicitly specified",
            ));
        }
    }
    if embedded && !preserve && members(s, "properties").is_empty() {
        errors.push(FieldError::required(
            child(path, "properties"),
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
}

/// Whether a root metadata schema restricts at most `name` and `generateName` (its type, default
/// and descriptions aside, as upstream ignores those).
fn metadata_only_names(metadata: &Value) -> bool {
    let Some(map) = metadata.as_object() else {
        return true;
    };
    let props = members(metadata, "properties");
    let names_only = props
        .iter()
        .all(|(k, _)| k.as_str() == "name" || k.as_str() == "generateName");
    map.iter().all(|(k, v)| match k.as_str() {
        "type" | "default" => true,
        "properties" => names_only || props.is_empty() && v.is_object(),
        // Upstream's value validation is allowed when empty only.
        _ => false,
    })
}

/// `anyOf: [{type: integer}, {type: string}]`, the first IntOrString exception.
fn int_or_string_any_of(s: &Value) -> bool {
    elements(s, "anyOf") == [json!({"type": "integer"}), json!({"type": "string"})]
}

/// `allOf: [{anyOf: [{type: integer}, {type: string}]}, ...]`, the second IntOrString exception.
fn int_or_string_all_of(s: &Value) -> bool {
    elements(s, "allOf").first().is_some_and(int_or_string_any_of)
}

const JUNCTORS: [&str; 3] = ["anyOf", "allOf", "oneOf"];

fn value_validation(
    s: &Value,
    skip_any_of: bool,
    skip_first_all_of_any_of: bool,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    for junctor in JUNCTORS {
        for (i, nested_schema) in elements(s, junctor).iter().enumerate() {
            if junctor == "anyOf" && skip_any_of {
                continue;
            }
            let skip = junctor == "allOf" && i == 0 && skip_first_all_of_any_of;
            nested(nested_schema, skip, &index(&child(path, junctor), i), errors);
        }
    }
    if let Some(not) = s.get("not") {
        nested(not, false, &child(path, "not"), errors);
    }
}

/// The rules for a schema inside a logic junctor: value validation only.
fn nested(v: &Value, skip_any_of: bool, path: &str, errors: &mut Vec<FieldError>) {
    value_validation(v, skip_any_of, false, path, errors);
    if let Some(items) = v.get("items").filter(|i| i.is_object()) {
        nested(items, false, &child(path, "items"), errors);
    }
    for (name, property) in members(v, "properties") {
        nested(property, false, &key(&child(path, "properties"), name), errors);
    }
    let forbidden = |name: &str, detail: &str| FieldError::forbidden(child(path, name), detail);
    if !text(v, "type").is_empty() {
        errors.push(forbidden("type", "must be empty to be structural"));
    }
    if v.get("additionalProperties").is_some() {
        errors.push(forbidden("additionalProperties", "must be undefined to be structural"));
    }
    if v.get("default").is_some_and(|d| !d.is_null()) {
        errors.push(forbidden("default", "must be undefined to be structural"));
    }
    for name in ["title", "description"] {
        if !text(v, name).is_empty() {
            errors.push(forbidden(name, "must be empty to be structural"));
        }
    }
    for name in [
        "nullable",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string",
    ] {
        if flag(v, name) {
            errors.push(forbidden(name, "must be false to be structural"));
        }
    }
    if !elements(v, "x-kubernetes-list-map-keys").is_empty() {
        errors.push(forbidden(
            "x-kubernetes-list-map-keys",
            "must be empty to be structural",
        ));
    }
    if v.get("externalDocs").is_some() {
        errors.push(forbidden("externalDocs", "must be undefined to be structural"));
    }
    for name in ["x-kubernetes-list-type", "x-kubernetes-map-type"] {
        if v.get(name).is_some() {
            errors.push(forbidden(name, "must be undefined to be structural"));
        }
    }
    // A CRD's rules live on the structural spine only: upstream forbids them under every junctor,
    // allOf included.
    if !elements(v, "x-kubernetes-validations").is_empty() {
        errors.push(forbidden("x-kubernetes-validations", "must be empty to be structural"));
    }
    if v.pointer("/properties/metadata").is_some() {
        errors.push(FieldError::forbidden(
            key(&child(path, "properties"), "metadata"),
            "must not be specified in a nested context",
        ));
    }
}

/// Completeness of `s` and of every schema below it.
fn structural_completeness(s: &Value, path: &str, errors: &mut Vec<FieldError>) {
    completeness(s, s, path, path, errors);
    if let Some(items) = s.get("items").filter(|i| i.is_object()) {
        structural_completeness(items, &child(path, "items"), errors);
    }
    for (name, property) in members(s, "properties") {
        structural_completeness(property, &key(&child(path, "properties"), name), errors);
    }
    if let Some(additional) = s.get("additionalProperties").filter(|a| a.is_object()) {
        structural_completeness(additional, &child(path, "additionalProperties"), errors);
    }
}

/// Every field a value validation mentions must be specified in the structural part of `s`.
fn completeness(v: &Value, s: &Value, s_path: &str, v_path: &str, errors: &mut Vec<FieldError>) {
    for junctor in JUNCTORS {
        for (i, nested_schema) in elements(v, junctor).iter().enumerate() {
            nested_completeness(
                nested_schema,
                Some(s),
                s_path,
                &index(&child(v_path, junctor), i),
                errors,
            );
        }
    }
    if let Some(not) = v.get("not") {
        nested_completeness(not, Some(s), s_path, &child(v_path, "not"), errors);
    }
}

fn nested_completeness(v: &Value, s: Option<&Value>, s_path: &str, v_path: &str, errors: &mut Vec<FieldError>) {
    let Some(s) = s else {
        errors.push(FieldError::required(
            s_path,
            format!("because it is defined in {v_path}"),
        ));
        return;
    };
    completeness(v, s, s_path, v_path, errors);
    if let Some(items) = v.get("items").filter(|i| i.is_object()) {
        let s_items = s.get("items").filter(|i| i.is_object());
        nested_completeness(items, s_items, &child(s_path, "items"), &child(v_path, "items"), errors);
    }
    for (name, field) in members(v, "properties") {
        let field_v_path = key(&child(v_path, "properties"), name);
        match s.pointer(&format!("/properties/{}", name.replace('~', "~0").replace('/', "~1"))) {
            Some(s_field) => {
                let s_field_path = key(&child(s_path, "properties"), name);
                nested_completeness(field, Some(s_field), &s_field_path, &field_v_path, errors);
            }
            None => match s.get("additionalProperties").filter(|a| a.is_object()) {
                Some(additional) => nested_completeness(
                    field,
                    Some(additional),
                    &child(s_path, "additionalProperties"),
                    &field_v_path,
                    errors,
                ),
                None => errors.push(FieldError::required(
                    key(&child(s_path, "properties"), name),
                    format!("because it is defined in {field_v_path}"),
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(schema: Value) -> Vec<String> {
        validate(&schema, "s").iter().map(ToString::to_string).collect()
    }

    #[test]
    fn fields_need_types() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"properties": {"a": {"type": "string"}}},
            "list": {"type": "array"},
            "any": {"x-kubernetes-preserve-unknown-fields": true},
            "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}}});
        assert_eq!(
            messages(schema),
            [
                "s.properties[list].items: Required value: must be specified",
                "s.properties[spec].type: Required value: must not be empty for specified object fields",
            ]
        );
        assert_eq!(
            messages(json!({"type": "string"})),
            [r#"s.type: Invalid value: "string": must be object at the root"#]
        );
    }

    #[test]
    fn junctors_hold_no_rules_or_map_types() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"a": {"type": "string"}},
            "allOf": [{"x-kubernetes-validations": [{"rule": "true"}]}],
            "oneOf": [{"properties": {"a": {"x-kubernetes-map-type": "atomic"}}}]}}});
        assert_eq!(
            messages(schema),
            [
                "s.properties[spec].allOf[0].x-kubernetes-validations: Forbidden: must be empty to be structural",
                "s.properties[spec].oneOf[0].properties[a].x-kubernetes-map-type: Forbidden: must be undefined to be structural",
            ]
        );
    }

    #[test]
    fn value_validations_stay_structural() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"a": {"type": "string"}},
            "anyOf": [{"type": "object", "properties": {"b": {"description": "x"}}}]}}});
        assert_eq!(
            messages(schema),
            [
                "s.properties[spec].anyOf[0].properties[b].description: Forbidden: must be empty to be structural",
                "s.properties[spec].anyOf[0].type: Forbidden: must be empty to be structural",
                "s.properties[spec].properties[b]: Required value: because it is defined in s.properties[spec].anyOf[0].properties[b]",
            ]
        );
    }

    #[test]
    fn root_metadata_only_names() {
        let ok = json!({"type": "object", "properties": {"metadata": {"type": "object",
            "properties": {"name": {"type": "string", "maxLength": 10}}}}});
        assert!(messages(ok).is_empty());
        let bad = json!({"type": "object", "properties": {"metadata": {"type": "object",
            "properties": {"labels": {"type": "object"}}}}});
        assert_eq!(
            messages(bad),
            ["s.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified"]
        );
    }
}
