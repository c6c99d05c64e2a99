//! The Targets cell of a HorizontalPodAutoscaler (upstream's formatHPAMetrics), for
//! autoscaling/v2 objects and, through the CPU-utilisation fields, autoscaling/v1 ones.

use super::format::{at, list, s, text};
use serde_json::{json, Value};

/// A Quantity field as Go prints a `*Quantity` (`<nil>` when unset).
fn quantity(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(q)) => q.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "<nil>".into(),
    }
}

/// `spec.metrics` and `status.currentMetrics`, synthesised from the v1 CPU fields when the
/// object is an autoscaling/v1 one.
fn metrics(obj: &Value) -> (Vec<Value>, Vec<Value>) {
    let specs = list(obj, &["spec", "metrics"]);
    if !specs.is_empty() {
        return (specs.to_vec(), list(obj, &["status", "currentMetrics"]).to_vec());
    }
    let Some(target) = at(obj, &["spec", "targetCPUUtilizationPercentage"]) else {
        return (Vec::new(), Vec::new());
    };
    let spec = json!({"type": "Resource", "resource": {"name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": target}}});
    let status = match at(obj, &["status", "currentCPUUtilizationPercentage"]) {
        Some(current) => vec![json!({"type": "Resource", "resource": {"name": "cpu",
            "current": {"averageUtilization": current}}})],
        None => Vec::new(),
    };
    (vec![spec], status)
}

/// `current/target` for a metric source whose target has `value` or `averageValue`.
fn value_or_average(source: &Value, current: Option<&Value>) -> String {
    let target = at(source, &["target"]);
    match target.and_then(|t| t.get("averageValue")) {
        Some(avg) => {
            let current = current
                .and_then(|c| at(c, &["current", "averageValue"]))
                .map_or("<unknown>".into(), |q| quantity(Some(q)));
            format!("{current}/{} (avg)", quantity(Some(avg)))
        }
        None => {
            let current = current.map_or("<unknown>".into(), |c| quantity(at(c, &["current", "value"])));
            format!("{current}/{}", quantity(target.and_then(|t| t.get("value"))))
        }
    }
}

/// `name: current/target` for Resource and ContainerResource metrics.
fn resource(source: &Value, current: Option<&Value>) -> String {
    let name = s(source, &["name"]);
    let target = at(source, &["target"]);
    if let Some(avg) = target.and_then(|t| t.get("averageValue")) {
        let current = current.map_or("<unknown>".into(), |c| quantity(at(c, &["current", "averageValue"])));
        return format!("{name}: {current}/{}", quantity(Some(avg)));
    }
    let current = current
        .and_then(|c| at(c, &["current", "averageUtilization"]))
        .map_or("<unknown>".into(), |u| format!("{u}%"));
    let target = target
        .and_then(|t| t.get("averageUtilization"))
        .map_or("<auto>".into(), |u| format!("{u}%"));
    format!("{name}: {current}/{target}")
}

/// The status entry of metric `i` in its source's field, if reported.
fn status_of<'a>(statuses: &'a [Value], i: usize, field: &str) -> Option<&'a Value> {
    statuses.get(i).and_then(|st| st.get(field)).filter(|v| !v.is_null())
}

/// Up to two metrics as `current/target`, then ` + N more...`; `<none>` without metrics.
pub fn targets(obj: &Value) -> Value {
    let (specs, statuses) = metrics(obj);
    if specs.is_empty() {
        return text("<none>");
    }
    let mut items: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| match s(spec, &["type"]) {
            "External" => value_or_average(&spec["external"], status_of(&statuses, i, "external")),
            "Object" => value_or_average(&spec["object"], status_of(&statuses, i, "object")),
            "Pods" => {
                let current = status_of(&statuses, i, "pods")
                    .map_or("<unknown>".into(), |c| quantity(at(c, &["current", "averageValue"])));
                format!("{current}/{}", quantity(at(spec, &["pods", "target", "averageValue"])))
            }
            "Resource" => resource(&spec["resource"], status_of(&statuses, i, "resource")),
            "ContainerResource" => resource(&spec["containerResource"], status_of(&statuses, i, "containerResource")),
            _ => "<unknown type>".into(),
        })
        .collect();
    let count = items.len();
    if count > 2 {
        items.truncate(2);
        return text(format!("{} + {} more...", items.join(", "), count - 2));
    }
    text(items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_resource_utilisation_and_values() {
        let hpa = json!({
            "spec": {"metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}}
            ]},
            "status": {"currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12, "averageValue": "60m"}}}
            ]}
        });
        assert_eq!(targets(&hpa), json!("cpu: 12%/50%, memory: <unknown>/100Mi"));
    }

    #[test]
    fn more_than_two_metrics_and_none() {
        let m = json!({"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}});
        let hpa = json!({"spec": {"metrics": [m, m, m]}});
        assert_eq!(targets(&hpa), json!("<unknown>/1k, <unknown>/1k + 1 more..."));
        assert_eq!(targets(&json!({"spec": {}})), json!("<none>"));
    }

    #[test]
    fn v1_cpu_fields() {
        let hpa =
            json!({"spec": {"targetCPUUtilizationPercentage": 80}, "status": {"currentCPUUtilizationPercentage": 5}});
        assert_eq!(targets(&hpa), json!("cpu: 5%/80%"));
        let external = json!({"spec": {"metrics": [
            {"type": "External", "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": "10"}}}
        ]}});
        assert_eq!(targets(&external), json!("<unknown>/10"));
    }
}
