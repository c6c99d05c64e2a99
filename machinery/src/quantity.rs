//! resource.Quantity: `1.5Gi`, `100m`, `2e3`, kept as an exact decimal (mantissa × 10^exponent)
//! so that sums and comparisons are exact, with upstream's rounding for `value` and `milli_value`.

use std::cmp::Ordering;

/// `mantissa × 10^exp`, normalized (no trailing zeros in the mantissa).
#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    mantissa: i128,
    exp: i32,
}

/// The message upstream's quantity parser gives for a malformed quantity.
pub const FORMAT_MESSAGE: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

impl Quantity {
    /// Zero.
    pub const ZERO: Quantity = Quantity { mantissa: 0, exp: 0 };

    /// Parses a resource.Quantity string (`1.5Gi`, `100m`, `2e3`, `-1`); `None` when malformed.
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

    /// A whole number.
    pub fn from_integer(n: i64) -> Quantity {
        Quantity {
            mantissa: i128::from(n),
            exp: 0,
        }
        .normalized()
    }

    /// `n / 1000` (a milli-quantity such as `250m` of cpu).
    pub fn from_milli(n: i64) -> Quantity {
        Quantity {
            mantissa: i128::from(n),
            exp: -3,
        }
        .normalized()
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

    /// The nearest double.
    pub fn to_f64(&self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exp)
    }

    /// The value when it is a whole number that fits an i64.
    pub fn integer(&self) -> Option<i64> {
        if self.exp < 0 {
            return None;
        }
        let v = self.mantissa.checked_mul(10i128.checked_pow(self.exp as u32)?)?;
        i64::try_from(v).ok()
    }

    /// The value in units of 10^`scale`, rounded up as upstream's ScaledValue (saturating).
    fn scaled(&self, scale: i32) -> i64 {
        let shift = self.exp - scale;
        let value = if shift >= 0 {
            10i128
                .checked_pow(shift as u32)
                .and_then(|p| self.mantissa.checked_mul(p))
                .unwrap_or(if self.mantissa < 0 { i128::MIN } else { i128::MAX })
        } else {
            match 10i128.checked_pow((-shift) as u32) {
                Some(p) => {
                    let q = self.mantissa.div_euclid(p);
                    q + i128::from(self.mantissa.rem_euclid(p) != 0)
                }
                None => i128::from(self.mantissa > 0),
            }
        };
        value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// Upstream's Value(): whole units, rounded up (memory bytes, pods, extended resources).
    pub fn value(&self) -> i64 {
        self.scaled(0)
    }

    /// Upstream's MilliValue(): thousandths, rounded up (cpu millicores).
    pub fn milli_value(&self) -> i64 {
        self.scaled(-3)
    }

    /// Both mantissas at the smaller exponent, when that fits.
    fn aligned(&self, other: &Quantity) -> Option<(i128, i128, i32)> {
        let exp = self.exp.min(other.exp);
        let scale = |q: &Quantity| q.mantissa.checked_mul(10i128.checked_pow((q.exp - exp) as u32)?);
        Some((scale(self)?, scale(other)?, exp))
    }

    /// The exact sum; `None` on overflow.
    pub fn checked_add(&self, other: &Quantity) -> Option<Quantity> {
        let (a, b, exp) = self.aligned(other)?;
        Some(Quantity {
            mantissa: a.checked_add(b)?,
            exp,
        }
        .normalized())
    }

    /// The negated value.
    pub fn negated(&self) -> Quantity {
        Quantity {
            mantissa: -self.mantissa,
            exp: self.exp,
        }
    }

    /// Below zero.
    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Quantity) -> Ordering {
        match self.aligned(other) {
            Some((a, b, _)) => a.cmp(&b),
            None => self.to_f64().total_cmp(&other.to_f64()),
        }
    }
}

impl std::str::FromStr for Quantity {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s).ok_or(FORMAT_MESSAGE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    #[test]
    fn parses_suffixes_exactly() {
        assert_eq!(q("1Ki").integer(), Some(1024));
        assert_eq!(q("1.5Gi").integer(), Some(1610612736));
        assert_eq!(q("2e3").integer(), Some(2000));
        assert_eq!(q("100m"), Quantity::from_milli(100));
        assert_eq!(q("0.1"), q("100m"));
        assert!(q("1") > q("999m"));
        assert_eq!(q("-1").integer(), Some(-1));
        for bad in ["", "1x", "1.2.3", "Gi", "1 Gi"] {
            assert!(Quantity::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn values_round_up_as_upstream() {
        assert_eq!(q("100m").milli_value(), 100);
        assert_eq!(q("1.5").milli_value(), 1500);
        assert_eq!(q("0.5").value(), 1);
        assert_eq!(q("1n").milli_value(), 1);
        assert_eq!(q("64Mi").value(), 67108864);
        assert_eq!(q("-1.5").value(), -1);
        assert_eq!(q("1E").milli_value(), i64::MAX);
    }

    #[test]
    fn sums_are_exact() {
        let sum = q("100m").checked_add(&q("0.2")).unwrap();
        assert_eq!(sum, q("300m"));
        assert_eq!(sum.checked_add(&sum.negated()), Some(Quantity::ZERO));
    }
}
