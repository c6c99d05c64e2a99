//! CustomResourceDefinition validation as upstream's apiextensions validation does it, with its
//! messages and field paths: names, group, scope, versions, schemas (structural, defaults),
//! printer columns, subresources, selectable fields, conversion, stored versions and API approval.
//! Like upstream's conversion to the internal type, a schema, subresources, columns or selectable
//! fields that are identical in every version are checked (and reported) once at the top level
//! (`spec.validation`, `spec.subresources`, …).

mod conversion;
mod openapi;
mod parts;
mod path;
mod structural;

use super::validation::dns1035_label;
use crate::registry::FieldError;
pub use conversion::REVIEW_VERSIONS;
use path::{child, elements, flag, index, text};
use serde_json::{json, Value};

/// The errors of a new CRD.
pub fn validate_create(crd: &Value) -> Vec<FieldError> {
    let mut errors = metadata_name(crd);
    spec(crd, None, &mut errors);
    common(crd, None, &mut errors);
    errors
}

/// The errors of `new` replacing `old`: the create rules (schemas only where they changed) plus
/// upstream's immutable fields. A write that leaves the spec alone (status, labels) is not held to
/// rules the stored spec may predate.
pub fn validate_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if new.get("spec") == old.get("spec") {
        common(new, Some(old), &mut errors);
        return errors;
    }
    spec(new, Some(old), &mut errors);
    let established = old
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Established" && c["status"] == "True"));
    let mut immutable = |pointer: &str, field: &str| {
        let value = new.pointer(pointer).cloned().unwrap_or(json!(""));
        if Some(&value) != old.pointer(pointer) && !(value == json!("") && old.pointer(pointer).is_none()) {
            errors.push(FieldError::invalid(field, value, "field is immutable"));
        }
    };
    if established {
        immutable("/spec/scope", "spec.scope");
        immutable("/spec/names/kind", "spec.names.kind");
    }
    immutable("/spec/group", "spec.group");
    immutable("/spec/names/plural", "spec.names.plural");
    common(new, Some(old), &mut errors);
    errors
}

fn metadata_name(crd: &Value) -> Vec<FieldError> {
    let name = crd.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let spec = crd.get("spec").unwrap_or(&Value::Null);
    let required = format!("{}.{}", text(&spec["names"], "plural"), text(spec, "group"));
    if name == required {
        return Vec::new();
    }
    vec![FieldError::invalid(
        "metadata.name",
        json!(name),
        "must be spec.names.plural+\".\"+spec.group",
    )]
}

/// The checks after the spec: accepted names, stored versions, API approval, preserveUnknownFields.
fn common(crd: &Value, old: Option<&Value>, errors: &mut Vec<FieldError>) {
    names(
        crd.pointer("/status/acceptedNames").unwrap_or(&Value::Null),
        "status.acceptedNames",
        errors,
    );
    parts::stored_versions(crd, errors);
    approval(crd, old, errors);
    let preserve = |c: &Value| c.pointer("/spec/preserveUnknownFields") == Some(&json!(true));
    if preserve(crd) && !old.is_some_and(preserve) {
        errors.push(FieldError::invalid(
            "spec.preserveUnknownFields",
            json!(true),
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
        ));
    }
}

/// A per-version field shared by every version, which upstream moves to the top level.
fn shared<'a>(versions: &'a [Value], name: &str) -> Option<&'a Value> {
    let first = versions.first()?.get(name).filter(|v| !v.is_null())?;
    if first.as_array().is_some_and(Vec::is_empty) {
        return None;
    }
    versions.iter().all(|v| v.get(name) == Some(first)).then_some(first)
}

fn status_enabled(subresources: Option<&Value>) -> bool {
    subresources.and_then(|s| s.get("status")).is_some_and(|s| !s.is_null())
}

fn spec(crd: &Value, old: Option<&Value>, errors: &mut Vec<FieldError>) {
    let spec = crd.get("spec").unwrap_or(&Value::Null);
    let group = text(spec, "group");
    if group.is_empty() {
        errors.push(FieldError::required("spec.group", ""));
    } else {
        let errs = super::validation::dns1123_subdomain(group);
        if !errs.is_empty() {
            errors.push(FieldError::invalid("spec.group", json!(group), errs.join(",")));
        } else if !group.contains('.') {
            errors.push(FieldError::invalid(
                "spec.group",
                json!(group),
                "should be a domain with at least one dot",
            ));
        }
    }
    let scope = text(spec, "scope");
    if scope.is_empty() {
        errors.push(FieldError::required("spec.scope", ""));
    } else if scope != "Cluster" && scope != "Namespaced" {
        errors.push(FieldError::not_supported(
            "spec.scope",
            json!(scope),
            &["Cluster", "Namespaced"],
        ));
    }
    let versions = elements(spec, "versions");
    let top_schema = shared(versions, "schema");
    let top_subresources = shared(versions, "subresources");
    let top_columns = shared(versions, "additionalPrinterColumns");
    let top_selectable = shared(versions, "selectableFields");
    if top_schema.and_then(|s| s.get("openAPIV3Schema")).is_none() {
        for (i, v) in versions.iter().enumerate() {
            if v.pointer("/schema/openAPIV3Schema").is_none() {
                errors.push(FieldError::required(
                    format!("spec.versions[{i}].schema.openAPIV3Schema"),
                    "schemas are required",
                ));
            }
        }
    }
    let old_versions = old.and_then(|o| o.pointer("/spec/versions")).and_then(Value::as_array);
    let unchanged = |name: &str, schema: Option<&Value>| {
        old_versions.is_some_and(|vs| vs.iter().any(|v| text(v, "name") == name && v.get("schema") == schema))
    };
    let mut storage = 0;
    let mut names_seen: Vec<&str> = Vec::new();
    let mut unique = true;
    for (i, v) in versions.iter().enumerate() {
        let path = index("spec.versions", i);
        let name = text(v, "name");
        storage += usize::from(flag(v, "storage"));
        unique &= !names_seen.contains(&name);
        names_seen.push(name);
        let errs = dns1035_label(name);
        if !errs.is_empty() {
            errors.push(FieldError::invalid(child(&path, "name"), json!(name), errs.join(",")));
        }
        deprecation_warning(v, &path, errors);
        let subresources = top_subresources.or(v.get("subresources"));
        if top_schema.is_none() && !unchanged(name, v.get("schema")) {
            if let Some(schema) = v.get("schema") {
                validation(schema, status_enabled(subresources), &child(&path, "schema"), errors);
            }
        }
        if top_subresources.is_none() {
            if let Some(sub) = v.get("subresources") {
                parts::subresources(sub, &child(&path, "subresources"), errors);
            }
        }
        if top_columns.is_none() {
            for (j, col) in elements(v, "additionalPrinterColumns").iter().enumerate() {
                parts::column(col, &index(&child(&path, "additionalPrinterColumns"), j), errors);
            }
        }
        if top_selectable.is_none() {
            let fields = elements(v, "selectableFields");
            if !fields.is_empty() {
                match v.pointer("/schema/openAPIV3Schema") {
                    Some(schema) => parts::selectable_fields(fields, schema, &child(&path, "selectableFields"), errors),
                    None => errors.push(FieldError::invalid(
                        child(&path, "selectableFields"),
                        json!(""),
                        "selectableFields may only be set when version.schema.openAPIV3Schema is not included",
                    )),
                }
            }
        }
    }
    if !unique {
        errors.push(FieldError::invalid(
            "spec.versions",
            json!(versions),
            "must contain unique version names",
        ));
    }
    if storage != 1 {
        errors.push(FieldError::invalid(
            "spec.versions",
            json!(versions),
            "must have exactly one version marked as storage version",
        ));
    }
    if let Some(first) = versions.first().map(|v| text(v, "name")) {
        let errs = dns1035_label(first);
        if !errs.is_empty() {
            errors.push(FieldError::invalid("spec.version", json!(first), errs.join(",")));
        }
    }
    let names_value = spec.get("names").unwrap_or(&Value::Null);
    for name in ["plural", "singular", "kind", "listKind"] {
        if text(names_value, name).is_empty() {
            errors.push(FieldError::required(format!("spec.names.{name}"), ""));
        }
    }
    names(names_value, "spec.names", errors);
    let any_status = status_enabled(top_subresources) || versions.iter().any(|v| status_enabled(v.get("subresources")));
    let first_name = versions.first().map(|v| text(v, "name")).unwrap_or("");
    if let Some(schema) = top_schema.filter(|s| !unchanged(first_name, Some(s))) {
        validation(schema, any_status, "spec.validation", errors);
    }
    if let Some(sub) = top_subresources {
        parts::subresources(sub, "spec.subresources", errors);
    }
    for (j, col) in top_columns.and_then(Value::as_array).into_iter().flatten().enumerate() {
        parts::column(col, &index("spec.additionalPrinterColumns", j), errors);
    }
    if let Some(fields) = top_selectable.and_then(Value::as_array) {
        match top_schema.and_then(|s| s.get("openAPIV3Schema")) {
            Some(schema) => parts::selectable_fields(fields, schema, "spec.selectableFields", errors),
            None => errors.push(FieldError::invalid(
                "spec.selectableFields",
                json!(""),
                "selectableFields may only be set when validations.schema is included",
            )),
        }
    }
    if let Some(conversion) = spec.get("conversion").filter(|c| c.is_object()) {
        let strategy = text(conversion, "strategy");
        if !strategy.is_empty() && strategy != "None" && flag(spec, "preserveUnknownFields") {
            errors.push(FieldError::invalid(
                "spec.conversion.strategy",
                json!(strategy),
                "must be None if spec.preserveUnknownFields is true",
            ));
        }
        parts::conversion(conversion, "spec.conversion", errors);
    }
}

/// ValidateCustomResourceDefinitionNames.
fn names(names: &Value, path: &str, errors: &mut Vec<FieldError>) {
    for (name, mixed_case) in [
        ("plural", false),
        ("singular", false),
        ("kind", true),
        ("listKind", true),
    ] {
        let value = text(names, name);
        if value.is_empty() {
            continue;
        }
        let errs = dns1035_label(&if mixed_case {
            value.to_lowercase()
        } else {
            value.to_string()
        });
        if !errs.is_empty() {
            let detail = if mixed_case {
                format!("may have mixed case, but should otherwise match: {}", errs.join(","))
            } else {
                errs.join(",")
            };
            errors.push(FieldError::invalid(child(path, name), json!(value), detail));
        }
    }
    for (i, short) in elements(names, "shortNames").iter().enumerate() {
        let short = short.as_str().unwrap_or("");
        let errs = dns1035_label(short);
        if !errs.is_empty() {
            errors.push(FieldError::invalid(
                index(&child(path, "shortNames"), i),
                json!(short),
                errs.join(","),
            ));
        }
    }
    let kind = text(names, "kind");
    if !kind.is_empty() && kind == text(names, "listKind") {
        errors.push(FieldError::invalid(
            child(path, "listKind"),
            json!(kind),
            "kind and listKind may not be the same",
        ));
    }
    for (i, category) in elements(names, "categories").iter().enumerate() {
        let category = category.as_str().unwrap_or("");
        let errs = dns1035_label(category);
        if !errs.is_empty() {
            errors.push(FieldError::invalid(
                index(&child(path, "categories"), i),
                json!(category),
                errs.join(","),
            ));
        }
    }
}

fn deprecation_warning(version: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let Some(warning) = version.get("deprecationWarning").and_then(Value::as_str) else {
        return;
    };
    let field = child(path, "deprecationWarning");
    let mut problems = Vec::new();
    if !flag(version, "deprecated") {
        problems.push("can only be set for deprecated versions".to_string());
    } else {
        if warning.len() > 256 {
            problems.push("must be <= 256 characters long".into());
        }
        if warning.is_empty() {
            problems.push("must not be an empty string".into());
        }
        if let Some((i, _)) = warning.char_indices().find(|(_, c)| c.is_control()) {
            problems.push(format!(
                "must only contain printable UTF-8 characters; control character found at index {i}"
            ));
        }
    }
    errors.extend(
        problems
            .into_iter()
            .map(|p| FieldError::invalid(field.clone(), json!(warning), p)),
    );
}

/// The JSON names of the schema fields upstream allows at the root when status is a subresource,
/// with the Go names its message lists.
const ROOT_FIELDS: [(&str, &str); 22] = [
    ("description", "Description"),
    ("type", "Type"),
    ("format", "Format"),
    ("title", "Title"),
    ("maximum", "Maximum"),
    ("exclusiveMaximum", "ExclusiveMaximum"),
    ("minimum", "Minimum"),
    ("exclusiveMinimum", "ExclusiveMinimum"),
    ("maxLength", "MaxLength"),
    ("minLength", "MinLength"),
    ("pattern", "Pattern"),
    ("maxItems", "MaxItems"),
    ("minItems", "MinItems"),
    ("uniqueItems", "UniqueItems"),
    ("multipleOf", "MultipleOf"),
    ("required", "Required"),
    ("items", "Items"),
    ("properties", "Properties"),
    ("externalDocs", "ExternalDocs"),
    ("example", "Example"),
    ("x-kubernetes-preserve-unknown-fields", "XPreserveUnknownFields"),
    ("x-kubernetes-validations", "XValidations"),
];

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    }
}

/// validateCustomResourceDefinitionValidation for one `schema` holder (`{openAPIV3Schema: …}`).
fn validation(holder: &Value, status: bool, path: &str, errors: &mut Vec<FieldError>) {
    let Some(schema) = holder.get("openAPIV3Schema").filter(|s| s.is_object()) else {
        return;
    };
    let schema_path = child(path, "openAPIV3Schema");
    if status {
        let ty = text(schema, "type");
        let root_extra = schema
            .as_object()
            .into_iter()
            .flatten()
            .any(|(k, v)| k != "type" && !is_zero(v) && !ROOT_FIELDS.iter().any(|(json_name, _)| json_name == k));
        if !ty.is_empty() && ty != "object" {
            errors.push(FieldError::invalid(
                format!("{schema_path}.type"),
                json!(ty),
                "only \"object\" is allowed as the type at the root of the schema if the status subresource is enabled",
            ));
        } else if root_extra {
            let allowed: Vec<&str> = ROOT_FIELDS.iter().map(|(_, go)| *go).collect();
            errors.push(FieldError::invalid(
                schema_path.clone(),
                schema.clone(),
                format!(
                    "only [{}] fields are allowed at the root of the schema if the status subresource is enabled",
                    allowed.join(" ")
                ),
            ));
        }
    }
    if flag(schema, "nullable") {
        errors.push(FieldError::forbidden(
            format!("{schema_path}.nullable"),
            "nullable cannot be true at the root",
        ));
    }
    let structural = structural::validate(schema, &schema_path);
    if structural.is_empty() {
        errors.extend(openapi::validate_defaults(schema, &schema_path));
    } else {
        errors.extend(structural);
    }
    errors.extend(openapi::validate(schema, &schema_path));
}

/// validateAPIApproval: groups under k8s.io and kubernetes.io need the api-approved annotation.
fn approval(crd: &Value, old: Option<&Value>, errors: &mut Vec<FieldError>) {
    const ANNOTATION: &str = "api-approved.kubernetes.io";
    let group = crd.pointer("/spec/group").and_then(Value::as_str).unwrap_or("");
    let protected = ["k8s.io", "kubernetes.io"]
        .iter()
        .any(|g| group == *g || group.ends_with(&format!(".{g}")));
    if !protected {
        return;
    }
    let state = |c: &Value| {
        let value = c
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(ANNOTATION))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let approved = value.starts_with("unapproved") || value.contains("://") || value.starts_with('/');
        (value, approved)
    };
    let (value, approved) = state(crd);
    if approved || old.is_some_and(|o| state(o) == (value.clone(), approved)) {
        return;
    }
    let field = format!("metadata.annotations[{ANNOTATION}]");
    errors.push(if value.is_empty() {
        FieldError::required(
            field,
            format!("protected groups must have approval annotation \"{ANNOTATION}\", see https://github.com/kubernetes/enhancements/pull/1111"),
        )
    } else {
        FieldError::invalid(
            field,
            json!(value),
            format!("protected groups must have approval annotation \"{ANNOTATION}\" with either a URL or a reason starting with \"unapproved\", see https://github.com/kubernetes/enhancements/pull/1111"),
        )
    });
}

#[cfg(test)]
mod tests;
