//! Kubernetes' format library: `format.named(name)` and `format.<name>()` give a format whose
//! `validate(s)` is `optional.none()` for a valid string, or the list of upstream's messages.

use super::{opaque, opaque_type, opaque_val, take, text, Args, Ret};
use crate::registry::kinds::validation;
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

static UUID: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$").ok());

/// The messages of an invalid `s` in format `name`: the name formats are apimachinery's
/// validators (shared with built-in validation); a `…Prefix` format ignores one trailing `-`.
fn check(name: &str, s: &str) -> Vec<String> {
    let base = name.strip_suffix("Prefix");
    let s = if base.is_some() {
        s.strip_suffix('-').unwrap_or(s)
    } else {
        s
    };
    let failed = |bad: bool, message: &str| if bad { vec![message.to_string()] } else { Vec::new() };
    match base.unwrap_or(name) {
        "dns1123Label" => validation::dns1123_label(s),
        "dns1123Subdomain" => validation::dns1123_subdomain(s),
        "dns1035Label" => validation::dns1035_label(s),
        "qualifiedName" => validation::qualified_name(s),
        "labelValue" => validation::label_value(s),
        "uri" => failed(super::url::Url::parse(s).is_none(), "must be a valid URI"),
        "uuid" => failed(
            !UUID.as_ref().is_some_and(|re| re.is_match(s)),
            "does not match the UUID format",
        ),
        "byte" => {
            use base64::Engine;
            failed(
                base64::engine::general_purpose::STANDARD.decode(s).is_err(),
                "invalid base64",
            )
        }
        "date" => failed(
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err(),
            "invalid date",
        ),
        _ => failed(chrono::DateTime::parse_from_rfc3339(s).is_err(), "invalid datetime"),
    }
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
            "!format.qualifiedName().validate('example.com/name').hasValue()",
            "!format.labelValue().validate('').hasValue()",
        ]);
        assert_eq!(
            super::check("dns1123Label", &"a".repeat(64)),
            ["must be no more than 63 characters"]
        );
    }
}
