//! The `admissionregistration.k8s.io` webhook configurations: defaults (failure and match
//! policy, selectors, timeout, rule scope, service port) and their validation, matchConditions
//! compiled.

use super::meta::NameRule;
use super::podvalidation::one_of;
use super::value::{child, each_mut, existing, items, set_default, set_default_str, str_of};
use super::Kind;
use crate::registry::{FieldError, Strategy};
use serde_json::{json, Value};
use std::collections::HashSet;

/// The rules of an admissionregistration kind.
pub fn lookup(kind: &str) -> Option<Kind> {
    let mutating = match kind {
        "MutatingWebhookConfiguration" => true,
        "ValidatingWebhookConfiguration" => false,
        _ => return None,
    };
    Some(Kind::new(NameRule::Subdomain, WebhookConfiguration { mutating }))
}

pub struct WebhookConfiguration {
    mutating: bool,
}

impl Strategy for WebhookConfiguration {
    fn default(&self, obj: &mut Value) {
        each_mut(obj, "webhooks", |hook| {
            set_default_str(hook, "failurePolicy", "Fail");
            set_default_str(hook, "matchPolicy", "Equivalent");
            set_default(hook, "namespaceSelector", json!({}));
            set_default(hook, "objectSelector", json!({}));
            set_default(hook, "timeoutSeconds", json!(10));
            if self.mutating {
                set_default_str(hook, "reinvocationPolicy", "Never");
            }
            each_mut(hook, "rules", |rule| set_default_str(rule, "scope", "*"));
            if let Some(service) = child(hook, "clientConfig").and_then(|c| existing(c, "service")) {
                set_default(service, "port", json!(443));
            }
        });
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let mut names = HashSet::new();
        for (i, hook) in items(obj, "webhooks").iter().enumerate() {
            let p = format!("webhooks[{i}]");
            let name = str_of(hook, "name");
            if name.is_empty() {
                errs.push(FieldError::required(format!("{p}.name"), ""));
            } else {
                if !names.insert(name) {
                    errs.push(FieldError::duplicate(format!("{p}.name"), json!(name)));
                }
                let mut msgs = super::validation::dns1123_subdomain(name);
                if name.split('.').count() < 3 {
                    msgs.push("should be a domain with at least three segments separated by dots".into());
                }
                errs.extend(super::validation::invalid_each(&format!("{p}.name"), name, msgs));
            }
            errs.extend(hook_errors(hook, &p, self.mutating));
        }
        errs
    }

    fn tracks_generation(&self) -> bool {
        true
    }
}

fn hook_errors(hook: &Value, p: &str, mutating: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    errs.extend(one_of(
        hook,
        "failurePolicy",
        &format!("{p}.failurePolicy"),
        &["Fail", "Ignore"],
    ));
    errs.extend(one_of(
        hook,
        "matchPolicy",
        &format!("{p}.matchPolicy"),
        &["Equivalent", "Exact"],
    ));
    match str_of(hook, "sideEffects") {
        "" => errs.push(FieldError::required(
            format!("{p}.sideEffects"),
            "must specify one of None, NoneOnDryRun",
        )),
        "None" | "NoneOnDryRun" => {}
        other => errs.push(FieldError::not_supported(
            format!("{p}.sideEffects"),
            json!(other),
            &["None", "NoneOnDryRun"],
        )),
    }
    let versions = items(hook, "admissionReviewVersions");
    if !versions.iter().any(|v| v == "v1" || v == "v1beta1") {
        errs.push(FieldError::required(
            format!("{p}.admissionReviewVersions"),
            "must specify one of v1, v1beta1",
        ));
    }
    if let Some(timeout) = hook.get("timeoutSeconds").and_then(Value::as_i64) {
        if !(1..=30).contains(&timeout) {
            errs.push(FieldError::invalid(
                format!("{p}.timeoutSeconds"),
                json!(timeout),
                "the timeout value must be between 1 and 30 seconds",
            ));
        }
    }
    if mutating {
        errs.extend(one_of(
            hook,
            "reinvocationPolicy",
            &format!("{p}.reinvocationPolicy"),
            &["IfNeeded", "Never"],
        ));
    }
    errs.extend(super::admission_policy::match_condition_errors(
        hook,
        &format!("{p}.matchConditions"),
        &crate::registry::admission::conditions::declarations(&[]),
    ));
    let config = hook.get("clientConfig").unwrap_or(&Value::Null);
    let has = |k: &str| config.get(k).is_some_and(|v| !v.is_null());
    if has("url") == has("service") {
        errs.push(FieldError::required(
            format!("{p}.clientConfig"),
            "exactly one of url or service is required",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Value {
        json!({"webhooks": [{"name": "pods.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
            "clientConfig": {"service": {"name": "hook", "namespace": "x"}},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]}]})
    }

    #[test]
    fn webhook_defaults() {
        let mut c = config();
        let strategy = WebhookConfiguration { mutating: true };
        strategy.default(&mut c);
        let hook = &c["webhooks"][0];
        assert_eq!(hook["failurePolicy"], "Fail");
        assert_eq!(hook["matchPolicy"], "Equivalent");
        assert_eq!(hook["namespaceSelector"], json!({}));
        assert_eq!(hook["objectSelector"], json!({}));
        assert_eq!(hook["timeoutSeconds"], 10);
        assert_eq!(hook["reinvocationPolicy"], "Never");
        assert_eq!(hook["rules"][0]["scope"], "*");
        assert_eq!(hook["clientConfig"]["service"]["port"], 443);
        assert!(strategy.validate_create(&c).is_empty());
    }

    #[test]
    fn webhook_validation() {
        let mut c = config();
        c["webhooks"][0]["name"] = json!("hook");
        c["webhooks"][0]["sideEffects"] = Value::Null;
        let strategy = WebhookConfiguration { mutating: false };
        strategy.default(&mut c);
        let errs: Vec<String> = strategy.validate_create(&c).iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            vec![
                "webhooks[0].name: Invalid value: \"hook\": should be a domain with at least three segments separated by dots",
                "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
            ]
        );
    }
}
