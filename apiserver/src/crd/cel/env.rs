//! The one CEL environment every rule compiles and runs in: the standard library, the strings,
//! lists and math extensions, and the Kubernetes libraries.

use super::lib;
use cel::{extensions, Env};
use std::sync::{Arc, LazyLock};

pub static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    // Each registration declares names no other one does: a failure is a bug caught by the tests.
    let registered = env
        .add_extension(extensions::strings)
        .and_then(|_| env.add_extension(extensions::lists))
        .and_then(|_| env.add_extension(extensions::math))
        .and_then(|_| env.add_extension(lib::register));
    if let Err(e) = registered {
        tracing::error!("CEL environment: {e}");
    }
    Arc::new(env)
});

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
