//! The one CEL environment every rule compiles and runs in: the standard library, the strings,
//! lists and math extensions, the Kubernetes libraries, and the `cel.bind` macro.

use super::lib;
use cel::common::ast::{ComprehensionExpr, Expr, IdedExpr, ListExpr, LiteralValue};
use cel::parser::{Macro, MacroExprHelper, ParseError};
use cel::{extensions, Env};
use std::sync::{Arc, LazyLock};

pub static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    // Each registration declares names no other one does: a failure is a bug caught by the tests.
    let registered = env
        .add_extension(extensions::strings)
        .and_then(|_| env.add_extension(extensions::lists))
        .and_then(|_| env.add_extension(extensions::math))
        .and_then(|_| env.add_extension(lib::register))
        .and_then(|_| env.add_macro(Macro::receiver("bind", 3, bind)));
    if let Err(e) = registered {
        tracing::error!("CEL environment: {e}");
    }
    Arc::new(env)
});

/// `cel.bind(name, init, expr)`: `expr` with `name` bound to `init`, as cel-go expands it (a
/// comprehension over nothing whose accumulator is the variable). `bind` on another target stays
/// a call.
fn bind(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Result<Option<IdedExpr>, ParseError> {
    if !matches!(target.as_ref().map(|t| &t.expr), Some(Expr::Ident(ns)) if ns == "cel") {
        return Ok(None);
    }
    let name = match args.first().map(|a| (a.id, &a.expr)) {
        Some((_, Expr::Ident(name))) => name.clone(),
        Some((id, _)) => {
            return Err(helper.new_error(id, "cel.bind() variable names must be simple identifiers"));
        }
        None => return Ok(None),
    };
    let (Some(result), Some(init)) = (args.pop(), args.pop()) else {
        return Ok(None);
    };
    target.take();
    args.clear();
    let empty = helper.next_expr(Expr::List(ListExpr::default()));
    let never = helper.next_expr(Expr::Literal(LiteralValue::Boolean(false.into())));
    let step = helper.next_expr(Expr::Ident(name.clone()));
    Ok(Some(helper.next_expr(Expr::Comprehension(Box::new(
        ComprehensionExpr {
            iter_range: empty,
            iter_var: "#unused".into(),
            iter_var2: None,
            accu_var: name,
            accu_init: init,
            loop_cond: never,
            loop_step: step,
            result,
        },
    )))))
}

/// Every function name a rule may call (besides operators), for the compile-time check.
pub fn is_function(name: &str) -> bool {
    STANDARD.contains(&name) || lib::FUNCTIONS.contains(&name)
}

const STANDARD: &[&str] = &[
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "has",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "bool",
    "dyn",
    "type",
    "duration",
    "timestamp",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getFullYear",
    "getHours",
    "getMilliseconds",
    "getMinutes",
    "getMonth",
    "getSeconds",
    "charAt",
    "indexOf",
    "lastIndexOf",
    "join",
    "lowerAscii",
    "upperAscii",
    "trim",
    "replace",
    "split",
    "substring",
    "format",
    "strings.quote",
    "reverse",
    "slice",
    "flatten",
    "distinct",
    "sort",
    "sortBy",
    "lists.range",
    "math.greatest",
    "math.least",
    "math.ceil",
    "math.floor",
    "math.round",
    "math.trunc",
    "math.isInf",
    "math.isNaN",
    "math.isFinite",
    "math.abs",
    "math.sign",
    "math.bitAnd",
    "math.bitOr",
    "math.bitXor",
    "math.bitNot",
    "math.bitShiftLeft",
    "math.bitShiftRight",
    "math.sqrt",
    "optional.of",
    "optional.ofNonZeroValue",
    "optional.none",
    "hasValue",
    "value",
    "or",
    "orValue",
    "base64.encode",
    "base64.decode",
];
