//! The parts of a HorizontalPodAutoscaler autoscaling/v1 keeps in annotations: metric specs and
//! statuses in autoscaling/v1's (v2beta1-shaped) form, conditions, and the behavior as upstream's
//! internal type encodes it (Go field names, no JSON tags).

use super::get;
use serde_json::{json, Map, Value};

/// An object from `(key, value)` pairs, leaving out absent values.
fn object<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    let mut out = Map::new();
    for (key, value) in fields {
        super::put(&mut out, key, value);
    }
    Value::Object(out)
}

/// A Quantity that Go always renders: `"0"` when unset.
fn quantity(value: Option<Value>) -> Option<Value> {
    Some(value.unwrap_or_else(|| json!("0")))
}

/// A string Go always renders: `""` when unset.
fn string(value: Option<Value>) -> Option<Value> {
    Some(value.unwrap_or_else(|| json!("")))
}

/// The source of metric `m` (its `object`, `pods`, … member) and the member's name.
fn source(m: &Value) -> (&'static str, Value) {
    let member = match m["type"].as_str().unwrap_or("") {
        "Object" => "object",
        "Pods" => "pods",
        "Resource" => "resource",
        "ContainerResource" => "containerResource",
        "External" => "external",
        _ => "",
    };
    (member, get(m, &[member]).unwrap_or(Value::Null))
}

/// `{type, <member>: body}`, or just the type for an unknown one (whose body is null).
fn metric(m: &Value, member: &str, body: Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), m.get("type").cloned().unwrap_or_else(|| json!("")));
    if !member.is_empty() {
        super::put(&mut out, member, Some(body).filter(|b| !b.is_null()));
    }
    Value::Object(out)
}

/// A ContainerResource source's `container`; other sources have none.
fn container(member: &str, s: &Value) -> Option<Value> {
    (member == "containerResource")
        .then(|| get(s, &["container"]))
        .flatten()
}

/// The v2 MetricIdentifier of a v1 source: its `metricName` and the selector under `selector`.
fn identifier(s: &Value, selector: &str) -> Option<Value> {
    Some(object([
        ("name", string(get(s, &["metricName"]))),
        ("selector", get(s, &[selector])),
    ]))
}

/// The described object of an object source (kept under `key`), `{}` when unset.
fn described_object(s: &Value, key: &str) -> Option<Value> {
    get(s, &[key]).or(Some(json!({})))
}

/// A v2 MetricSpec as autoscaling/v1 writes it in the metrics annotation.
pub fn spec_to_v1(m: &Value) -> Value {
    let (member, s) = source(m);
    let body = match member {
        "object" => object([
            ("target", described_object(&s, "describedObject")),
            ("metricName", string(get(&s, &["metric", "name"]))),
            ("targetValue", quantity(get(&s, &["target", "value"]))),
            ("selector", get(&s, &["metric", "selector"])),
            ("averageValue", get(&s, &["target", "averageValue"])),
        ]),
        "pods" => object([
            ("metricName", string(get(&s, &["metric", "name"]))),
            ("targetAverageValue", quantity(get(&s, &["target", "averageValue"]))),
            ("selector", get(&s, &["metric", "selector"])),
        ]),
        "resource" | "containerResource" => object([
            ("name", string(get(&s, &["name"]))),
            ("targetAverageUtilization", get(&s, &["target", "averageUtilization"])),
            ("targetAverageValue", get(&s, &["target", "averageValue"])),
            ("container", container(member, &s)),
        ]),
        "external" => object([
            ("metricName", string(get(&s, &["metric", "name"]))),
            ("metricSelector", get(&s, &["metric", "selector"])),
            ("targetValue", get(&s, &["target", "value"])),
            ("targetAverageValue", get(&s, &["target", "averageValue"])),
        ]),
        _ => Value::Null,
    };
    metric(m, member, body)
}

/// A metric spec from the v1 annotation as autoscaling/v2 has it.
pub fn spec_from_v1(m: &Value) -> Value {
    let (member, s) = source(m);
    let body = match member {
        "object" => {
            let average = get(&s, &["averageValue"]);
            let kind = if average.is_some() { "AverageValue" } else { "Value" };
            object([
                ("describedObject", described_object(&s, "target")),
                (
                    "target",
                    Some(object([
                        ("type", Some(json!(kind))),
                        ("value", quantity(get(&s, &["targetValue"]))),
                        ("averageValue", average),
                    ])),
                ),
                ("metric", identifier(&s, "selector")),
            ])
        }
        "pods" => object([
            ("metric", identifier(&s, "selector")),
            (
                "target",
                Some(object([
                    ("type", Some(json!("AverageValue"))),
                    ("averageValue", quantity(get(&s, &["targetAverageValue"]))),
                ])),
            ),
        ]),
        "resource" | "containerResource" => {
            let utilization = get(&s, &["targetAverageUtilization"]);
            let kind = if utilization.is_some() {
                "Utilization"
            } else {
                "AverageValue"
            };
            object([
                ("name", string(get(&s, &["name"]))),
                (
                    "target",
                    Some(object([
                        ("type", Some(json!(kind))),
                        ("averageValue", get(&s, &["targetAverageValue"])),
                        ("averageUtilization", utilization),
                    ])),
                ),
                ("container", container(member, &s)),
            ])
        }
        "external" => {
            let value = get(&s, &["targetValue"]);
            let kind = if value.is_some() { "Value" } else { "AverageValue" };
            object([
                ("metric", identifier(&s, "metricSelector")),
                (
                    "target",
                    Some(object([
                        ("type", Some(json!(kind))),
                        ("value", value),
                        ("averageValue", get(&s, &["targetAverageValue"])),
                    ])),
                ),
            ])
        }
        _ => Value::Null,
    };
    metric(m, member, body)
}

/// A v2 MetricStatus as autoscaling/v1 writes it in the current-metrics annotation.
pub fn status_to_v1(m: &Value) -> Value {
    let (member, s) = source(m);
    let body = match member {
        "object" => object([
            ("target", described_object(&s, "describedObject")),
            ("metricName", string(get(&s, &["metric", "name"]))),
            ("currentValue", quantity(get(&s, &["current", "value"]))),
            ("selector", get(&s, &["metric", "selector"])),
            ("averageValue", get(&s, &["current", "averageValue"])),
        ]),
        "pods" => object([
            ("metricName", string(get(&s, &["metric", "name"]))),
            ("currentAverageValue", quantity(get(&s, &["current", "averageValue"]))),
            ("selector", get(&s, &["metric", "selector"])),
        ]),
        "resource" | "containerResource" => object([
            ("name", string(get(&s, &["name"]))),
            ("currentAverageUtilization", get(&s, &["current", "averageUtilization"])),
            ("currentAverageValue", quantity(get(&s, &["current", "averageValue"]))),
            ("container", container(member, &s)),
        ]),
        "external" => object([
            ("metricName", string(get(&s, &["metric", "name"]))),
            ("metricSelector", get(&s, &["metric", "selector"])),
            ("currentValue", quantity(get(&s, &["current", "value"]))),
            ("currentAverageValue", get(&s, &["current", "averageValue"])),
        ]),
        _ => Value::Null,
    };
    metric(m, member, body)
}

/// A metric status from the v1 annotation as autoscaling/v2 has it.
pub fn status_from_v1(m: &Value) -> Value {
    let (member, s) = source(m);
    let body = match member {
        "object" => object([
            ("metric", identifier(&s, "selector")),
            (
                "current",
                Some(object([
                    ("value", quantity(get(&s, &["currentValue"]))),
                    ("averageValue", get(&s, &["averageValue"])),
                ])),
            ),
            ("describedObject", described_object(&s, "target")),
        ]),
        "pods" => object([
            ("metric", identifier(&s, "selector")),
            (
                "current",
                Some(object([("averageValue", quantity(get(&s, &["currentAverageValue"])))])),
            ),
        ]),
        "resource" | "containerResource" => object([
            ("name", string(get(&s, &["name"]))),
            (
                "current",
                Some(object([
                    ("averageValue", quantity(get(&s, &["currentAverageValue"]))),
                    ("averageUtilization", get(&s, &["currentAverageUtilization"])),
                ])),
            ),
            ("container", container(member, &s)),
        ]),
        "external" => object([
            ("metric", identifier(&s, "metricSelector")),
            (
                "current",
                Some(object([
                    ("value", quantity(get(&s, &["currentValue"]))),
                    ("averageValue", get(&s, &["currentAverageValue"])),
                ])),
            ),
        ]),
        _ => Value::Null,
    };
    metric(m, member, body)
}

/// A condition as both versions render it (lastTransitionTime `null` when unset, as Go does).
pub fn condition(c: &Value) -> Value {
    object([
        ("type", string(get(c, &["type"]))),
        ("status", string(get(c, &["status"]))),
        (
            "lastTransitionTime",
            Some(get(c, &["lastTransitionTime"]).unwrap_or(Value::Null)),
        ),
        ("reason", get(c, &["reason"]).filter(|r| r != "")),
        ("message", get(c, &["message"]).filter(|m| m != "")),
    ])
}

/// HPAScalingRules fields: the v2 name and the internal (Go) name, in the internal type's order.
const RULES: [(&str, &str); 4] = [
    ("stabilizationWindowSeconds", "StabilizationWindowSeconds"),
    ("selectPolicy", "SelectPolicy"),
    ("policies", "Policies"),
    ("tolerance", "Tolerance"),
];
/// HPAScalingPolicy fields, likewise.
const POLICY: [(&str, &str); 3] = [("type", "Type"), ("value", "Value"), ("periodSeconds", "PeriodSeconds")];
/// HorizontalPodAutoscalerBehavior fields, likewise.
const BEHAVIOR: [(&str, &str); 2] = [("scaleUp", "ScaleUp"), ("scaleDown", "ScaleDown")];

/// A v2 behavior as upstream's internal type marshals it (Go names; nil pointers as `null`).
pub fn behavior_to_internal(behavior: &Value) -> Value {
    let policy = |p: &Value| {
        let zero = |v2: &str| if v2 == "type" { json!("") } else { json!(0) };
        Value::Object(
            POLICY
                .iter()
                .map(|(v2, go)| ((*go).to_string(), get(p, &[v2]).unwrap_or_else(|| zero(v2))))
                .collect(),
        )
    };
    let rules = |r: Value| {
        Value::Object(
            RULES
                .iter()
                .map(|(v2, go)| {
                    let value = match (*v2, get(&r, &[v2])) {
                        ("policies", Some(Value::Array(list))) => Value::Array(list.iter().map(policy).collect()),
                        (_, value) => value.unwrap_or(Value::Null),
                    };
                    ((*go).to_string(), value)
                })
                .collect(),
        )
    };
    Value::Object(
        BEHAVIOR
            .iter()
            .map(|(v2, go)| ((*go).to_string(), get(behavior, &[v2]).map_or(Value::Null, rules)))
            .collect(),
    )
}

/// A field of a Go-encoded object, matched as encoding/json does (exact name, else any case).
fn go_field(obj: &Value, name: &str) -> Option<Value> {
    let map = obj.as_object()?;
    map.get(name)
        .or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
        .filter(|v| !v.is_null())
        .cloned()
}

/// The behavior kept in the annotation as v2 has it; `None` when it sets nothing.
pub fn behavior_from_internal(internal: &Value) -> Option<Value> {
    let policy = |p: &Value| {
        object(POLICY.map(|(v2, go)| {
            let zero = if v2 == "type" { json!("") } else { json!(0) };
            (v2, Some(go_field(p, go).unwrap_or(zero)))
        }))
    };
    let rules = |r: Value| {
        object(RULES.map(|(v2, go)| {
            let value = match (v2, go_field(&r, go)) {
                ("policies", Some(Value::Array(list))) => {
                    Some(Value::Array(list.iter().map(policy).collect())).filter(|l| l != &json!([]))
                }
                (_, value) => value,
            };
            (v2, value)
        }))
    };
    let behavior = object(BEHAVIOR.map(|(v2, go)| (v2, go_field(internal, go).map(rules))));
    Some(behavior).filter(|b| b != &json!({}))
}
