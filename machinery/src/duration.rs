//! Go's time.Duration text (`1h30m`, `250ms`, `-1.5s`), as upstream's APIs and annotations use it.

/// Nanoseconds of a Go duration string; `None` when malformed (Go's time.ParseDuration).
pub fn parse_nanos(s: &str) -> Option<i64> {
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        nanos += number * scale;
    }
    let nanos = if negative { -nanos } else { nanos };
    Some(nanos as i64)
}

/// A non-negative Go duration as a std Duration.
pub fn parse(s: &str) -> Option<std::time::Duration> {
    let nanos = parse_nanos(s)?;
    u64::try_from(nanos).ok().map(std::time::Duration::from_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_nanos("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_nanos("250ms"), Some(250_000_000));
        assert_eq!(parse_nanos("-1.5s"), Some(-1_500_000_000));
        assert_eq!(parse_nanos("0"), Some(0));
        assert_eq!(parse("2s"), Some(std::time::Duration::from_secs(2)));
        assert_eq!(parse("-2s"), None);
        for bad in ["", "1", "1x", "h", "1h-2m"] {
            assert_eq!(parse_nanos(bad), None, "{bad}");
        }
    }
}
