//! Regular expressions in rules: the standard `matches` and Kubernetes' `find` and `findAll` on
//! strings, with a small per-thread cache of compiled patterns (rules use constant patterns, and
//! the `cel` crate's own `matches`, left out by its features, compiles its pattern on every call).

use super::{take, text, Args, Ret};
use cel::common::types::{CelBool, CelInt, CelList, CelString, INT_TYPE, STRING_TYPE};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError};
use regex::Regex;
use std::cell::RefCell;
use std::collections::HashMap;

pub fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_overload("matches", "matches", vec![STRING_TYPE, STRING_TYPE], matches)?;
    env.add_member_overload(
        "matches",
        "string_matches_string",
        STRING_TYPE,
        vec![STRING_TYPE],
        matches,
    )?;
    env.add_member_overload("find", "string_find_string", STRING_TYPE, vec![STRING_TYPE], find)?;
    env.add_member_overload(
        "findAll",
        "string_find_all_string",
        STRING_TYPE,
        vec![STRING_TYPE],
        find_all,
    )?;
    env.add_member_overload(
        "findAll",
        "string_find_all_string_int",
        STRING_TYPE,
        vec![STRING_TYPE, INT_TYPE],
        find_all_n,
    )?;
    Ok(())
}

thread_local! {
    static CACHE: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

/// `pattern` compiled (RE2 syntax, which the regex crate shares).
fn compiled(pattern: &str) -> Result<Regex, regex::Error> {
    CACHE.with(|cache| {
        if let Some(re) = cache.borrow().get(pattern) {
            return Ok(re.clone());
        }
        let re = Regex::new(pattern)?;
        let mut cache = cache.borrow_mut();
        if cache.len() >= 128 {
            cache.clear();
        }
        cache.insert(pattern.to_string(), re.clone());
        Ok(re)
    })
}

/// `pattern` compiled, or the error `find` and `findAll` report.
fn pattern(pattern: &str) -> Result<Regex, ExecutionError> {
    compiled(pattern).map_err(|e| ExecutionError::function_error("regex", e))
}

/// `s.matches(re)` and `matches(s, re)`: whether `re` matches anywhere in `s`.
fn matches<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s, re] = take(args)?;
    let re = text(re.as_ref())?;
    let found = compiled(re)
        .map_err(|e| ExecutionError::function_error("matches", format!("'{re}' not a valid regex:\n{e}")))?
        .is_match(text(s.as_ref())?);
    Ok(CowVal::owned(CelBool::from(found)))
}

fn find<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s, re] = take(args)?;
    let re = pattern(text(re.as_ref())?)?;
    let found = re
        .find(text(s.as_ref())?)
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    Ok(CowVal::owned(CelString::from(found)))
}

fn all<'b, 'v>(s: &str, re: &str, n: i64) -> Ret<'b, 'v> {
    let re = pattern(re)?;
    let limit = if n < 0 { usize::MAX } else { n as usize };
    let found: Vec<Box<dyn Val + 'v>> = re
        .find_iter(s)
        .take(limit)
        .map(|m| Box::new(CelString::from(m.as_str().to_string())) as Box<dyn Val + 'v>)
        .collect();
    Ok(CowVal::owned(CelList::from(found)))
}

fn find_all<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s, re] = take(args)?;
    all(text(s.as_ref())?, text(re.as_ref())?, -1)
}

fn find_all_n<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s, re, n] = take(args)?;
    let n = *n
        .downcast_ref::<CelInt>()
        .ok_or_else(|| super::unexpected(n.as_ref(), "int"))?
        .inner();
    all(text(s.as_ref())?, text(re.as_ref())?, n)
}

#[cfg(test)]
mod tests {
    use super::super::tests::all_true;

    #[test]
    fn find_and_find_all() {
        all_true(&[
            "'abc 123'.find('[0-9]+') == '123'",
            "'abc'.find('[0-9]+') == ''",
            "'a1b2c3'.findAll('[0-9]') == ['1', '2', '3']",
            "'a1b2c3'.findAll('[0-9]', 2) == ['1', '2']",
            "'abc'.matches('^a') && !'abc'.matches('^b') && matches('abc', 'b')",
        ]);
        assert_eq!(
            super::super::tests::eval("'abc'.matches('(a')").unwrap_err(),
            "Error executing function 'matches': '(a' not a valid regex:\nregex parse error:\n    (a\n    ^\nerror: unclosed group"
        );
    }
}
