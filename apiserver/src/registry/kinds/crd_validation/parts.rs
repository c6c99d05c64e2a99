//! Upstream's checks of the parts of a CRD version: printer columns, subresources, selectable
//! fields, and of the conversion settings.

use super::conversion::{validate_client_config, REVIEW_VERSIONS};
use super::path::{child, elements, index, text};
use crate::registry::{FieldError, FieldErrorKind};
use serde_json::{json, Value};

const COLUMN_TYPES: &str = "boolean,date,integer,number,string";
const COLUMN_FORMATS: [&str; 8] = [
    "byte",
    "date",
    "date-time",
    "double",
    "float",
    "int32",
    "int64",
    "password",
];
pub const MAX_SELECTABLE_FIELDS: usize = 8;

/// validateSimpleJSONPath.
fn simple_json_path(s: &str, path: &str) -> Option<FieldError> {
    if s.is_empty() {
        Some(FieldError::invalid(path, json!(s), "must not be empty"))
    } else if !s.starts_with('.') {
        Some(FieldError::invalid(
            path,
            json!(s),
            "must be a simple json path starting with .",
        ))
    } else {
        None
    }
}

/// ValidateCustomResourceColumnDefinition.
pub fn column(col: &Value, path: &str, errors: &mut Vec<FieldError>) {
    if text(col, "name").is_empty() {
        errors.push(FieldError::required(child(path, "name"), ""));
    }
    let ty = text(col, "type");
    let types_detail = format!("must be one of {COLUMN_TYPES}");
    if ty.is_empty() {
        errors.push(FieldError::required(child(path, "type"), types_detail));
    } else if !COLUMN_TYPES.split(',').any(|t| t == ty) {
        errors.push(FieldError::invalid(child(path, "type"), json!(ty), types_detail));
    }
    let format = text(col, "format");
    if !format.is_empty() && !COLUMN_FORMATS.contains(&format) {
        errors.push(FieldError::invalid(
            child(path, "format"),
            json!(format),
            format!("must be one of {}", COLUMN_FORMATS.join(",")),
        ));
    }
    let json_path = text(col, "jsonPath");
    if json_path.is_empty() {
        errors.push(FieldError::required(child(path, "JSONPath"), ""));
    } else if let Some(e) = simple_json_path(json_path, &child(path, "JSONPath")) {
        errors.push(e);
    }
}

/// ValidateCustomResourceDefinitionSubresources (the scale paths).
pub fn subresources(sub: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let Some(scale) = sub.get("scale").filter(|s| s.is_object()) else {
        return;
    };
    for (name, prefix, under) in [
        ("specReplicasPath", ".spec.", ".spec"),
        ("statusReplicasPath", ".status.", ".status"),
    ] {
        let field = format!("{}.{name}", child(path, "scale"));
        let value = text(scale, name);
        if value.is_empty() {
            errors.push(FieldError::required(field, ""));
        } else if let Some(e) = simple_json_path(value, &field) {
            errors.push(e);
        } else if !value.starts_with(prefix) {
            errors.push(FieldError::invalid(
                field,
                json!(value),
                format!("should be a json path under {under}"),
            ));
        }
    }
    let selector = text(scale, "labelSelectorPath");
    if !selector.is_empty() {
        let field = format!("{}.labelSelectorPath", child(path, "scale"));
        if let Some(e) = simple_json_path(selector, &field) {
            errors.push(e);
        } else if !selector.starts_with(".spec.") && !selector.starts_with(".status.") {
            errors.push(FieldError::invalid(
                field,
                json!(selector),
                "should be a json path under either .spec or .status",
            ));
        }
    }
}

/// The schema a selectable field's path leads to, or why it leads nowhere.
fn field_schema<'a>(schema: &'a Value, json_path: &str) -> Result<&'a Value, String> {
    let Some(rest) = json_path.strip_prefix('.') else {
        return Err("must start with '.'".into());
    };
    let mut current = schema;
    for segment in rest.split('.') {
        if segment.is_empty() || segment.contains('[') {
            return Err(format!("unsupported path: {json_path}"));
        }
        current = current
            .pointer("/properties")
            .and_then(|p| p.get(segment))
            .or_else(|| current.get("additionalProperties").filter(|a| a.is_object()))
            .ok_or_else(|| format!("does not refer to a valid field: {json_path}"))?;
    }
    Ok(current)
}

/// ValidateCustomResourceSelectableFields.
pub fn selectable_fields(fields: &[Value], schema: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let mut unique: Vec<&str> = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let json_path_field = child(&index(path, i), "jsonPath");
        let json_path = text(field, "jsonPath");
        if json_path.is_empty() {
            errors.push(FieldError::required(json_path_field, ""));
            continue;
        }
        let found = match field_schema(schema, json_path) {
            Ok(found) => found,
            Err(e) => {
                errors.push(FieldError::invalid(
                    json_path_field,
                    json!(json_path),
                    format!("is an invalid path: {e}"),
                ));
                continue;
            }
        };
        if json_path.starts_with(".metadata.") || json_path == ".metadata" {
            errors.push(FieldError::invalid(
                json_path_field.clone(),
                json!(json_path),
                "must not point to fields in metadata",
            ));
        }
        if !matches!(text(found, "type"), "string" | "boolean" | "integer") {
            errors.push(FieldError::invalid(
                json_path_field.clone(),
                json!(json_path),
                "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
            ));
        }
        if unique.contains(&json_path) {
            errors.push(FieldError::duplicate(json_path_field, json!(json_path)));
        } else {
            unique.push(json_path);
        }
    }
    if unique.len() > MAX_SELECTABLE_FIELDS {
        errors.push(FieldError::new(
            FieldErrorKind::TooMany,
            path,
            Some(json!(unique.len())),
            format!("must have at most {MAX_SELECTABLE_FIELDS} items"),
        ));
    }
}

/// validateCustomResourceConversion, with v1's `webhook.clientConfig` and
/// `webhook.conversionReviewVersions` reported at the internal paths upstream reports.
pub fn conversion(conversion: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let strategy = text(conversion, "strategy");
    let strategy_path = child(path, "strategy");
    if strategy.is_empty() {
        errors.push(FieldError::required(strategy_path, ""));
    } else if strategy != "None" && strategy != "Webhook" {
        errors.push(FieldError::not_supported(
            strategy_path,
            json!(strategy),
            &["None", "Webhook"],
        ));
    }
    let client_config = conversion.pointer("/webhook/clientConfig").filter(|c| !c.is_null());
    let review_versions = conversion
        .pointer("/webhook/conversionReviewVersions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let client_path = child(path, "webhookClientConfig");
    let versions_path = child(path, "conversionReviewVersions");
    if strategy == "Webhook" {
        match client_config {
            None => errors.push(FieldError::required(
                client_path,
                "required when strategy is set to Webhook",
            )),
            Some(client) => errors.extend(validate_client_config(client, &client_path)),
        }
        review_versions_errors(review_versions, &versions_path, errors);
    } else {
        let detail = "should not be set when strategy is not set to Webhook";
        if client_config.is_some() {
            errors.push(FieldError::forbidden(client_path, detail));
        }
        if !review_versions.is_empty() {
            errors.push(FieldError::forbidden(versions_path, detail));
        }
    }
}

fn review_versions_errors(versions: &[Value], path: &str, errors: &mut Vec<FieldError>) {
    if versions.is_empty() {
        errors.push(FieldError::required(path, ""));
        return;
    }
    let mut seen = Vec::new();
    let mut recognized = false;
    for (i, v) in versions.iter().enumerate() {
        let v = v.as_str().unwrap_or("");
        if seen.contains(&v) {
            errors.push(FieldError::invalid(index(path, i), json!(v), "duplicate version"));
            continue;
        }
        seen.push(v);
        for e in super::super::validation::dns1035_label(v) {
            errors.push(FieldError::invalid(index(path, i), json!(v), e));
        }
        recognized |= REVIEW_VERSIONS.contains(&v);
    }
    if !recognized {
        errors.push(FieldError::invalid(
            path,
            Value::Array(versions.to_vec()),
            format!("must include at least one of {}", REVIEW_VERSIONS.join(", ")),
        ));
    }
}

/// The entries of status.storedVersions that left spec.versions, and a missing storage version.
pub fn stored_versions(crd: &Value, errors: &mut Vec<FieldError>) {
    let path = "status.storedVersions";
    let stored = elements(crd.get("status").unwrap_or(&Value::Null), "storedVersions");
    if stored.is_empty() {
        errors.push(FieldError::invalid(
            path,
            json!([]),
            "must have at least one stored version",
        ));
        return;
    }
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for v in versions {
        let name = text(v, "name");
        if v["storage"] == json!(true) && !stored.iter().any(|s| s == name) {
            errors.push(FieldError::invalid(
                path,
                Value::Array(stored.to_vec()),
                format!("must have the storage version {name}"),
            ));
        }
    }
    for (i, s) in stored.iter().enumerate() {
        let s = s.as_str().unwrap_or("");
        if !versions.iter().any(|v| text(v, "name") == s) {
            errors.push(FieldError::invalid(
                index(path, i),
                json!(s),
                format!("missing from spec.versions; {s} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in {s} and removes {s} from status.storedVersions"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn columns_and_scale() {
        let mut errors = Vec::new();
        column(
            &json!({"name": "A", "type": "text", "jsonPath": "spec.a"}),
            "c",
            &mut errors,
        );
        subresources(
            &json!({"scale": {"specReplicasPath": ".status.r", "statusReplicasPath": ".status.r"}}),
            "s",
            &mut errors,
        );
        assert_eq!(
            messages(&errors),
            [
                r#"c.type: Invalid value: "text": must be one of boolean,date,integer,number,string"#,
                r#"c.JSONPath: Invalid value: "spec.a": must be a simple json path starting with ."#,
                r#"s.scale.specReplicasPath: Invalid value: ".status.r": should be a json path under .spec"#,
            ]
        );
    }

    #[test]
    fn selectable_fields_point_at_scalars() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "color": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}}}}});
        let fields = [
            json!({"jsonPath": ".spec.color"}),
            json!({"jsonPath": ".spec.tags"}),
            json!({"jsonPath": ".spec.color"}),
            json!({"jsonPath": ".spec.nope"}),
        ];
        let mut errors = Vec::new();
        selectable_fields(&fields, &schema, "f", &mut errors);
        assert_eq!(
            messages(&errors),
            [
                r#"f[1].jsonPath: Invalid value: ".spec.tags": must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed."#,
                r#"f[2].jsonPath: Duplicate value: ".spec.color""#,
                r#"f[3].jsonPath: Invalid value: ".spec.nope": is an invalid path: does not refer to a valid field: .spec.nope"#,
            ]
        );
    }

    #[test]
    fn webhook_conversion_needs_config_and_review_versions() {
        let mut errors = Vec::new();
        conversion(
            &json!({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v2"]}}),
            "c",
            &mut errors,
        );
        assert_eq!(
            messages(&errors),
            [
                "c.webhookClientConfig: Required value: required when strategy is set to Webhook",
                r#"c.conversionReviewVersions: Invalid value: ["v2"]: must include at least one of v1, v1beta1"#,
            ]
        );
    }
}
