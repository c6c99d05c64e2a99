//! Rules shared by the kinds that run pods from a template: label selectors that must select the
//! template, `restartPolicy: Always`, and the selector that may not change.

use super::validation::{immutable, label_selector, selector_is_empty, selector_matches};
use crate::registry::FieldError;
use serde_json::{json, Value};

const SELECTOR_MISMATCH: &str = "`selector` does not match template `labels`";

/// `<template>.metadata.labels: Invalid value: …: `selector` does not match template `labels``
/// when the selector does not select the template's labels.
pub fn template_matches(selector: &Value, template: Option<&Value>, path: &str) -> Option<FieldError> {
    let labels = template?.pointer("/metadata/labels").cloned().unwrap_or(json!({}));
    (!selector_is_empty(selector) && !selector_matches(selector, &labels))
        .then(|| FieldError::invalid(format!("{path}.metadata.labels"), labels, SELECTOR_MISMATCH))
}

/// `spec.template.spec.restartPolicy` must be `Always` for controllers that keep pods running.
pub fn restart_always(spec: &Value) -> Option<FieldError> {
    let policy = spec.pointer("/template/spec/restartPolicy")?.as_str()?;
    (policy != "Always")
        .then(|| FieldError::not_supported("spec.template.spec.restartPolicy", json!(policy), &["Always"]))
}

/// A metav1.LabelSelector that is required, valid and not empty (`empty selector is invalid for
/// deployment` and friends), plus the template-label match.
pub fn selector_and_template(spec: &Value, what: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(selector) => {
            errs.extend(label_selector(selector, "spec.selector"));
            if selector_is_empty(selector) {
                errs.push(FieldError::invalid(
                    "spec.selector",
                    selector.clone(),
                    format!("empty selector is invalid for {what}"),
                ));
            }
            errs.extend(template_matches(selector, spec.get("template"), "spec.template"));
        }
    }
    errs
}

/// `spec.selector: Invalid value: …: field is immutable`.
pub fn selector_immutable(new: &Value, old: &Value) -> Option<FieldError> {
    immutable(
        new.pointer("/spec/selector"),
        old.pointer("/spec/selector"),
        "spec.selector",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatch_message() {
        let spec =
            json!({"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "b"}}}});
        let errs = selector_and_template(&spec, "deployment");
        assert_eq!(
            errs[0].to_string(),
            "spec.template.metadata.labels: Invalid value: {\"app\":\"b\"}: `selector` does not match template `labels`"
        );
        let errs = selector_and_template(&json!({"selector": {}}), "deployment");
        assert_eq!(
            errs[0].to_string(),
            "spec.selector: Invalid value: {}: empty selector is invalid for deployment"
        );
    }

    #[test]
    fn restart_policy_must_be_always() {
        let spec = json!({"template": {"spec": {"restartPolicy": "Never"}}});
        assert_eq!(
            restart_always(&spec).unwrap().to_string(),
            "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""
        );
    }
}
