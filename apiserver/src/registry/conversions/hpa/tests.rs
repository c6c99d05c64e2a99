use super::*;

fn v2() -> Value {
    json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default", "annotations": {"team": "a"}},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
            "minReplicas": 2, "maxReplicas": 10,
            "metrics": [
                {"type": "Resource", "resource": {"name": "memory",
                    "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"},
                    "target": {"type": "AverageValue", "averageValue": "1k"}}},
                {"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 60}}}
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 120,
                "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}]}}
        },
        "status": {
            "observedGeneration": 3, "currentReplicas": 4, "desiredReplicas": 5,
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageValue": "250m", "averageUtilization": 71}}}
            ],
            "conditions": [{"type": "AbleToScale", "status": "True",
                "lastTransitionTime": "2025-01-01T00:00:00Z", "reason": "ReadyForNewScale"}]
        }
    })
}

fn annotation(obj: &Value, key: &str) -> Value {
    serde_json::from_str(obj["metadata"]["annotations"][key].as_str().unwrap()).unwrap()
}

#[test]
fn v2_as_v1_shows_cpu_and_keeps_the_rest_in_annotations() {
    let v1 = v2_to_v1(v2());
    assert_eq!(
        v1["spec"],
        json!({"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
            "minReplicas": 2, "maxReplicas": 10, "targetCPUUtilizationPercentage": 60})
    );
    assert_eq!(
        v1["status"],
        json!({"observedGeneration": 3, "currentReplicas": 4, "desiredReplicas": 5,
            "currentCPUUtilizationPercentage": 71})
    );
    assert_eq!(v1["metadata"]["annotations"]["team"], "a");
    assert_eq!(
        annotation(&v1, METRICS),
        json!([
            {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}},
            {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "1k"}}
        ])
    );
    assert_eq!(
        annotation(&v1, CURRENT_METRICS),
        json!([{"type": "Resource", "resource": {"name": "cpu", "currentAverageUtilization": 71,
            "currentAverageValue": "250m"}}])
    );
    assert_eq!(
        annotation(&v1, CONDITIONS),
        json!([{"type": "AbleToScale", "status": "True",
            "lastTransitionTime": "2025-01-01T00:00:00Z", "reason": "ReadyForNewScale"}])
    );
    // The behavior is upstream's internal type, marshalled without JSON tags.
    assert_eq!(
        v1["metadata"]["annotations"][BEHAVIOR],
        r#"{"ScaleUp":null,"ScaleDown":{"StabilizationWindowSeconds":120,"SelectPolicy":null,"Policies":[{"Type":"Percent","Value":50,"PeriodSeconds":60}],"Tolerance":null}}"#
    );
}

#[test]
fn v1_written_back_restores_what_the_annotations_kept() {
    let original = v2();
    let back = v1_to_v2(v2_to_v1(original.clone()));
    assert_eq!(back["metadata"], original["metadata"]);
    assert_eq!(back["spec"], original["spec"]);
    // v1 cannot say currentAverageValue is unset, so the annotation's form comes back.
    assert_eq!(back["status"], original["status"]);
    // A v1 edit of the CPU target lands in the CPU metric, still last.
    let mut v1 = v2_to_v1(original);
    v1["spec"]["targetCPUUtilizationPercentage"] = json!(75);
    let edited = v1_to_v2(v1);
    assert_eq!(edited["spec"]["metrics"].as_array().unwrap().len(), 3);
    assert_eq!(
        edited["spec"]["metrics"][2]["resource"]["target"]["averageUtilization"],
        75
    );
}

#[test]
fn plain_v1_gets_the_cpu_metric_or_upstreams_default() {
    let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3,
            "targetCPUUtilizationPercentage": 50}});
    let stored = v1_to_v2(v1.clone());
    assert_eq!(
        stored["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 50}}}])
    );
    assert!(stored.get("status").is_none());

    let mut untargeted = v1;
    untargeted["spec"]
        .as_object_mut()
        .unwrap()
        .shift_remove("targetCPUUtilizationPercentage");
    assert_eq!(
        v1_to_v2(untargeted)["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        80
    );
}

#[test]
fn other_metric_sources_round_trip() {
    let specs = json!([
        {"type": "Object", "object": {"describedObject": {"kind": "Ingress", "name": "main", "apiVersion": "networking.k8s.io/v1"},
            "target": {"type": "Value", "value": "2k"}, "metric": {"name": "requests"}}},
        {"type": "External", "external": {"metric": {"name": "queue", "selector": {"matchLabels": {"q": "a"}}},
            "target": {"type": "AverageValue", "averageValue": "30"}}},
        {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app",
            "target": {"type": "Utilization", "averageUtilization": 70}}}
    ]);
    for spec in specs.as_array().unwrap() {
        assert_eq!(&metrics::spec_from_v1(&metrics::spec_to_v1(spec)), spec, "{spec}");
    }
    let statuses = json!([
        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "current": {"averageValue": "12"}}},
        {"type": "External", "external": {"metric": {"name": "queue"}, "current": {"value": "4"}}}
    ]);
    for status in statuses.as_array().unwrap() {
        assert_eq!(
            &metrics::status_from_v1(&metrics::status_to_v1(status)),
            status,
            "{status}"
        );
    }
}

#[test]
fn v2_writes_drop_round_trip_annotations() {
    let mut obj = v2();
    obj["metadata"]["annotations"] = json!({METRICS: "[]", CONDITIONS: "[]"});
    let stored = without_round_trip_annotations(obj);
    assert!(stored["metadata"].get("annotations").is_none());
    // Behavior annotations written in camelCase are read as Go reads them (any case).
    let behavior = json!({"scaleUp": {"selectPolicy": "Disabled"}});
    assert_eq!(
        metrics::behavior_from_internal(&behavior),
        Some(json!({"scaleUp": {"selectPolicy": "Disabled"}}))
    );
    assert_eq!(metrics::behavior_from_internal(&json!({"ScaleUp": null})), None);
}
