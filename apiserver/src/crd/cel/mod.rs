//! CEL validation rules (x-kubernetes-validations) of custom resources, as upstream's
//! apiextensions-apiserver: rules compiled once per CRD version into a [`Validator`], checked when
//! the CRD is written ([`crd_errors`]), and evaluated on every create and update of its objects.

mod check;
mod compile;
mod crd;
mod env;
mod eval;
mod lib;
mod types;
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
        let mut run = eval::Run::new();
        run.node(&self.root, obj, old, "");
        run.errors
    }
}
