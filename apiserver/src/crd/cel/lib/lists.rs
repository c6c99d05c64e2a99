//! Kubernetes' lists library (`isSorted`, `sum`, `min`, `max`, `indexOf`, `lastIndexOf`) and
//! sets library (`sets.contains`, `sets.equivalent`, `sets.intersects`).

use super::{elements, take, Args, Ret};
use cel::common::types::{CelBool, CelDouble, CelDuration, CelInt, CelUInt, DYN_TYPE, LIST_TYPE};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError};
use std::cmp::Ordering;

pub fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_member_overload("isSorted", "list_is_sorted", LIST_TYPE, vec![], is_sorted)?;
    env.add_member_overload("sum", "list_sum", LIST_TYPE, vec![], sum)?;
    env.add_member_overload("min", "list_min", LIST_TYPE, vec![], min)?;
    env.add_member_overload("max", "list_max", LIST_TYPE, vec![], max)?;
    env.add_member_overload("indexOf", "list_index_of", LIST_TYPE, vec![DYN_TYPE], index_of)?;
    env.add_member_overload(
        "lastIndexOf",
        "list_last_index_of",
        LIST_TYPE,
        vec![DYN_TYPE],
        last_index_of,
    )?;
    env.add_overload(
        "sets.contains",
        "list_sets_contains_list",
        vec![LIST_TYPE, LIST_TYPE],
        contains,
    )?;
    env.add_overload(
        "sets.equivalent",
        "list_sets_equivalent_list",
        vec![LIST_TYPE, LIST_TYPE],
        equivalent,
    )?;
    env.add_overload(
        "sets.intersects",
        "list_sets_intersects_list",
        vec![LIST_TYPE, LIST_TYPE],
        intersects,
    )?;
    Ok(())
}

fn compare(a: &dyn Val, b: &dyn Val) -> Result<Ordering, ExecutionError> {
    match a.as_comparer() {
        Some(c) => c.compare(b),
        None => Err(ExecutionError::no_such_overload(
            "_<_",
            vec![a.get_type().name().to_owned(), b.get_type().name().to_owned()],
        )),
    }
}

fn is_sorted<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [list] = take(args)?;
    let items = elements(list.as_ref())?;
    for pair in items.windows(2) {
        if compare(pair[0], pair[1])? == Ordering::Greater {
            return Ok(CowVal::owned(CelBool::from(false)));
        }
    }
    Ok(CowVal::owned(CelBool::from(true)))
}

fn sum<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [list] = take(args)?;
    let items = elements(list.as_ref())?;
    let Some(first) = items.first() else {
        return Ok(CowVal::owned(CelInt::from(0)));
    };
    let overflow = || ExecutionError::function_error("sum", "integer overflow");
    if first.downcast_ref::<CelInt>().is_some() {
        let mut total: i64 = 0;
        for i in &items {
            let v = i.downcast_ref::<CelInt>().ok_or_else(|| super::unexpected(*i, "int"))?;
            total = total.checked_add(*v.inner()).ok_or_else(overflow)?;
        }
        return Ok(CowVal::owned(CelInt::from(total)));
    }
    if first.downcast_ref::<CelUInt>().is_some() {
        let mut total: u64 = 0;
        for i in &items {
            let v = i
                .downcast_ref::<CelUInt>()
                .ok_or_else(|| super::unexpected(*i, "uint"))?;
            total = total.checked_add(*v.inner()).ok_or_else(overflow)?;
        }
        return Ok(CowVal::owned(CelUInt::from(total)));
    }
    if first.downcast_ref::<CelDuration>().is_some() {
        let mut total = chrono::Duration::zero();
        for i in &items {
            let v = i
                .downcast_ref::<CelDuration>()
                .ok_or_else(|| super::unexpected(*i, "duration"))?;
            total = total.checked_add(v.inner()).ok_or_else(overflow)?;
        }
        return Ok(CowVal::owned(CelDuration::from(total)));
    }
    let mut total = 0.0;
    for i in &items {
        let v = i
            .downcast_ref::<CelDouble>()
            .ok_or_else(|| super::unexpected(*i, "double"))?;
        total += *v.inner();
    }
    Ok(CowVal::owned(CelDouble::from(total)))
}

fn extreme<'b, 'v>(args: Args<'b, 'v>, name: &str, keep: Ordering) -> Ret<'b, 'v> {
    let [list] = take(args)?;
    let items = elements(list.as_ref())?;
    let mut best = *items
        .first()
        .ok_or_else(|| ExecutionError::function_error(name, format!("{name} called on empty list")))?;
    for item in &items[1..] {
        if compare(*item, best)? == keep {
            best = *item;
        }
    }
    Ok(CowVal::Owned(best.clone_as_boxed()))
}

fn min<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    extreme(args, "min", Ordering::Less)
}

fn max<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    extreme(args, "max", Ordering::Greater)
}

fn index_of<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [list, needle] = take(args)?;
    let items = elements(list.as_ref())?;
    let at = items.iter().position(|i| i.equals(needle.as_ref()));
    Ok(CowVal::owned(CelInt::from(at.map_or(-1, |i| i as i64))))
}

fn last_index_of<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [list, needle] = take(args)?;
    let items = elements(list.as_ref())?;
    let at = items.iter().rposition(|i| i.equals(needle.as_ref()));
    Ok(CowVal::owned(CelInt::from(at.map_or(-1, |i| i as i64))))
}

fn contains<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [a, b] = take(args)?;
    let (a, b) = (elements(a.as_ref())?, elements(b.as_ref())?);
    let all = b.iter().all(|x| a.iter().any(|y| y.equals(*x)));
    Ok(CowVal::owned(CelBool::from(all)))
}

fn equivalent<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [a, b] = take(args)?;
    let (a, b) = (elements(a.as_ref())?, elements(b.as_ref())?);
    let same = b.iter().all(|x| a.iter().any(|y| y.equals(*x))) && a.iter().all(|x| b.iter().any(|y| y.equals(*x)));
    Ok(CowVal::owned(CelBool::from(same)))
}

fn intersects<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [a, b] = take(args)?;
    let (a, b) = (elements(a.as_ref())?, elements(b.as_ref())?);
    let any = b.iter().any(|x| a.iter().any(|y| y.equals(*x)));
    Ok(CowVal::owned(CelBool::from(any)))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{all_true, eval};

    #[test]
    fn lists_and_sets() {
        all_true(&[
            "[1, 2, 3].isSorted()",
            "!['b', 'a'].isSorted()",
            "[1, 2, 3].sum() == 6",
            "[1.5, 2.5].sum() == 4.0",
            "[].sum() == 0",
            "[3, 1, 2].min() == 1",
            "['a', 'c', 'b'].max() == 'c'",
            "[1, 2, 1].indexOf(1) == 0",
            "[1, 2, 1].lastIndexOf(1) == 2",
            "[1, 2].indexOf(5) == -1",
            "sets.contains([1, 2, 3], [3, 1])",
            "!sets.contains([1], [2])",
            "sets.equivalent([1, 2], [2, 1, 1])",
            "sets.intersects([1, 2], [2, 5])",
            "'abcab'.indexOf('b') == 1",
        ]);
        assert!(eval("[].min()").unwrap_err().contains("min called on empty list"));
    }
}
