//! Kubernetes' quantity library: `quantity()`, `isQuantity()`, comparisons, arithmetic and
//! conversions of resource.Quantity values (kept as an exact decimal: mantissa × 10^exponent).

use super::{opaque, opaque_type, opaque_val, take, text, Args, Ret};
use cel::common::types::{CelBool, CelDouble, CelInt, Type, INT_TYPE, STRING_TYPE};
use cel::common::value::CowVal;
use cel::{DeclarationError, Env, ExecutionError};
use std::cmp::Ordering;
use std::sync::LazyLock;

static QUANTITY_TYPE: LazyLock<Type> = LazyLock::new(quantity_t);

/// `mantissa × 10^exp`.
#[derive(Clone, Debug)]
pub struct Quantity {
    mantissa: i128,
    exp: i32,
}
opaque_val!(Quantity, *QUANTITY_TYPE);

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Quantity {
    /// Parses a resource.Quantity string (`1.5Gi`, `100m`, `2e3`, `-1`).
    pub fn parse(s: &str) -> Option<Quantity> {
        let end = s
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '+' || c == '-'))))
            .map_or(s.len(), |(i, _)| i);
        let (number, suffix) = s.split_at(end);
        let (negative, digits) = match number.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, number.strip_prefix('+').unwrap_or(number)),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty() && frac.is_empty() || frac.contains('.') || int.len() + frac.len() > 30 {
            return None;
        }
        let mut mantissa: i128 = format!("{int}{frac}").parse().ok()?;
        let mut exp = -(frac.len() as i32);
        let (binary, decimal): (u32, i32) = match suffix {
            "" => (0, 0),
            "Ki" => (1, 0),
            "Mi" => (2, 0),
            "Gi" => (3, 0),
            "Ti" => (4, 0),
            "Pi" => (5, 0),
            "Ei" => (6, 0),
            "n" => (0, -9),
            "u" => (0, -6),
            "m" => (0, -3),
            "k" => (0, 3),
            "M" => (0, 6),
            "G" => (0, 9),
            "T" => (0, 12),
            "P" => (0, 15),
            "E" => (0, 18),
            e if e.starts_with(['e', 'E']) => (0, e[1..].parse().ok()?),
            _ => return None,
        };
        mantissa = mantissa.checked_mul(1024i128.checked_pow(binary)?)?;
        exp += decimal;
        if negative {
            mantissa = -mantissa;
        }
        Some(Quantity { mantissa, exp }.normalized())
    }

    fn normalized(mut self) -> Self {
        if self.mantissa == 0 {
            self.exp = 0;
        }
        while self.mantissa != 0 && self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.exp += 1;
        }
        self
    }

    fn to_f64(&self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exp)
    }

    /// Both mantissas at the smaller exponent, when that fits.
    fn aligned(&self, other: &Quantity) -> Option<(i128, i128, i32)> {
        let exp = self.exp.min(other.exp);
        let scale = |q: &Quantity| q.mantissa.checked_mul(10i128.checked_pow((q.exp - exp) as u32)?);
        Some((scale(self)?, scale(other)?, exp))
    }

    fn cmp(&self, other: &Quantity) -> Ordering {
        match self.aligned(other) {
            Some((a, b, _)) => a.cmp(&b),
            None => self.to_f64().total_cmp(&other.to_f64()),
        }
    }

    fn integer(&self) -> Option<i64> {
        if self.exp < 0 {
            return None;
        }
        let v = self.mantissa.checked_mul(10i128.checked_pow(self.exp as u32)?)?;
        i64::try_from(v).ok()
    }

    fn add(&self, other: &Quantity) -> Result<Quantity, ExecutionError> {
        let (a, b, exp) = self.aligned(other).ok_or_else(overflow)?;
        let mantissa = a.checked_add(b).ok_or_else(overflow)?;
        Ok(Quantity { mantissa, exp }.normalized())
    }

    fn negated(&self) -> Quantity {
        Quantity {
            mantissa: -self.mantissa,
            exp: self.exp,
        }
    }
}

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

fn the_quantity(v: &CowVal<'_, '_>) -> Result<Quantity, ExecutionError> {
    if let Some(i) = v.downcast_ref::<CelInt>() {
        return Ok(Quantity {
            mantissa: *i.inner() as i128,
            exp: 0,
        }
        .normalized());
    }
    opaque::<Quantity>(v.as_ref()).cloned()
}

fn to_quantity<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s] = take(args)?;
    Quantity::parse(text(s.as_ref())?).map(CowVal::owned).ok_or_else(|| {
        ExecutionError::function_error(
            "quantity",
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        )
    })
}

fn is_quantity<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s] = take(args)?;
    Ok(CowVal::owned(CelBool::from(
        Quantity::parse(text(s.as_ref())?).is_some(),
    )))
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
    Ok(CowVal::owned(CelInt::from(the_quantity(&q)?.mantissa.signum() as i64)))
}

fn add<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [a, b] = take(args)?;
    Ok(CowVal::owned(the_quantity(&a)?.add(&the_quantity(&b)?)?))
}

fn sub<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [a, b] = take(args)?;
    Ok(CowVal::owned(the_quantity(&a)?.add(&the_quantity(&b)?.negated())?))
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
