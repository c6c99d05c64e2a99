//! Value validation of one object against an OpenAPI v3 schema, with kube-openapi's messages as
//! apiextensions-apiserver turns them into field errors (types, formats, enum, bounds, lengths,
//! sizes, required, anyOf/allOf/oneOf/not, embedded resources). On update, errors ratchet as
//! upstream's: a value deep-equal to the one it replaces (object fields by name, map-list items by
//! key, set items by value) passes even if invalid.

use super::{child, format, pattern};
use crate::registry::{FieldError, FieldErrorKind};
use serde_json::{Map, Value};

/// Every violation of `schema` by `value` (the object root), ignoring unchanged parts of `old`.
pub fn validate(schema: &Value, value: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    check(schema, value, old, "", &mut errors);
    errors
}

fn on(schema: &Map<String, Value>, key: &str) -> bool {
    schema.get(key) == Some(&Value::Bool(true))
}

/// The OpenAPI type name of a JSON value; integral numbers are integers.
fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => {
            if n.as_f64().is_some_and(|f| f.fract() == 0.0) {
                "integer"
            } else {
                "number"
            }
        }
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A number as Go's `%v` prints a float64 (integral values without a fraction).
fn go_number(n: &Value) -> String {
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{}", f as i128),
        Some(f) => format!("{f}"),
        None => n.to_string(),
    }
}

fn invalid(path: &str, value: Value, message: String) -> FieldError {
    FieldError::invalid(path, value, format!("{path} in body {message}"))
}

/// A type error: the bad value is the actual type's name.
fn type_error(path: &str, expected: &str, actual: &str) -> FieldError {
    FieldError::invalid(
        path,
        Value::String(actual.into()),
        format!("{path} in body must be of type {expected}: \"{actual}\""),
    )
}

fn check(schema: &Value, value: &Value, old: Option<&Value>, path: &str, errors: &mut Vec<FieldError>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    if old == Some(value) {
        return;
    }
    if value.is_null() {
        if let Some(expected) = expected_type(schema) {
            if !on(schema, "nullable") {
                errors.push(type_error(path, &expected, "null"));
            }
        }
        return;
    }
    if let Some(expected) = expected_type(schema) {
        let actual = type_of(value);
        let ok = expected
            .split(',')
            .any(|t| t == actual || (t == "number" && actual == "integer"));
        if !ok {
            errors.push(type_error(path, &expected, actual));
        }
    }
    composition(schema, value, path, errors);
    match value {
        Value::String(s) => string(schema, s, path, errors),
        Value::Number(_) => number(schema, value, path, errors),
        Value::Array(items) => array(schema, items, old.and_then(Value::as_array), path, errors),
        _ => {}
    }
    enumeration(schema, value, path, errors);
    if let Value::Object(map) = value {
        object(schema, map, old, path, errors);
    }
}

/// The declared type; int-or-string fields accept both.
fn expected_type(schema: &Map<String, Value>) -> Option<String> {
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        return Some("integer,string".into());
    }
    schema
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

fn composition(schema: &Map<String, Value>, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let results = |key: &str| -> Vec<Vec<FieldError>> {
        schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|s| {
                let mut found = Vec::new();
                check(s, value, None, path, &mut found);
                found
            })
            .collect()
    };
    let composite = |message: String| FieldError::invalid("<nil>", Value::String(String::new()), message);
    let any_of = results("anyOf");
    if !any_of.is_empty() && !any_of.iter().any(Vec::is_empty) {
        errors.push(composite(format!(
            "\"{path}\" must validate at least one schema (anyOf)"
        )));
        if let Some(best) = any_of.into_iter().min_by_key(Vec::len) {
            errors.extend(best);
        }
    }
    let one_of = results("oneOf");
    if !one_of.is_empty() {
        let valid = one_of.iter().filter(|r| r.is_empty()).count();
        if valid != 1 {
            let found = if valid == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {valid} valid alternatives")
            };
            errors.push(composite(format!(
                "\"{path}\" must validate one and only one schema (oneOf). {found}"
            )));
            if valid == 0 {
                if let Some(best) = one_of.into_iter().min_by_key(Vec::len) {
                    errors.extend(best);
                }
            }
        }
    }
    let all_of = results("allOf");
    if !all_of.is_empty() {
        let valid = all_of.iter().filter(|r| r.is_empty()).count();
        let count = all_of.len();
        errors.extend(all_of.into_iter().flatten());
        if valid != count {
            let none = if valid == 0 { ". None validated" } else { "" };
            errors.push(composite(format!(
                "\"{path}\" must validate all the schemas (allOf){none}"
            )));
        }
    }
    if let Some(not) = schema.get("not") {
        let mut found = Vec::new();
        check(not, value, None, path, &mut found);
        if found.is_empty() {
            errors.push(composite(format!("\"{path}\" must not validate the schema (not)")));
        }
    }
}

fn string(schema: &Map<String, Value>, s: &str, path: &str, errors: &mut Vec<FieldError>) {
    let value = || Value::String(s.to_string());
    let length = s.chars().count() as u64;
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
        if length > max {
            let unit = if max == 1 { "byte" } else { "bytes" };
            errors.push(FieldError::new(
                FieldErrorKind::TooLong,
                path,
                Some(value()),
                format!("may not be more than {max} {unit}"),
            ));
        }
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
        if length < min {
            errors.push(invalid(path, value(), format!("should be at least {min} chars long")));
        }
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        if pattern::matches(pattern, s) == Some(false) {
            errors.push(invalid(path, value(), format!("should match '{pattern}'")));
        }
    }
    if schema.get("type").and_then(Value::as_str) == Some("string") {
        if let Some(name) = schema.get("format").and_then(Value::as_str) {
            if !format::conforms(name, s) {
                errors.push(FieldError::invalid(
                    path,
                    value(),
                    format!("{path} in body must be of type {name}: \"{s}\""),
                ));
            }
        }
    }
}

fn number(schema: &Map<String, Value>, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let Some(n) = value.as_f64() else { return };
    let bound = |key: &str| schema.get(key).filter(|b| b.is_number());
    if let Some(max) = bound("maximum") {
        let limit = max.as_f64().unwrap_or(f64::MAX);
        if on(schema, "exclusiveMaximum") {
            if n >= limit {
                errors.push(invalid(
                    path,
                    value.clone(),
                    format!("should be less than {}", go_number(max)),
                ));
            }
        } else if n > limit {
            errors.push(invalid(
                path,
                value.clone(),
                format!("should be less than or equal to {}", go_number(max)),
            ));
        }
    }
    if let Some(min) = bound("minimum") {
        let limit = min.as_f64().unwrap_or(f64::MIN);
        if on(schema, "exclusiveMinimum") {
            if n <= limit {
                errors.push(invalid(
                    path,
                    value.clone(),
                    format!("should be greater than {}", go_number(min)),
                ));
            }
        } else if n < limit {
            errors.push(invalid(
                path,
                value.clone(),
                format!("should be greater than or equal to {}", go_number(min)),
            ));
        }
    }
    if let Some(factor) = bound("multipleOf") {
        let divisor = factor.as_f64().unwrap_or(1.0);
        if divisor > 0.0 && ((n / divisor).fract()).abs() > f64::EPSILON {
            errors.push(invalid(
                path,
                value.clone(),
                format!("should be a multiple of {}", go_number(factor)),
            ));
        }
    }
}

fn array(
    schema: &Map<String, Value>,
    items: &[Value],
    old: Option<&Vec<Value>>,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    let size = items.len() as u64;
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
        if size < min {
            errors.push(invalid(path, size.into(), format!("should have at least {min} items")));
        }
    }
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
        if size > max {
            errors.push(too_many(path, size, max));
        }
    }
    if schema.get("uniqueItems") == Some(&Value::Bool(true)) {
        let duplicated = items.iter().enumerate().any(|(i, a)| items[..i].contains(a));
        if duplicated {
            errors.push(invalid(
                path,
                Value::String(String::new()),
                "shouldn't contain duplicates".into(),
            ));
        }
    }
    if let Some(item_schema) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            let before = old.and_then(|old| correlated(schema, item, old));
            check(item_schema, item, before, &format!("{path}[{i}]"), errors);
        }
    }
}

/// The old item a list item replaces: the same keys in a map list, the same value in a set; items
/// of other lists have none.
fn correlated<'a>(schema: &Map<String, Value>, item: &Value, old: &'a [Value]) -> Option<&'a Value> {
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => old.iter().find(|o| *o == item),
        Some("map") => {
            let keys = schema.get("x-kubernetes-list-map-keys").and_then(Value::as_array)?;
            old.iter().find(|o| {
                keys.iter()
                    .filter_map(Value::as_str)
                    .all(|k| o.get(k).is_some() && o.get(k) == item.get(k))
            })
        }
        _ => None,
    }
}

fn too_many(path: &str, actual: u64, max: u64) -> FieldError {
    let unit = if max == 1 { "item" } else { "items" };
    FieldError::new(
        FieldErrorKind::TooMany,
        path,
        Some(actual.into()),
        format!("must have at most {max} {unit}"),
    )
}

fn enumeration(schema: &Map<String, Value>, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let Some(allowed) = schema.get("enum").and_then(Value::as_array) else {
        return;
    };
    if allowed.iter().any(|a| same(a, value)) {
        return;
    }
    let names: Vec<String> = allowed
        .iter()
        .map(|a| a.as_str().map(str::to_string).unwrap_or_else(|| a.to_string()))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    errors.push(FieldError::not_supported(path, value.clone(), &names));
}

/// JSON equality where 1 and 1.0 are the same number.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn object(
    schema: &Map<String, Value>,
    map: &Map<String, Value>,
    old: Option<&Value>,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    let count = map.len() as u64;
    if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64) {
        if count > max {
            errors.push(too_many(path, count, max));
        }
    }
    if let Some(min) = schema.get("minProperties").and_then(Value::as_u64) {
        if count < min {
            errors.push(invalid(
                path,
                count.into(),
                format!("should have at least {min} properties"),
            ));
        }
    }
    for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
        if let Some(name) = name.as_str() {
            if !map.contains_key(name) {
                errors.push(FieldError::required(child(path, name), ""));
            }
        }
    }
    if on(schema, "x-kubernetes-embedded-resource") {
        embedded(map, path, errors);
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (name, value) in map {
        let sub = properties.and_then(|p| p.get(name)).or(additional);
        if let Some(sub) = sub {
            check(sub, value, old.and_then(|o| o.get(name)), &child(path, name), errors);
        }
    }
}

/// An embedded resource names its apiVersion and kind.
fn embedded(map: &Map<String, Value>, path: &str, errors: &mut Vec<FieldError>) {
    for key in ["apiVersion", "kind"] {
        let field = child(path, key);
        match map.get(key) {
            None => errors.push(FieldError::required(field, "must not be empty")),
            Some(Value::String(s)) if s.is_empty() => errors.push(FieldError::invalid(
                field,
                Value::String(String::new()),
                "must not be empty",
            )),
            Some(Value::String(_)) => {}
            Some(other) => errors.push(FieldError::invalid(field, other.clone(), "must be a string")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(field: Value, value: Value) -> Vec<String> {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"f": field}}}});
        validate(&schema, &json!({"spec": {"f": value}}), None)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn types() {
        assert_eq!(
            messages(json!({"type": "integer"}), json!("string")),
            [r#"spec.f: Invalid value: "string": spec.f in body must be of type integer: "string""#]
        );
        assert_eq!(
            messages(json!({"type": "integer"}), json!(1.5)),
            [r#"spec.f: Invalid value: "number": spec.f in body must be of type integer: "number""#]
        );
        assert!(messages(json!({"type": "integer"}), json!(2.0)).is_empty());
        assert!(messages(json!({"type": "number"}), json!(2)).is_empty());
        assert_eq!(
            messages(json!({"type": "object"}), json!([1])),
            [r#"spec.f: Invalid value: "array": spec.f in body must be of type object: "array""#]
        );
        assert_eq!(
            messages(json!({"type": "boolean"}), json!("true")),
            [r#"spec.f: Invalid value: "string": spec.f in body must be of type boolean: "string""#]
        );
    }

    #[test]
    fn nullable_and_int_or_string() {
        assert_eq!(
            messages(json!({"type": "string"}), Value::Null),
            [r#"spec.f: Invalid value: "null": spec.f in body must be of type string: "null""#]
        );
        assert!(messages(json!({"type": "string", "nullable": true}), Value::Null).is_empty());
        let ios = json!({"x-kubernetes-int-or-string": true});
        assert!(messages(ios.clone(), json!(80)).is_empty());
        assert!(messages(ios.clone(), json!("http")).is_empty());
        assert_eq!(
            messages(ios, json!(true)),
            [r#"spec.f: Invalid value: "boolean": spec.f in body must be of type integer,string: "boolean""#]
        );
    }

    #[test]
    fn enum_lists_supported_values() {
        assert_eq!(
            messages(json!({"type": "string", "enum": ["small", "large"]}), json!("huge")),
            [r#"spec.f: Unsupported value: "huge": supported values: "small", "large""#]
        );
        assert_eq!(
            messages(json!({"type": "integer", "enum": [1, 2]}), json!(3)),
            [r#"spec.f: Unsupported value: 3: supported values: "1", "2""#]
        );
    }

    #[test]
    fn numeric_bounds() {
        let schema = json!({"type": "integer", "minimum": 1, "maximum": 10});
        assert_eq!(
            messages(schema.clone(), json!(11)),
            ["spec.f: Invalid value: 11: spec.f in body should be less than or equal to 10"]
        );
        assert_eq!(
            messages(schema, json!(0)),
            ["spec.f: Invalid value: 0: spec.f in body should be greater than or equal to 1"]
        );
        let exclusive = json!({"type": "number", "minimum": 1.0, "exclusiveMinimum": true, "maximum": 2.5, "exclusiveMaximum": true});
        assert_eq!(
            messages(exclusive.clone(), json!(1)),
            ["spec.f: Invalid value: 1: spec.f in body should be greater than 1"]
        );
        assert_eq!(
            messages(exclusive, json!(2.5)),
            ["spec.f: Invalid value: 2.5: spec.f in body should be less than 2.5"]
        );
        assert_eq!(
            messages(json!({"type": "integer", "multipleOf": 5}), json!(7)),
            ["spec.f: Invalid value: 7: spec.f in body should be a multiple of 5"]
        );
    }

    #[test]
    fn string_lengths_pattern_and_format() {
        assert_eq!(
            messages(json!({"type": "string", "maxLength": 3}), json!("abcd")),
            ["spec.f: Too long: may not be more than 3 bytes"]
        );
        assert_eq!(
            messages(json!({"type": "string", "minLength": 3}), json!("ab")),
            [r#"spec.f: Invalid value: "ab": spec.f in body should be at least 3 chars long"#]
        );
        assert_eq!(
            messages(json!({"type": "string", "pattern": "^[a-z]+$"}), json!("A1")),
            [r#"spec.f: Invalid value: "A1": spec.f in body should match '^[a-z]+$'"#]
        );
        assert_eq!(
            messages(json!({"type": "string", "format": "date-time"}), json!("yesterday")),
            [r#"spec.f: Invalid value: "yesterday": spec.f in body must be of type date-time: "yesterday""#]
        );
        assert!(messages(
            json!({"type": "string", "format": "date-time"}),
            json!("2024-01-02T03:04:05Z")
        )
        .is_empty());
    }

    #[test]
    fn array_sizes_and_items() {
        let schema = json!({"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "integer", "maximum": 5}});
        assert_eq!(
            messages(schema.clone(), json!([1, 2, 9])),
            [
                "spec.f: Too many: 3: must have at most 2 items",
                "spec.f[2]: Invalid value: 9: spec.f[2] in body should be less than or equal to 5",
            ]
        );
        assert_eq!(
            messages(schema, json!([])),
            ["spec.f: Invalid value: 0: spec.f in body should have at least 1 items"]
        );
        assert_eq!(
            messages(json!({"type": "array", "uniqueItems": true}), json!([1, 1])),
            [r#"spec.f: Invalid value: "": spec.f in body shouldn't contain duplicates"#]
        );
    }

    #[test]
    fn objects_required_properties_and_maps() {
        let schema = json!({"type": "object", "required": ["name"], "maxProperties": 1,
            "additionalProperties": {"type": "string"}});
        assert_eq!(
            messages(schema, json!({"a": "x", "b": 1})),
            [
                "spec.f: Too many: 2: must have at most 1 item",
                "spec.f.name: Required value",
                r#"spec.f.b: Invalid value: "integer": spec.f.b in body must be of type string: "integer""#,
            ]
        );
        assert_eq!(
            messages(json!({"type": "object", "minProperties": 1}), json!({})),
            ["spec.f: Invalid value: 0: spec.f in body should have at least 1 properties"]
        );
        assert_eq!(
            messages(
                json!({"type": "object", "x-kubernetes-embedded-resource": true}),
                json!({"kind": "Pod"})
            ),
            ["spec.f.apiVersion: Required value: must not be empty"]
        );
        assert_eq!(
            messages(
                json!({"type": "object", "x-kubernetes-embedded-resource": true}),
                json!({"apiVersion": 1, "kind": ""})
            ),
            [
                "spec.f.apiVersion: Invalid value: 1: must be a string",
                r#"spec.f.kind: Invalid value: "": must not be empty"#,
            ]
        );
    }

    #[test]
    fn compositions_validate_values() {
        let any = json!({"type": "string", "anyOf": [{"maxLength": 2}, {"pattern": "^x"}]});
        assert!(messages(any.clone(), json!("xyz")).is_empty());
        assert_eq!(
            messages(any, json!("abc")),
            [
                r#"<nil>: Invalid value: "": "spec.f" must validate at least one schema (anyOf)"#,
                "spec.f: Too long: may not be more than 2 bytes",
            ]
        );
        let one = json!({"oneOf": [{"minimum": 0}, {"maximum": 10}]});
        assert_eq!(
            messages(one, json!(5)),
            [
                r#"<nil>: Invalid value: "": "spec.f" must validate one and only one schema (oneOf). Found 2 valid alternatives"#
            ]
        );
        let all = json!({"allOf": [{"minimum": 0}, {"maximum": 10}]});
        assert_eq!(
            messages(all, json!(11)),
            [
                "spec.f: Invalid value: 11: spec.f in body should be less than or equal to 10",
                r#"<nil>: Invalid value: "": "spec.f" must validate all the schemas (allOf)"#,
            ]
        );
        assert_eq!(
            messages(json!({"not": {"enum": ["no"]}}), json!("no")),
            [r#"<nil>: Invalid value: "": "spec.f" must not validate the schema (not)"#]
        );
    }

    #[test]
    fn updates_ratchet_unchanged_values() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["name"], "properties": {
            "a": {"type": "integer", "maximum": 1},
            "b": {"type": "integer", "maximum": 1},
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer", "maximum": 10}}}},
            "atomic": {"type": "array", "items": {"type": "integer", "maximum": 1}}
        }}}});
        let old = json!({"spec": {"a": 5, "b": 5, "ports": [{"name": "x", "port": 99}], "atomic": [5, 5]}});
        let new = json!({"spec": {"a": 5, "b": 6, "ports": [{"name": "y", "port": 11}, {"name": "x", "port": 99}], "atomic": [5, 5, 0]}});
        let errors: Vec<String> = validate(&schema, &new, Some(&old))
            .iter()
            .map(|e| e.field.clone())
            .collect();
        assert_eq!(
            errors,
            [
                "spec.name",
                "spec.b",
                "spec.ports[0].port",
                "spec.atomic[0]",
                "spec.atomic[1]"
            ]
        );
        assert!(validate(&schema, &old, Some(&old)).is_empty());
    }

    /// upstream's TestValidateCustomResource cases for int-or-string with user-provided anyOf/allOf.
    #[test]
    fn int_or_string_with_compositions_as_upstream() {
        let sorted = |schema: Value, value: Value| {
            let schema = json!({"type": "object", "properties": {"field": schema}});
            let mut found: Vec<String> = validate(&schema, &json!({"field": value}), None)
                .iter()
                .map(ToString::to_string)
                .collect();
            found.sort();
            found
        };
        let any = json!({"nullable": true, "x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]});
        for ok in [Value::Null, json!(42), json!("foo")] {
            assert!(sorted(any.clone(), ok).is_empty());
        }
        assert_eq!(
            sorted(any, json!(true)),
            [
                r#"<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)"#,
                r#"field: Invalid value: "boolean": field in body must be of type integer,string: "boolean""#,
                r#"field: Invalid value: "boolean": field in body must be of type integer: "boolean""#,
            ]
        );
        let all = json!({"nullable": true, "x-kubernetes-int-or-string": true,
            "allOf": [{"anyOf": [{"type": "integer"}, {"type": "string"}]}]});
        assert_eq!(
            sorted(all, json!(1.2)),
            [
                r#"<nil>: Invalid value: "": "field" must validate all the schemas (allOf). None validated"#,
                r#"<nil>: Invalid value: "": "field" must validate at least one schema (anyOf)"#,
                r#"field: Invalid value: "number": field in body must be of type integer,string: "number""#,
                r#"field: Invalid value: "number": field in body must be of type integer: "number""#,
            ]
        );
    }
}
