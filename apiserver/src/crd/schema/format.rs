//! The string formats CRD schemas may name, checked where cheap; formats not checked here (and
//! numeric formats such as int32/int64, which upstream does not enforce either) always pass.

use base64::Engine;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `s` is a valid value of the named format.
pub fn conforms(format: &str, s: &str) -> bool {
    match format {
        "date-time" | "datetime" => date_time(s),
        "date" => jiff::civil::Date::strptime("%Y-%m-%d", s).is_ok(),
        "byte" => base64::engine::general_purpose::STANDARD.decode(s).is_ok(),
        "uuid" | "uuid3" | "uuid4" | "uuid5" => uuid(s, format),
        "ipv4" => s.parse::<Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<Ipv6Addr>().is_ok(),
        "cidr" => cidr(s),
        "mac" => mac(s),
        "hostname" => hostname(s),
        _ => true,
    }
}

/// RFC 3339 with or without fractional seconds, as strfmt's date-time.
fn date_time(s: &str) -> bool {
    s.parse::<jiff::Timestamp>().is_ok()
}

fn uuid(s: &str, format: &str) -> bool {
    let hex = |part: &str, len: usize| part.len() == len && part.chars().all(|c| c.is_ascii_hexdigit());
    let parts: Vec<&str> = s.split('-').collect();
    let shaped = parts.len() == 5 && [8, 4, 4, 4, 12].iter().zip(&parts).all(|(len, part)| hex(part, *len));
    let version = match format {
        "uuid3" => Some('3'),
        "uuid4" => Some('4'),
        "uuid5" => Some('5'),
        _ => None,
    };
    shaped && version.is_none_or(|v| parts[2].starts_with(v))
}

fn cidr(s: &str) -> bool {
    let Some((addr, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => bits <= 32,
        Ok(IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

fn mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    matches!(parts.len(), 6 | 8 | 20)
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cheap_formats_are_checked() {
        assert!(conforms("date-time", "2024-05-06T07:08:09.123Z"));
        assert!(!conforms("date-time", "2024-05-06"));
        assert!(conforms("date", "2024-05-06"));
        assert!(!conforms("date", "06/05/2024"));
        assert!(conforms("byte", "aGVsbG8="));
        assert!(!conforms("byte", "not base64!"));
        assert!(conforms("uuid", "123e4567-e89b-12d3-a456-426614174000"));
        assert!(!conforms("uuid4", "123e4567-e89b-12d3-a456-426614174000"));
        assert!(conforms("ipv4", "10.0.0.1") && !conforms("ipv4", "::1"));
        assert!(conforms("ipv6", "::1"));
        assert!(conforms("cidr", "10.0.0.0/8") && !conforms("cidr", "10.0.0.0/33"));
        assert!(conforms("mac", "00:1a:2b:3c:4d:5e") && !conforms("mac", "00:1a"));
        assert!(conforms("hostname", "example.com") && !conforms("hostname", "-bad.com"));
        assert!(conforms("int32", "anything"));
    }
}
