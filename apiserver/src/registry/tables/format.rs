//! Helpers shared by the column cells: reading fields of a JSON object, upstream's human
//! durations, label and selector formatting, and the common Name and Age columns.

use super::Column;
use serde_json::{Map, Value};
use std::fmt::Display;

/// Upstream's description of the Name column (ObjectMeta.name's field doc).
pub const NAME_DOC: &str = "Name must be unique within a namespace. Is required when creating \
resources, although some resources may allow a client to request the generation of an appropriate \
name automatically. Name is primarily intended for creation idempotence and configuration \
definition. Cannot be updated. More info: \
https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

/// Upstream's description of the Age column (ObjectMeta.creationTimestamp's field doc).
pub const AGE_DOC: &str = "CreationTimestamp is a timestamp representing the server time when \
this object was created. It is not guaranteed to be set in happens-before order across separate \
operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\n\
Populated by the system. Read-only. Null for lists. More info: \
https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// A column shown by default (priority 0).
pub const fn col(
    name: &'static str,
    type_: &'static str,
    description: &'static str,
    cell: fn(&Value) -> Value,
) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 0,
        cell,
    }
}

/// A column shown only with `-o wide` (priority 1).
pub const fn wide(
    name: &'static str,
    type_: &'static str,
    description: &'static str,
    cell: fn(&Value) -> Value,
) -> Column {
    Column {
        priority: 1,
        ..col(name, type_, description, cell)
    }
}

/// The Name column every printer starts with.
pub const NAME: Column = Column {
    format: "name",
    ..col("Name", "string", NAME_DOC, name)
};

/// The Age column: time since creation.
pub const AGE: Column = col("Age", "string", AGE_DOC, age);

/// The value at a path of object keys, if every step exists.
pub fn at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, key| v.get(key))
}

/// The value at a path, unless absent or null (a nil pointer in Go).
pub fn present<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    at(obj, path).filter(|v| !v.is_null())
}

/// The string at a path, or "" (Go's zero value) when absent.
pub fn s<'a>(obj: &'a Value, path: &[&str]) -> &'a str {
    at(obj, path).and_then(Value::as_str).unwrap_or("")
}

/// The integer at a path, or 0 when absent.
pub fn int(obj: &Value, path: &[&str]) -> i64 {
    at(obj, path).and_then(Value::as_i64).unwrap_or(0)
}

/// The boolean at a path, or false when absent.
pub fn flag(obj: &Value, path: &[&str]) -> bool {
    at(obj, path).and_then(Value::as_bool).unwrap_or(false)
}

/// The array at a path, or an empty slice.
pub fn list<'a>(obj: &'a Value, path: &[&str]) -> &'a [Value] {
    at(obj, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The object at a path, if present.
pub fn map<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    at(obj, path).and_then(Value::as_object)
}

/// Number of keys of the object at a path.
pub fn len_of(obj: &Value, path: &[&str]) -> usize {
    map(obj, path).map_or(0, Map::len)
}

/// A string cell.
pub fn text(value: impl Into<String>) -> Value {
    Value::String(value.into())
}

/// `value`, or `fallback` when it is empty.
pub fn or<'a>(value: &'a str, fallback: &'a str) -> &'a str {
    if value.is_empty() {
        fallback
    } else {
        value
    }
}

/// The object's name.
pub fn name(obj: &Value) -> Value {
    text(s(obj, &["metadata", "name"]))
}

/// Time since the object's creation, as upstream prints it.
pub fn age(obj: &Value) -> Value {
    text(since(at(obj, &["metadata", "creationTimestamp"])))
}

/// upstream's translateTimestampSince: the human duration from a timestamp to now, or
/// `<unknown>` when it is unset.
pub fn since(timestamp: Option<&Value>) -> String {
    match parse_time(timestamp) {
        Some(t) => human_duration(jiff::Timestamp::now().as_nanosecond() - t.as_nanosecond()),
        None => "<unknown>".into(),
    }
}

/// An RFC 3339 timestamp field, if set and valid.
pub fn parse_time(timestamp: Option<&Value>) -> Option<jiff::Timestamp> {
    timestamp?.as_str()?.parse().ok()
}

const SECOND: i128 = 1_000_000_000;

/// upstream's duration.HumanDuration: about 2-3 significant figures (`5s`, `3m2s`, `15m`,
/// `4h5m`, `20h`, `3d4h`, `45d`, `2y30d`, `9y`).
pub fn human_duration(nanos: i128) -> String {
    let seconds = nanos / SECOND;
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return with_remainder(minutes, "m", seconds % 60, "s");
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return with_remainder(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return with_remainder(days, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return with_remainder(years, "y", days % 365, "d");
    }
    format!("{years}y")
}

/// `{major}{unit}`, followed by `{minor}{minor_unit}` unless `minor` is zero (`3m2s`, `4h`).
fn with_remainder(major: i128, unit: &str, minor: i128, minor_unit: &str) -> String {
    match minor {
        0 => format!("{major}{unit}"),
        minor => format!("{major}{unit}{minor}{minor_unit}"),
    }
}

/// upstream's labels.FormatLabels: sorted `k=v,k2=v2`, or `<none>`.
pub fn format_labels(labels: Option<&Value>) -> String {
    let Some(labels) = labels.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return "<none>".into();
    };
    let mut pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// A label selector that upstream's LabelSelectorAsSelector rejects.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidSelector;

/// upstream's `LabelSelectorAsSelector(sel).String()`: requirements sorted by key
/// (`app=web,tier in (a,b),!legacy`); "" for a nil or empty selector.
pub fn selector_string(selector: Option<&Value>) -> Result<String, InvalidSelector> {
    let Some(selector) = selector.filter(|v| !v.is_null()) else {
        return Ok(String::new());
    };
    let mut requirements: Vec<(String, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in labels {
            requirements.push((key.clone(), format!("{key}={}", value.as_str().unwrap_or(""))));
        }
    }
    for expr in list(selector, &["matchExpressions"]) {
        let key = s(expr, &["key"]);
        let mut values: Vec<&str> = list(expr, &["values"]).iter().filter_map(Value::as_str).collect();
        values.sort_unstable();
        values.dedup();
        let text = match s(expr, &["operator"]) {
            "In" if !values.is_empty() => format!("{key} in ({})", values.join(",")),
            "NotIn" if !values.is_empty() => format!("{key} notin ({})", values.join(",")),
            "Exists" if values.is_empty() => key.to_string(),
            "DoesNotExist" if values.is_empty() => format!("!{key}"),
            _ => return Err(InvalidSelector),
        };
        requirements.push((key.to_string(), text));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(requirements
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(","))
}

/// upstream's metav1.FormatLabelSelector: the selector string, `<none>` when empty, `<error>`
/// when invalid.
pub fn format_label_selector(selector: Option<&Value>) -> String {
    match selector_string(selector) {
        Ok(text) if text.is_empty() => "<none>".into(),
        Ok(text) => text,
        Err(InvalidSelector) => "<error>".into(),
    }
}

/// upstream's layoutContainerCells: comma-joined container names and images.
pub fn container_cells(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| s(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| s(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

/// Up to `max` items joined by commas, then ` + N more...` (upstream's listWithMoreString;
/// `<unset>` when empty).
pub fn list_with_more(items: &[String], max: usize) -> String {
    let shown = items[..items.len().min(max)].join(",");
    if items.len() > max {
        format!("{shown} + {} more...", items.len() - max)
    } else if shown.is_empty() {
        "<unset>".into()
    } else {
        shown
    }
}

/// A pointer-to-bool field printed as upstream's printBoolPtr (`True`, `False`, `<unset>`).
pub fn bool_ptr(value: Option<&Value>) -> String {
    match value.and_then(Value::as_bool) {
        Some(true) => "True".into(),
        Some(false) => "False".into(),
        None => "<unset>".into(),
    }
}

/// A `first/second` cell (a reference's `kind/name`, a `ready/total` count).
pub fn pair(first: impl Display, second: impl Display) -> Value {
    text(format!("{first}/{second}"))
}

/// A Quantity or IntOrString field as printed (a string or number as given), `unset` otherwise.
pub fn scalar_or(value: Option<&Value>, unset: &str) -> String {
    match value {
        Some(Value::String(q)) => q.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => unset.into(),
    }
}

/// An integer cell.
pub fn number(value: i64) -> Value {
    Value::from(value)
}

/// The condition of `type_` in a `conditions` list.
pub fn condition<'a>(conditions: &'a [Value], type_: &str) -> Option<&'a Value> {
    conditions.iter().find(|c| s(c, &["type"]) == type_)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secs(n: i128) -> String {
        human_duration(n * SECOND)
    }

    #[test]
    fn human_duration_matches_upstream_thresholds() {
        assert_eq!(secs(-5), "<invalid>");
        assert_eq!(human_duration(-SECOND / 2), "0s");
        assert_eq!(secs(-1), "0s");
        assert_eq!(secs(0), "0s");
        assert_eq!(secs(5), "5s");
        assert_eq!(secs(119), "119s");
        assert_eq!(secs(120), "2m");
        assert_eq!(secs(182), "3m2s");
        assert_eq!(secs(599), "9m59s");
        assert_eq!(secs(600), "10m");
        assert_eq!(secs(179 * 60 + 59), "179m");
        assert_eq!(secs(3 * 3600), "3h");
        assert_eq!(secs(4 * 3600 + 5 * 60 + 7), "4h5m");
        assert_eq!(secs(8 * 3600), "8h");
        assert_eq!(secs(47 * 3600), "47h");
        assert_eq!(secs(48 * 3600), "2d");
        assert_eq!(secs(76 * 3600), "3d4h");
        assert_eq!(secs(8 * 24 * 3600), "8d");
        assert_eq!(secs(729 * 24 * 3600), "729d");
        assert_eq!(secs(760 * 24 * 3600), "2y30d");
        assert_eq!(secs(3 * 365 * 24 * 3600), "3y");
        assert_eq!(secs(9 * 365 * 24 * 3600 + 100 * 24 * 3600), "9y");
    }

    #[test]
    fn since_reads_rfc3339_and_reports_unknown() {
        let t = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(182);
        assert_eq!(since(Some(&json!(t.to_string()))), "3m2s");
        assert_eq!(since(None), "<unknown>");
        assert_eq!(since(Some(&json!("garbage"))), "<unknown>");
    }

    #[test]
    fn labels_and_selectors_format_like_upstream() {
        assert_eq!(format_labels(Some(&json!({"b": "2", "a": "1"}))), "a=1,b=2");
        assert_eq!(format_labels(Some(&json!({}))), "<none>");
        assert_eq!(format_labels(None), "<none>");
        let sel = json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["db", "cache"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "Exists"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]}
            ]
        });
        assert_eq!(
            format_label_selector(Some(&sel)),
            "app=web,env notin (dev),!legacy,tier in (cache,db),zone"
        );
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_label_selector(None), "<none>");
        let bad = json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]});
        assert_eq!(format_label_selector(Some(&bad)), "<error>");
    }

    #[test]
    fn list_with_more_caps_at_max() {
        let items: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        assert_eq!(list_with_more(&items, 3), "a,b,c + 2 more...");
        assert_eq!(list_with_more(&items[..2], 3), "a,b");
        assert_eq!(list_with_more(&[], 3), "<unset>");
    }

    #[test]
    fn scalars_print_as_given_and_unset_ones_as_the_placeholder() {
        assert_eq!(scalar_or(Some(&json!("500m")), "0"), "500m");
        assert_eq!(scalar_or(Some(&json!(3)), "N/A"), "3");
        assert_eq!(scalar_or(None, "<nil>"), "<nil>");
        assert_eq!(scalar_or(Some(&Value::Null), "0"), "0");
    }

    #[test]
    fn present_skips_nulls_and_pair_joins_with_a_slash() {
        let obj = json!({"spec": {"claimRef": null, "service": {"name": "api"}}});
        assert_eq!(present(&obj, &["spec", "claimRef"]), None);
        assert_eq!(present(&obj, &["spec", "service", "name"]), Some(&json!("api")));
        assert_eq!(pair(2, 3), json!("2/3"));
        assert_eq!(pair("Deployment", "web"), json!("Deployment/web"));
    }
}
