//! Which operand types the operators and common functions accept, as cel-go's checker decides it
//! for the types a rule can know (scalars, lists and maps of them), and its message when a call
//! matches no overload. Anything involving dyn or object types is left to evaluation.

use super::types::Ty;

/// cel-go's name of `ty`, if it is a type this check reasons about.
pub fn name(ty: &Ty) -> Option<String> {
    Some(match ty {
        Ty::Bool => "bool".into(),
        Ty::Int => "int".into(),
        Ty::Double => "double".into(),
        Ty::String { .. } => "string".into(),
        Ty::Bytes { .. } => "bytes".into(),
        Ty::Duration => "google.protobuf.Duration".into(),
        Ty::Timestamp => "google.protobuf.Timestamp".into(),
        Ty::List { elem, .. } => match &**elem {
            Ty::Dyn { .. } => "list(dyn)".into(),
            elem => format!("list({})", name(elem)?),
        },
        Ty::Map { value, .. } => match &**value {
            Ty::Dyn { .. } => "map(string, dyn)".into(),
            value => format!("map(string, {})", name(value)?),
        },
        Ty::Dyn { .. } | Ty::Object { .. } => return None,
    })
}

fn same(a: &Ty, b: &Ty) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn numeric(t: &Ty) -> bool {
    matches!(t, Ty::Int | Ty::Double)
}

/// Whether values of `a` and `b` may be compared with `==`: the same type, dyn parts aside.
fn equatable(a: &Ty, b: &Ty) -> bool {
    match (a, b) {
        (Ty::List { elem: x, .. }, Ty::List { elem: y, .. }) | (Ty::Map { value: x, .. }, Ty::Map { value: y, .. }) => {
            matches!(**x, Ty::Dyn { .. }) || matches!(**y, Ty::Dyn { .. }) || equatable(x, y)
        }
        _ => same(a, b),
    }
}

/// Whether `name` (an operator or function) accepts a target of type `target` (for receiver
/// calls) and arguments of `args`; `None` when it does, or when the types are not all known.
pub fn mismatch(function: &str, target: Option<&Ty>, args: &[Ty]) -> Option<String> {
    let names: Option<Vec<String>> = target.into_iter().chain(args).map(name).collect();
    let names = names?;
    let ok = match (function, target, args) {
        ("_==_" | "_!=_", None, [a, b]) => equatable(a, b),
        ("_<_" | "_<=_" | "_>_" | "_>=_", None, [a, b]) => {
            (numeric(a) && numeric(b)) || (same(a, b) && !matches!(a, Ty::List { .. } | Ty::Map { .. }))
        }
        ("_+_", None, [a, b]) => match (a, b) {
            (Ty::List { .. }, Ty::List { .. }) => equatable(a, b),
            (Ty::Timestamp, Ty::Duration) | (Ty::Duration, Ty::Timestamp) => true,
            _ => same(a, b) && !matches!(a, Ty::Bool | Ty::Timestamp | Ty::Map { .. }),
        },
        ("_-_", None, [a, b]) => {
            matches!((a, b), (Ty::Timestamp, Ty::Duration))
                || (same(a, b) && matches!(a, Ty::Int | Ty::Double | Ty::Duration | Ty::Timestamp))
        }
        ("_*_" | "_/_", None, [a, b]) => same(a, b) && numeric(a),
        ("_%_", None, [a, b]) => matches!((a, b), (Ty::Int, Ty::Int)),
        ("-_", None, [a]) => numeric(a),
        ("!_", None, [a]) => matches!(a, Ty::Bool),
        ("@in", None, [a, b]) => match b {
            Ty::List { elem, .. } => matches!(**elem, Ty::Dyn { .. }) || equatable(a, elem),
            Ty::Map { .. } => matches!(a, Ty::String { .. }),
            _ => false,
        },
        ("_[_]", None, [a, b]) => match a {
            Ty::List { .. } => matches!(b, Ty::Int | Ty::Double),
            Ty::Map { .. } => matches!(b, Ty::String { .. }),
            _ => false,
        },
        ("size", Some(t), []) | ("size", None, [t]) => {
            matches!(
                t,
                Ty::String { .. } | Ty::Bytes { .. } | Ty::List { .. } | Ty::Map { .. }
            )
        }
        ("startsWith" | "endsWith" | "contains" | "matches", Some(t), [a]) => {
            matches!((t, a), (Ty::String { .. }, Ty::String { .. }))
        }
        _ => true,
    };
    if ok {
        return None;
    }
    let applied = match target {
        Some(_) => format!("{}.({})", names[0], names[1..].join(", ")),
        None => format!("({})", names.join(", ")),
    };
    Some(format!(
        "found no matching overload for '{function}' applied to '{applied}'"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::cel::types::ListType;

    fn list(elem: Ty) -> Ty {
        Ty::List {
            elem: Box::new(elem),
            max: 1,
            list_type: ListType::Atomic,
        }
    }

    #[test]
    fn mismatches_read_like_cel_go() {
        let s = || Ty::String { max: 1 };
        assert_eq!(
            mismatch("_>_", None, &[Ty::Int, s()]).as_deref(),
            Some("found no matching overload for '_>_' applied to '(int, string)'")
        );
        assert_eq!(
            mismatch("startsWith", Some(&Ty::Int), &[s()]).as_deref(),
            Some("found no matching overload for 'startsWith' applied to 'int.(string)'")
        );
        assert_eq!(
            mismatch("@in", None, &[s(), list(Ty::Int)]).as_deref(),
            Some("found no matching overload for '@in' applied to '(string, list(int))'")
        );
        assert!(mismatch("_<_", None, &[Ty::Int, Ty::Double]).is_none());
        assert!(mismatch("_==_", None, &[list(Ty::Dyn { max: 1 }), list(s())]).is_none());
        assert!(mismatch("_-_", None, &[Ty::Timestamp, Ty::Duration]).is_none());
        assert!(mismatch("_==_", None, &[Ty::Int, Ty::Dyn { max: 0 }]).is_none());
        assert!(mismatch("_+_", None, &[Ty::Bool, Ty::Bool]).is_some());
    }
}
