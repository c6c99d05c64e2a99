//! The checks a CRD's validation rules get when it is created or updated, with upstream's paths
//! and messages: every rule and messageExpression compiles, transition rules sit where an old
//! value can be found, fieldPath and reason are valid, and the estimated cost of each rule and of
//! all rules together stays within budget.

use super::compile::{compile, field_path_valid, has_rules};
use super::types::{embedded, Ty, MAX_REQUEST_SIZE};
use super::{CRD_COST_LIMIT, RULE_COST_LIMIT};
use crate::registry::{FieldError, FieldErrorKind};
use serde_json::{json, Value};

const REASONS: [&str; 4] = [
    "FieldValueInvalid",
    "FieldValueForbidden",
    "FieldValueRequired",
    "FieldValueDuplicate",
];

/// Every problem with the validation rules of `crd`.
pub fn crd_errors(crd: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let schemas: Vec<Option<&Value>> = versions.iter().map(|v| v.pointer("/schema/openAPIV3Schema")).collect();
    // Identical schemas are served as one top-level validation (upstream's internal version).
    let shared = schemas
        .first()
        .copied()
        .flatten()
        .filter(|first| schemas.iter().all(|s| *s == Some(*first)));
    match shared {
        Some(schema) => check_schema(schema, "spec.validation.openAPIV3Schema", &mut errors),
        None => {
            for (i, schema) in schemas.iter().enumerate() {
                if let Some(schema) = schema {
                    check_schema(
                        schema,
                        &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                        &mut errors,
                    );
                }
            }
        }
    }
    errors
}

fn check_schema(schema: &Value, path: &str, errors: &mut Vec<FieldError>) {
    if !has_rules(schema) {
        return;
    }
    let mut walk = Walk { errors, total: 0.0 };
    walk.node(schema, path, true, 1.0, None);
    let total = walk.total;
    if total > CRD_COST_LIMIT {
        let message = cost_message(
            "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema",
            total,
            CRD_COST_LIMIT,
        );
        errors.push(FieldError::forbidden(path, message));
    }
}

/// upstream's wording of an exceeded cost budget.
fn cost_message(what: &str, cost: f64, limit: f64) -> String {
    let factor = cost / limit;
    let factor = if factor > 100.0 {
        "more than 100x".to_string()
    } else if factor < 1.5 {
        format!("{factor:.6}x")
    } else {
        format!("{factor:.1}x")
    };
    format!("{what} exceeds budget by factor of {factor} (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)")
}

struct Walk<'a> {
    errors: &'a mut Vec<FieldError>,
    total: f64,
}

impl Walk<'_> {
    /// Checks the rules at `schema` and under it; `cardinality` is how often they can run per
    /// object, `uncorrelatable` the innermost list whose items have no old counterpart.
    fn node(&mut self, schema: &Value, path: &str, root: bool, cardinality: f64, uncorrelatable: Option<&str>) {
        if !has_rules(schema) {
            return;
        }
        if let Some(rules) = schema.get("x-kubernetes-validations").and_then(Value::as_array) {
            let ty = Ty::of(schema, root);
            for (i, rule) in rules.iter().enumerate() {
                self.rule(
                    schema,
                    rule,
                    &ty,
                    &format!("{path}.x-kubernetes-validations[{i}]"),
                    cardinality,
                    uncorrelatable,
                );
            }
        }
        for (name, child) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            self.node(
                child,
                &format!("{path}.properties[{name}]"),
                embedded(child),
                cardinality,
                uncorrelatable,
            );
        }
        let bound = |key: &str| schema.get(key).and_then(Value::as_u64).map(|n| n as f64);
        if let Some(items) = schema.get("items") {
            let path = format!("{path}.items");
            let keyed = schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map");
            let within = if keyed {
                uncorrelatable.map(str::to_string)
            } else {
                Some(path.clone())
            };
            self.node(
                items,
                &path,
                embedded(items),
                times(cardinality, bound("maxItems"), items),
                within.as_deref(),
            );
        }
        if let Some(additional) = schema.get("additionalProperties").filter(|a| a.is_object()) {
            let path = format!("{path}.additionalProperties");
            self.node(
                additional,
                &path,
                embedded(additional),
                times(cardinality, bound("maxProperties"), additional),
                uncorrelatable,
            );
        }
    }

    fn rule(
        &mut self,
        schema: &Value,
        rule: &Value,
        ty: &Ty,
        path: &str,
        cardinality: f64,
        uncorrelatable: Option<&str>,
    ) {
        let text = |k: &str| rule.get(k).and_then(Value::as_str).unwrap_or("");
        if text("rule").trim().is_empty() {
            self.errors.push(FieldError::required(format!("{path}.rule"), ""));
            return;
        }
        if let Some(reason) = rule.get("reason").and_then(Value::as_str) {
            if !REASONS.contains(&reason) {
                self.errors.push(FieldError::not_supported(
                    format!("{path}.reason"),
                    json!(reason),
                    &REASONS,
                ));
            }
        }
        let field_path = text("fieldPath");
        if !field_path.is_empty() && !field_path_valid(schema, field_path) {
            self.errors.push(FieldError::invalid(
                format!("{path}.fieldPath"),
                json!(field_path),
                "fieldPath must be a valid path",
            ));
        }
        match compile(rule, ty) {
            Err(e) => self.errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                format!("{path}.{}", e.field),
                None,
                format!("{}: {}", go_rule(rule), e.detail),
            )),
            Ok(compiled) => {
                if compiled.cost > RULE_COST_LIMIT {
                    self.errors.push(FieldError::forbidden(
                        format!("{path}.rule"),
                        cost_message("estimated rule cost", compiled.cost, RULE_COST_LIMIT),
                    ));
                }
                self.total += compiled.cost * cardinality;
                if let (true, Some(within)) = (compiled.uses_old_self, uncorrelatable) {
                    self.errors.push(FieldError::invalid(
                        format!("{path}.rule"),
                        json!(compiled.rule),
                        format!("oldSelf cannot be used on the uncorrelatable portion of the schema within {within}"),
                    ));
                }
            }
        }
    }
}

/// How often a node under a list or map of `bound` items can occur in one object: the product of
/// the bounds above it, but never more than copies of it fit in one request (upstream's
/// MaxCardinality).
fn times(cardinality: f64, bound: Option<f64>, child: &Value) -> f64 {
    let fits = (MAX_REQUEST_SIZE / (min_size(child) + 1)) as f64;
    (cardinality * bound.unwrap_or(f64::INFINITY)).min(fits)
}

/// The fewest bytes a value of `schema` serializes to (required fields included).
fn min_size(schema: &Value) -> u64 {
    let int = |k: &str| schema.get(k).and_then(Value::as_u64).unwrap_or(0);
    match schema.get("type").and_then(Value::as_str).unwrap_or("") {
        "string" => 2 + int("minLength"),
        "boolean" => 4,
        "array" => {
            let item = schema.get("items").map_or(1, min_size);
            2 + int("minItems") * (item + 1)
        }
        "object" => {
            let required = schema.get("required").and_then(Value::as_array).into_iter().flatten();
            2 + required
                .filter_map(Value::as_str)
                .map(|name| {
                    let child = schema.pointer("/properties").and_then(|p| p.get(name));
                    name.len() as u64 + 4 + child.map_or(1, min_size)
                })
                .sum::<u64>()
        }
        _ => 1,
    }
}

/// A rule as Go's `%#v` prints upstream's ValidationRule (pointers as addresses).
fn go_rule(rule: &Value) -> String {
    let text = |k: &str| rule.get(k).and_then(Value::as_str).unwrap_or("");
    let reason = match rule.get("reason") {
        Some(_) => "(*apiextensions.FieldValueErrorReason)(0xc000a1c0f0)",
        None => "(*apiextensions.FieldValueErrorReason)(nil)",
    };
    let optional = match rule.get("optionalOldSelf") {
        Some(_) => "(*bool)(0xc000a1c0f8)",
        None => "(*bool)(nil)",
    };
    format!(
        "apiextensions.ValidationRule{{Rule:{:?}, Message:{:?}, MessageExpression:{:?}, Reason:{reason}, FieldPath:{:?}, OptionalOldSelf:{optional}}}",
        text("rule"),
        text("message"),
        text("messageExpression"),
        text("fieldPath")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(schema: Value) -> Value {
        json!({"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": schema}}]}})
    }

    #[test]
    fn bad_rules_are_reported_at_their_path() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"a": {"type": "integer"}},
            "x-kubernetes-validations": [{"rule": "self.b > 0"}, {"rule": "self.a > 0", "reason": "Nope"}]}}});
        let errors: Vec<String> = crd_errors(&crd(schema)).iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: apiextensions.ValidationRule{Rule:\"self.b > 0\", Message:\"\", MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: <input>:1:5: undefined field 'b'\n | self.b > 0\n | ....^",
                "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[1].reason: Unsupported value: \"Nope\": supported values: \"FieldValueInvalid\", \"FieldValueForbidden\", \"FieldValueRequired\", \"FieldValueDuplicate\"",
            ]
        );
    }

    #[test]
    fn costly_and_misplaced_rules_are_refused() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "names": {"type": "array", "items": {"type": "string"},
                "x-kubernetes-validations": [{"rule": "self.all(a, self.all(b, a == b))"}]},
            "tags": {"type": "array", "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}}}}}});
        let errors: Vec<String> = crd_errors(&crd(schema)).iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("spec.validation.openAPIV3Schema.properties[spec].properties[names].x-kubernetes-validations[0].rule: Forbidden: estimated rule cost exceeds budget by factor of more than 100x"), "{errors:?}");
        assert!(errors[1].ends_with("oldSelf cannot be used on the uncorrelatable portion of the schema within spec.validation.openAPIV3Schema.properties[spec].properties[tags].items"), "{errors:?}");
        assert!(
            errors[2].starts_with(
                "spec.validation.openAPIV3Schema: Forbidden: x-kubernetes-validations estimated rule cost total"
            ),
            "{errors:?}"
        );
    }
}

#[cfg(test)]
mod fieldkit {
    use super::*;
    use std::path::{Path, PathBuf};

    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }

    /// Every rule of every field-kit CRD compiles, within the cost budgets.
    #[test]
    fn every_fieldkit_crd_is_accepted() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fieldkit/crds");
        if !dir.exists() {
            eprintln!("skipping: {} is absent", dir.display());
            return;
        }
        let mut paths = Vec::new();
        files(&dir, &mut paths);
        let mut crds = 0;
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            for doc in serde_yaml_ng::Deserializer::from_str(&text) {
                let Ok(crd) = Value::deserialize(doc) else { continue };
                if crd["kind"] != "CustomResourceDefinition" {
                    continue;
                }
                crds += 1;
                let errors: Vec<String> = crd_errors(&crd).iter().map(ToString::to_string).collect();
                assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
                for version in crd["spec"]["versions"].as_array().unwrap() {
                    if let Some(schema) = version.pointer("/schema/openAPIV3Schema") {
                        super::super::Validator::new(schema);
                    }
                }
            }
        }
        assert!(crds > 30, "{crds}");
    }

    use serde::Deserialize;
}
