//! The Targets cell of a HorizontalPodAutoscaler (upstream's formatHPAMetrics), for
//! autoscaling/v2 objects and autoscaling/v1 ones (converted to v2 first, as upstream prints them).

use super::format::{at, list, s, scalar_or, text};
use serde_json::Value;

/// A Quantity field as Go prints a `*Quantity` (`<nil>` when unset).
fn quantity(value: Option<&Value>) -> String {
    scalar_or(value, "<nil>")
}

/// `spec.metrics` and `status.currentMetrics`, as upstream prints them from its internal
/// (v2-shaped) object: autoscaling/v1 objects are converted first, so the metrics their
/// annotations keep and v1's implicit CPU target show as well.
fn metrics(obj: &Value) -> (Vec<Value>, Vec<Value>) {
    let converted;
    let obj = if obj["apiVersion"] == "autoscaling/v1" {
        converted = crate::registry::conversions::hpa::v1_to_v2(obj.clone());
        &converted
    } else {
        obj
    };
    (
        list(obj, &["spec", "metrics"]).to_vec(),
        list(obj, &["status", "currentMetrics"]).to_vec(),
    )
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
    use serde_json::json;

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
    fn v1_cpu_fields_and_annotated_metrics() {
        let hpa = json!({"apiVersion": "autoscaling/v1", "spec": {"targetCPUUtilizationPercentage": 70},
            "status": {"currentCPUUtilizationPercentage": 5}});
        assert_eq!(targets(&hpa), json!("cpu: 5%/70%"));
        // Upstream prints its internal object: v1's implicit target and the annotated metrics.
        assert_eq!(
            targets(&json!({"apiVersion": "autoscaling/v1", "spec": {}})),
            json!("cpu: <unknown>/80%")
        );
        let annotated = json!({"apiVersion": "autoscaling/v1",
            "metadata": {"annotations": {"autoscaling.alpha.kubernetes.io/metrics":
                r#"[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"100Mi"}}]"#}},
            "spec": {"targetCPUUtilizationPercentage": 60}});
        assert_eq!(
            targets(&annotated),
            json!("memory: <unknown>/100Mi, cpu: <unknown>/60%")
        );
        let external = json!({"spec": {"metrics": [
            {"type": "External", "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": "10"}}}
        ]}});
        assert_eq!(targets(&external), json!("<unknown>/10"));
    }
}
