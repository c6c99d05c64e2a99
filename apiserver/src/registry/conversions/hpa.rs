//! autoscaling/v2 ↔ autoscaling/v1 HorizontalPodAutoscaler, as upstream's autoscaling/v1
//! conversion does it: v1 shows the CPU-utilisation target and current value, and keeps what it
//! cannot express (other metrics, metric statuses, conditions, behavior) in the
//! `autoscaling.alpha.kubernetes.io/*` annotations, from which a v1 write restores them.

mod metrics;

use serde_json::{json, Map, Value};

const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";

/// The annotations only conversions through v1 write; no other version keeps them.
const ROUND_TRIP: [&str; 4] = [METRICS, BEHAVIOR, CURRENT_METRICS, CONDITIONS];

/// The CPU target autoscaling/v1 implies when no metric is given (upstream's DefaultCPUUtilization).
const DEFAULT_CPU_UTILIZATION: i64 = 80;

/// An object without the round-trip annotations (`metadata.annotations` dropped once empty).
pub fn without_round_trip_annotations(mut obj: Value) -> Value {
    take_round_trip_annotations(&mut obj);
    obj
}

/// Remove the round-trip annotations from `obj` and return them (each key with its value).
fn take_round_trip_annotations(obj: &mut Value) -> Map<String, Value> {
    let mut taken = Map::new();
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return taken;
    };
    if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
        for key in ROUND_TRIP {
            if let Some(value) = annotations.shift_remove(key) {
                taken.insert(key.into(), value);
            }
        }
        if annotations.is_empty() {
            meta.shift_remove("annotations");
        }
    }
    taken
}

/// The value at `path`, unless absent or null.
fn get(obj: &Value, path: &[&str]) -> Option<Value> {
    path.iter()
        .try_fold(obj, |v, key| v.get(key))
        .filter(|v| !v.is_null())
        .cloned()
}

/// Insert `value` unless it is absent.
fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(key.into(), value);
    }
}

fn items(obj: &Value, path: &[&str]) -> Vec<Value> {
    match get(obj, path) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

/// A JSON list kept in an annotation, if it parses as one.
fn annotated_list(annotations: &Map<String, Value>, key: &str) -> Option<Vec<Value>> {
    let text = annotations.get(key)?.as_str()?;
    match serde_json::from_str(text) {
        Ok(Value::Array(items)) => Some(items),
        _ => None,
    }
}

/// Keep `list` as JSON text in annotation `key`, unless it is empty.
fn annotate_list(annotations: &mut Map<String, Value>, key: &str, list: Vec<Value>) {
    if !list.is_empty() {
        annotations.insert(key.into(), json!(Value::Array(list).to_string()));
    }
}

/// `apiVersion`, `kind` and `metadata` of `obj`, to build the other version's object on.
fn header(obj: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for key in ["apiVersion", "kind", "metadata"] {
        put(&mut out, key, get(obj, &[key]));
    }
    out
}

/// The spec fields both versions share: scaleTargetRef (`{}` when unset), minReplicas and
/// maxReplicas (`0` when unset), as Go renders them.
fn common_spec(obj: &Value) -> Map<String, Value> {
    let mut spec = Map::new();
    spec.insert(
        "scaleTargetRef".into(),
        get(obj, &["spec", "scaleTargetRef"]).unwrap_or_else(|| json!({})),
    );
    put(&mut spec, "minReplicas", get(obj, &["spec", "minReplicas"]));
    spec.insert(
        "maxReplicas".into(),
        get(obj, &["spec", "maxReplicas"]).unwrap_or_else(|| json!(0)),
    );
    spec
}

/// The leading status fields both versions share: observedGeneration and lastScaleTime.
fn common_status(obj: &Value) -> Map<String, Value> {
    let mut status = Map::new();
    for field in ["observedGeneration", "lastScaleTime"] {
        put(&mut status, field, get(obj, &["status", field]));
    }
    status
}

/// A stored autoscaling/v2 object as autoscaling/v1 serves it.
pub fn v2_to_v1(mut obj: Value) -> Value {
    take_round_trip_annotations(&mut obj);
    let is_cpu = |m: &Value| m["type"] == "Resource" && m["resource"]["name"] == "cpu";
    let specs = items(&obj, &["spec", "metrics"]);
    let statuses = items(&obj, &["status", "currentMetrics"]);
    let conditions = items(&obj, &["status", "conditions"]);

    let mut annotations = Map::new();
    let other: Vec<Value> = specs
        .iter()
        .filter(|m| !(is_cpu(m) && get(m, &["resource", "target", "averageUtilization"]).is_some()))
        .map(metrics::spec_to_v1)
        .collect();
    annotate_list(&mut annotations, METRICS, other);
    annotate_list(
        &mut annotations,
        CURRENT_METRICS,
        statuses.iter().map(metrics::status_to_v1).collect(),
    );
    annotate_list(
        &mut annotations,
        CONDITIONS,
        conditions.iter().map(metrics::condition).collect(),
    );
    if let Some(behavior) = get(&obj, &["spec", "behavior"]) {
        annotations.insert(
            BEHAVIOR.into(),
            json!(metrics::behavior_to_internal(&behavior).to_string()),
        );
    }

    let mut out = header(&obj);
    if !annotations.is_empty() {
        if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
            let existing = meta.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(existing) = existing {
                existing.extend(annotations);
            }
        }
    }

    let mut spec = common_spec(&obj);
    // The first CPU metric decides, even when it targets an average value.
    let cpu_target = specs
        .iter()
        .find(|m| is_cpu(m))
        .and_then(|m| get(m, &["resource", "target", "averageUtilization"]));
    put(&mut spec, "targetCPUUtilizationPercentage", cpu_target);
    out.insert("spec".into(), Value::Object(spec));

    let mut status = common_status(&obj);
    for field in ["currentReplicas", "desiredReplicas"] {
        status.insert(field.into(), get(&obj, &["status", field]).unwrap_or_else(|| json!(0)));
    }
    // The last CPU utilisation reported wins, as upstream's loop leaves it.
    let cpu_current = statuses
        .iter()
        .rev()
        .filter(|m| is_cpu(m))
        .find_map(|m| get(m, &["resource", "current", "averageUtilization"]));
    put(&mut status, "currentCPUUtilizationPercentage", cpu_current);
    out.insert("status".into(), Value::Object(status));
    Value::Object(out)
}

/// An autoscaling/v1 object as autoscaling/v2 stores it, with what its annotations kept.
pub fn v1_to_v2(mut obj: Value) -> Value {
    let kept = take_round_trip_annotations(&mut obj);
    let mut out = header(&obj);

    let mut spec = common_spec(&obj);
    let mut specs: Vec<Value> = annotated_list(&kept, METRICS)
        .unwrap_or_default()
        .iter()
        .map(metrics::spec_from_v1)
        .collect();
    let target = get(&obj, &["spec", "targetCPUUtilizationPercentage"]);
    // autoscaling/v1's implicit default is explicit in v2.
    let target = target.or_else(|| specs.is_empty().then(|| json!(DEFAULT_CPU_UTILIZATION)));
    if let Some(target) = target {
        specs.push(json!({"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": target}}}));
    }
    spec.insert("metrics".into(), Value::Array(specs));
    let behavior = kept
        .get(BEHAVIOR)
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|internal| metrics::behavior_from_internal(&internal));
    put(&mut spec, "behavior", behavior);
    out.insert("spec".into(), Value::Object(spec));

    let statuses = annotated_list(&kept, CURRENT_METRICS)
        .map(|list| list.iter().map(metrics::status_from_v1).collect::<Vec<_>>())
        .or_else(|| {
            let current = get(&obj, &["status", "currentCPUUtilizationPercentage"])?;
            Some(vec![json!({"type": "Resource", "resource": {"name": "cpu",
                "current": {"averageUtilization": current}}})])
        });
    let conditions = annotated_list(&kept, CONDITIONS).map(|list| list.iter().map(metrics::condition).collect());
    if get(&obj, &["status"]).is_some() || statuses.is_some() || conditions.is_some() {
        let mut status = common_status(&obj);
        put(
            &mut status,
            "currentReplicas",
            get(&obj, &["status", "currentReplicas"]).filter(|n| n != &json!(0)),
        );
        status.insert(
            "desiredReplicas".into(),
            get(&obj, &["status", "desiredReplicas"]).unwrap_or_else(|| json!(0)),
        );
        put(&mut status, "currentMetrics", statuses.map(Value::Array));
        put(&mut status, "conditions", conditions.map(Value::Array));
        out.insert("status".into(), Value::Object(status));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests;
