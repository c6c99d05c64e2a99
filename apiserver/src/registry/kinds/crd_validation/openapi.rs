//! Upstream's checks of an openAPIV3Schema beyond structure (ValidateCustomResourceDefinitionOpenAPISchema
//! and ValidateDefaults): forbidden keywords, list and map extensions, and defaults that validate
//! against their schema and are already pruned.

use super::path::{child, elements, flag, index, key, members, text};
use crate::registry::FieldError;
use serde_json::{json, Value};

/// The context upstream's specStandardValidator carries down the schema.
#[derive(Clone, Default)]
struct Context {
    /// Why defaults are forbidden here (`None`: allowed).
    no_defaults: Option<String>,
    inside_meta: bool,
}

const OPENAPI_TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];

/// Every violation of the schema rules in `schema` at `path` (the openAPIV3Schema itself).
pub fn validate(schema: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    walk(schema, path, &Context::default(), true, &mut errors);
    errors
}

fn walk(s: &Value, path: &str, cx: &Context, root: bool, errors: &mut Vec<FieldError>) {
    if !s.is_object() {
        return;
    }
    standard(s, path, cx, errors);
    if flag(s, "uniqueItems") {
        errors.push(FieldError::forbidden(
            child(path, "uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    let properties = members(s, "properties");
    if let Some(additional) = s.get("additionalProperties") {
        if !properties.is_empty() && (additional == &json!(false) || additional.is_object()) {
            errors.push(FieldError::forbidden(
                child(path, "additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        let mut sub = cx.clone();
        if cx.inside_meta {
            sub.no_defaults = Some("inside additionalProperties applying to object metadata".into());
        }
        walk(additional, &child(path, "additionalProperties"), &sub, false, errors);
    }
    for (name, property) in &properties {
        let mut sub = cx.clone();
        if (root || flag(s, "x-kubernetes-embedded-resource"))
            && matches!(name.as_str(), "metadata" | "kind" | "apiVersion")
        {
            sub.inside_meta = true;
            if root {
                sub.no_defaults = Some(format!("in top-level {name}"));
            }
        }
        walk(property, &key(&child(path, "properties"), name), &sub, false, errors);
    }
    if let Some(not) = s.get("not") {
        walk(not, &child(path, "not"), cx, false, errors);
    }
    for junctor in ["allOf", "oneOf", "anyOf"] {
        for (i, nested) in elements(s, junctor).iter().enumerate() {
            walk(nested, &index(&child(path, junctor), i), cx, false, errors);
        }
    }
    for (name, definition) in members(s, "definitions") {
        walk(definition, &key(&child(path, "definitions"), name), cx, false, errors);
    }
    match s.get("items") {
        Some(items @ Value::Object(_)) => walk(items, &child(path, "items"), cx, false, errors),
        Some(Value::Array(list)) => {
            for (i, items) in list.iter().enumerate() {
                walk(items, &index(&child(path, "items"), i), cx, false, errors);
            }
        }
        _ => {}
    }
    for (name, dependency) in members(s, "dependencies") {
        walk(dependency, &key(&child(path, "dependencies"), name), cx, false, errors);
    }
    extensions(s, path, errors);
}

/// specStandardValidatorV3.validate: keywords a CRD schema may not use.
fn standard(s: &Value, path: &str, cx: &Context, errors: &mut Vec<FieldError>) {
    let ty = text(s, "type");
    if !ty.is_empty() && !OPENAPI_TYPES.contains(&ty) {
        errors.push(FieldError::not_supported(
            child(path, "type"),
            json!(ty),
            &OPENAPI_TYPES,
        ));
    }
    if let (Some(_), Some(reason)) = (s.get("default"), &cx.no_defaults) {
        errors.push(FieldError::forbidden(
            child(path, "default"),
            format!("must not be set {reason}"),
        ));
    }
    for (name, what) in [
        ("id", "id"),
        ("additionalItems", "additionalItems"),
        ("patternProperties", "patternProperties"),
        ("definitions", "definitions"),
        ("dependencies", "dependencies"),
        ("$ref", "$ref"),
    ] {
        let present = match s.get(name) {
            Some(Value::String(v)) => !v.is_empty(),
            Some(Value::Object(m)) if name != "additionalItems" => !m.is_empty(),
            Some(_) => true,
            None => false,
        };
        if present {
            errors.push(FieldError::forbidden(
                child(path, name),
                format!("{what} is not supported"),
            ));
        }
    }
    if ty == "null" {
        errors.push(FieldError::forbidden(
            child(path, "type"),
            "type cannot be set to null, use nullable as an alternative",
        ));
    }
    if s.get("items").is_some_and(Value::is_array) {
        errors.push(FieldError::forbidden(
            child(path, "items"),
            "items must be a schema object and not an array",
        ));
    }
    if cx.inside_meta && flag(s, "x-kubernetes-embedded-resource") {
        errors.push(FieldError::forbidden(
            child(path, "x-kubernetes-embedded-resource"),
            "must not be used inside of resource meta",
        ));
    }
}

/// The x-kubernetes-* extensions: values, and the types and keys they need.
fn extensions(s: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let ty = text(s, "type");
    if s.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(false)) {
        errors.push(FieldError::invalid(
            child(path, "x-kubernetes-preserve-unknown-fields"),
            json!(false),
            "must be true or undefined",
        ));
    }
    let type_needed = |wanted: &str, extension: &str| {
        let detail = format!("must be {wanted} if {extension} is specified");
        if ty.is_empty() {
            FieldError::required(child(path, "type"), detail)
        } else {
            FieldError::invalid(child(path, "type"), json!(ty), detail)
        }
    };
    if let Some(map_type) = s.get("x-kubernetes-map-type") {
        if ty != "object" {
            errors.push(type_needed("object", "x-kubernetes-map-type"));
        }
        let value = map_type.as_str().unwrap_or("");
        if value != "atomic" && value != "granular" {
            errors.push(FieldError::not_supported(
                child(path, "x-kubernetes-map-type"),
                map_type.clone(),
                &["atomic", "granular"],
            ));
        }
    }
    let list_type = s.get("x-kubernetes-list-type").map(|v| v.as_str().unwrap_or(""));
    let items = s.get("items").filter(|i| i.is_object());
    if list_type.is_some() && ty != "array" {
        errors.push(type_needed("array", "x-kubernetes-list-type"));
    } else if let (Some("set"), Some(items)) = (list_type, items) {
        atomic_set_items(items, path, errors);
    }
    if let Some(list_type) = list_type.filter(|t| !["atomic", "set", "map"].contains(t)) {
        errors.push(FieldError::not_supported(
            child(path, "x-kubernetes-list-type"),
            json!(list_type),
            &["atomic", "set", "map"],
        ));
    }
    let keys = elements(s, "x-kubernetes-list-map-keys");
    let keys_path = child(path, "x-kubernetes-list-map-keys");
    if !keys.is_empty() {
        let detail = "must be map if x-kubernetes-list-map-keys is non-empty";
        match list_type {
            None => errors.push(FieldError::required(child(path, "x-kubernetes-list-type"), detail)),
            Some(t) if t != "map" => errors.push(FieldError::invalid(
                child(path, "x-kubernetes-list-type"),
                json!(t),
                detail,
            )),
            _ => {}
        }
    }
    if list_type == Some("map") {
        list_map(s, items, keys, path, &keys_path, errors);
    }
    if let (Some(t @ ("set" | "map")), Some(items)) = (list_type, items) {
        map_set_keys(items, t, keys, path, errors);
    }
}

fn atomic_set_items(items: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let detail = "must be atomic as item of a list with x-kubernetes-list-type=set";
    let items_path = child(path, "items");
    match text(items, "type") {
        "array" => {
            if let Some(t) = items.get("x-kubernetes-list-type").filter(|t| *t != "atomic") {
                errors.push(FieldError::invalid(
                    child(&items_path, "x-kubernetes-list-type"),
                    t.clone(),
                    detail,
                ));
            }
        }
        "object" if items.get("x-kubernetes-map-type") != Some(&json!("atomic")) => {
            let list_type = items.get("x-kubernetes-list-type").cloned().unwrap_or(Value::Null);
            errors.push(FieldError::invalid(
                child(&items_path, "x-kubernetes-map-type"),
                list_type,
                detail,
            ));
        }
        _ => {}
    }
}

fn list_map(
    s: &Value,
    items: Option<&Value>,
    keys: &[Value],
    path: &str,
    keys_path: &str,
    errors: &mut Vec<FieldError>,
) {
    if keys.is_empty() {
        errors.push(FieldError::required(
            keys_path,
            "must not be empty if x-kubernetes-list-type is map",
        ));
    }
    let items_path = child(path, "items");
    let Some(items) = items else {
        if s.get("items").is_none() {
            errors.push(FieldError::required(
                items_path,
                "must have a schema if x-kubernetes-list-type is map",
            ));
        } else {
            errors.push(FieldError::invalid(
                items_path,
                s["items"].clone(),
                "must only have a single schema if x-kubernetes-list-type is map",
            ));
        }
        return;
    };
    let item_type = text(items, "type");
    if item_type != "object" {
        errors.push(FieldError::invalid(
            child(&items_path, "type"),
            json!(item_type),
            "must be object if parent array's x-kubernetes-list-type is map",
        ));
        return;
    }
    let mut seen = Vec::new();
    for k in keys.iter().filter_map(Value::as_str) {
        match items.pointer("/properties").and_then(|p| p.get(k)) {
            Some(property) => {
                if matches!(text(property, "type"), "array" | "object") {
                    errors.push(FieldError::invalid(
                        child(&key(&child(&items_path, "properties"), k), "type"),
                        json!(item_type),
                        "must be a scalar type if parent array's x-kubernetes-list-type is map",
                    ));
                }
            }
            None => errors.push(FieldError::invalid(
                keys_path,
                Value::Array(keys.to_vec()),
                "entries must all be names of item properties",
            )),
        }
        if seen.contains(&k) {
            errors.push(FieldError::invalid(
                keys_path,
                Value::Array(keys.to_vec()),
                "must not contain duplicate entries",
            ));
        }
        seen.push(k);
    }
}

/// validateMapListKeysMapSet: set and map items are not nullable, map keys are required or defaulted.
fn map_set_keys(items: &Value, list_type: &str, keys: &[Value], path: &str, errors: &mut Vec<FieldError>) {
    let items_path = child(path, "items");
    if flag(items, "nullable") {
        errors.push(FieldError::forbidden(
            child(&items_path, "nullable"),
            format!("cannot be nullable when x-kubernetes-list-type is {list_type}"),
        ));
    }
    if list_type != "map" {
        return;
    }
    let required = elements(items, "required");
    for k in keys.iter().filter_map(Value::as_str) {
        let Some(property) = items.pointer("/properties").and_then(|p| p.get(k)) else {
            continue;
        };
        let property_path = key(&child(&items_path, "properties"), k);
        if !required.iter().any(|r| r == k) && property.get("default").is_none() {
            errors.push(FieldError::required(
                child(&property_path, "default"),
                "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
            ));
        }
        if flag(property, "nullable") {
            errors.push(FieldError::forbidden(
                child(&property_path, "nullable"),
                "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
            ));
        }
    }
}

/// ValidateDefaults: every default (outside the root's metadata, kind and apiVersion) is pruned and
/// valid against the schema it sits in.
pub fn validate_defaults(schema: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    defaults(schema, path, true, &mut errors);
    errors
}

fn defaults(s: &Value, path: &str, root: bool, errors: &mut Vec<FieldError>) {
    if let Some(default) = s.get("default").filter(|d| !d.is_null()) {
        let default_path = child(path, "default");
        if !crate::crd::schema::unknown_fields(s, default).is_empty() {
            errors.push(FieldError::invalid(
                default_path,
                default.clone(),
                "must not have unknown fields",
            ));
        } else {
            for mut e in crate::crd::schema::validate(s, default) {
                e.field = if e.field.is_empty() {
                    default_path.clone()
                } else {
                    child(&default_path, &e.field)
                };
                errors.push(e);
            }
        }
    }
    for (name, property) in members(s, "properties") {
        if root && matches!(name.as_str(), "metadata" | "kind" | "apiVersion") {
            continue;
        }
        defaults(property, &key(&child(path, "properties"), name), false, errors);
    }
    if let Some(items) = s.get("items").filter(|i| i.is_object()) {
        defaults(items, &child(path, "items"), false, errors);
    }
    if let Some(additional) = s.get("additionalProperties").filter(|a| a.is_object()) {
        defaults(additional, &child(path, "additionalProperties"), false, errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(errors: Vec<FieldError>) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn forbidden_keywords_and_extensions() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}},
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port"],
                "items": {"type": "object", "properties": {"port": {"type": "integer"}}}},
            "ref": {"$ref": "#/definitions/x"},
            "metadata": {"type": "object", "default": {}}}});
        assert_eq!(
            messages(validate(&schema, "s")),
            [
                "s.properties[spec].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive",
                "s.properties[ports].items.properties[port].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                "s.properties[ref].$ref: Forbidden: $ref is not supported",
                "s.properties[metadata].default: Forbidden: must not be set in top-level metadata",
            ]
        );
    }

    #[test]
    fn defaults_validate_and_are_pruned() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "size": {"type": "string", "enum": ["small", "large"], "default": "huge"},
            "opts": {"type": "object", "properties": {"a": {"type": "string"}}, "default": {"b": "x"}},
            "ok": {"type": "integer", "default": 3}}}}});
        assert_eq!(
            messages(validate_defaults(&schema, "s")),
            [
                r#"s.properties[spec].properties[size].default: Unsupported value: "huge": supported values: "small", "large""#,
                r#"s.properties[spec].properties[opts].default: Invalid value: {"b":"x"}: must not have unknown fields"#,
            ]
        );
    }
}
