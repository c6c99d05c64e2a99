//! ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding: upstream's defaults
//! (failurePolicy, match resources) and validation, CEL expressions included — an expression
//! that does not compile in the environment a policy runs in is refused with the checker's
//! message; status is the status subresource's.

use super::meta::{keep_status, reset_status, NameRule};
use super::podvalidation::one_of;
use super::value::{child, each_mut, items, set_default, set_default_str, str_of};
use super::Kind;
use crate::crd::cel::expression::{Expression, DYN};
use crate::crd::cel::types::Ty;
use crate::registry::admission::policy::declarations;
use crate::registry::{FieldError, Strategy};
use serde_json::{json, Value};
use std::collections::HashSet;

/// The rules of the policy kinds.
pub fn lookup(kind: &str) -> Option<Kind> {
    match kind {
        "ValidatingAdmissionPolicy" => Some(Kind::new(NameRule::Subdomain, PolicyStrategy)),
        "ValidatingAdmissionPolicyBinding" => Some(Kind::new(NameRule::Subdomain, BindingStrategy)),
        _ => None,
    }
}

/// matchConstraints / matchResources defaults.
fn default_match_resources(resources: &mut Value) {
    set_default_str(resources, "matchPolicy", "Equivalent");
    set_default(resources, "namespaceSelector", json!({}));
    set_default(resources, "objectSelector", json!({}));
    for rules in ["resourceRules", "excludeResourceRules"] {
        each_mut(resources, rules, |rule| set_default_str(rule, "scope", "*"));
    }
}

/// The errors of one expression (`path` is its field) compiled with `declared`.
pub fn expression_errors(source: &str, path: &str, declared: &[(&str, Ty)]) -> Vec<FieldError> {
    if source.trim().is_empty() {
        return vec![FieldError::required(path, "expression is not specified")];
    }
    match Expression::compile(source, declared) {
        Ok(_) => Vec::new(),
        Err(issues) => vec![FieldError::invalid(
            path,
            json!(source),
            format!("compilation failed: {issues}"),
        )],
    }
}

/// matchConditions: named, unique, compiling.
pub fn match_condition_errors(owner: &Value, path: &str, declared: &[(&str, Ty)]) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut names = HashSet::new();
    for (i, condition) in items(owner, "matchConditions").iter().enumerate() {
        let p = format!("{path}[{i}]");
        errs.extend(expression_errors(
            str_of(condition, "expression"),
            &format!("{p}.expression"),
            declared,
        ));
        let name = str_of(condition, "name");
        if name.is_empty() {
            errs.push(FieldError::required(format!("{p}.name"), ""));
        } else if !names.insert(name) {
            errs.push(FieldError::duplicate(format!("{p}.name"), json!(name)));
        } else {
            errs.extend(super::validation::invalid_each(
                &format!("{p}.name"),
                name,
                super::validation::qualified_name(name),
            ));
        }
    }
    errs
}

fn match_resources_errors(resources: &Value, path: &str) -> Vec<FieldError> {
    let mut errs: Vec<FieldError> = one_of(
        resources,
        "matchPolicy",
        &format!("{path}.matchPolicy"),
        &["Equivalent", "Exact"],
    )
    .into_iter()
    .collect();
    for selector in ["namespaceSelector", "objectSelector"] {
        if let Some(s) = resources.get(selector).filter(|s| !s.is_null()) {
            errs.extend(super::validation::label_selector(s, &format!("{path}.{selector}")));
        }
    }
    errs
}

struct PolicyStrategy;

impl Strategy for PolicyStrategy {
    fn default(&self, obj: &mut Value) {
        if let Some(spec) = child(obj, "spec") {
            set_default_str(spec, "failurePolicy", "Fail");
            if let Some(constraints) = child(spec, "matchConstraints") {
                default_match_resources(constraints);
            }
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        reset_status(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        keep_status(new, old);
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let spec = &obj["spec"];
        let mut errs: Vec<FieldError> = one_of(spec, "failurePolicy", "spec.failurePolicy", &["Fail", "Ignore"])
            .into_iter()
            .collect();
        if let Some(kind) = spec.get("paramKind").filter(|k| !k.is_null()) {
            for field in ["apiVersion", "kind"] {
                if str_of(kind, field).is_empty() {
                    errs.push(FieldError::required(format!("spec.paramKind.{field}"), ""));
                }
            }
        }
        match spec.get("matchConstraints").filter(|m| !m.is_null()) {
            None => errs.push(FieldError::required("spec.matchConstraints", "")),
            Some(constraints) => {
                errs.extend(match_resources_errors(constraints, "spec.matchConstraints"));
                if items(constraints, "resourceRules").is_empty() {
                    errs.push(FieldError::required("spec.matchConstraints.resourceRules", ""));
                }
            }
        }
        let declared = declarations(spec, DYN);
        errs.extend(match_condition_errors(spec, "spec.matchConditions", &declared));
        for (i, variable) in items(spec, "variables").iter().enumerate() {
            let p = format!("spec.variables[{i}]");
            if str_of(variable, "name").trim().is_empty() {
                errs.push(FieldError::required(format!("{p}.name"), "name is not specified"));
            }
            errs.extend(expression_errors(
                str_of(variable, "expression"),
                &format!("{p}.expression"),
                &declared,
            ));
        }
        let validations = items(spec, "validations");
        if validations.is_empty() && items(spec, "auditAnnotations").is_empty() {
            let why = "validations or auditAnnotations must contain at least one item";
            errs.push(FieldError::required("spec.validations", why));
            errs.push(FieldError::required("spec.auditAnnotations", why));
        }
        for (i, annotation) in items(spec, "auditAnnotations").iter().enumerate() {
            let p = format!("spec.auditAnnotations[{i}]");
            if str_of(annotation, "key").is_empty() {
                errs.push(FieldError::required(format!("{p}.key"), ""));
            }
            let value = str_of(annotation, "valueExpression");
            if value.trim().is_empty() {
                errs.push(FieldError::required(
                    format!("{p}.valueExpression"),
                    "valueExpression is not specified",
                ));
            } else {
                errs.extend(expression_errors(value, &format!("{p}.valueExpression"), &declared));
            }
        }
        for (i, validation) in validations.iter().enumerate() {
            let p = format!("spec.validations[{i}]");
            errs.extend(expression_errors(
                str_of(validation, "expression"),
                &format!("{p}.expression"),
                &declared,
            ));
            let message_expression = str_of(validation, "messageExpression");
            if !message_expression.is_empty() {
                errs.extend(expression_errors(
                    message_expression,
                    &format!("{p}.messageExpression"),
                    &declared,
                ));
            }
            if str_of(validation, "message").contains(['\n', '\r']) {
                errs.push(FieldError::invalid(
                    format!("{p}.message"),
                    json!(str_of(validation, "message")),
                    "message must not contain line breaks",
                ));
            }
            if validation.get("reason").is_some_and(|r| !r.is_null()) {
                errs.extend(one_of(
                    validation,
                    "reason",
                    &format!("{p}.reason"),
                    &["Forbidden", "Invalid", "RequestEntityTooLarge", "Unauthorized"],
                ));
            }
        }
        errs
    }

    fn tracks_generation(&self) -> bool {
        true
    }
}

struct BindingStrategy;

impl Strategy for BindingStrategy {
    fn default(&self, obj: &mut Value) {
        if let Some(resources) = child(obj, "spec").and_then(|s| super::value::existing(s, "matchResources")) {
            default_match_resources(resources);
        }
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let spec = &obj["spec"];
        let mut errs = Vec::new();
        if str_of(spec, "policyName").is_empty() {
            errs.push(FieldError::required("spec.policyName", ""));
        }
        if let Some(param_ref) = spec.get("paramRef").filter(|p| !p.is_null()) {
            let has_selector = param_ref.get("selector").is_some_and(|s| !s.is_null());
            let has_name = !str_of(param_ref, "name").is_empty();
            if has_name && has_selector {
                errs.push(FieldError::forbidden(
                    "spec.paramRef.name",
                    "name and selector are mutually exclusive",
                ));
                errs.push(FieldError::forbidden(
                    "spec.paramRef.selector",
                    "name and selector are mutually exclusive",
                ));
            }
            if !has_name && !has_selector {
                errs.push(FieldError::required(
                    "spec.paramRef",
                    "one of name or selector must be specified",
                ));
            }
            match str_of(param_ref, "parameterNotFoundAction") {
                "" => errs.push(FieldError::required("spec.paramRef.parameterNotFoundAction", "")),
                "Deny" | "Allow" => {}
                other => errs.push(FieldError::not_supported(
                    "spec.paramRef.parameterNotFoundAction",
                    json!(other),
                    &["Deny", "Allow"],
                )),
            }
        }
        if let Some(resources) = spec.get("matchResources").filter(|m| !m.is_null()) {
            errs.extend(match_resources_errors(resources, "spec.matchResources"));
        }
        let actions = items(spec, "validationActions");
        let mut seen = HashSet::new();
        for (i, action) in actions.iter().enumerate() {
            let action = action.as_str().unwrap_or("");
            if !matches!(action, "Deny" | "Warn" | "Audit") {
                errs.push(FieldError::not_supported(
                    format!("spec.validationActions[{i}]"),
                    json!(action),
                    &["Audit", "Deny", "Warn"],
                ));
            }
            if !seen.insert(action) {
                errs.push(FieldError::duplicate(
                    format!("spec.validationActions[{i}]"),
                    json!(action),
                ));
            }
        }
        if seen.contains("Deny") && seen.contains("Warn") {
            errs.push(FieldError::invalid(
                "spec.validationActions",
                json!(actions),
                "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)",
            ));
        }
        if seen.is_empty() {
            errs.push(FieldError::required(
                "spec.validationActions",
                "at least one validation action is required",
            ));
        }
        errs
    }

    fn tracks_generation(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(errs: Vec<FieldError>) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn policies_default_and_compile_their_expressions() {
        let mut policy = json!({"spec": {
            "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["deployments"]}]},
            "validations": [{"expression": "object.spec.replicas <= params.max"}, {"expression": "object.spec.replicas <"}]}});
        PolicyStrategy.default(&mut policy);
        assert_eq!(policy["spec"]["failurePolicy"], "Fail");
        assert_eq!(policy["spec"]["matchConstraints"]["matchPolicy"], "Equivalent");
        assert_eq!(policy["spec"]["matchConstraints"]["resourceRules"][0]["scope"], "*");
        let errs = messages(PolicyStrategy.validate_create(&policy));
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].starts_with("spec.validations[0].expression: Invalid value: \"object.spec.replicas <= params.max\": compilation failed: ERROR: <input>:1:25: undeclared reference to 'params'"),
            "{}",
            errs[0]
        );
        assert!(errs[1].starts_with("spec.validations[1].expression: Invalid value: \"object.spec.replicas <\": compilation failed: ERROR: <input>:1:"));
        policy["spec"]["paramKind"] = json!({"apiVersion": "v1", "kind": "ConfigMap"});
        policy["spec"]["validations"] = json!([{"expression": "object.spec.replicas <= int(params.data.max)"}]);
        assert!(PolicyStrategy.validate_create(&policy).is_empty());
    }

    #[test]
    fn bindings_need_a_policy_and_actions() {
        let errs = messages(BindingStrategy.validate_create(&json!({"spec": {
            "paramRef": {"name": "p", "selector": {}}, "validationActions": ["Deny", "Warn"]}})));
        assert_eq!(
            errs,
            [
                "spec.policyName: Required value",
                "spec.paramRef.name: Forbidden: name and selector are mutually exclusive",
                "spec.paramRef.selector: Forbidden: name and selector are mutually exclusive",
                "spec.paramRef.parameterNotFoundAction: Required value",
                "spec.validationActions: Invalid value: [\"Deny\",\"Warn\"]: must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)",
            ]
        );
    }
}
