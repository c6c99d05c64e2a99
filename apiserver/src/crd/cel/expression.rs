//! Standalone CEL expressions over named variables, for admission (webhook matchConditions,
//! ValidatingAdmissionPolicy validations, messageExpressions and variables): parsed and checked
//! once in the shared environment against the variables' declared types, then evaluated on JSON
//! values (borrowed, typed as dyn) and values earlier expressions computed.

use super::check::check_in;
use super::compile::{issues, parse_errors};
use super::env::ENV;
use super::types::Ty;
use super::value::to_val;
use cel::{Context, ExecutionError, Program, Value as CelValue};
use serde_json::Value;

/// The type of what nothing is declared about.
pub const DYN: Ty = Ty::Dyn {
    max: super::types::MAX_REQUEST_SIZE,
};

/// One compiled expression.
pub struct Expression {
    program: Program,
    ty: Ty,
}

/// What one evaluation sees.
pub enum Binding<'v> {
    /// A JSON value, read where it lies.
    Json(&'v Value),
    /// A value computed by CEL (a policy's variables).
    Cel(CelValue),
}

impl Expression {
    /// Parses and checks `source` with the variables `declared`; `Err` is cel-go's rendering of
    /// every issue (`ERROR: <input>:1:5: undeclared reference to 'x' (in container '')` with the
    /// source line and a caret).
    pub fn compile(source: &str, declared: &[(&str, Ty)]) -> Result<Expression, String> {
        let program = ENV.compile(source).map_err(|e| parse_errors(&e, source))?;
        let scope = declared.iter().map(|(n, t)| (n.to_string(), t.clone())).collect();
        let checked = check_in(program.expression(), scope);
        if !checked.issues.is_empty() {
            return Err(issues(&checked, program.source_info(), source));
        }
        Ok(Expression {
            program,
            ty: checked.ty,
        })
    }

    /// The checked type of the result.
    pub fn result_type(&self) -> &Ty {
        &self.ty
    }

    /// The value with `bindings`; `Err` is cel-go's wording of what went wrong.
    pub fn evaluate(&self, bindings: &[(&str, &Binding<'_>)]) -> Result<CelValue, String> {
        let mut ctx = Context::with_env(ENV.clone());
        for (name, binding) in bindings {
            match binding {
                Binding::Json(value) => ctx.add_variable_as_val(*name, to_val(value, &DYN)),
                Binding::Cel(value) => ctx.add_variable_from_value(*name, value.clone()),
            }
        }
        self.program.execute(&ctx).map_err(|e| error_text(&e))
    }
}

/// cel-go's text for an evaluation error.
pub fn error_text(e: &ExecutionError) -> String {
    match e {
        ExecutionError::NoSuchOverload(_)
        | ExecutionError::UnexpectedType { .. }
        | ExecutionError::ValuesNotComparable(..) => "no such overload".into(),
        ExecutionError::NoSuchKey(key) => format!("no such key: {key}"),
        ExecutionError::IndexOutOfBounds(CelValue::Int(i)) => format!("index out of bounds: {i}"),
        ExecutionError::IndexOutOfBounds(CelValue::UInt(i)) => format!("index out of bounds: {i}"),
        ExecutionError::DivisionByZero(_) => "division by zero".into(),
        ExecutionError::RemainderByZero(_) => "modulus by zero".into(),
        ExecutionError::Overflow(..) => "integer overflow".into(),
        ExecutionError::FunctionError { message, .. } => message.clone(),
        ExecutionError::UndeclaredReference(name) => format!("no such attribute(s): {name}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn declared_variables_compile_and_evaluate() {
        let expr = Expression::compile(
            "object.spec.replicas <= int(params.data.max)",
            &[("object", DYN), ("params", DYN)],
        )
        .unwrap();
        assert_eq!(expr.result_type(), &Ty::Bool);
        let object = json!({"spec": {"replicas": 3}});
        let params = json!({"data": {"max": "5"}});
        let (o, p) = (Binding::Json(&object), Binding::Json(&params));
        assert_eq!(
            expr.evaluate(&[("object", &o), ("params", &p)]),
            Ok(CelValue::Bool(true))
        );
        let missing = json!({"data": {}});
        let m = Binding::Json(&missing);
        assert_eq!(
            expr.evaluate(&[("object", &o), ("params", &m)]),
            Err("no such key: max".into())
        );
    }

    #[test]
    fn undeclared_references_fail_to_compile() {
        let err = Expression::compile("request.name == x", &[("request", DYN)])
            .err()
            .unwrap();
        assert_eq!(
            err,
            "ERROR: <input>:1:17: undeclared reference to 'x' (in container '')\n | request.name == x\n | ................^"
        );
        let bound = Expression::compile("variables.n + 1", &[("variables", DYN)]).unwrap();
        let n = Binding::Cel(CelValue::Map(
            std::collections::HashMap::from([("n".to_string(), CelValue::Int(2))]).into(),
        ));
        assert_eq!(bound.evaluate(&[("variables", &n)]), Ok(CelValue::Int(3)));
    }
}
