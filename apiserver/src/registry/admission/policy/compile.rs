//! A ValidatingAdmissionPolicy and its bindings compiled for evaluation: matchConstraints,
//! paramKind, matchConditions, variables and validations (expression, message,
//! messageExpression, reason) in the shared CEL environment, and each binding's paramRef,
//! matchResources and validationActions.

use crate::crd::cel::expression::{Expression, DYN};
use crate::crd::cel::types::Ty;
use crate::registry::admission::conditions::{self, Conditions};
use crate::registry::admission::matching::Criteria;
use serde_json::Value;
use std::collections::BTreeMap;

/// One compiled policy.
pub struct Policy {
    pub name: String,
    pub criteria: Criteria,
    /// paramKind's (apiVersion, kind).
    pub param_kind: Option<(String, String)>,
    pub conditions: Conditions,
    pub variables: Vec<(String, Result<Expression, String>)>,
    pub validations: Vec<Validation>,
    pub fail_open: bool,
}

pub struct Validation {
    pub expression: String,
    pub compiled: Result<Expression, String>,
    pub message: String,
    pub message_expression: Option<Result<Expression, String>>,
    /// Status reason of a denial; upstream's default is Invalid.
    pub reason: Option<String>,
}

/// One compiled binding.
pub struct Binding {
    pub name: String,
    pub policy: String,
    pub param_ref: Option<Value>,
    /// `None`: the binding matches whatever its policy does.
    pub criteria: Option<Criteria>,
    pub actions: Vec<String>,
}

fn text(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or("").to_string()
}

/// The variables a policy's expressions may use: `variables` declared by the policy's
/// variable names (others are errors), `params` when it has a paramKind.
pub fn declarations(spec: &Value, params: Ty) -> Vec<(&'static str, Ty)> {
    let variables = Ty::Object {
        fields: spec["variables"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| (text(v, "name"), DYN))
            .collect::<BTreeMap<_, _>>(),
        open: false,
    };
    let mut extra = vec![("namespaceObject", DYN), ("variables", variables)];
    if spec.get("paramKind").is_some_and(|p| p.is_object()) {
        extra.push(("params", params));
    }
    conditions::declarations(&extra)
}

impl Policy {
    pub fn compile(policy: &Value) -> Policy {
        let spec = &policy["spec"];
        let declared = declarations(spec, DYN);
        let compile = |source: &str| Expression::compile(source, &declared);
        let param_kind = spec["paramKind"].as_object().map(|p| {
            (
                text(&spec["paramKind"], "apiVersion"),
                p.get("kind").and_then(Value::as_str).unwrap_or("").to_string(),
            )
        });
        Policy {
            name: policy
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            criteria: Criteria::parse(&spec["matchConstraints"], "resourceRules"),
            param_kind,
            conditions: Conditions::compile(spec, &declared),
            variables: spec["variables"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| (text(v, "name"), compile(v["expression"].as_str().unwrap_or(""))))
                .collect(),
            validations: spec["validations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| {
                    let expression = text(v, "expression");
                    Validation {
                        compiled: compile(&expression),
                        expression,
                        message: text(v, "message").trim().to_string(),
                        message_expression: v["messageExpression"]
                            .as_str()
                            .filter(|m| !m.trim().is_empty())
                            .map(compile),
                        reason: v["reason"].as_str().filter(|r| !r.is_empty()).map(str::to_string),
                    }
                })
                .collect(),
            fail_open: spec["failurePolicy"] == "Ignore",
        }
    }
}

impl Binding {
    pub fn compile(binding: &Value) -> Binding {
        let spec = &binding["spec"];
        Binding {
            name: binding
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            policy: text(spec, "policyName"),
            param_ref: spec.get("paramRef").filter(|p| p.is_object()).cloned(),
            criteria: spec
                .get("matchResources")
                .filter(|m| m.is_object())
                .map(|m| Criteria::parse(m, "resourceRules")),
            actions: spec["validationActions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
        }
    }
}
