//! The compile-time check of a rule, as far as upstream's type checker goes where users notice:
//! undefined fields of the schema, undeclared references, operands no overload accepts, a non-bool
//! result; and the worst-case cost of one evaluation (cel-go's units: one per call, field
//! selection and variable, string and list operations by a tenth of their size, comprehensions
//! times their range's size).

use super::env::is_function;
use super::overloads;
use super::types::{widest, ListType, Ty, MAX_REQUEST_SIZE};
use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue};

/// What the check of one expression found.
pub struct Checked {
    pub ty: Ty,
    /// Worst-case cost of one evaluation.
    pub cost: f64,
    /// Whether the expression refers to `oldSelf`.
    pub uses_old_self: bool,
    /// (expression id, message) of every error.
    pub issues: Vec<(u64, String)>,
}

const TYPE_NAMES: [&str; 12] = [
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
    "dyn",
    "optional_type",
];

/// Checks `expr` with `self` (and `oldSelf`) of type `root`.
pub fn check(expr: &IdedExpr, root: &Ty, old_self: Option<&Ty>) -> Checked {
    let mut scope = vec![("self".to_string(), root.clone())];
    if let Some(old) = old_self {
        scope.push(("oldSelf".into(), old.clone()));
    }
    check_in(expr, scope)
}

/// Checks `expr` with the variables of `scope` (name, type).
pub fn check_in(expr: &IdedExpr, scope: Vec<(String, Ty)>) -> Checked {
    let mut checker = Checker {
        scope,
        issues: Vec::new(),
        uses_old_self: false,
    };
    let (ty, cost) = checker.expr(expr);
    Checked {
        ty,
        cost,
        uses_old_self: checker.uses_old_self,
        issues: checker.issues,
    }
}

struct Checker {
    scope: Vec<(String, Ty)>,
    issues: Vec<(u64, String)>,
    uses_old_self: bool,
}

fn dyn_() -> Ty {
    Ty::Dyn { max: MAX_REQUEST_SIZE }
}

/// Cost of traversing `size` bytes or items (cel-go's traversal factor 0.1).
fn traversal(size: u64) -> f64 {
    1.0 + (size as f64 * 0.1).ceil()
}

impl Checker {
    fn lookup(&self, name: &str) -> Option<&Ty> {
        self.scope.iter().rev().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    fn expr(&mut self, e: &IdedExpr) -> (Ty, f64) {
        match &e.expr {
            Expr::Literal(l) => (literal(l), 0.0),
            Expr::Ident(name) => {
                if name == "oldSelf" {
                    self.uses_old_self = true;
                }
                match self.lookup(name) {
                    Some(t) => (t.clone(), 1.0),
                    None if TYPE_NAMES.contains(&name.as_str()) || name.contains('.') => (dyn_(), 0.0),
                    None => {
                        self.issues
                            .push((e.id, format!("undeclared reference to '{name}' (in container '')")));
                        (dyn_(), 1.0)
                    }
                }
            }
            Expr::Select(select) => {
                let (operand, cost) = self.expr(&select.operand);
                let field = self.field(e.id, &operand, &select.field);
                let ty = if select.test { Ty::Bool } else { field };
                (ty, cost + 1.0)
            }
            Expr::Call(call) => self.call(e.id, &call.func_name, call.target.as_deref(), &call.args),
            Expr::List(list) => {
                let (elem, cost) = self.members(list.elements.iter().map(|item| (None, item)));
                let max = list.elements.len() as u64;
                let list_type = ListType::Atomic;
                (Ty::List { elem, max, list_type }, cost)
            }
            Expr::Map(map) => {
                let entries = map.entries.iter().filter_map(|entry| match &entry.expr {
                    EntryExpr::MapEntry(m) => Some((Some(&m.key), &m.value)),
                    EntryExpr::StructField(_) => None,
                });
                let (value, cost) = self.members(entries);
                let max = map.entries.len() as u64;
                (Ty::Map { value, max }, cost)
            }
            Expr::Struct(s) => {
                let mut cost = 1.0;
                for entry in &s.entries {
                    if let EntryExpr::StructField(f) = &entry.expr {
                        cost += self.expr(&f.value).1;
                    }
                }
                (dyn_(), cost)
            }
            Expr::Comprehension(c) => {
                let (range, range_cost) = self.expr(&c.iter_range);
                let n = range.max_size() as f64;
                let (init, init_cost) = self.expr(&c.accu_init);
                let accu = match &init {
                    Ty::List { elem, max, .. } => Ty::List {
                        elem: elem.clone(),
                        max: max + range.max_size(),
                        list_type: ListType::Atomic,
                    },
                    Ty::Map { value, max } => Ty::Map {
                        value: value.clone(),
                        max: max + range.max_size(),
                    },
                    other => other.clone(),
                };
                let depth = self.scope.len();
                match &c.iter_var2 {
                    Some(second) => {
                        let (first_ty, second_ty) = match &range {
                            Ty::List { elem, .. } => (Ty::Int, (**elem).clone()),
                            Ty::Map { value, .. } => (range.iter_elem(), (**value).clone()),
                            _ => (dyn_(), dyn_()),
                        };
                        self.scope.push((c.iter_var.clone(), first_ty));
                        self.scope.push((second.clone(), second_ty));
                    }
                    None => self.scope.push((c.iter_var.clone(), range.iter_elem())),
                }
                self.scope.push((c.accu_var.clone(), accu.clone()));
                let cond = self.expr(&c.loop_cond).1;
                let step = self.expr(&c.loop_step).1;
                self.scope.truncate(depth);
                self.scope.push((c.accu_var.clone(), accu));
                let (result, result_cost) = self.expr(&c.result);
                self.scope.truncate(depth);
                (result, range_cost + init_cost + n * (cond + step) + result_cost)
            }
            Expr::Unspecified => (dyn_(), 0.0),
        }
    }

    /// The type of the first of a literal's members (dyn when it has none) and the cost of
    /// building it: each member's key (map literals) and value, in order.
    fn members<'e>(&mut self, members: impl Iterator<Item = (Option<&'e IdedExpr>, &'e IdedExpr)>) -> (Box<Ty>, f64) {
        let mut cost = 1.0;
        let mut first = None;
        for (key, value) in members {
            if let Some(key) = key {
                cost += self.expr(key).1;
            }
            let (t, c) = self.expr(value);
            cost += c;
            first.get_or_insert(t);
        }
        (Box::new(first.unwrap_or_else(dyn_)), cost)
    }

    /// The type of `ty.name`, reporting an undefined field of a closed object.
    fn field(&mut self, id: u64, ty: &Ty, name: &str) -> Ty {
        match ty {
            Ty::Object { fields, open } => match fields.get(name) {
                Some(t) => t.clone(),
                None if *open => dyn_(),
                None => {
                    self.issues.push((id, format!("undefined field '{name}'")));
                    dyn_()
                }
            },
            Ty::Map { value, .. } => (**value).clone(),
            _ => dyn_(),
        }
    }

    fn call(&mut self, id: u64, name: &str, target: Option<&IdedExpr>, args: &[IdedExpr]) -> (Ty, f64) {
        // `ns.f(x)` where `ns` is no variable is the global function `ns.f`.
        let qualified = match target.map(|t| &t.expr) {
            Some(Expr::Ident(ns)) if self.lookup(ns).is_none() && is_function(&format!("{ns}.{name}")) => {
                Some(format!("{ns}.{name}"))
            }
            _ => None,
        };
        let (target_ty, mut cost) = match (target, &qualified) {
            (Some(t), None) => {
                let (ty, c) = self.expr(t);
                (Some(ty), c)
            }
            _ => (None, 0.0),
        };
        let mut arg_tys = Vec::with_capacity(args.len());
        for a in args {
            let (t, c) = self.expr(a);
            cost += c;
            arg_tys.push(t);
        }
        let name = qualified.as_deref().unwrap_or(name);
        let operator = name.starts_with('_') || name.starts_with('!') || name.starts_with('-') || name.contains('@');
        if !operator && !is_function(name) {
            self.issues
                .push((id, format!("undeclared reference to '{name}' (in container '')")));
        }
        if let Some(message) = overloads::mismatch(name, target_ty.as_ref(), &arg_tys) {
            self.issues.push((id, message));
        }
        if matches!(name, "_&&_" | "_||_") {
            for (arg, ty) in args.iter().zip(&arg_tys) {
                match overloads::name(ty) {
                    Some(found) if *ty != Ty::Bool => self
                        .issues
                        .push((arg.id, format!("expected type 'bool' but found '{found}'"))),
                    _ => {}
                }
            }
        }
        let subject = target_ty.as_ref().or(arg_tys.first());
        let subject_size = subject.map_or(1, Ty::max_size);
        let (ty, call_cost) = match name {
            "_&&_" | "_||_" | "!_" | "@not_strictly_false" => (Ty::Bool, 0.0),
            "_==_" | "_!=_" => {
                let size = arg_tys.iter().map(Ty::max_size).min().unwrap_or(1);
                let scalar = arg_tys
                    .iter()
                    .any(|t| matches!(t, Ty::Bool | Ty::Int | Ty::Double | Ty::Duration | Ty::Timestamp));
                (Ty::Bool, if scalar { 1.0 } else { traversal(size) })
            }
            "_<_" | "_<=_" | "_>_" | "_>=_" => (
                Ty::Bool,
                traversal(if matches!(subject, Some(Ty::String { .. })) {
                    subject_size
                } else {
                    0
                }),
            ),
            "@in" => (Ty::Bool, arg_tys.get(1).map_or(1.0, |t| t.max_size() as f64)),
            "_?_:_" => {
                let ty = match (arg_tys.get(1), arg_tys.get(2)) {
                    (Some(a), Some(b)) if std::mem::discriminant(a) == std::mem::discriminant(b) => {
                        widest(a.clone(), b.clone())
                    }
                    _ => dyn_(),
                };
                return (ty, cost);
            }
            "_[_]" | "_[?_]" => match subject {
                Some(Ty::List { elem, .. }) => ((**elem).clone(), 1.0),
                Some(Ty::Map { value, .. }) => ((**value).clone(), 1.0),
                _ => (dyn_(), 1.0),
            },
            "_+_" => match (arg_tys.first(), arg_tys.get(1)) {
                (Some(Ty::String { max: a }), Some(Ty::String { max: b })) => {
                    (Ty::String { max: a + b }, traversal(a + b))
                }
                (
                    Some(Ty::List {
                        elem,
                        max: a,
                        list_type,
                    }),
                    Some(b),
                ) => (
                    Ty::List {
                        elem: elem.clone(),
                        max: a + b.max_size(),
                        list_type: list_type.clone(),
                    },
                    traversal(a + b.max_size()),
                ),
                (Some(Ty::Duration), Some(Ty::Timestamp)) => (Ty::Timestamp, 1.0),
                (Some(t), _) => (t.clone(), 1.0),
                _ => (dyn_(), 1.0),
            },
            "_-_" if matches!(arg_tys.as_slice(), [Ty::Timestamp, Ty::Timestamp]) => (Ty::Duration, 1.0),
            "_-_" | "_*_" | "_/_" | "_%_" | "-_" => (arg_tys.first().cloned().unwrap_or_else(dyn_), 1.0),
            "reverse" if matches!(subject, Some(Ty::List { .. })) => {
                (subject.cloned().unwrap_or_else(dyn_), traversal(subject_size))
            }
            "size" => (Ty::Int, 1.0),
            "contains" | "startsWith" | "endsWith" => {
                let needle = arg_tys.first().map_or(1, Ty::max_size);
                (Ty::Bool, traversal(subject_size) + traversal(needle) - 1.0)
            }
            "matches" | "find" => {
                let string = if target.is_some() {
                    subject_size
                } else {
                    arg_tys.first().map_or(1, Ty::max_size)
                };
                let ty = if name == "matches" {
                    Ty::Bool
                } else {
                    Ty::String { max: string }
                };
                (ty, traversal(string))
            }
            "findAll" | "split" => (
                Ty::List {
                    elem: Box::new(Ty::String { max: subject_size }),
                    max: subject_size,
                    list_type: ListType::Atomic,
                },
                traversal(subject_size),
            ),
            "lowerAscii" | "upperAscii" | "trim" | "replace" | "substring" | "reverse" | "charAt" => {
                (Ty::String { max: subject_size }, traversal(subject_size))
            }
            "indexOf" | "lastIndexOf" => (Ty::Int, traversal(subject_size)),
            "join" => (Ty::String { max: MAX_REQUEST_SIZE }, traversal(subject_size)),
            "isSorted" | "sum" | "min" | "max" | "distinct" | "sort" | "flatten" => {
                let ty = match (name, subject) {
                    ("isSorted", _) => Ty::Bool,
                    ("min" | "max" | "sum", Some(Ty::List { elem, .. })) => (**elem).clone(),
                    (_, Some(t)) => t.clone(),
                    _ => dyn_(),
                };
                (ty, subject_size as f64 + 1.0)
            }
            "sets.contains" | "sets.equivalent" | "sets.intersects" => {
                let other = arg_tys.get(1).map_or(1, Ty::max_size);
                (Ty::Bool, (subject_size as f64) * (other as f64) + 1.0)
            }
            "int" | "getHours" | "getMinutes" | "getSeconds" | "getMonth" | "getFullYear" | "getDate"
            | "getDayOfMonth" | "getDayOfWeek" | "getDayOfYear" | "getMilliseconds" | "family" | "prefixLength"
            | "compareTo" | "asInteger" | "sign" => (Ty::Int, 1.0),
            "double" | "asApproximateFloat" => (Ty::Double, 1.0),
            "string" => (Ty::String { max: MAX_REQUEST_SIZE }, 1.0),
            "duration" => (Ty::Duration, 1.0),
            "timestamp" => (Ty::Timestamp, 1.0),
            "has"
            | "isIP"
            | "isCIDR"
            | "isURL"
            | "isQuantity"
            | "isLoopback"
            | "isUnspecified"
            | "isGlobalUnicast"
            | "isLinkLocalMulticast"
            | "isLinkLocalUnicast"
            | "containsIP"
            | "containsCIDR"
            | "isInteger"
            | "isGreaterThan"
            | "isLessThan"
            | "hasValue"
            | "ip.isCanonical" => (Ty::Bool, traversal(subject_size.min(64))),
            _ => (dyn_(), 1.0),
        };
        (ty, cost + call_cost)
    }
}

fn literal(l: &LiteralValue) -> Ty {
    match l {
        LiteralValue::Boolean(_) => Ty::Bool,
        LiteralValue::Int(_) | LiteralValue::UInt(_) => Ty::Int,
        LiteralValue::Double(_) => Ty::Double,
        LiteralValue::String(s) => Ty::String {
            max: s.inner().len() as u64,
        },
        LiteralValue::Bytes(b) => Ty::Bytes {
            max: b.inner().len() as u64,
        },
        LiteralValue::Null => Ty::Dyn { max: 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::cel::env::ENV;
    use serde_json::json;

    fn run(rule: &str, schema: serde_json::Value) -> Checked {
        let program = ENV.compile(rule).unwrap();
        let ty = Ty::of(&schema, false);
        check(program.expression(), &ty, Some(&ty))
    }

    #[test]
    fn undefined_fields_and_references_are_found() {
        let schema =
            json!({"type": "object", "properties": {"a": {"type": "string"}, "namespace": {"type": "string"}}});
        let checked = run(
            "self.a == 'x' && has(self.__namespace__) && self.b == 1 && nope(1) && x > 1",
            schema,
        );
        let messages: Vec<&str> = checked.issues.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(
            messages,
            [
                "undefined field 'b'",
                "undeclared reference to 'nope' (in container '')",
                "undeclared reference to 'x' (in container '')"
            ]
        );
        assert!(!checked.uses_old_self);
        assert_eq!(checked.ty, Ty::Bool);
    }

    #[test]
    fn nested_comprehensions_over_unbounded_lists_are_costly() {
        let unbounded = json!({"type": "array", "items": {"type": "string"}});
        let bounded = json!({"type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 10}});
        let rule = "self.all(a, self.all(b, a == b))";
        assert!(run(rule, unbounded).cost > 1e11);
        let small = run(rule, bounded).cost;
        assert!(small < 1_000.0, "{small}");
        assert!(run("oldSelf == self", json!({"type": "string"})).uses_old_self);
    }
}
