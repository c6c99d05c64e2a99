//! Compiling the x-kubernetes-validations of a schema, once per CRD version: each rule (and
//! messageExpression) parsed in the shared environment, checked against the node's type, its
//! worst-case cost estimated, and the tree of nodes that hold rules kept for evaluation.

use super::check::{check, Checked};
use super::env::ENV;
use super::types::{embedded, map_keys, Ty};
use cel::common::ast::SourceInfo;
use cel::{ParseErrors, Program};
use serde_json::Value;

/// One compiled rule and what its failure reports.
pub struct Rule {
    pub program: Program,
    pub message_expression: Option<Program>,
    pub rule: String,
    pub message: String,
    pub reason: Option<String>,
    /// The rule's fieldPath as a path suffix (`.x`, `[key]`), empty for none.
    pub field_path: String,
    pub optional_old_self: bool,
    pub uses_old_self: bool,
    /// Worst-case cost of one evaluation, by the schema's bounds.
    pub cost: f64,
}

/// Why a rule did not compile: the rule's field (`rule`, `messageExpression`) and the detail.
#[derive(Debug, PartialEq)]
pub struct RuleError {
    pub field: &'static str,
    pub detail: String,
}

/// The compiled rules of a schema node and of the nodes under it that have rules.
pub struct Node {
    /// This node's own rules, if it has any.
    pub rules: Option<Rules>,
    pub properties: Vec<(String, Node)>,
    pub items: Option<Box<Node>>,
    pub additional: Option<Box<Node>>,
    /// The keys of a `x-kubernetes-list-type: map` list (its items correlate with old ones).
    pub map_keys: Option<Vec<String>>,
    /// Whether this is an `x-kubernetes-map-type: atomic` object (its fields have no old values).
    pub atomic_map: bool,
}

/// The rules at one schema node and what they see and report.
pub struct Rules {
    pub compiled: Vec<Result<Rule, RuleError>>,
    /// `self`'s type.
    pub ty: Ty,
    /// The schema's `type`, the value upstream's errors report.
    pub type_name: String,
}

/// Whether any node of `schema` has x-kubernetes-validations.
pub fn has_rules(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty())
        || schema
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|p| p.values().any(has_rules))
        || schema.get("items").is_some_and(has_rules)
        || schema.get("additionalProperties").is_some_and(has_rules)
}

/// The compiled tree of `schema` (`root`: the resource root), or `None` if it has no rules.
pub fn build(schema: &Value, root: bool) -> Option<Node> {
    let child = |s: &Value| build(s, embedded(s)).map(Box::new);
    let properties: Vec<(String, Node)> = schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, s)| build(s, embedded(s)).map(|n| (k.clone(), n)))
        .collect();
    let items = schema.get("items").and_then(child);
    let additional = schema
        .get("additionalProperties")
        .filter(|s| s.is_object())
        .and_then(child);
    let own = schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .filter(|rules| !rules.is_empty());
    if own.is_none() && properties.is_empty() && items.is_none() && additional.is_none() {
        return None;
    }
    // Only nodes with rules of their own need `self`'s type (a subtree's worth).
    let rules = own.map(|own| {
        let ty = Ty::of(schema, root);
        Rules {
            compiled: own.iter().map(|r| compile(r, &ty)).collect(),
            ty,
            type_name: schema.get("type").and_then(Value::as_str).unwrap_or("").to_string(),
        }
    });
    Some(Node {
        rules,
        properties,
        items,
        additional,
        map_keys: map_keys(schema).map(|keys| keys.into_iter().map(str::to_string).collect()),
        atomic_map: schema.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic"),
    })
}

/// Compiles one x-kubernetes-validations entry against `self` of type `ty`.
pub fn compile(rule: &Value, ty: &Ty) -> Result<Rule, RuleError> {
    let text = |k: &str| rule.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let source = text("rule");
    let invalid = |detail: String| RuleError { field: "rule", detail };
    let program = ENV
        .compile(&source)
        .map_err(|e| invalid(format!("compilation failed: {}", parse_errors(&e, &source))))?;
    let checked = check(program.expression(), ty, Some(ty));
    if !checked.issues.is_empty() {
        return Err(invalid(format!(
            "compilation failed: {}",
            issues(&checked, program.source_info(), &source)
        )));
    }
    if !matches!(checked.ty, Ty::Bool | Ty::Dyn { .. }) {
        return Err(invalid("cel expression must evaluate to a bool".into()));
    }
    let message_expression = match text("messageExpression") {
        m if m.trim().is_empty() => None,
        m => {
            let invalid = |detail: String| RuleError {
                field: "messageExpression",
                detail,
            };
            let program = ENV.compile(&m).map_err(|e| {
                invalid(format!(
                    "messageExpression compilation failed: {}",
                    parse_errors(&e, &m)
                ))
            })?;
            let checked = check(program.expression(), ty, Some(ty));
            if !checked.issues.is_empty() {
                let detail = issues(&checked, program.source_info(), &m);
                return Err(invalid(format!("messageExpression compilation failed: {detail}")));
            }
            if !matches!(checked.ty, Ty::String { .. } | Ty::Dyn { .. }) {
                return Err(invalid("messageExpression must evaluate to a string".into()));
            }
            Some(program)
        }
    };
    let field_path = text("fieldPath");
    Ok(Rule {
        program,
        message_expression,
        rule: source.trim().to_string(),
        message: text("message").trim().to_string(),
        reason: rule.get("reason").and_then(Value::as_str).map(str::to_string),
        field_path: normalize_field_path(&field_path),
        optional_old_self: rule.get("optionalOldSelf").and_then(Value::as_bool).unwrap_or(false),
        uses_old_self: checked.uses_old_self,
        cost: checked.cost,
    })
}

/// A fieldPath (`.a.b`, `.m['k']`) as the suffix upstream's field.Path adds (`.a.b`, `.m[k]`).
fn normalize_field_path(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("['") {
            let end = after.find("']").unwrap_or(after.len());
            out.push_str(&format!("[{}]", &after[..end]));
            rest = after.get(end + 2..).unwrap_or("");
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            out.push('.');
            out.push_str(&after[..end]);
            rest = &after[end..];
        } else {
            return String::new();
        }
    }
    out
}

/// Whether `path` (a rule's fieldPath) names a field of `schema`.
pub fn field_path_valid(schema: &Value, path: &str) -> bool {
    let normalized = normalize_field_path(path);
    if normalized.is_empty() {
        return false;
    }
    let mut node = schema;
    let mut rest = normalized.as_str();
    while !rest.is_empty() {
        let (name, after) = if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').unwrap_or(after.len());
            (&after[..end], after.get(end + 1..).unwrap_or(""))
        } else {
            let after = &rest[1..];
            let end = after.find(['.', '[']).unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        node = match node.pointer("/properties").and_then(|p| p.get(name)) {
            Some(child) => child,
            None => match node.get("additionalProperties").filter(|a| a.is_object()) {
                Some(child) => child,
                None => return false,
            },
        };
        rest = after;
    }
    true
}

/// cel-go's rendering of an error at (line, column): `ERROR: <input>:L:C: msg` with the source
/// line and a caret under the column.
fn render(line: usize, column: usize, msg: &str, source: &str) -> String {
    let text = source.lines().nth(line.saturating_sub(1)).unwrap_or("");
    let dots = ".".repeat(column.saturating_sub(1));
    format!("ERROR: <input>:{line}:{column}: {msg}\n | {text}\n | {dots}^")
}

pub(super) fn parse_errors(errors: &ParseErrors, source: &str) -> String {
    errors
        .errors
        .iter()
        .map(|e| render(e.pos.0.max(1) as usize, e.pos.1.max(1) as usize, &e.msg, source))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn issues(checked: &Checked, info: &SourceInfo, source: &str) -> String {
    checked
        .issues
        .iter()
        .map(|(id, msg)| {
            let (line, column) = info
                .offset_for(*id)
                .map_or((1, 1), |(start, _)| position(source, start as usize));
            render(line, column, msg, source)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The 1-based line and column of a character offset.
fn position(source: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for c in source.chars().take(offset) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ty() -> Ty {
        Ty::of(
            &json!({"type": "object", "properties": {"a": {"type": "integer"}}}),
            false,
        )
    }

    #[test]
    fn errors_render_like_cel_go() {
        let err = compile(&json!({"rule": "self.b > 1"}), &ty()).err().unwrap();
        assert_eq!(err.field, "rule");
        assert_eq!(
            err.detail,
            "compilation failed: ERROR: <input>:1:5: undefined field 'b'\n | self.b > 1\n | ....^"
        );
        let err = compile(&json!({"rule": "self.a +"}), &ty()).err().unwrap();
        assert!(
            err.detail.starts_with("compilation failed: ERROR: <input>:1:"),
            "{}",
            err.detail
        );
        let err = compile(&json!({"rule": "self.a > 'x' || self.a"}), &ty())
            .err()
            .unwrap();
        assert_eq!(
            err.detail,
            concat!(
                "compilation failed: ERROR: <input>:1:8: found no matching overload for '_>_' applied to '(int, string)'\n",
                " | self.a > 'x' || self.a\n | .......^\n",
                "ERROR: <input>:1:21: expected type 'bool' but found 'int'\n | self.a > 'x' || self.a\n | ....................^"
            )
        );
        let err = compile(&json!({"rule": "self.a + 1"}), &ty()).err().unwrap();
        assert_eq!(err.detail, "cel expression must evaluate to a bool");
        let err = compile(&json!({"rule": "true", "messageExpression": "self.c"}), &ty())
            .err()
            .unwrap();
        assert_eq!(err.field, "messageExpression");
    }

    #[test]
    fn rules_keep_what_their_failure_reports() {
        let rule = compile(
            &json!({"rule": "self.a >= oldSelf.a", "message": " must grow ", "fieldPath": ".a", "reason": "FieldValueForbidden"}),
            &ty(),
        )
        .ok()
        .unwrap();
        assert!(rule.uses_old_self);
        assert_eq!((rule.message.as_str(), rule.field_path.as_str()), ("must grow", ".a"));
        assert_eq!(normalize_field_path(".m['k.x'].b"), ".m[k.x].b");
        let schema =
            json!({"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}}}});
        assert!(field_path_valid(&schema, ".a.b"));
        assert!(!field_path_valid(&schema, ".a.c"));
    }
}
