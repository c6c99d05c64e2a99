//! ValidatingAdmissionPolicy: every policy matching a request is evaluated for each of its
//! bindings that match too and each param the binding selects — matchConditions, variables,
//! then validations — and each failed validation acts as the binding's validationActions say
//! (Deny, Warn; Audit goes to the audit log, which Skiff does not write yet). Errors follow the
//! policy's failurePolicy. The first denial is the answer, worded as upstream's
//! (`ValidatingAdmissionPolicy 'p' with binding 'b' denied request: <message>`).

mod compile;
mod params;
pub mod typecheck;

use super::compiled::Compiled;
use super::conditions;
use super::request::Request;
use crate::crd::cel::expression::Binding as Bound;
use crate::registry::Store;
use crate::status::{ApiError, ApiResult, Gr};
use cel::Value as CelValue;
use compile::{Binding, Policy};
use serde_json::{json, Value};
use std::collections::HashMap;

pub use compile::declarations;

/// The compiled policies and bindings.
#[derive(Default)]
pub struct Source {
    policies: Compiled<Policy>,
    bindings: Compiled<Binding>,
}

/// What a policy decided about one validation (upstream's PolicyDecision).
struct Decision {
    deny: bool,
    message: String,
    reason: Option<String>,
}

/// A denial and who made it.
struct Denied {
    policy: String,
    binding: Option<String>,
    message: String,
    reason: Option<String>,
}

/// Upstream's reasonToCode.
fn code_of(reason: &str) -> u16 {
    match reason {
        "Forbidden" => 403,
        "Unauthorized" => 401,
        "RequestEntityTooLarge" => 413,
        _ => 422,
    }
}

/// The reasons a validation may give, as static strings (the API allows only these).
fn reason_of(reason: &str) -> &'static str {
    match reason {
        "Forbidden" => "Forbidden",
        "Unauthorized" => "Unauthorized",
        "RequestEntityTooLarge" => "RequestEntityTooLarge",
        _ => "Invalid",
    }
}

impl Denied {
    fn into_error(self, request: &Request<'_>, object: Option<&Value>) -> ApiError {
        let message = match &self.binding {
            Some(binding) => format!(
                "ValidatingAdmissionPolicy '{}' with binding '{binding}' denied request: {}",
                self.policy, self.message
            ),
            None => format!(
                "ValidatingAdmissionPolicy '{}' denied request: {}",
                self.policy, self.message
            ),
        };
        let name = match request.subject(object) {
            "" => "Unknown",
            name => name,
        };
        let gr = Gr {
            group: &request.resource.group,
            resource: &request.resource.plural,
        };
        let mut error = ApiError::forbidden(gr, name, &message);
        let reason = reason_of(self.reason.as_deref().unwrap_or("Invalid"));
        error.reason = reason;
        error.code = code_of(reason);
        if let Some(details) = error.details.as_mut() {
            details["causes"] = json!([{"message": message}]);
        }
        error
    }
}

/// Evaluates one policy for one param: matchConditions, variables, validations.
fn evaluate(policy: &Policy, bindings: &[(&str, &Bound<'_>)]) -> Vec<Decision> {
    let on_error = |message: String| Decision {
        deny: !policy.fail_open,
        message,
        reason: None,
    };
    match policy.conditions.evaluate(bindings) {
        Ok(true) => {}
        Ok(false) => return Vec::new(),
        Err(e) => return vec![on_error(e)],
    }
    let mut variables: HashMap<String, CelValue> = HashMap::new();
    // Variables that failed, and why: an expression reading one fails with that (upstream
    // evaluates variables lazily; here they are evaluated in order, once).
    let mut failed: HashMap<String, String> = HashMap::new();
    for (name, compiled) in &policy.variables {
        let map = Bound::Cel(CelValue::Map(variables.clone().into()));
        let mut scope: Vec<(&str, &Bound<'_>)> = bindings.to_vec();
        scope.push(("variables", &map));
        match compiled.as_ref().map_err(Clone::clone).and_then(|e| e.evaluate(&scope)) {
            Ok(value) => {
                variables.insert(name.clone(), value);
            }
            Err(e) => {
                failed.insert(name.clone(), e);
            }
        }
    }
    let explained = |error: String| match error
        .strip_prefix("no such key: ")
        .and_then(|k| failed.get(k).map(|e| (k, e)))
    {
        Some((name, why)) => format!("composited variable \"{name}\" fails to evaluate: {why}"),
        None => error,
    };
    let map = Bound::Cel(CelValue::Map(variables.into()));
    let mut scope: Vec<(&str, &Bound<'_>)> = bindings.to_vec();
    scope.push(("variables", &map));
    let mut decisions = Vec::new();
    for validation in &policy.validations {
        let outcome = match &validation.compiled {
            Ok(expr) => expr.evaluate(&scope).map_err(&explained),
            Err(_) => Err(String::new()),
        };
        match outcome {
            Ok(CelValue::Bool(true)) => {}
            Ok(_) => {
                let computed = validation
                    .message_expression
                    .as_ref()
                    .and_then(|m| m.as_ref().ok())
                    .and_then(|m| match m.evaluate(&scope) {
                        Ok(CelValue::String(s)) => Some(s.trim().to_string()),
                        _ => None,
                    })
                    .filter(|m| !m.is_empty() && !m.contains('\n') && m.len() <= 5 * 1024);
                let message = computed
                    .or_else(|| (!validation.message.is_empty()).then(|| validation.message.clone()))
                    .unwrap_or_else(|| format!("failed expression: {}", validation.expression.trim()));
                decisions.push(Decision {
                    deny: true,
                    message,
                    reason: validation.reason.clone(),
                });
            }
            Err(e) => decisions.push(on_error(conditions::failure(
                &validation.expression,
                &validation.compiled,
                Some(e),
            ))),
        }
    }
    decisions
}

/// The namespace object a policy sees (`None` for cluster-scoped requests and namespaces).
fn namespace_object(store: &Store, request: &Request<'_>) -> ApiResult<Value> {
    let is_namespace = request.resource.group.is_empty() && request.resource.kind == "Namespace";
    if request.namespace.is_empty() || is_namespace {
        return Ok(Value::Null);
    }
    let cached = store
        .cached_object("", "namespaces", None, request.namespace)
        .ok_or_else(|| {
            ApiError::not_found(
                Gr {
                    group: "",
                    resource: "namespaces",
                },
                request.namespace,
            )
        })?;
    let mut namespace: Value = serde_json::from_slice(&cached.json).map_err(ApiError::internal)?;
    if let Some(meta) = namespace.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
    Ok(namespace)
}

/// Run every ValidatingAdmissionPolicy on the request (`object` null on delete).
pub async fn validate(store: &Store, request: &Request<'_>, object: &Value, old: Option<&Value>) -> ApiResult<()> {
    let source = &store.dynamic_admission().policies;
    let policies = source
        .policies
        .current(store, "validatingadmissionpolicies", Policy::compile);
    if policies.is_empty() {
        return Ok(());
    }
    let bindings = source
        .bindings
        .current(store, "validatingadmissionpolicybindings", Binding::compile);
    let present = Some(object).filter(|o| !o.is_null());
    let mut denied: Vec<Denied> = Vec::new();
    let config_error = |denied: &mut Vec<Denied>, policy: &Policy, binding: Option<&str>, why: String| {
        if policy.fail_open {
            return;
        }
        let prefix = if binding.is_some() { "binding" } else { "policy" };
        denied.push(Denied {
            policy: policy.name.clone(),
            binding: binding.map(str::to_string),
            message: format!("failed to configure {prefix}: {why}"),
            reason: None,
        });
    };
    let null = Value::Null;
    let mut namespace = None;
    for policy in &policies {
        let matched = match policy.criteria.matches(store, request, present, old) {
            Ok(Some(matched)) => matched,
            Ok(None) => continue,
            Err(e) => {
                config_error(&mut denied, policy, None, e.message);
                continue;
            }
        };
        let request_json = conditions::request_value(&request.admission_request("", &matched, &null, &null));
        for binding in bindings.iter().filter(|b| b.policy == policy.name) {
            if let Some(criteria) = &binding.criteria {
                match criteria.matches(store, request, present, old) {
                    Ok(Some(_)) => {}
                    Ok(None) => continue,
                    Err(e) => {
                        config_error(&mut denied, policy, Some(&binding.name), e.message);
                        continue;
                    }
                }
            }
            let params = params::collect(
                store,
                policy.param_kind.as_ref(),
                binding.param_ref.as_ref(),
                request.namespace,
            )
            .await;
            let params = match params {
                Ok(params) => params,
                Err(why) => {
                    config_error(&mut denied, policy, Some(&binding.name), why);
                    continue;
                }
            };
            let namespace = match &namespace {
                Some(ns) => ns,
                None => namespace.insert(namespace_object(store, request)?),
            };
            for param in &params {
                let (o, p, r, n, pa) = (
                    Bound::Json(object),
                    Bound::Json(old.unwrap_or(&null)),
                    Bound::Json(&request_json),
                    Bound::Json(namespace),
                    Bound::Json(param.as_ref().unwrap_or(&null)),
                );
                let scope = [
                    ("object", &o),
                    ("oldObject", &p),
                    ("request", &r),
                    ("namespaceObject", &n),
                    ("params", &pa),
                ];
                for decision in evaluate(policy, &scope).into_iter().filter(|d| d.deny) {
                    for action in &binding.actions {
                        match action.as_str() {
                            "Deny" => denied.push(Denied {
                                policy: policy.name.clone(),
                                binding: Some(binding.name.clone()),
                                message: decision.message.clone(),
                                reason: decision.reason.clone(),
                            }),
                            "Warn" => crate::warning::add(format!(
                                "Validation failed for ValidatingAdmissionPolicy '{}' with binding '{}': {}",
                                policy.name, binding.name, decision.message
                            )),
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    match denied.into_iter().next() {
        Some(first) => Err(first.into_error(request, present.or(old))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(policy: Value, object: Value, params: Value) -> Vec<(bool, String)> {
        let policy = Policy::compile(&policy);
        let null = Value::Null;
        let (o, n, p) = (Bound::Json(&object), Bound::Json(&null), Bound::Json(&params));
        let request = conditions::request_value(&json!({"operation": "CREATE"}));
        let r = Bound::Json(&request);
        let scope = [
            ("object", &o),
            ("oldObject", &n),
            ("request", &r),
            ("namespaceObject", &n),
            ("params", &p),
        ];
        evaluate(&policy, &scope)
            .into_iter()
            .map(|d| (d.deny, d.message))
            .collect()
    }

    #[test]
    fn validations_say_why_they_failed() {
        let policy = json!({"metadata": {"name": "p"}, "spec": {
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "variables": [{"name": "limit", "expression": "int(params.data.max)"}],
            "validations": [
                {"expression": "object.replicas <= variables.limit", "messageExpression": "'too many: ' + string(object.replicas)"},
                {"expression": "object.replicas > 0", "message": "need one"},
                {"expression": "object.replicas != 7"}]}});
        assert_eq!(
            decide(policy.clone(), json!({"replicas": 7}), json!({"data": {"max": "5"}})),
            [
                (true, "too many: 7".to_string()),
                (true, "failed expression: object.replicas != 7".to_string())
            ]
        );
        assert_eq!(
            decide(policy.clone(), json!({"replicas": 0}), json!({"data": {"max": "5"}})),
            [(true, "need one".to_string())]
        );
        let mut ignoring = policy;
        ignoring["spec"]["failurePolicy"] = json!("Ignore");
        assert_eq!(
            decide(ignoring, json!({"replicas": 2}), json!({"data": {}})),
            [(false, "expression 'object.replicas <= variables.limit' resulted in error: composited variable \"limit\" fails to evaluate: no such key: max".to_string())]
        );
    }
}
