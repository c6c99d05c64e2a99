//! Evaluating a compiled tree on a custom object as upstream's validator does: each node's rules
//! with `self` (and `oldSelf` where the old object has a value at that place), failures on values
//! an update left unchanged ratcheted into warnings, failures reported with their message, messageExpression, reason
//! and fieldPath, and a cost budget so one request cannot run for long.

use super::check::check;
use super::compile::{Node, Rule, Rules};
use super::env::ENV;
use super::types::Ty;
use super::value::to_val;
use super::{PER_CALL_LIMIT, RUNTIME_BUDGET};
use crate::registry::FieldError;
use cel::common::types::CelOptional;
use cel::{Context, ExecutionError, Value as CelValue};
use serde_json::{json, Value};

/// Rules whose schema-bound cost is below this are charged that cost without measuring the value.
const CHEAP: f64 = 10_000.0;

/// The state of one object's validation.
pub struct Run {
    pub errors: Vec<FieldError>,
    /// Failures of rules on values the update left as they were (ratcheted, as upstream's
    /// CRDValidationRatcheting), as warning texts.
    pub warnings: Vec<String>,
    budget: f64,
}

/// Where a value sits against the old object: its correlated old value, if any (what `oldSelf`
/// is), and whether it ratchets (it equals its old value, or it has none to correlate with and
/// its nearest correlatable ancestor equals its own).
#[derive(Clone, Copy)]
pub struct Old<'a> {
    pub value: Option<&'a Value>,
    pub unchanged: bool,
}

impl<'a> Old<'a> {
    /// The old value of a root object (`None` on create).
    pub fn root(obj: &Value, old: Option<&'a Value>) -> Old<'a> {
        Old {
            value: old,
            unchanged: old == Some(obj),
        }
    }

    /// A child `value` whose correlated old value is `old`, if it can have one.
    fn child(self, value: &Value, correlated: Option<Option<&'a Value>>) -> Old<'a> {
        match correlated {
            Some(old) => Old {
                value: old,
                unchanged: old == Some(value),
            },
            None => Old {
                value: None,
                unchanged: self.unchanged,
            },
        }
    }
}

impl Run {
    pub fn new() -> Run {
        Run {
            errors: Vec::new(),
            warnings: Vec::new(),
            budget: RUNTIME_BUDGET,
        }
    }

    fn exhausted(&self) -> bool {
        self.budget < 0.0
    }

    /// Validates `obj` (at `path`, replacing `old`) against `node` and its children.
    pub fn node(&mut self, node: &Node, obj: &Value, old: Old, path: &str) {
        if obj.is_null() || self.exhausted() {
            return;
        }
        let old = Old {
            value: old.value.filter(|o| !o.is_null()),
            ..old
        };
        if let Some(rules) = &node.rules {
            self.rules(rules, obj, old, path);
        }
        match obj {
            Value::Object(map) => {
                let old_map = old.value.and_then(Value::as_object).filter(|_| !node.atomic_map);
                for (key, value) in map {
                    if self.exhausted() {
                        return;
                    }
                    let child_old = old.child(value, old_map.map(|m| m.get(key)));
                    if let Some((_, child)) = node.properties.iter().find(|(k, _)| k == key) {
                        self.node(child, value, child_old, &crate::crd::schema::child(path, key));
                    } else if let Some(child) = &node.additional {
                        self.node(child, value, child_old, &format!("{path}[{key}]"));
                    }
                }
            }
            Value::Array(items) => {
                let Some(child) = &node.items else { return };
                for (i, item) in items.iter().enumerate() {
                    if self.exhausted() {
                        return;
                    }
                    let correlated = node.map_keys.as_ref().map(|keys| correlated(keys, item, old.value));
                    self.node(child, item, old.child(item, correlated), &format!("{path}[{i}]"));
                }
            }
            _ => {}
        }
    }

    fn rules(&mut self, node: &Rules, obj: &Value, old: Old, path: &str) {
        let (old, unchanged) = (old.value, old.unchanged);
        let invalid = |detail: String| FieldError::invalid(path, json!(node.type_name), detail);
        let mut contexts: Option<(Context, Option<Context>)> = None;
        // `self` and `oldSelf` typed by their own sizes, for the costly rules' actual cost.
        let mut sized: Option<(Ty, Ty)> = None;
        for rule in &node.compiled {
            let rule = match rule {
                Ok(rule) => rule,
                Err(e) => {
                    self.errors.push(invalid(format!("rule compile error: {}", e.detail)));
                    continue;
                }
            };
            if rule.uses_old_self && old.is_none() && !rule.optional_old_self {
                continue;
            }
            let cost = if rule.cost > CHEAP {
                let (sized, old_sized) = sized.get_or_insert_with(|| {
                    let old_sized = old.map_or_else(|| node.ty.clone(), |o| node.ty.sized_by(o));
                    (node.ty.sized_by(obj), old_sized)
                });
                check(rule.program.expression(), sized, Some(old_sized))
                    .cost
                    .min(rule.cost)
            } else {
                rule.cost
            };
            if cost > PER_CALL_LIMIT {
                self.errors.push(invalid(format!(
                    "'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: {}",
                    error_string(rule)
                )));
                self.budget = -1.0;
                return;
            }
            self.budget -= cost;
            if self.exhausted() {
                self.errors.push(invalid(
                    "validation failed due to running out of cost budget, no further validation rules will be run"
                        .into(),
                ));
                return;
            }
            let (plain, optional) = contexts.get_or_insert_with(|| (context(node, obj, old, false), None));
            let ctx = if rule.optional_old_self {
                optional.get_or_insert_with(|| context(node, obj, old, true))
            } else {
                plain
            };
            match rule.program.execute(ctx) {
                Ok(CelValue::Bool(true)) => {}
                Ok(CelValue::Bool(false)) => {
                    let detail = message(rule, ctx);
                    let error = failure(rule, node, &format!("{path}{}", rule.field_path), detail);
                    if unchanged && !rule.uses_old_self {
                        self.warnings.push(error.to_string());
                    } else {
                        self.errors.push(error);
                    }
                }
                Ok(other) => self.errors.push(invalid(format!(
                    "'no such overload': call arguments did not match a supported operator, function or macro signature for rule: {} (got {other:?})",
                    error_string(rule)
                ))),
                Err(e) => self.errors.push(invalid(runtime_error(&e, rule))),
            }
        }
    }
}

/// A context with `self` and, if `old` is given (or the rule takes an optional), `oldSelf`.
fn context<'v>(node: &Rules, obj: &'v Value, old: Option<&'v Value>, optional: bool) -> Context<'v, 'v> {
    let mut ctx = Context::with_env(ENV.clone());
    ctx.add_variable_as_val("self", to_val(obj, &node.ty));
    let old = old.map(|o| to_val(o, &node.ty));
    if optional {
        ctx.add_variable_as_val("oldSelf", Box::new(CelOptional::from(old)));
    } else if let Some(old) = old {
        ctx.add_variable_as_val("oldSelf", old);
    }
    ctx
}

/// The item of `old` (a map list) with the same keys as `item`.
fn correlated<'a>(keys: &[String], item: &Value, old: Option<&'a Value>) -> Option<&'a Value> {
    old?.as_array()?
        .iter()
        .find(|o| keys.iter().all(|k| o.get(k) == item.get(k)))
}

/// What upstream names a rule by in errors: its message, or the rule itself.
fn error_string(rule: &Rule) -> &str {
    if rule.message.is_empty() {
        &rule.rule
    } else {
        &rule.message
    }
}

/// The detail of a failed rule: its messageExpression's value if that gives a usable string,
/// else its message, else `failed rule: <rule>`.
fn message(rule: &Rule, ctx: &Context) -> String {
    if let Some(expr) = &rule.message_expression {
        if let Ok(CelValue::String(s)) = expr.execute(ctx) {
            let s = s.trim();
            if !s.is_empty() && !s.contains('\n') && s.len() <= 5 * 1024 {
                return s.to_string();
            }
        }
    }
    if rule.message.is_empty() {
        format!("failed rule: {}", rule.rule)
    } else {
        rule.message.clone()
    }
}

/// The field error of a failed rule, by its reason.
fn failure(rule: &Rule, node: &Rules, path: &str, detail: String) -> FieldError {
    match rule.reason.as_deref() {
        Some("FieldValueForbidden") => FieldError::forbidden(path, detail),
        Some("FieldValueRequired") => FieldError::required(path, detail),
        Some("FieldValueDuplicate") => FieldError::duplicate(path, json!(node.type_name)),
        _ => FieldError::invalid(path, json!(node.type_name), detail),
    }
}

/// An evaluation error as upstream words it (cel-go's error text, then the rule).
fn runtime_error(e: &ExecutionError, rule: &Rule) -> String {
    let rule = error_string(rule);
    match e {
        ExecutionError::NoSuchOverload(_)
        | ExecutionError::UnexpectedType { .. }
        | ExecutionError::ValuesNotComparable(..) => {
            format!("'no such overload': call arguments did not match a supported operator, function or macro signature for rule: {rule}")
        }
        other => format!("{} evaluating rule: {rule}", super::expression::error_text(other)),
    }
}
