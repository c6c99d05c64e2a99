//! Kubernetes' quantity library: `quantity()`, `isQuantity()`, comparisons, arithmetic and
//! conversions of resource.Quantity values (the shared exact decimal of `skiff_machinery`).

use super::{opaque, opaque_type, opaque_val, take, text, Args, Ret};
use cel::common::types::{CelBool, CelDouble, CelInt, Type, INT_TYPE, STRING_TYPE};
use cel::common::value::CowVal;
use cel::{DeclarationError, Env, ExecutionError};
use skiff_machinery::quantity::{Quantity as Exact, FORMAT_MESSAGE};
use std::cmp::Ordering;
use std::sync::LazyLock;

static QUANTITY_TYPE: LazyLock<Type> = LazyLock::new(quantity_t);

/// A resource.Quantity as a CEL value: the exact decimal of [`skiff_machinery::quantity`].
#[derive(Clone, Debug, PartialEq)]
pub struct Quantity(skiff_machinery::quantity::Quantity);
opaque_val!(Quantity, *QUANTITY_TYPE);

fn overflow() -> ExecutionError {
    ExecutionError::function_error("quantity", "arithmetic overflow")
}

fn quantity_t() -> Type {
    opaque_type("kubernetes.Quantity")
}

pub fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_overload("quantity", "string_to_quantity", vec![STRING_TYPE], to_quantity)?;
    env.add_overload("isQuantity", "is_quantity_string", vec![STRING_TYPE], is_quantity)?;
    env.add_member_overload("isInteger", "quantity_is_integer", quantity_t(), vec![], is_integer)?;
    env.add_member_overload("asInteger", "quantity_as_integer", quantity_t(), vec![], as_integer)?;
    env.add_member_overload(
        "asApproximateFloat",
        "quantity_as_float",
        quantity_t(),
        vec![],
        as_float,
    )?;
    env.add_member_overload("sign", "quantity_sign", quantity_t(), vec![], sign)?;
    env.add_member_overload("add", "quantity_add", quantity_t(), vec![quantity_t()], add)?;
    env.add_member_overload("add", "quantity_add_int", quantity_t(), vec![INT_TYPE], add)?;
    env.add_member_overload("sub", "quantity_sub", quantity_t(), vec![quantity_t()], sub)?;
    env.add_member_overload("sub", "quantity_sub_int", quantity_t(), vec![INT_TYPE], sub)?;
    env.add_member_overload(
        "isGreaterThan",
        "quantity_is_greater_than",
        quantity_t(),
        vec![quantity_t()],
        greater,
    )?;
    env.add_member_overload(
        "isLessThan",
        "quantity_is_less_than",
        quantity_t(),
        vec![quantity_t()],
        less,
    )?;
    env.add_member_overload(
        "compareTo",
        "quantity_compare_to",
        quantity_t(),
        vec![quantity_t()],
        compare_to,
    )?;
    Ok(())
}

fn the_quantity(v: &CowVal<'_, '_>) -> Result<Exact, ExecutionError> {
    if let Some(i) = v.downcast_ref::<CelInt>() {
        return Ok(Exact::from_integer(*i.inner()));
    }
    opaque::<Quantity>(v.as_ref()).map(|q| q.0)
}

fn to_quantity<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s] = take(args)?;
    Exact::parse(text(s.as_ref())?)
        .map(|q| CowVal::owned(Quantity(q)))
        .ok_or_else(|| ExecutionError::function_error("quantity", FORMAT_MESSAGE))
}

fn is_quantity<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s] = take(args)?;
    Ok(CowVal::owned(CelBool::from(Exact::parse(text(s.as_ref())?).is_some())))
}

fn is_integer<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [q] = take(args)?;
    Ok(CowVal::owned(CelBool::from(the_quantity(&q)?.integer().is_some())))
}

fn as_integer<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [q] = take(args)?;
    let i = the_quantity(&q)?
        .integer()
        .ok_or_else(|| ExecutionError::function_error("asInteger", "cannot convert value to integer"))?;
    Ok(CowVal::owned(CelInt::from(i)))
}

fn as_float<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [q] = take(args)?;
    Ok(CowVal::owned(CelDouble::from(the_quantity(&q)?.to_f64())))
}

fn sign<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [q] = take(args)?;
    Ok(CowVal::owned(CelInt::from(sign_of(&the_quantity(&q)?))))
}

fn add<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [a, b] = take(args)?;
    sum(the_quantity(&a)?, the_quantity(&b)?)
}

fn sub<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [a, b] = take(args)?;
    sum(the_quantity(&a)?, the_quantity(&b)?.negated())
}

fn sum<'b, 'v>(a: Exact, b: Exact) -> Ret<'b, 'v> {
    let total = a.checked_add(&b).ok_or_else(overflow)?;
    Ok(CowVal::owned(Quantity(total)))
}

fn sign_of(q: &Exact) -> i64 {
    match q.cmp(&Exact::ZERO) {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

fn ordering<'b, 'v>(args: Args<'b, 'v>) -> Result<Ordering, ExecutionError> {
    let [a, b] = take(args)?;
    Ok(the_quantity(&a)?.cmp(&the_quantity(&b)?))
}

fn greater<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    Ok(CowVal::owned(CelBool::from(ordering(args)? == Ordering::Greater)))
}

fn less<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    Ok(CowVal::owned(CelBool::from(ordering(args)? == Ordering::Less)))
}

fn compare_to<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let o = ordering(args)?;
    Ok(CowVal::owned(CelInt::from(o as i64)))
}

#[cfg(test)]
mod tests {
    use super::super::tests::all_true;

    #[test]
    fn quantities() {
        all_true(&[
            "isQuantity('1.5Gi') && isQuantity('100m') && isQuantity('2e3') && !isQuantity('1.5.5') && !isQuantity('5 apples')",
            "quantity('1Gi').isGreaterThan(quantity('1G'))",
            "quantity('500m').isLessThan(quantity('1'))",
            "quantity('1k').compareTo(quantity('1000')) == 0",
            "quantity('2Ki').asInteger() == 2048",
            "!quantity('1500m').isInteger() && quantity('1500m').asApproximateFloat() == 1.5",
            "quantity('1').add(quantity('500m')) == quantity('1.5')",
            "quantity('1').sub(1).sign() == 0 && quantity('-3').sign() == -1",
            "quantity('1Mi').add(1).asInteger() == 1048577",
        ]);
    }
}
