//! Shared validators with upstream's exact messages: names, labels, annotations, selectors,
//! quantities, ports and immutability. Per-kind modules compose these.

use super::value::{entries, str_of};
use crate::registry::FieldError;
use serde_json::{json, Value};
use skiff_machinery::quantity::{Quantity, FORMAT_MESSAGE};

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_MSG: &str =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const CONFIG_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
/// Upstream's TotalAnnotationSizeLimitB.
pub const TOTAL_ANNOTATION_SIZE: usize = 256 * 1024;

/// upstream's validation.RegexError.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let examples = examples
        .iter()
        .map(|e| format!("'{e}', "))
        .collect::<Vec<_>>()
        .join(" or ");
    format!("{msg} (e.g. {examples}regex used for validation is '{fmt}')")
}

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Matches `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
fn matches_dns_label(s: &str) -> bool {
    let first = s.chars().next();
    let last = s.chars().last();
    matches!((first, last), (Some(f), Some(l)) if is_lower_alnum(f) && is_lower_alnum(l))
        && s.chars().all(|c| is_lower_alnum(c) || c == '-')
}

/// Matches `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn matches_qualified_name_part(s: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    alnum(s.chars().next())
        && alnum(s.chars().last())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// IsDNS1123Label.
pub fn dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !matches_dns_label(s) {
        errs.push(regex_error(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
            DNS1123_LABEL_FMT,
            &["my-name", "123-abc"],
        ));
    }
    errs
}

/// IsDNS1123Subdomain.
pub fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len_error(253));
    }
    if s.is_empty() || !s.split('.').all(matches_dns_label) {
        errs.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// IsDNS1035Label (service names).
pub fn dns1035_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !(matches_dns_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())) {
        errs.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// IsValidPathSegmentName (RBAC and flow-control names).
pub fn path_segment_name(s: &str) -> Vec<String> {
    if s == "." || s == ".." {
        return vec![format!("may not be '{s}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|bad| s.contains(*bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// IsQualifiedName (label keys, annotation keys, finalizers).
pub fn qualified_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_MSG,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            )]
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63)));
    }
    if !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// IsValidLabelValue.
pub fn label_value(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !s.is_empty() && !matches_qualified_name_part(s) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// IsConfigMapKey (ConfigMap and Secret data keys).
pub fn config_map_key(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len_error(253));
    }
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        errs.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            CONFIG_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    if s == "." {
        errs.push("must not be '.'".to_string());
    } else if s == ".." {
        errs.push("must not be '..'".to_string());
    } else if s.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

/// IsValidPortNum.
pub fn port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_string()]
    }
}

/// IsValidPortName (IANA_SVC_NAME).
pub fn port_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 15 {
        errs.push(max_len_error(15));
    }
    if !s.chars().all(|c| is_lower_alnum(c) || c == '-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if s.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if !s.chars().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if s.starts_with('-') || s.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

/// One `Invalid` error per message, all at `field` with `value`.
pub fn invalid_each(field: &str, value: &str, msgs: Vec<String>) -> Vec<FieldError> {
    msgs.into_iter()
        .map(|m| FieldError::invalid(field, json!(value), m))
        .collect()
}

/// ValidateLabels: keys are qualified names, values label values; errors sit at `path`.
pub fn labels(obj: &Value, key: &str, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in entries(obj, key) {
        errs.extend(invalid_each(path, k, qualified_name(k)));
        match v.as_str() {
            Some(v) => errs.extend(invalid_each(path, v, label_value(v))),
            None => errs.push(FieldError::invalid(path, v.clone(), "must be a string")),
        }
    }
    errs
}

/// ValidateAnnotations: keys are (lower-cased) qualified names; total size at most 256 KiB.
pub fn annotations(meta: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut total = 0;
    for (k, v) in entries(meta, "annotations") {
        errs.extend(invalid_each(path, k, qualified_name(&k.to_lowercase())));
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > TOTAL_ANNOTATION_SIZE {
        errs.push(too_long(path, TOTAL_ANNOTATION_SIZE));
    }
    errs
}

/// field.TooLong with upstream's byte-limit detail.
pub fn too_long(path: &str, max: usize) -> FieldError {
    FieldError::new(
        crate::registry::FieldErrorKind::TooLong,
        path,
        None,
        format!("may not be more than {max} bytes"),
    )
}

/// ValidateLabelSelector for a metav1.LabelSelector at `path`.
pub fn label_selector(selector: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = labels(selector, "matchLabels", &format!("{path}.matchLabels"));
    for (i, req) in super::value::items(selector, "matchExpressions").iter().enumerate() {
        let p = format!("{path}.matchExpressions[{i}]");
        let values = super::value::items(req, "values");
        match str_of(req, "operator") {
            "In" | "NotIn" if values.is_empty() => errs.push(FieldError::required(
                format!("{p}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
                format!("{p}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errs.push(FieldError::invalid(
                format!("{p}.operator"),
                json!(other),
                "not a valid selector operator",
            )),
        }
        let key = str_of(req, "key");
        errs.extend(invalid_each(&format!("{p}.key"), key, qualified_name(key)));
    }
    errs
}

/// Whether a metav1.LabelSelector selects the given labels (a map value).
pub fn selector_matches(selector: &Value, labels: &Value) -> bool {
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    let labels_ok = entries(selector, "matchLabels")
        .into_iter()
        .all(|(k, v)| label(k) == v.as_str());
    labels_ok
        && super::value::items(selector, "matchExpressions").iter().all(|req| {
            let have = label(str_of(req, "key"));
            let values: Vec<&str> = super::value::items(req, "values")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            match str_of(req, "operator") {
                "In" => have.is_some_and(|h| values.contains(&h)),
                "NotIn" => !have.is_some_and(|h| values.contains(&h)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            }
        })
}

/// Whether a label selector selects nothing-in-particular (no labels and no expressions).
pub fn selector_is_empty(selector: &Value) -> bool {
    super::value::is_empty(selector, "matchLabels") && super::value::is_empty(selector, "matchExpressions")
}

/// ValidateNonnegativeField for an optional integer `obj[key]`.
pub fn non_negative(obj: &Value, key: &str, path: &str) -> Option<FieldError> {
    let n = obj.get(key)?.as_i64()?;
    (n < 0).then(|| FieldError::invalid(path, json!(n), "must be greater than or equal to 0"))
}

/// A positive integer `obj[key]` (upstream's "must be greater than 0").
pub fn positive(obj: &Value, key: &str, path: &str) -> Option<FieldError> {
    let n = obj.get(key)?.as_i64()?;
    (n <= 0).then(|| FieldError::invalid(path, json!(n), "must be greater than 0"))
}

/// ValidateImmutableField: `path: Invalid value: <new>: field is immutable` when the values differ
/// (absent and null count as equal).
pub fn immutable(new: Option<&Value>, old: Option<&Value>, path: &str) -> Option<FieldError> {
    let norm = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned();
    let (new, old) = (norm(new), norm(old));
    (new != old).then(|| FieldError::invalid(path, new.unwrap_or(Value::Null), "field is immutable"))
}

/// The numeric value of a resource.Quantity string, or `None` when it does not parse.
pub fn quantity(s: &str) -> Option<f64> {
    Quantity::parse(s.trim()).map(|q| q.to_f64())
}

/// Validates each quantity of a resource list (requests, limits, hard, capacity) at `path[name]`.
pub fn resource_list(obj: &Value, key: &str, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (name, q) in entries(obj, key) {
        let p = format!("{path}[{name}]");
        let parsed = match q {
            Value::String(s) => quantity(s),
            Value::Number(n) => n.as_f64(),
            _ => None,
        };
        match parsed {
            None => errs.push(FieldError::invalid(p, q.clone(), FORMAT_MESSAGE)),
            Some(v) if v < 0.0 => errs.push(FieldError::invalid(p, q.clone(), "must be greater than or equal to 0")),
            Some(_) => {}
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomain_message_is_upstreams() {
        let errs = invalid_each("metadata.name", "Foo", dns1123_subdomain("Foo"));
        assert_eq!(
            errs[0].to_string(),
            "metadata.name: Invalid value: \"Foo\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        );
        assert!(dns1123_subdomain("a.b-c.d").is_empty());
        assert_eq!(
            dns1123_subdomain(&"a".repeat(254)),
            vec!["must be no more than 253 characters"]
        );
    }

    #[test]
    fn label_and_1035_messages() {
        assert_eq!(
            dns1123_label("a_b"),
            vec!["a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
        );
        assert_eq!(
            dns1035_label("1abc"),
            vec!["a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]
        );
        assert!(dns1035_label("abc-1").is_empty());
    }

    #[test]
    fn qualified_names() {
        assert!(qualified_name("app.kubernetes.io/name").is_empty());
        assert_eq!(qualified_name("/x"), vec!["prefix part must be non-empty"]);
        assert_eq!(
            qualified_name("a/"),
            vec![
                "name part must be non-empty".to_string(),
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".to_string()
            ]
        );
        assert!(qualified_name("a/b/c")[0].starts_with("a qualified name must consist"));
    }

    #[test]
    fn label_map_errors() {
        let meta = json!({"labels": {"ok": "-bad"}});
        let errs = labels(&meta, "labels", "metadata.labels");
        assert_eq!(errs.len(), 1);
        assert!(errs[0]
            .to_string()
            .starts_with("metadata.labels: Invalid value: \"-bad\": a valid label must be an empty string"));
    }

    #[test]
    fn annotation_size_limit() {
        let meta = json!({"annotations": {"a": "x".repeat(TOTAL_ANNOTATION_SIZE)}});
        let errs = annotations(&meta, "metadata.annotations");
        assert_eq!(
            errs[0].to_string(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
    }

    #[test]
    fn selectors() {
        let sel = json!({"matchLabels": {"app": "a"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]});
        assert!(selector_matches(&sel, &json!({"app": "a", "tier": "web"})));
        assert!(!selector_matches(&sel, &json!({"app": "a"})));
        let bad = json!({"matchExpressions": [{"key": "k", "operator": "In"}]});
        assert_eq!(
            label_selector(&bad, "spec.selector")[0].to_string(),
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        );
    }

    #[test]
    fn quantities_and_ports() {
        assert_eq!(quantity("100m"), Some(0.1));
        assert_eq!(quantity("1Gi"), Some(1073741824.0));
        assert_eq!(quantity("1e3"), Some(1000.0));
        assert_eq!(quantity("abc"), None);
        assert_eq!(port_num(0), vec!["must be between 1 and 65535, inclusive"]);
        assert!(port_name("http").is_empty());
        assert_eq!(port_name("a--b"), vec!["must not contain consecutive hyphens"]);
        assert_eq!(config_map_key("a b").len(), 1);
        assert_eq!(path_segment_name("a/b"), vec!["may not contain '/'"]);
    }

    #[test]
    fn immutability() {
        assert!(immutable(Some(&json!(1)), Some(&json!(1)), "spec.x").is_none());
        assert_eq!(
            immutable(Some(&json!("b")), Some(&json!("a")), "spec.x")
                .unwrap()
                .to_string(),
            "spec.x: Invalid value: \"b\": field is immutable"
        );
    }
}
