//! matchConditions of webhooks and policies (CEL, in the one environment the CRD rules use):
//! the variables they see (`object`, `oldObject`, `request`, and a policy's `params`), and
//! upstream's verdict — any condition false skips the webhook or policy, otherwise evaluation
//! errors are errors (which its failurePolicy decides about).

use crate::crd::cel::expression::{Binding, Expression, DYN};
use crate::crd::cel::types::Ty;
use cel::Value as CelValue;
use serde_json::Value;
use std::collections::BTreeMap;

/// The fields of AdmissionRequest a `request` variable has (a closed type: others are errors).
const REQUEST_FIELDS: [&str; 13] = [
    "uid",
    "kind",
    "resource",
    "subResource",
    "requestKind",
    "requestResource",
    "requestSubResource",
    "name",
    "namespace",
    "operation",
    "userInfo",
    "dryRun",
    "options",
];

/// The type of the `request` variable.
pub fn request_type() -> Ty {
    Ty::Object {
        fields: REQUEST_FIELDS
            .iter()
            .map(|f| (f.to_string(), DYN))
            .collect::<BTreeMap<_, _>>(),
        open: false,
    }
}

/// A `request` variable's value: the AdmissionRequest without its objects, every string field
/// present (upstream's typed request has `""` where the JSON leaves a field out).
pub fn request_value(admission_request: &Value) -> Value {
    let mut request = admission_request.clone();
    if let Some(map) = request.as_object_mut() {
        map.shift_remove("object");
        map.shift_remove("oldObject");
        for field in ["subResource", "requestSubResource", "name", "namespace"] {
            map.entry(field).or_insert(Value::String(String::new()));
        }
    }
    request
}

/// The variables every admission expression may use; policies add `params`,
/// `namespaceObject` and `variables`.
pub fn declarations(extra: &[(&'static str, Ty)]) -> Vec<(&'static str, Ty)> {
    let mut declared = vec![("object", DYN), ("oldObject", DYN), ("request", request_type())];
    declared.extend(extra.iter().cloned());
    declared
}

struct Condition {
    expression: String,
    compiled: Result<Expression, String>,
}

/// The compiled matchConditions of one webhook or policy.
#[derive(Default)]
pub struct Conditions(Vec<Condition>);

/// Upstream's wording of a failed expression: its compile error or its evaluation error.
pub fn failure(expression: &str, compiled: &Result<Expression, String>, error: Option<String>) -> String {
    match (compiled, error) {
        (Err(e), _) => format!("compilation error: compilation failed: {e}"),
        (Ok(_), Some(e)) => format!("expression '{expression}' resulted in error: {e}"),
        (Ok(_), None) => String::new(),
    }
}

impl Conditions {
    /// The `matchConditions` of `owner`, compiled with `declared`.
    pub fn compile(owner: &Value, declared: &[(&str, Ty)]) -> Conditions {
        Conditions(
            owner["matchConditions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let expression = c["expression"].as_str().unwrap_or("").to_string();
                    let compiled = Expression::compile(&expression, declared);
                    Condition { expression, compiled }
                })
                .collect(),
        )
    }

    /// Whether every condition holds: `Ok(false)` once one is false, `Err` (errors as upstream
    /// aggregates them) when none is false but some failed.
    pub fn evaluate(&self, bindings: &[(&str, &Binding<'_>)]) -> Result<bool, String> {
        let mut errors = Vec::new();
        for condition in &self.0 {
            let result = match &condition.compiled {
                Ok(expr) => expr.evaluate(bindings),
                Err(_) => Err(String::new()),
            };
            match result {
                Ok(CelValue::Bool(false)) => return Ok(false),
                Ok(_) => {}
                Err(e) => errors.push(failure(&condition.expression, &condition.compiled, Some(e))),
            }
        }
        match errors.len() {
            0 => Ok(true),
            1 => Err(errors.remove(0)),
            _ => Err(format!("[{}]", errors.join(", "))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn false_wins_then_errors_then_true() {
        let declared = declarations(&[]);
        let conditions = Conditions::compile(
            &json!({"matchConditions": [
                {"name": "labelled", "expression": "has(object.metadata.labels) && object.metadata.labels.tier == 'web'"},
                {"name": "not-kube", "expression": "!request.namespace.startsWith('kube-')"}]}),
            &declared,
        );
        let request = request_value(&json!({"namespace": "default", "operation": "CREATE"}));
        let web = json!({"metadata": {"labels": {"tier": "web"}}});
        let db = json!({"metadata": {"labels": {"tier": "db"}}});
        let null = Value::Null;
        let (r, o) = (Binding::Json(&request), Binding::Json(&null));
        let run = |object: &Value| {
            let object = Binding::Json(object);
            conditions.evaluate(&[("object", &object), ("oldObject", &o), ("request", &r)])
        };
        assert_eq!(run(&web), Ok(true));
        assert_eq!(run(&db), Ok(false));
        let unlabelled_tier = json!({"metadata": {"labels": {}}});
        assert_eq!(
            run(&unlabelled_tier),
            Err("expression 'has(object.metadata.labels) && object.metadata.labels.tier == 'web'' resulted in error: no such key: tier".into())
        );
    }

    #[test]
    fn the_request_variable_is_closed() {
        let err = Expression::compile("request.nmae == 'x'", &declarations(&[]))
            .err()
            .unwrap();
        assert!(err.starts_with("ERROR: <input>:1:8: undefined field 'nmae'"), "{err}");
    }
}
