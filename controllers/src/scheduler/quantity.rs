//! Resource quantities as the scheduler reads them (apimachinery's `Quantity.Value()` and
//! `MilliValue()`): decimal and binary SI suffixes and exponents, rounded up, saturating.
//! Hand-written because no maintained crate parses Kubernetes quantities; it is small.

/// The quantity's value in units, rounded up (`1500m` → 2, `1Ki` → 1024). Unparseable → 0.
pub fn value(text: &str) -> i64 {
    scaled(text, 0).unwrap_or(0)
}

/// The quantity's value in thousandths, rounded up (`1` → 1000, `100m` → 100). Unparseable → 0.
pub fn milli_value(text: &str) -> i64 {
    scaled(text, 3).unwrap_or(0)
}

/// Parse `text` and return `value * 10^extra10`, rounded away from zero toward +∞.
fn scaled(text: &str, extra10: i32) -> Option<i64> {
    let text = text.trim();
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    if number.is_empty() || number == "." {
        return None;
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.contains('.') {
        return None;
    }
    let mut mantissa: u128 = 0;
    for digit in whole.bytes().chain(fraction.bytes()) {
        mantissa = mantissa.checked_mul(10)?.checked_add(u128::from(digit - b'0'))?;
        if mantissa > u128::MAX / 1024 {
            return Some(if negative { i64::MIN } else { i64::MAX });
        }
    }
    let (exp10, exp2) = suffix_exponents(suffix)?;
    let exp10 = exp10 + extra10 - fraction.len() as i32;
    let mut value = mantissa;
    for _ in 0..exp2 {
        value = value.saturating_mul(2);
    }
    let value = if exp10 >= 0 {
        let mut v = value;
        for _ in 0..exp10 {
            v = v.saturating_mul(10);
        }
        v
    } else {
        let divisor = 10u128.checked_pow(exp10.unsigned_abs()).unwrap_or(u128::MAX);
        // Rounded up for positive values (and toward zero for negative, as upstream's ceil).
        if negative {
            value / divisor
        } else {
            value.div_ceil(divisor)
        }
    };
    let clamped = i64::try_from(value).unwrap_or(i64::MAX);
    Some(if negative { -clamped } else { clamped })
}

/// (power of ten, power of two) of a suffix.
fn suffix_exponents(suffix: &str) -> Option<(i32, u32)> {
    Some(match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        other => {
            let exponent = other.strip_prefix('e').or_else(|| other.strip_prefix('E'))?;
            (exponent.parse::<i32>().ok().filter(|e| e.abs() <= 40)?, 0)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_binary_suffixes() {
        assert_eq!(milli_value("1"), 1000);
        assert_eq!(milli_value("100m"), 100);
        assert_eq!(milli_value("1.5"), 1500);
        assert_eq!(milli_value("0.1"), 100);
        assert_eq!(value("1Ki"), 1024);
        assert_eq!(value("128Mi"), 128 * 1024 * 1024);
        assert_eq!(value("1G"), 1_000_000_000);
        assert_eq!(value("2e3"), 2000);
        assert_eq!(value("110"), 110);
    }

    #[test]
    fn rounds_up_and_saturates() {
        assert_eq!(value("1500m"), 2);
        assert_eq!(value("1m"), 1);
        assert_eq!(milli_value("1n"), 1);
        assert_eq!(value("99999999999999999999999E"), i64::MAX);
        assert_eq!(value("-1"), -1);
    }

    #[test]
    fn garbage_is_zero() {
        assert_eq!(value(""), 0);
        assert_eq!(value("abc"), 0);
        assert_eq!(value("1.2.3"), 0);
        assert_eq!(value("1Qi"), 0);
    }
}
