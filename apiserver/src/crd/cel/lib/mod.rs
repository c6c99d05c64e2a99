//! The Kubernetes CEL libraries the `cel` crate lacks (lists, sets, regex, url, ip/cidr,
//! quantity, format), registered as overloads on the shared environment, and the helpers their
//! functions share.

mod format;
mod lists;
mod net;
mod quantity;
mod regex;
mod url;

use cel::common::types::{CelString, Type};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError};

/// What every overload takes and returns.
pub type Args<'b, 'v> = Vec<CowVal<'b, 'v>>;
pub type Ret<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

/// Registers every Kubernetes library on `env`.
pub fn register(env: &mut Env) -> Result<(), DeclarationError> {
    lists::register(env)?;
    regex::register(env)?;
    url::register(env)?;
    net::register(env)?;
    quantity::register(env)?;
    format::register(env)?;
    Ok(())
}

/// The names of the functions these libraries add (for the compile-time reference check).
pub const FUNCTIONS: &[&str] = &[
    "isSorted",
    "sum",
    "min",
    "max",
    "indexOf",
    "lastIndexOf",
    "sets.contains",
    "sets.equivalent",
    "sets.intersects",
    "find",
    "findAll",
    "url",
    "isURL",
    "getScheme",
    "getHost",
    "getHostname",
    "getPort",
    "getEscapedPath",
    "getQuery",
    "ip",
    "isIP",
    "ip.isCanonical",
    "family",
    "isUnspecified",
    "isLoopback",
    "isLinkLocalMulticast",
    "isLinkLocalUnicast",
    "isGlobalUnicast",
    "cidr",
    "isCIDR",
    "containsIP",
    "containsCIDR",
    "masked",
    "prefixLength",
    "quantity",
    "isQuantity",
    "isInteger",
    "asInteger",
    "asApproximateFloat",
    "sign",
    "add",
    "sub",
    "isGreaterThan",
    "isLessThan",
    "compareTo",
    "format.named",
    "validate",
    "format.dns1123Label",
    "format.dns1123Subdomain",
    "format.dns1035Label",
    "format.qualifiedName",
    "format.dns1123LabelPrefix",
    "format.dns1123SubdomainPrefix",
    "format.dns1035LabelPrefix",
    "format.labelValue",
    "format.uri",
    "format.uuid",
    "format.byte",
    "format.date",
    "format.datetime",
];

/// The `n` arguments of an overload.
fn take<'b, 'v, const N: usize>(args: Args<'b, 'v>) -> Result<[CowVal<'b, 'v>; N], ExecutionError> {
    args.try_into()
        .map_err(|a: Vec<_>| ExecutionError::invalid_argument_count(N, a.len()))
}

/// A string argument.
fn text<'a>(v: &'a (dyn Val + '_)) -> Result<&'a str, ExecutionError> {
    v.downcast_ref::<CelString>()
        .map(|s| s.inner())
        .ok_or_else(|| unexpected(v, "string"))
}

/// A value of one of this library's opaque types.
fn opaque<'a, T: cel::common::value::StaticVal>(v: &'a (dyn Val + '_)) -> Result<&'a T, ExecutionError> {
    v.downcast_ref::<T>().ok_or_else(|| unexpected(v, T::cel_type().name()))
}

fn unexpected(v: &dyn Val, want: &str) -> ExecutionError {
    ExecutionError::UnexpectedType {
        got: v.get_type().name().to_owned(),
        want: want.to_owned(),
    }
}

/// The elements of a list argument.
pub fn elements<'b, 'v>(v: &'b (dyn Val + 'v)) -> Result<Vec<&'b (dyn Val + 'v)>, ExecutionError> {
    let iterable = v.as_iterable().ok_or_else(|| unexpected(v, "list"))?;
    let mut it = iterable.iter();
    let mut out = Vec::new();
    while let Some(item) = it.next() {
        out.push(item);
    }
    Ok(out)
}

/// A new opaque CEL type of this library.
fn opaque_type(name: &'static str) -> Type {
    Type::new_opaque_type(name)
}

/// Implements `Val` for a library value type whose CEL type is the static `$ty`.
macro_rules! opaque_val {
    ($name:ty, $ty:expr) => {
        impl cel::common::value::Val for $name {
            fn get_type(&self) -> &cel::common::types::Type {
                <Self as cel::common::value::Val>::cel_type()
            }
            fn cel_type() -> &'static cel::common::types::Type {
                &$ty
            }
            fn equals(&self, other: &dyn cel::common::value::Val) -> bool {
                other.downcast_ref::<$name>().is_some_and(|o| o == self)
            }
            fn clone_as_boxed<'v>(&self) -> Box<dyn cel::common::value::Val + 'v>
            where
                Self: 'v,
            {
                Box::new(self.clone())
            }
            fn as_any(&self) -> Option<&dyn std::any::Any> {
                Some(self)
            }
        }
        impl cel::common::value::StaticVal for $name {}
    };
}
use opaque_val;

#[cfg(test)]
pub mod tests {
    use crate::crd::cel::env::ENV;
    use cel::{Context, Value};

    /// Evaluates `expr` in the shared environment with no variables.
    pub fn eval(expr: &str) -> Result<Value, String> {
        let program = ENV.compile(expr).map_err(|e| e.to_string())?;
        let ctx = Context::with_env(ENV.clone());
        program.execute(&ctx).map_err(|e| e.to_string())
    }

    /// Asserts every expression evaluates to true.
    pub fn all_true(exprs: &[&str]) {
        for e in exprs {
            assert_eq!(eval(e), Ok(Value::Bool(true)), "{e}");
        }
    }
}
