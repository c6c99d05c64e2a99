//! resource.Quantity: `1.5Gi`, `100m`, `2e3`, kept as an exact decimal (mantissa × 10^exponent)
//! so that sums and comparisons are exact, with upstream's rounding for `value` and `milli_value`.

use std::cmp::Ordering;

/// `mantissa × 10^exp`, normalized (no trailing zeros in the mantissa), and the suffix family it
/// was written in, which its canonical string keeps (upstream's Format).
#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    mantissa: i128,
    exp: i32,
    format: Format,
}

/// How a quantity prints: `1Ki` (BinarySI), `1k` (DecimalSI) or `1e3` (DecimalExponent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    BinarySI,
    #[default]
    DecimalSI,
    DecimalExponent,
}

/// The message upstream's quantity parser gives for a malformed quantity.
pub const FORMAT_MESSAGE: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

impl Quantity {
    /// Zero.
    pub const ZERO: Quantity = Quantity {
        mantissa: 0,
        exp: 0,
        format: Format::DecimalSI,
    };

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
        let format = match suffix.as_bytes().first() {
            _ if suffix.ends_with('i') => Format::BinarySI,
            Some(b'e' | b'E') => Format::DecimalExponent,
            _ => Format::DecimalSI,
        };
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
        Some(Quantity { mantissa, exp, format }.normalized())
    }

    /// The same value printed in `format`.
    pub fn with_format(self, format: Format) -> Quantity {
        Quantity { format, ..self }
    }

    /// A whole number.
    pub fn from_integer(n: i64) -> Quantity {
        Quantity {
            mantissa: i128::from(n),
            exp: 0,
            format: Format::DecimalSI,
        }
        .normalized()
    }

    /// `n / 1000` (a milli-quantity such as `250m` of cpu).
    pub fn from_milli(n: i64) -> Quantity {
        Quantity {
            mantissa: i128::from(n),
            exp: -3,
            format: Format::DecimalSI,
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

    /// The exact sum, in this quantity's format (the other's when this is zero, as upstream's
    /// Add); `None` on overflow.
    pub fn checked_add(&self, other: &Quantity) -> Option<Quantity> {
        let (a, b, exp) = self.aligned(other)?;
        let format = if self.mantissa == 0 { other.format } else { self.format };
        Some(
            Quantity {
                mantissa: a.checked_add(b)?,
                exp,
                format,
            }
            .normalized(),
        )
    }

    /// The exact difference `self - other`; `None` on overflow.
    pub fn checked_sub(&self, other: &Quantity) -> Option<Quantity> {
        self.checked_add(&other.negated()).map(|q| q.with_format(self.format))
    }

    /// The negated value.
    pub fn negated(&self) -> Quantity {
        Quantity {
            mantissa: -self.mantissa,
            ..*self
        }
    }

    /// Zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// The mantissa at exponent `exp` (≤ self.exp), when it fits.
    fn mantissa_at(&self, exp: i32) -> Option<i128> {
        self.mantissa.checked_mul(10i128.checked_pow((self.exp - exp) as u32)?)
    }

    /// DecimalSI / DecimalExponent: the exponent lowered to a multiple of 3 within [-9, 18]
    /// (finer values round up to nanos, as upstream's).
    fn decimal_string(&self, exponent_form: bool) -> String {
        if self.exp < -9 {
            let nanos = Quantity {
                mantissa: i128::from(self.scaled(-9)),
                exp: -9,
                format: self.format,
            };
            return nanos.normalized().decimal_string(exponent_form);
        }
        let exp = (self.exp - self.exp.rem_euclid(3)).min(18);
        let mantissa = self.mantissa_at(exp).unwrap_or(self.mantissa);
        if exponent_form {
            return if exp == 0 {
                mantissa.to_string()
            } else {
                format!("{mantissa}e{exp}")
            };
        }
        let suffix = match exp {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            0 => "",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            _ => "E",
        };
        format!("{mantissa}{suffix}")
    }

    /// BinarySI: whole numbers of at least 1024 in the largest power of 1024 dividing them;
    /// anything else prints as DecimalSI.
    fn binary_string(&self) -> Option<String> {
        let value = self.mantissa_at(0).filter(|_| self.exp >= 0)?;
        if value.abs() < 1024 {
            return None;
        }
        let mut scaled = value;
        let mut power = 0;
        while power < 6 && scaled % 1024 == 0 {
            scaled /= 1024;
            power += 1;
        }
        let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
        Some(format!("{scaled}{suffix}"))
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

/// Upstream's canonical String(): `500m`, `2k`, `1536Mi`, `1e3`.
impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.mantissa == 0 {
            return f.write_str("0");
        }
        let text = match self.format {
            Format::BinarySI => self.binary_string().unwrap_or_else(|| self.decimal_string(false)),
            Format::DecimalSI => self.decimal_string(false),
            Format::DecimalExponent => self.decimal_string(true),
        };
        f.write_str(&text)
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
    fn prints_canonically_as_upstream() {
        let cases = [
            ("500m", "500m"),
            ("0.5", "500m"),
            ("2000", "2k"),
            ("1500", "1500"),
            ("1.5k", "1500"),
            ("1Gi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("1000Ki", "1000Ki"),
            ("1024Ki", "1Mi"),
            ("512", "512"),
            ("0.5Ki", "512"),
            ("1e3", "1e3"),
            ("0", "0"),
            ("100n", "100n"),
            ("1.5n", "2n"),
            ("-2Gi", "-2Gi"),
        ];
        for (input, printed) in cases {
            assert_eq!(q(input).to_string(), printed, "{input}");
        }
        assert_eq!(q("1Gi").checked_add(&q("1Gi")).unwrap().to_string(), "2Gi");
        assert_eq!(Quantity::ZERO.checked_add(&q("1Gi")).unwrap().to_string(), "1Gi");
        assert_eq!(q("1").checked_add(&q("500m")).unwrap().to_string(), "1500m");
        assert_eq!(q("2").checked_sub(&q("500m")).unwrap().to_string(), "1500m");
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
