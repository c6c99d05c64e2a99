//! Kubernetes' format library: `format.named(name)` and `format.<name>()` give a format whose
//! `validate(s)` is `optional.none()` for a valid string, or the list of upstream's messages.

use super::{opaque, opaque_type, opaque_val, take, text, Args, Ret};
use cel::common::types::{CelList, CelOptional, CelString, Type, STRING_TYPE};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env};
use regex::Regex;
use std::sync::LazyLock;

static FORMAT_TYPE: LazyLock<Type> = LazyLock::new(format_t);

fn format_t() -> Type {
    opaque_type("kubernetes.NamedFormat")
}

#[derive(Clone, Debug, PartialEq)]
pub struct Format(&'static str);
opaque_val!(Format, *FORMAT_TYPE);

const LABEL: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const SUBDOMAIN: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

/// The formats by name; each validates to upstream's messages.
const NAMES: [&str; 13] = [
    "dns1123Label",
    "dns1123Subdomain",
    "dns1035Label",
    "qualifiedName",
    "dns1123LabelPrefix",
    "dns1123SubdomainPrefix",
    "dns1035LabelPrefix",
    "labelValue",
    "uri",
    "uuid",
    "byte",
    "date",
    "datetime",
];

const UUID: &str = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

/// The patterns above, each anchored to the whole string, compiled once.
static WHOLE: LazyLock<Vec<(&str, Option<Regex>)>> = LazyLock::new(|| {
    [LABEL, SUBDOMAIN, DNS1035, QUALIFIED, LABEL_VALUE, UUID]
        .into_iter()
        .map(|p| (p, Regex::new(&format!("^(?:{p})$")).ok()))
        .collect()
});

/// Whether all of `s` matches `pattern` (one of the patterns above).
fn whole(pattern: &str, s: &str) -> bool {
    WHOLE
        .iter()
        .find(|(p, _)| *p == pattern)
        .and_then(|(_, re)| re.as_ref())
        .is_some_and(|re| re.is_match(s))
}

fn length(max: usize, s: &str) -> Option<String> {
    (s.len() > max).then(|| format!("must be no more than {max} characters"))
}

fn regex_error(what: &str, rule: &str, examples: &str, pattern: &str) -> String {
    format!("{what} must consist of {rule} (e.g. {examples}, regex used for validation is '{pattern}')")
}

/// The messages of an invalid `s` in format `name`.
fn check(name: &str, s: &str) -> Vec<String> {
    let prefix = name.ends_with("Prefix");
    let s = if prefix { s.strip_suffix('-').unwrap_or(s) } else { s };
    let mut errors = Vec::new();
    let mut matches = |max: usize, pattern: &str, message: &dyn Fn() -> String| {
        errors.extend(length(max, s));
        if !whole(pattern, s) {
            errors.push(message());
        }
    };
    match name.trim_end_matches("Prefix") {
        "dns1123Label" => matches(63, LABEL, &|| {
            regex_error(
                "a lowercase RFC 1123 label",
                "lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                "'my-name',  or '123-abc'",
                LABEL,
            )
        }),
        "dns1123Subdomain" => {
            matches(253, SUBDOMAIN, &|| {
                regex_error("a lowercase RFC 1123 subdomain", "lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", "'example.com'", SUBDOMAIN)
            })
        }
        "dns1035Label" => matches(63, DNS1035, &|| {
            regex_error("a DNS-1035 label", "lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character", "'my-name',  or 'abc-123'", DNS1035)
        }),
        "qualifiedName" => matches(63, QUALIFIED, &|| {
            regex_error(
                "name part",
                "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                "'MyName',  or 'my.name',  or '123-abc'",
                QUALIFIED,
            )
        }),
        "labelValue" => matches(63, LABEL_VALUE, &|| {
            regex_error(
                "a valid label",
                "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                "'MyValue',  or 'my_value',  or '12345'",
                LABEL_VALUE,
            )
        }),
        "uri" => {
            if super::url::Url::parse(s).is_none() {
                errors.push("must be a valid URI".into());
            }
        }
        "uuid" => matches(36, UUID, &|| "does not match the UUID format".into()),
        "byte" => {
            use base64::Engine;
            if base64::engine::general_purpose::STANDARD.decode(s).is_err() {
                errors.push("invalid base64".into());
            }
        }
        "date" => {
            if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err() {
                errors.push("invalid date".into());
            }
        }
        _ => {
            if chrono::DateTime::parse_from_rfc3339(s).is_err() {
                errors.push("invalid datetime".into());
            }
        }
    }
    errors
}

pub fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_overload("format.named", "format_named", vec![STRING_TYPE], named)?;
    env.add_member_overload("validate", "format_validate", format_t(), vec![STRING_TYPE], validate)?;
    env.add_overload("format.dns1123Label", "format_dns1123_label", vec![], |_| fixed(0))?;
    env.add_overload("format.dns1123Subdomain", "format_dns1123_subdomain", vec![], |_| {
        fixed(1)
    })?;
    env.add_overload("format.dns1035Label", "format_dns1035_label", vec![], |_| fixed(2))?;
    env.add_overload("format.qualifiedName", "format_qualified_name", vec![], |_| fixed(3))?;
    env.add_overload(
        "format.dns1123LabelPrefix",
        "format_dns1123_label_prefix",
        vec![],
        |_| fixed(4),
    )?;
    env.add_overload(
        "format.dns1123SubdomainPrefix",
        "format_dns1123_subdomain_prefix",
        vec![],
        |_| fixed(5),
    )?;
    env.add_overload(
        "format.dns1035LabelPrefix",
        "format_dns1035_label_prefix",
        vec![],
        |_| fixed(6),
    )?;
    env.add_overload("format.labelValue", "format_label_value", vec![], |_| fixed(7))?;
    env.add_overload("format.uri", "format_uri", vec![], |_| fixed(8))?;
    env.add_overload("format.uuid", "format_uuid", vec![], |_| fixed(9))?;
    env.add_overload("format.byte", "format_byte", vec![], |_| fixed(10))?;
    env.add_overload("format.date", "format_date", vec![], |_| fixed(11))?;
    env.add_overload("format.datetime", "format_datetime", vec![], |_| fixed(12))?;
    Ok(())
}

fn fixed<'b, 'v>(i: usize) -> Ret<'b, 'v> {
    Ok(CowVal::owned(Format(NAMES[i])))
}

fn named<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [s] = take(args)?;
    let s = text(s.as_ref())?;
    let found = NAMES
        .iter()
        .find(|n| **n == s)
        .map(|n| Box::new(Format(n)) as Box<dyn Val + 'v>);
    Ok(CowVal::owned(CelOptional::from(found)))
}

fn validate<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let [f, s] = take(args)?;
    let f = opaque::<Format>(f.as_ref())?;
    let errors = check(f.0, text(s.as_ref())?);
    if errors.is_empty() {
        return Ok(CowVal::owned(CelOptional::none()));
    }
    let list: Vec<Box<dyn Val + 'v>> = errors
        .into_iter()
        .map(|e| Box::new(CelString::from(e)) as Box<dyn Val + 'v>)
        .collect();
    let list: Box<dyn Val + 'v> = Box::new(CelList::from(list));
    Ok(CowVal::owned(CelOptional::of(list)))
}

#[cfg(test)]
mod tests {
    use super::super::tests::all_true;

    #[test]
    fn named_formats_validate() {
        all_true(&[
            "!format.dns1123Label().validate('my-name').hasValue()",
            "format.dns1123Label().validate('My_Name').hasValue()",
            "format.named('dns1123Subdomain').value().validate('a.b.c') == optional.none()",
            "!format.named('nope').hasValue()",
            "!format.uuid().validate('123e4567-e89b-12d3-a456-426614174000').hasValue()",
            "!format.dns1123LabelPrefix().validate('abc-').hasValue()",
        ]);
        assert_eq!(
            super::check("dns1123Label", &"a".repeat(64)),
            ["must be no more than 63 characters"]
        );
    }
}
