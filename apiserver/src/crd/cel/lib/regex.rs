//! Kubernetes' regex library: `find` and `findAll` on strings, with a small per-thread cache of
//! compiled patterns (rules use constant patterns).

use super::{take, text, Args, Ret};
use cel::common::types::{CelInt, CelList, CelString, INT_TYPE, STRING_TYPE};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError};
use regex::Regex;
use std::cell::RefCell;
use std::collections::HashMap;

pub fn register(env: &mut Env) -> Result<(), DeclarationError> {
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
fn compiled(pattern: &str) -> Result<Regex, ExecutionError> {
    CACHE.with(|cache| {
        if let Some(re) = cache.borrow().get(pattern) {
            return Ok(re.clone());
        }
        let re = Regex::new(pattern).map_err(|e| ExecutionError::function_error("regex", e))?;
        let mut cache = cache.borrow_mut();
        if cache.len() >= 128 {
            cache.clear();
        }
        cache.insert(pattern.to_string(), re.clone());
        Ok(re)
    })
}

fn find<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s, re] = take(args)?;
    let re = compiled(text(re.as_ref())?)?;
    let found = re
        .find(text(s.as_ref())?)
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    Ok(CowVal::owned(CelString::from(found)))
}

fn all<'b, 'v>(s: &str, re: &str, n: i64) -> Ret<'b, 'v> {
    let re = compiled(re)?;
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
            "'abc'.matches('^a')",
        ]);
    }
}
