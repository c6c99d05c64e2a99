//! Service endpoints end to end with stock kubectl: `kubectl expose` over pods on a node, the
//! EndpointSlices and Endpoints following readiness and termination, `kubectl describe service`,
//! slices of at most 100 endpoints, mirroring of hand-written Endpoints, and the `kubernetes`
//! Service's endpoints. The pods' statuses are written by the test (no node agent runs their node).

use crate::common;

use crate::common::{eventually, kubectls, write, Skiff};
use serde_json::Value;
use std::path::Path;

/// A long grace so the hand-made node is never found silent during the test.
const FLAGS: &[&str] = &["--node-monitor-grace-period", "1h"];

fn json(skiff: &Skiff, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&skiff.kubectl(&all)).expect("kubectl json")
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

/// A Node named `name` in zone-a, Ready.
fn ready_node(skiff: &Skiff, dir: &Path, name: &str) {
    let yaml = format!(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels:\n    topology.kubernetes.io/zone: zone-a\n"
    );
    skiff.kubectl(&["create", "-f", &write(dir, &format!("{name}.yaml"), &yaml)]);
    let now = "2030-01-01T00:00:00Z";
    let status = format!(
        r#"{{"status":{{"conditions":[{{"type":"Ready","status":"True","reason":"KubeletReady","message":"kubelet is posting ready status","lastHeartbeatTime":"{now}","lastTransitionTime":"{now}"}}]}}}}"#
    );
    skiff.kubectl(&[
        "patch",
        "node",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status,
    ]);
}

/// Pods `names` labelled app=web on `node`, serving a port named http on 8080.
fn web_pods(skiff: &Skiff, dir: &Path, ns: &str, node: &str, names: &[&str]) {
    let docs: Vec<String> = names
        .iter()
        .map(|name| {
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    app: web\nspec:\n  nodeName: {node}\n  containers:\n  - name: web\n    image: registry.k8s.io/pause:3.10\n    ports:\n    - name: http\n      containerPort: 8080\n"
            )
        })
        .collect();
    skiff.kubectl(&[
        "create",
        "-f",
        &write(dir, &format!("{ns}-pods.yaml"), &docs.join("---\n")),
    ]);
}

/// Report the pod running at `ip`, Ready or not.
fn set_status(skiff: &Skiff, ns: &str, name: &str, ip: &str, ready: bool) {
    let ready = if ready { "True" } else { "False" };
    let status = format!(
        r#"{{"status":{{"phase":"Running","podIP":"{ip}","podIPs":[{{"ip":"{ip}"}}],"conditions":[{{"type":"Ready","status":"{ready}","lastTransitionTime":"2030-01-01T00:00:0{}Z"}}]}}}}"#,
        if ready == "True" { 1 } else { 2 }
    );
    skiff.kubectl(&[
        "patch",
        "pod",
        name,
        "-n",
        ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status,
    ]);
}

fn slices(skiff: &Skiff, ns: &str, service: &str) -> Vec<Value> {
    items(&json(
        skiff,
        &[
            "get",
            "endpointslices",
            "-n",
            ns,
            "-l",
            &format!("kubernetes.io/service-name={service}"),
        ],
    ))
}

fn endpoint_of<'a>(slice: &'a Value, pod: &str) -> Option<&'a Value> {
    slice["endpoints"]
        .as_array()?
        .iter()
        .find(|e| e["targetRef"]["name"] == pod)
}

/// The Endpoints line of `kubectl describe service`.
fn described_endpoints(skiff: &Skiff, kubectl: &Path, ns: &str, service: &str) -> String {
    let out = common::ok(
        skiff.kubectl_with(kubectl, &["describe", "service", service, "-n", ns]),
        &["describe"],
    );
    out.lines()
        .find(|l| l.starts_with("Endpoints:"))
        .map(|l| l.trim_start_matches("Endpoints:").trim().to_string())
        .unwrap_or_default()
}

#[test]
fn exposed_pods_follow_readiness_in_slices_endpoints_and_describe() {
    let skiff = Skiff::start_with(FLAGS);
    let dir = tempfile::tempdir().unwrap();
    skiff.kubectl(&["create", "namespace", "shop"]);
    ready_node(&skiff, dir.path(), "worker-a");
    web_pods(&skiff, dir.path(), "shop", "worker-a", &["web-0", "web-1", "web-2"]);
    set_status(&skiff, "shop", "web-0", "10.244.1.10", true);
    set_status(&skiff, "shop", "web-1", "10.244.1.11", true);
    set_status(&skiff, "shop", "web-2", "10.244.1.12", false);
    let out = skiff.kubectl(&[
        "expose",
        "pod",
        "web-0",
        "-n",
        "shop",
        "--name",
        "web",
        "--port",
        "80",
        "--target-port",
        "http",
        "--selector",
        "app=web",
    ]);
    assert_eq!(out.trim(), "service/web exposed");

    // One slice with the three pods, the not-Ready one neither ready nor serving.
    let slice = eventually("the slice of web", || {
        let s = slices(&skiff, "shop", "web");
        (s.len() == 1 && s[0]["endpoints"].as_array().is_some_and(|e| e.len() == 3)).then(|| s[0].clone())
    });
    let name = slice["metadata"]["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("web-"), "{name}");
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(slice["metadata"]["ownerReferences"][0]["kind"], "Service");
    assert_eq!(slice["metadata"]["ownerReferences"][0]["name"], "web");
    assert_eq!(
        slice["ports"],
        serde_json::json!([{"name": "", "port": 8080, "protocol": "TCP"}])
    );
    let ep = endpoint_of(&slice, "web-0").unwrap();
    assert_eq!(ep["addresses"], serde_json::json!(["10.244.1.10"]));
    assert_eq!(
        ep["conditions"],
        serde_json::json!({"ready": true, "serving": true, "terminating": false})
    );
    assert_eq!(ep["nodeName"], "worker-a");
    assert_eq!(ep["zone"], "zone-a");
    assert_eq!(ep["targetRef"]["kind"], "Pod");
    let unready = endpoint_of(&slice, "web-2").unwrap();
    assert_eq!(
        unready["conditions"],
        serde_json::json!({"ready": false, "serving": false, "terminating": false})
    );
    assert!(slice["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"].is_string());

    // What kubectl prints.
    let table = skiff.kubectl(&["get", "endpointslices", "-n", "shop"]);
    let row = table.lines().find(|l| l.starts_with(&name)).expect(&table);
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cols[1..4],
        ["IPv4", "8080", "10.244.1.10,10.244.1.11,10.244.1.12"],
        "{table}"
    );
    for kubectl in kubectls() {
        let described = eventually("describe to show the ready pods", || {
            let d = described_endpoints(&skiff, &kubectl, "shop", "web");
            (d == "10.244.1.10:8080,10.244.1.11:8080").then_some(d)
        });
        assert!(!described.contains("10.244.1.12"));
    }
    // The legacy Endpoints: ready pods under addresses, the other under notReadyAddresses.
    let endpoints = eventually("the Endpoints of web", || {
        let e = json(&skiff, &["get", "endpoints", "web", "-n", "shop"]);
        e["subsets"].is_array().then_some(e)
    });
    let subset = &endpoints["subsets"][0];
    let ips = |key: &str| -> Vec<String> {
        subset[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| a["ip"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ips("addresses"), ["10.244.1.10", "10.244.1.11"]);
    assert_eq!(ips("notReadyAddresses"), ["10.244.1.12"]);
    assert_eq!(subset["ports"], serde_json::json!([{"port": 8080, "protocol": "TCP"}]));
    assert!(endpoints["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"].is_string());
    let table = skiff.kubectl(&["get", "endpoints", "web", "-n", "shop"]);
    assert!(table.contains("10.244.1.10:8080,10.244.1.11:8080"), "{table}");

    // web-2 becomes Ready: the same slice is updated in place.
    let before = slice["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    set_status(&skiff, "shop", "web-2", "10.244.1.12", true);
    let slice = eventually("web-2 to be ready", || {
        let s = slices(&skiff, "shop", "web");
        let ready = s.len() == 1 && endpoint_of(&s[0], "web-2").is_some_and(|e| e["conditions"]["ready"] == true);
        ready.then(|| s[0].clone())
    });
    assert_eq!(slice["metadata"]["name"], name.as_str());
    assert_ne!(slice["metadata"]["resourceVersion"], before.as_str());
    eventually("describe to show three endpoints", || {
        (described_endpoints(&skiff, Path::new("/usr/bin/kubectl"), "shop", "web")
            == "10.244.1.10:8080,10.244.1.11:8080,10.244.1.12:8080")
            .then_some(())
    });

    // web-0 is being deleted (no kubelet finishes it): terminating, still serving, not ready.
    skiff.kubectl(&[
        "delete",
        "pod",
        "web-0",
        "-n",
        "shop",
        "--wait=false",
        "--grace-period=300",
    ]);
    eventually("web-0 to be terminating", || {
        let s = slices(&skiff, "shop", "web");
        let ep = s.first().and_then(|s| endpoint_of(s, "web-0").cloned())?;
        (ep["conditions"] == serde_json::json!({"ready": false, "serving": true, "terminating": true})).then_some(())
    });
    eventually("the Endpoints to drop web-0", || {
        let e = json(&skiff, &["get", "endpoints", "web", "-n", "shop"]);
        let all = e["subsets"].to_string();
        (!all.contains("10.244.1.10") && all.contains("10.244.1.11")).then_some(())
    });
    // Gone for good: out of the slice.
    skiff.kubectl(&["delete", "pod", "web-0", "-n", "shop", "--grace-period=0", "--force"]);
    eventually("web-0 to leave the slice", || {
        let s = slices(&skiff, "shop", "web");
        (s.len() == 1 && endpoint_of(&s[0], "web-0").is_none() && s[0]["endpoints"].as_array()?.len() == 2)
            .then_some(())
    });

    // A Service that selects nothing keeps one empty placeholder slice.
    skiff.kubectl(&["create", "service", "clusterip", "empty", "-n", "shop", "--tcp=80:8080"]);
    let placeholder = eventually("the placeholder slice", || {
        let s = slices(&skiff, "shop", "empty");
        (s.len() == 1).then(|| s[0].clone())
    });
    assert!(
        placeholder["endpoints"].as_array().is_none_or(|e| e.is_empty()),
        "{placeholder}"
    );

    // Deleting the Service deletes its Endpoints (and its slices go with their owner).
    skiff.kubectl(&["delete", "service", "web", "-n", "shop"]);
    eventually("the Endpoints of web to go", || {
        let out = skiff.kubectl_with(
            Path::new("/usr/bin/kubectl"),
            &["get", "endpoints", "web", "-n", "shop"],
        );
        (!out.status.success()).then_some(())
    });
}

#[test]
fn a_large_service_is_cut_into_slices_of_a_hundred() {
    let skiff = Skiff::start_with(FLAGS);
    let dir = tempfile::tempdir().unwrap();
    skiff.kubectl(&["create", "namespace", "big"]);
    ready_node(&skiff, dir.path(), "worker-b");
    let names: Vec<String> = (0..150).map(|i| format!("web-{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    web_pods(&skiff, dir.path(), "big", "worker-b", &refs);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&skiff.kubeconfig).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        let api: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(client, "big");
        let patches = (0..150).map(|i| {
            let api = api.clone();
            async move {
                let ip = format!("10.244.2.{}", i + 1);
                let patch = serde_json::json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2030-01-01T00:00:00Z"}]}});
                api.patch_status(&format!("web-{i}"), &Default::default(), &kube::api::Patch::Merge(&patch))
                    .await
                    .unwrap();
            }
        });
        futures::future::join_all(patches).await;
    });
    skiff.kubectl(&["create", "service", "clusterip", "web", "-n", "big", "--tcp=80:8080"]);
    skiff.kubectl(&["set", "selector", "service", "web", "-n", "big", "app=web"]);
    let sizes = eventually("150 endpoints in two slices", || {
        let s = slices(&skiff, "big", "web");
        let mut sizes: Vec<usize> = s
            .iter()
            .map(|s| s["endpoints"].as_array().map_or(0, |e| e.len()))
            .collect();
        sizes.sort();
        (sizes.iter().sum::<usize>() == 150).then_some(sizes)
    });
    assert_eq!(sizes, [50, 100]);
    // The legacy Endpoints hold all 150 (under the 1000 cap: no over-capacity annotation).
    let endpoints = json(&skiff, &["get", "endpoints", "web", "-n", "big"]);
    assert_eq!(endpoints["subsets"][0]["addresses"].as_array().unwrap().len(), 150);
    assert!(endpoints["metadata"]["annotations"]["endpoints.kubernetes.io/over-capacity"].is_null());
    let table = skiff.kubectl(&["get", "endpoints", "web", "-n", "big"]);
    assert!(table.contains("+ 147 more..."), "{table}");
}

#[test]
fn hand_written_endpoints_are_mirrored_and_the_kubernetes_service_has_endpoints() {
    let skiff = Skiff::start_with(FLAGS);
    let dir = tempfile::tempdir().unwrap();
    let yaml = "apiVersion: v1
kind: Service
metadata:
  name: external
spec:
  ports:
  - name: http
    port: 80
---
apiVersion: v1
kind: Endpoints
metadata:
  name: external
  labels:
    team: storage
subsets:
- addresses:
  - ip: 192.168.5.1
  - ip: 192.168.5.2
  notReadyAddresses:
  - ip: 192.168.5.3
  ports:
  - name: http
    port: 80
";
    skiff.kubectl(&["create", "-f", &write(dir.path(), "external.yaml", yaml)]);
    let slice = eventually("the mirrored slice", || {
        let s = slices(&skiff, "default", "external");
        (s.len() == 1 && s[0]["endpoints"].as_array().is_some_and(|e| e.len() == 3)).then(|| s[0].clone())
    });
    let labels = &slice["metadata"]["labels"];
    assert_eq!(
        labels["endpointslice.kubernetes.io/managed-by"],
        "endpointslicemirroring-controller.k8s.io"
    );
    assert_eq!(labels["team"], "storage");
    assert_eq!(slice["metadata"]["ownerReferences"][0]["kind"], "Endpoints");
    assert_eq!(
        slice["ports"],
        serde_json::json!([{"name": "http", "port": 80, "protocol": "TCP"}])
    );
    let not_ready: Vec<&Value> = slice["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["conditions"]["ready"] == false)
        .collect();
    assert_eq!(not_ready.len(), 1);
    assert_eq!(not_ready[0]["addresses"], serde_json::json!(["192.168.5.3"]));
    // The Endpoints controller leaves selectorless Services alone: the hand-written object stays.
    assert_eq!(
        json(&skiff, &["get", "endpoints", "external"])["metadata"]["labels"]["team"],
        "storage"
    );
    for kubectl in kubectls() {
        let d = described_endpoints(&skiff, &kubectl, "default", "external");
        assert_eq!(d, "192.168.5.1:80,192.168.5.2:80", "{}", kubectl.display());
    }
    // Opting out of mirroring removes the slice.
    skiff.kubectl(&[
        "label",
        "endpoints",
        "external",
        "endpointslice.kubernetes.io/skip-mirror=true",
    ]);
    eventually("the mirrored slice to go", || {
        slices(&skiff, "default", "external").is_empty().then_some(())
    });

    // The kubernetes Service points at the apiserver.
    let server = skiff.kubeconfig_server();
    let (_, port) = server.rsplit_once(':').unwrap();
    let ep = eventually("the kubernetes Endpoints", || {
        let out = skiff.kubectl_with(
            Path::new("/usr/bin/kubectl"),
            &["get", "endpoints", "kubernetes", "-o", "json"],
        );
        out.status
            .success()
            .then(|| serde_json::from_slice::<Value>(&out.stdout).unwrap())
    });
    assert_eq!(ep["subsets"][0]["addresses"][0]["ip"], "127.0.0.1");
    assert_eq!(ep["subsets"][0]["ports"][0]["port"].as_i64(), port.parse::<i64>().ok());
    assert_eq!(ep["subsets"][0]["ports"][0]["name"], "https");
    assert_eq!(
        ep["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"],
        "true"
    );
    let slice = eventually("the kubernetes slice", || {
        let out = skiff.kubectl_with(
            Path::new("/usr/bin/kubectl"),
            &["get", "endpointslice", "kubernetes", "-o", "json"],
        );
        out.status
            .success()
            .then(|| serde_json::from_slice::<Value>(&out.stdout).unwrap())
    });
    assert_eq!(slice["endpoints"][0]["addresses"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(slice["endpoints"][0]["conditions"]["ready"], true);
    assert_eq!(slice["metadata"]["labels"]["kubernetes.io/service-name"], "kubernetes");
    for kubectl in kubectls() {
        let d = described_endpoints(&skiff, &kubectl, "default", "kubernetes");
        assert_eq!(d, format!("127.0.0.1:{port}"), "{}", kubectl.display());
    }
    // Nothing keeps rewriting them.
    let rv = slice["metadata"]["resourceVersion"].clone();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        json(&skiff, &["get", "endpointslice", "kubernetes"])["metadata"]["resourceVersion"],
        rv
    );
}

#[test]
fn an_exposed_deployment_on_simulated_nodes_follows_scaling_and_readiness() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "2"]);
    skiff.kubectl(&[
        "create",
        "deployment",
        "web",
        "--image=registry.k8s.io/pause:3.10",
        "--replicas=3",
        "--port=8080",
    ]);
    let out = skiff.kubectl(&["expose", "deployment", "web", "--port", "80", "--target-port", "8080"]);
    assert_eq!(out.trim(), "service/web exposed");
    let ready = |s: &Value| -> Vec<Value> {
        s["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["conditions"]["ready"] == true)
            .cloned()
            .collect()
    };
    let slice = common::eventually("three ready endpoints", || {
        let s = slices(&skiff, "default", "web");
        (s.len() == 1 && ready(&s[0]).len() == 3).then(|| s[0].clone())
    });
    for ep in ready(&slice) {
        let ip = ep["addresses"][0].as_str().unwrap();
        assert!(ip.starts_with("10.244."), "{ip} is not from a node's pod CIDR");
        assert!(ep["nodeName"].as_str().unwrap().starts_with("skiff-node-"), "{ep}");
        assert_eq!(ep["targetRef"]["kind"], "Pod");
    }
    for kubectl in kubectls() {
        let d = described_endpoints(&skiff, &kubectl, "default", "web");
        assert_eq!(d.split(',').filter(|e| e.ends_with(":8080")).count(), 3, "{d}");
    }

    skiff.kubectl(&["scale", "deployment", "web", "--replicas=1"]);
    common::eventually("one endpoint left", || {
        let s = slices(&skiff, "default", "web");
        (s.len() == 1 && s[0]["endpoints"].as_array().is_some_and(|e| e.len() == 1)).then_some(())
    });

    // A new revision whose pods never become Ready: the rollout waits, the new pod is listed
    // not ready (not serving), and describe keeps showing only the old one.
    let patch = r#"{"spec":{"template":{"metadata":{"annotations":{"sim.skiff.dev/ready":"false"}}}}}"#;
    skiff.kubectl(&["patch", "deployment", "web", "--type=merge", "-p", patch]);
    let slice = common::eventually("a not-ready endpoint beside the ready one", || {
        let s = slices(&skiff, "default", "web");
        let eps = s.first()?["endpoints"].as_array()?.clone();
        let unready = eps.iter().filter(|e| e["conditions"]["ready"] == false).count();
        (eps.len() == 2 && unready == 1).then(|| s[0].clone())
    });
    let unready = slice["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["conditions"]["ready"] == false)
        .unwrap();
    assert_eq!(unready["conditions"]["serving"], false);
    let ok = ready(&slice)[0]["addresses"][0].as_str().unwrap().to_string();
    assert_eq!(
        described_endpoints(&skiff, Path::new("/usr/bin/kubectl"), "default", "web"),
        format!("{ok}:8080")
    );
}
