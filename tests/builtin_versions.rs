//! Built-in kinds served in two groups or versions are one set of objects, converted like
//! upstream: events.k8s.io/v1 Events are core/v1 Events (a kube-rs Recorder's events show in
//! `kubectl get events`, `kubectl events` and `kubectl describe`; core events read, watched and
//! selected through events.k8s.io), and autoscaling/v1 and v2 HorizontalPodAutoscalers read and
//! write the same object, v1 keeping what it cannot say in upstream's annotations.

use crate::common;

use crate::common::{ok, Skiff};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::runtime::events::{Event as Published, EventType, Recorder, Reporter};
use kube::Resource;
use serde_json::{json, Value};

async fn client(skiff: &Skiff) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(&skiff.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

fn json_of(skiff: &Skiff, args: &[&str]) -> Value {
    serde_json::from_str(&skiff.kubectl(args)).unwrap()
}

/// Names of the items of a `-o json` list.
fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// The resourceVersion of a list of `api`: where a watch of what happens next starts.
async fn list_version<K>(api: &Api<K>) -> String
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let list = api.list(&ListParams::default()).await.unwrap();
    list.metadata.resource_version.unwrap()
}

/// The first ADDED object of a watch, as JSON.
async fn first_added<K>(api: &Api<K>, resource_version: &str) -> Value
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug + serde::Serialize,
{
    let mut stream = api
        .watch(&WatchParams::default().timeout(20), resource_version)
        .await
        .unwrap()
        .boxed();
    loop {
        match stream.try_next().await.unwrap() {
            Some(WatchEvent::Added(object)) => return serde_json::to_value(object).unwrap(),
            Some(WatchEvent::Error(e)) => panic!("watch failed: {e:?}"),
            Some(_) => continue,
            None => panic!("watch ended without an ADDED event"),
        }
    }
}

const CORE_EVENT: &str = r#"{"apiVersion": "v1", "kind": "Event",
  "metadata": {"name": "db.pulled", "namespace": "default"},
  "involvedObject": {"kind": "Pod", "namespace": "default", "name": "db", "fieldPath": "spec.containers{db}"},
  "reason": "Pulled", "message": "Pulled image postgres", "type": "Normal",
  "source": {"component": "kubelet", "host": "node-a"},
  "firstTimestamp": "2025-01-01T00:00:00Z", "lastTimestamp": "2025-01-01T00:05:00Z", "count": 3}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_one_set_served_by_core_and_events_k8s_io() {
    let skiff = Skiff::start();
    let client = client(&skiff).await;
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let core_events: Api<CoreEvent> = Api::namespaced(client.clone(), "default");
    skiff.kubectl(&["create", "configmap", "web", "--from-literal=k=v"]);
    let web: ConfigMap = Api::namespaced(client.clone(), "default").get("web").await.unwrap();

    // A kube-rs Recorder writes events.k8s.io/v1; a core watch started before sees it as core/v1.
    let start = list_version(&core_events).await;
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "example.com/web-operator".into(),
            instance: Some("web-operator-0".into()),
        },
    );
    let synced = Published {
        type_: EventType::Normal,
        reason: "Synced".into(),
        note: Some("Synced configmap web".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    let reference = web.object_ref(&());
    recorder.publish(&synced, &reference).await.unwrap();
    let seen = first_added(&core_events, &start).await;
    assert_eq!(seen["apiVersion"], "v1");
    assert_eq!(seen["involvedObject"]["name"], "web");
    assert_eq!(seen["message"], "Synced configmap web");
    assert_eq!(seen["reportingComponent"], "example.com/web-operator");
    // The repeat is a merge patch of the events.k8s.io object: a series on the shared one.
    recorder.publish(&synced, &reference).await.unwrap();

    for kubectl in common::kubectls() {
        let listed = ok(
            skiff.kubectl_with(
                &kubectl,
                &[
                    "get",
                    "events",
                    "--field-selector",
                    "involvedObject.name=web",
                    "-o",
                    "json",
                ],
            ),
            &["get", "events"],
        );
        let listed: Value = serde_json::from_str(&listed).unwrap();
        let items = listed["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{listed}");
        let event = &items[0];
        assert_eq!(event["apiVersion"], "v1");
        assert_eq!(event["reason"], "Synced");
        assert_eq!(event["involvedObject"]["uid"], json!(web.metadata.uid));
        assert_eq!(event["series"]["count"], 2);
        assert_eq!(event["reportingInstance"], "web-operator-0");
        assert_eq!(event["action"], "Reconcile");

        let table = ok(skiff.kubectl_with(&kubectl, &["get", "events"]), &["get", "events"]);
        let row = table
            .lines()
            .find(|l| l.contains("configmap/web"))
            .unwrap_or_else(|| panic!("{table}"));
        assert!(
            row.contains("Normal") && row.contains("Synced") && row.contains("Synced configmap web"),
            "{row}"
        );

        let args = ["events", "--for", "configmap/web"];
        let out = ok(skiff.kubectl_with(&kubectl, &args), &args);
        assert!(out.contains("Synced") && out.contains("Synced configmap web"), "{out}");
    }
    let described = skiff.kubectl(&["describe", "configmap", "web"]);
    let events_section = described.split("Events:").nth(1).unwrap_or_default();
    assert!(
        events_section.contains("Synced") && events_section.contains("example.com/web-operator"),
        "{described}"
    );

    // A core/v1 event (kubectl create) is readable and watchable through events.k8s.io/v1.
    let start = list_version(&events).await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), CORE_EVENT).unwrap();
    skiff.kubectl(&["create", "-f", file.path().to_str().unwrap()]);
    let seen = first_added(&events, &start).await;
    assert_eq!(seen["apiVersion"], "events.k8s.io/v1");
    assert_eq!(seen["metadata"]["name"], "db.pulled");
    let read = json_of(&skiff, &["get", "events.v1.events.k8s.io", "db.pulled", "-o", "json"]);
    for got in [&seen, &read] {
        assert_eq!(got["regarding"]["name"], "db");
        assert_eq!(got["regarding"]["fieldPath"], "spec.containers{db}");
        assert_eq!(got["note"], "Pulled image postgres");
        assert_eq!(
            got["deprecatedSource"],
            json!({"component": "kubelet", "host": "node-a"})
        );
        assert_eq!(got["deprecatedFirstTimestamp"], "2025-01-01T00:00:00Z");
        assert_eq!(got["deprecatedLastTimestamp"], "2025-01-01T00:05:00Z");
        assert_eq!(got["deprecatedCount"], 3);
        assert!(
            got.get("involvedObject").is_none() && got.get("message").is_none(),
            "{got}"
        );
    }
    let typed = events.get("db.pulled").await.unwrap();
    assert_eq!(typed.regarding.and_then(|r| r.name).as_deref(), Some("db"));

    // Field selectors in each group's own names select from the one set.
    let by_regarding = json_of(
        &skiff,
        &[
            "get",
            "events.events.k8s.io",
            "--field-selector",
            "regarding.name=db,reason=Pulled",
            "-o",
            "json",
        ],
    );
    assert_eq!(names(&by_regarding), ["db.pulled"]);
    let by_controller = json_of(
        &skiff,
        &[
            "get",
            "events.events.k8s.io",
            "--field-selector",
            "reportingController=example.com/web-operator",
            "-o",
            "json",
        ],
    );
    assert_eq!(by_controller["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_controller["items"][0]["regarding"]["name"], "web");
    let by_involved = json_of(
        &skiff,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.kind=Pod,source=kubelet",
            "-o",
            "json",
        ],
    );
    assert_eq!(names(&by_involved), ["db.pulled"]);
    let args = [
        "get",
        "events.events.k8s.io",
        "--field-selector",
        "involvedObject.name=db",
    ];
    let refused = common::fails(
        skiff.kubectl_with(std::path::Path::new("/usr/bin/kubectl"), &args),
        &args,
    );
    assert!(
        refused.contains("field label not supported: involvedObject.name"),
        "{refused}"
    );

    // Deleting through one group deletes the one object.
    skiff.kubectl(&["delete", "events.events.k8s.io", "db.pulled"]);
    let args = ["get", "events", "db.pulled"];
    let gone = common::fails(
        skiff.kubectl_with(std::path::Path::new("/usr/bin/kubectl"), &args),
        &args,
    );
    assert!(gone.contains("NotFound") || gone.contains("not found"), "{gone}");
}

const HPA_V2: &str = r#"{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
  "metadata": {"name": "web", "namespace": "default",
    "annotations": {"autoscaling.alpha.kubernetes.io/conditions": "[]"}},
  "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
    "minReplicas": 2, "maxReplicas": 10,
    "metrics": [
      {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
      {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}}],
    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 120}}}}"#;

const HPA_V1: &str = r#"{"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
  "metadata": {"name": "api", "namespace": "default"},
  "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
    "maxReplicas": 5, "targetCPUUtilizationPercentage": 50}}"#;

fn annotation(hpa: &Value, key: &str) -> Value {
    let text = hpa["metadata"]["annotations"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {hpa}"));
    serde_json::from_str(text).unwrap()
}

#[test]
fn horizontal_pod_autoscalers_read_and_write_through_v1_and_v2() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| common::write(dir.path(), name, text);
    skiff.kubectl(&["create", "-f", &write("v2.json", HPA_V2)]);
    skiff.kubectl(&[
        "patch",
        "hpa",
        "web",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status": {"currentReplicas": 3, "desiredReplicas": 4, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42, "averageValue": "120m"}}}]}}"#,
    ]);

    // v2 as written (round-trip annotations are v1's alone, and dropped from v2 writes).
    let v2 = json_of(
        &skiff,
        &["get", "horizontalpodautoscalers.v2.autoscaling", "web", "-o", "json"],
    );
    assert!(v2["metadata"].get("annotations").is_none(), "{v2}");
    assert_eq!(v2["spec"]["metrics"].as_array().unwrap().len(), 2);

    // v1 shows the CPU target and utilisation, and keeps the rest in upstream's annotations.
    let v1 = json_of(
        &skiff,
        &["get", "horizontalpodautoscalers.v1.autoscaling", "web", "-o", "json"],
    );
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60);
    assert_eq!(v1["spec"]["minReplicas"], 2);
    assert!(v1["spec"].get("metrics").is_none());
    assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 42);
    assert_eq!(v1["status"]["desiredReplicas"], 4);
    assert_eq!(
        annotation(&v1, "autoscaling.alpha.kubernetes.io/metrics"),
        json!([{"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}])
    );
    assert_eq!(
        annotation(&v1, "autoscaling.alpha.kubernetes.io/current-metrics"),
        json!([{"type": "Resource", "resource": {"name": "cpu", "currentAverageUtilization": 42, "currentAverageValue": "120m"}}])
    );
    assert_eq!(
        annotation(&v1, "autoscaling.alpha.kubernetes.io/behavior")["ScaleDown"]["StabilizationWindowSeconds"],
        120
    );

    // A v1 write of the read object changes the CPU target and keeps everything else.
    skiff.kubectl(&[
        "patch",
        "horizontalpodautoscalers.v1.autoscaling",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec": {"targetCPUUtilizationPercentage": 75}}"#,
    ]);
    let after = json_of(
        &skiff,
        &["get", "horizontalpodautoscalers.v2.autoscaling", "web", "-o", "json"],
    );
    assert_eq!(
        after["spec"]["metrics"],
        json!([
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 75}}}
        ])
    );
    assert_eq!(after["spec"]["behavior"], v2["spec"]["behavior"]);
    assert!(after["metadata"].get("annotations").is_none(), "{after}");

    // A v1 object is stored and served as v2 with the CPU metric upstream derives.
    skiff.kubectl(&["create", "-f", &write("v1.json", HPA_V1)]);
    let api = json_of(
        &skiff,
        &["get", "horizontalpodautoscalers.v2.autoscaling", "api", "-o", "json"],
    );
    assert_eq!(api["apiVersion"], "autoscaling/v2");
    assert_eq!(
        api["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}])
    );
    let listed = json_of(
        &skiff,
        &["get", "horizontalpodautoscalers.v1.autoscaling", "-o", "json"],
    );
    assert_eq!(names(&listed), ["api", "web"]);
    assert!(listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["apiVersion"] == "autoscaling/v1"));

    // Both versions print upstream's columns with the same cells (v1 from the whole object, as
    // upstream prints its internal one).
    for kubectl in common::kubectls() {
        let rows = |resource: &str| {
            let args = ["get", resource];
            let table = ok(skiff.kubectl_with(&kubectl, &args), &args);
            // Cells but the last (AGE, which may tick between the two reads).
            let mut lines = table.lines().map(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                cells[..cells.len() - 1].join(" ")
            });
            let header = lines.next().unwrap();
            assert_eq!(header, "NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS");
            lines.collect::<Vec<_>>()
        };
        let v1 = rows("horizontalpodautoscalers.v1.autoscaling");
        assert_eq!(v1, rows("horizontalpodautoscalers.v2.autoscaling"));
        assert!(v1[0].starts_with("api Deployment/api cpu: <unknown>/50% "), "{v1:?}");
        // Upstream pairs statuses with metrics by position: the CPU status shows under memory.
        assert_eq!(
            v1[1],
            "web Deployment/web memory: 120m/100Mi, cpu: <unknown>/75% 2 10 3"
        );
    }
}

/// `kubectl autoscale` leaves minReplicas and the metric to the server's defaults; bad bounds are
/// refused with upstream's message.
#[test]
fn horizontal_pod_autoscalers_are_defaulted_and_validated() {
    let skiff = Skiff::start();
    skiff.kubectl(&["create", "deployment", "web", "--image=nginx"]);
    for kubectl in common::kubectls() {
        let k = |args: &[&str]| ok(skiff.kubectl_with(&kubectl, args), args);
        assert_eq!(
            k(&["autoscale", "deployment", "web", "--max=3"]),
            "horizontalpodautoscaler.autoscaling/web autoscaled\n"
        );
        let hpa = json_of(&skiff, &["get", "hpa.v2.autoscaling", "web", "-o", "json"]);
        assert_eq!(hpa["spec"]["minReplicas"], 1);
        assert_eq!(
            hpa["spec"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}])
        );
        let table = k(&["get", "hpa", "web", "--no-headers"]);
        let cells: Vec<&str> = table.split_whitespace().collect();
        assert_eq!(
            cells[..5],
            ["web", "Deployment/web", "cpu:", "<unknown>/80%", "1"],
            "{table}"
        );
        k(&["delete", "hpa", "web"]);
    }
    let bad = r#"{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "bad"},
        "spec": {"minReplicas": 4, "maxReplicas": 2, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}}"#;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    std::fs::write(&file, bad).unwrap();
    let args = ["create", "-f", file.to_str().unwrap()];
    let stderr = common::fails(
        skiff.kubectl_with(std::path::Path::new("/usr/bin/kubectl"), &args),
        &args,
    );
    assert_eq!(
        stderr.trim_end(),
        "The HorizontalPodAutoscaler \"bad\" is invalid: spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"
    );
}
