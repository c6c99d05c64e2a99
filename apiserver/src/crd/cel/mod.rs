//! The apiserver's one CEL layer. CEL validation rules (x-kubernetes-validations) of custom
//! resources, as upstream's apiextensions-apiserver: rules compiled once per CRD version into a
//! [`Validator`], checked when the CRD is written ([`crd_errors`]), and evaluated on every create
//! and update of its objects; and standalone expressions over declared variables for admission
//! ([`expression`]), in the same environment.

mod check;
mod compile;
mod crd;
mod env;
mod eval;
pub mod expression;
mod keyed;
mod lib;
mod overloads;
pub mod types;
mod value;

use crate::registry::FieldError;
use serde_json::Value;

pub use crd::crd_errors;

/// The most one rule may cost in one evaluation (upstream's PerCallLimit).
pub const PER_CALL_LIMIT: f64 = 1_000_000.0;
/// The most all rules may cost on one object (upstream's RuntimeCELCostBudget).
pub const RUNTIME_BUDGET: f64 = 10_000_000.0;
/// The most one rule's estimated cost may be (upstream's StaticEstimatedCostLimit).
pub const RULE_COST_LIMIT: f64 = 10_000_000.0;
/// The most all rules of a schema may cost together, by estimate (StaticEstimatedCRDCostLimit).
pub const CRD_COST_LIMIT: f64 = 100_000_000.0;

/// The compiled rules of one CRD version's schema.
pub struct Validator {
    root: compile::Node,
}

impl Validator {
    /// Compiles the rules of `schema` (an openAPIV3Schema); `None` when it has none.
    pub fn new(schema: &Value) -> Option<Validator> {
        compile::build(schema, true).map(|root| Validator { root })
    }

    /// The rule violations of `obj`, replacing `old` on update.
    pub fn validate(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        self.outcome(obj, old).errors
    }

    /// The rule violations of `obj`, replacing `old` on update, and the warnings upstream sends
    /// for failures that ratchet (rules without oldSelf on values the update did not change).
    pub fn outcome(&self, obj: &Value, old: Option<&Value>) -> Outcome {
        let mut run = eval::Run::new();
        run.node(&self.root, obj, eval::Old::root(obj, old), "");
        Outcome {
            errors: run.errors,
            warnings: run.warnings,
        }
    }
}

/// What validating one object found.
pub struct Outcome {
    pub errors: Vec<FieldError>,
    /// Warning texts (`<field>: <kind>: <detail>`), for the response's Warning headers.
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn validator() -> Validator {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.replicas >= oldSelf.replicas", "message": "replicas may not shrink"},
                {"rule": "self.name.startsWith('x')", "messageExpression": "'name ' + self.name + ' must start with x'", "fieldPath": ".name", "reason": "FieldValueForbidden"},
                {"rule": "!has(self.mode) || self.mode in ['a', 'b']"}],
            "properties": {
                "replicas": {"type": "integer"},
                "name": {"type": "string", "maxLength": 16},
                "mode": {"type": "string"},
                "ports": {"type": "array", "maxItems": 8, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port"],
                    "items": {"type": "object", "properties": {"port": {"type": "integer"}, "protocol": {"type": "string"}},
                        "x-kubernetes-validations": [{"rule": "self.protocol == oldSelf.protocol", "message": "protocol is immutable"}]}}}}}});
        Validator::new(&schema).unwrap()
    }

    fn errors(v: &Validator, obj: serde_json::Value, old: Option<serde_json::Value>) -> Vec<String> {
        v.validate(&obj, old.as_ref()).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn rules_report_messages_reasons_and_paths() {
        let v = validator();
        assert!(errors(&v, json!({"spec": {"replicas": 1, "name": "xa"}}), None).is_empty());
        assert_eq!(
            errors(&v, json!({"spec": {"replicas": 1, "name": "ab", "mode": "c"}}), None),
            [
                "spec.name: Forbidden: name ab must start with x",
                "spec: Invalid value: \"object\": failed rule: !has(self.mode) || self.mode in ['a', 'b']",
            ]
        );
    }

    #[test]
    fn transition_rules_and_ratcheting() {
        let v = validator();
        let old = json!({"spec": {"replicas": 3, "name": "ab", "ports": [{"port": 80, "protocol": "TCP"}]}});
        // The unchanged invalid name ratchets; the shrink is a transition error.
        let shrunk = json!({"spec": {"replicas": 2, "name": "ab", "ports": [{"port": 80, "protocol": "TCP"}]}});
        assert_eq!(
            errors(&v, shrunk, Some(old.clone())),
            [
                "spec: Invalid value: \"object\": replicas may not shrink",
                "spec.name: Forbidden: name ab must start with x",
            ]
        );
        let grown = json!({"spec": {"replicas": 4, "name": "xb", "ports": [{"port": 81, "protocol": "UDP"}, {"port": 80, "protocol": "UDP"}]}});
        assert_eq!(
            errors(&v, grown, Some(old)),
            ["spec.ports[1]: Invalid value: \"object\": protocol is immutable"]
        );
    }

    #[test]
    fn set_and_map_lists_ignore_order() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"},
                "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "tags are immutable"},
                    {"rule": "(self + ['a', 'z']).size() == self.size() + (('z' in self) ? 0 : 1) + (('a' in self) ? 0 : 1)"}]},
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port"],
                "items": {"type": "object", "properties": {"port": {"type": "integer"}, "name": {"type": "string"}}},
                "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "ports are immutable"},
                    {"rule": "(self + [{'port': 1, 'name': 'new'}]).exists(p, p.port == 1 && p.name == 'new')"}]},
            "plain": {"type": "array", "items": {"type": "string"},
                "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "plain is immutable"}]}}}}});
        let v = Validator::new(&schema).unwrap();
        let old = json!({"spec": {"tags": ["a", "b"], "plain": ["a", "b"],
            "ports": [{"port": 1, "name": "x"}, {"port": 2, "name": "y"}]}});
        let reordered = json!({"spec": {"tags": ["b", "a"], "plain": ["b", "a"],
            "ports": [{"port": 2, "name": "y"}, {"port": 1, "name": "x"}]}});
        assert_eq!(
            errors(&v, reordered, Some(old.clone())),
            ["spec.plain: Invalid value: \"array\": plain is immutable"]
        );
        let changed = json!({"spec": {"tags": ["b", "c"], "plain": ["a", "b"],
            "ports": [{"port": 2, "name": "y"}, {"port": 1, "name": "z"}]}});
        assert_eq!(
            errors(&v, changed, Some(old)),
            [
                "spec.tags: Invalid value: \"array\": tags are immutable",
                "spec.ports: Invalid value: \"array\": ports are immutable",
            ]
        );
    }

    #[test]
    fn unchanged_failures_warn_and_bind_binds() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "name": {"type": "string", "maxLength": 16,
                "x-kubernetes-validations": [{"rule": "cel.bind(n, self.lowerAscii(), n.startsWith('web-') && n.size() > 4)", "message": "bad name"}]},
            "size": {"type": "integer"},
            "a": {"type": "object", "properties": {"b": {"type": "string"}},
                "x-kubernetes-validations": [{"rule": "self.b == 'x'"}]}}}}});
        let v = Validator::new(&schema).unwrap();
        let outcome = v.outcome(&json!({"spec": {"name": "WEB-a"}}), None);
        assert!(outcome.errors.is_empty() && outcome.warnings.is_empty());
        let old = json!({"spec": {"name": "db", "size": 1, "a": {}}});
        // The unchanged bad name only warns; the evaluation error stays an error.
        let outcome = v.outcome(&json!({"spec": {"name": "db", "size": 2, "a": {}}}), Some(&old));
        let errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            ["spec.a: Invalid value: \"object\": no such key: b evaluating rule: self.b == 'x'"]
        );
        assert_eq!(outcome.warnings, ["spec.name: Invalid value: \"string\": bad name"]);
        let outcome = v.outcome(&json!({"spec": {"name": "dc", "size": 1, "a": {"b": "x"}}}), Some(&old));
        let errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors, ["spec.name: Invalid value: \"string\": bad name"]);
        assert!(outcome.warnings.is_empty());
    }

    #[test]
    fn evaluation_errors_and_runtime_cost() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "a": {"type": "object", "properties": {"b": {"type": "string"}}, "x-kubernetes-validations": [{"rule": "self.b == 'x'"}]},
            "names": {"type": "array", "maxItems": 5000, "items": {"type": "string", "maxLength": 64},
                "x-kubernetes-validations": [{"rule": "self.all(a, self.exists_one(b, a == b))", "message": "names must be unique"}]}}}}});
        let v = Validator::new(&schema).unwrap();
        assert_eq!(
            errors(&v, json!({"spec": {"a": {}}}), None),
            ["spec.a: Invalid value: \"object\": no such key: b evaluating rule: self.b == 'x'"]
        );
        let few: Vec<String> = (0..10).map(|i| format!("n{i}")).collect();
        assert!(errors(&v, json!({"spec": {"names": few}}), None).is_empty());
        let many: Vec<String> = (0..2000).map(|i| format!("name-{i}")).collect();
        assert_eq!(
            errors(&v, json!({"spec": {"names": many}}), None),
            ["spec.names: Invalid value: \"array\": 'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: names must be unique"]
        );
    }
}
