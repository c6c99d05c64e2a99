//! Nodes and pods end to end with stock kubectl: a node whose Lease stops renewing goes
//! Unknown, is tainted unreachable, its pods are marked not Ready and evicted by their
//! tolerations; a returning node loses its taints; conditions and cordoning become NoSchedule
//! taints; pods of a node that no longer exists are collected; PodDisruptionBudget status.
//! The nodes are hand-made objects whose Leases the test renews (or stops renewing).

use crate::common::{within, write, Skiff};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn get_json(skiff: &Skiff, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&skiff.kubectl(&all)).expect("kubectl json")
}

async fn client(kubeconfig: &Path) -> kube::Client {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Renew (or create) the node's Lease now.
async fn renew(client: &kube::Client, node: &str) {
    let api: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let now = MicroTime(Timestamp::now());
    let patch = json!({"spec": {"renewTime": now, "holderIdentity": node, "leaseDurationSeconds": 40}});
    if api
        .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .is_err()
    {
        let lease = Lease {
            metadata: kube::api::ObjectMeta {
                name: Some(node.into()),
                namespace: Some("kube-node-lease".into()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(node.into()),
                lease_duration_seconds: Some(40),
                renew_time: Some(now),
                ..Default::default()
            }),
        };
        api.create(&PostParams::default(), &lease).await.unwrap();
    }
}

/// Post the node Ready (as a kubelet does), with room for pods.
async fn post_ready(client: &kube::Client, node: &str) {
    let api: Api<Node> = Api::all(client.clone());
    let now = Timestamp::now().to_string();
    let status = json!({"status": {
    "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
    "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
    "conditions": [
        {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
         "lastHeartbeatTime": now, "lastTransitionTime": now},
        {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
         "message": "kubelet has sufficient memory available", "lastHeartbeatTime": now, "lastTransitionTime": now},
    ]}});
    api.patch_status(node, &PatchParams::default(), &Patch::Strategic(&status))
        .await
        .unwrap();
}

/// Nodes the test keeps alive by renewing their Leases every second until dropped.
struct Heartbeats {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeats {
    fn start(kubeconfig: &Path, nodes: &[&str]) -> Heartbeats {
        let stop = Arc::new(AtomicBool::new(false));
        let (kubeconfig, nodes) = (
            kubeconfig.to_path_buf(),
            nodes.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        );
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let client = client(&kubeconfig).await;
                while !flag.load(Ordering::Relaxed) {
                    for n in &nodes {
                        renew(&client, n).await;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        });
        Heartbeats {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Heartbeats {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Create Ready nodes with a fresh Lease each.
fn nodes(skiff: &Skiff, names: &[&str]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = client(&skiff.kubeconfig).await;
        let api: Api<Node> = Api::all(client.clone());
        for name in names {
            let node: Node = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
            api.create(&PostParams::default(), &node).await.unwrap();
            renew(&client, name).await;
            post_ready(&client, name).await;
        }
    });
}

fn pod_yaml(ns: &str, name: &str, node: &str, labels: &str, tolerations: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{{labels}}}\nspec:\n  nodeName: {node}\n  containers:\n  - name: c\n    image: registry.k8s.io/pause:3.10\n{tolerations}"
    )
}

fn running(skiff: &Skiff, ns: &str, pod: &str, ip: &str, ready: bool) {
    let ready = if ready { "True" } else { "False" };
    let status = format!(
        r#"{{"status":{{"phase":"Running","podIP":"{ip}","podIPs":[{{"ip":"{ip}"}}],"conditions":[{{"type":"Ready","status":"{ready}","lastTransitionTime":"2030-01-01T00:00:00Z"}}]}}}}"#
    );
    skiff.kubectl(&[
        "patch",
        "pod",
        pod,
        "-n",
        ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status,
    ]);
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn taint_keys(node: &Value) -> Vec<String> {
    let mut keys: Vec<String> = node["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            format!(
                "{}:{}",
                t["key"].as_str().unwrap_or(""),
                t["effect"].as_str().unwrap_or("")
            )
        })
        .collect();
    keys.sort();
    keys
}

fn events(skiff: &Skiff, ns: &str, reason: &str) -> Vec<String> {
    get_json(skiff, &["get", "events", "-n", ns])["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["reason"] == reason)
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_silent_node_goes_unknown_is_tainted_and_its_pods_are_evicted() {
    let skiff = Skiff::start_with(&["--node-monitor-grace-period", "5s", "--simulated-nodes", "0"]);
    let dir = tempfile::tempdir().unwrap();
    nodes(&skiff, &["steady", "doomed"]);
    let _alive = Heartbeats::start(&skiff.kubeconfig, &["steady"]);
    skiff.kubectl(&["create", "namespace", "work"]);
    let tolerate = |seconds: &str| {
        format!(
            "  tolerations:\n  - {{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute{seconds}}}\n  - {{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute{seconds}}}\n"
        )
    };
    let docs = [
        pod_yaml("work", "quick", "doomed", "app: a", &tolerate(", tolerationSeconds: 3")),
        pod_yaml(
            "work",
            "slow",
            "doomed",
            "app: a",
            &tolerate(", tolerationSeconds: 3600"),
        ),
        pod_yaml("work", "loyal", "doomed", "app: a", &tolerate("")),
        pod_yaml("work", "plain", "steady", "app: b", ""),
    ];
    skiff.kubectl(&["create", "-f", &write(dir.path(), "pods.yaml", &docs.join("---\n"))]);
    for (i, pod) in ["quick", "slow", "loyal", "plain"].iter().enumerate() {
        running(&skiff, "work", pod, &format!("10.244.3.{}", i + 1), true);
    }

    // No Lease renewal for the grace period: every condition Unknown.
    let node = within(30, "doomed to be Unknown", || {
        let n = get_json(&skiff, &["get", "node", "doomed"]);
        (condition(&n, "Ready")?["status"] == "Unknown").then_some(n)
    });
    let ready = condition(&node, "Ready").unwrap();
    assert_eq!(ready["reason"], "NodeStatusUnknown");
    assert_eq!(ready["message"], "Kubelet stopped posting node status.");
    assert_eq!(condition(&node, "MemoryPressure").unwrap()["status"], "Unknown");
    assert_eq!(
        condition(&node, "DiskPressure").unwrap()["reason"],
        "NodeStatusNeverUpdated"
    );
    let table = skiff.kubectl(&["get", "nodes"]);
    let row = table.lines().find(|l| l.starts_with("doomed")).unwrap();
    assert!(row.split_whitespace().nth(1) == Some("NotReady"), "{table}");
    let steady = table.lines().find(|l| l.starts_with("steady")).unwrap();
    assert!(steady.split_whitespace().nth(1) == Some("Ready"), "{table}");

    // Tainted unreachable, NoExecute (stamped) and NoSchedule.
    let node = within(30, "the unreachable taints", || {
        let n = get_json(&skiff, &["get", "node", "doomed"]);
        (taint_keys(&n)
            == [
                "node.kubernetes.io/unreachable:NoExecute",
                "node.kubernetes.io/unreachable:NoSchedule",
            ])
        .then_some(n)
    });
    let no_execute = node["spec"]["taints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["effect"] == "NoExecute")
        .unwrap();
    assert!(no_execute["timeAdded"].is_string());
    let described = skiff.kubectl(&["describe", "node", "doomed"]);
    assert!(
        described.contains("node.kubernetes.io/unreachable:NoExecute"),
        "{described}"
    );
    assert!(taint_keys(&get_json(&skiff, &["get", "node", "steady"])).is_empty());

    // Its pods are not Ready any more.
    within(20, "the pods of doomed to be not Ready", || {
        ["quick", "slow", "loyal"]
            .iter()
            .all(|p| {
                let pod = get_json(&skiff, &["get", "pod", p, "-n", "work"]);
                condition(&pod, "Ready").is_some_and(|c| c["status"] == "False")
            })
            .then_some(())
    });
    let plain = get_json(&skiff, &["get", "pod", "plain", "-n", "work"]);
    assert_eq!(condition(&plain, "Ready").unwrap()["status"], "True");
    within(10, "the NodeNotReady event", || {
        events(&skiff, "default", "NodeNotReady")
            .iter()
            .any(|m| m == "Node doomed status is now: NodeNotReady")
            .then_some(())
    });

    // quick tolerates the taint for 3s, then is evicted: DisruptionTarget, then deletion (it stays
    // Terminating: no kubelet runs its node).
    let quick = within(30, "quick to be evicted", || {
        let p = get_json(&skiff, &["get", "pod", "quick", "-n", "work"]);
        p["metadata"]["deletionTimestamp"].is_string().then_some(p)
    });
    let target = condition(&quick, "DisruptionTarget").expect("DisruptionTarget");
    assert_eq!(target["status"], "True");
    assert_eq!(target["reason"], "DeletionByTaintManager");
    assert_eq!(target["message"], "Taint manager: deleting due to NoExecute taint");
    assert!(events(&skiff, "work", "TaintManagerEviction").contains(&"Marking for deletion Pod work/quick".to_string()));
    // slow and loyal stay.
    for p in ["slow", "loyal"] {
        let pod = get_json(&skiff, &["get", "pod", p, "-n", "work"]);
        assert!(pod["metadata"]["deletionTimestamp"].is_null(), "{p} was deleted");
    }

    // The node comes back: its taints go, slow's eviction is cancelled.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _back = Heartbeats::start(&skiff.kubeconfig, &["doomed"]);
    rt.block_on(async { post_ready(&client(&skiff.kubeconfig).await, "doomed").await });
    within(30, "doomed to lose its taints", || {
        taint_keys(&get_json(&skiff, &["get", "node", "doomed"]))
            .is_empty()
            .then_some(())
    });
    within(10, "slow's eviction to be cancelled", || {
        events(&skiff, "work", "TaintManagerEviction")
            .contains(&"Cancelling deletion of Pod work/slow".to_string())
            .then_some(())
    });

    // A NoExecute taint plain does not tolerate evicts it at once.
    skiff.kubectl(&["taint", "node", "steady", "example.com/maintenance=now:NoExecute"]);
    let plain = within(20, "plain to be evicted", || {
        let p = get_json(&skiff, &["get", "pod", "plain", "-n", "work"]);
        p["metadata"]["deletionTimestamp"].is_string().then_some(p)
    });
    assert_eq!(
        condition(&plain, "DisruptionTarget").unwrap()["reason"],
        "DeletionByTaintManager"
    );
    let loyal = get_json(&skiff, &["get", "pod", "loyal", "-n", "work"]);
    assert!(loyal["metadata"]["deletionTimestamp"].is_null());
}

#[test]
fn conditions_and_cordoning_become_no_schedule_taints() {
    let skiff = Skiff::start_with(&["--node-monitor-grace-period", "1h", "--simulated-nodes", "0"]);
    nodes(&skiff, &["busy"]);
    let pressure = r#"{"status":{"conditions":[{"type":"MemoryPressure","status":"True","reason":"KubeletHasInsufficientMemory","message":"kubelet has insufficient memory available","lastHeartbeatTime":"2030-01-01T00:00:00Z","lastTransitionTime":"2030-01-01T00:00:00Z"}]}}"#;
    skiff.kubectl(&[
        "patch",
        "node",
        "busy",
        "--subresource=status",
        "--type=strategic",
        "-p",
        pressure,
    ]);
    within(20, "the memory-pressure taint", || {
        (taint_keys(&get_json(&skiff, &["get", "node", "busy"])) == ["node.kubernetes.io/memory-pressure:NoSchedule"])
            .then_some(())
    });
    assert_eq!(skiff.kubectl(&["cordon", "busy"]).trim(), "node/busy cordoned");
    within(20, "the unschedulable taint", || {
        (taint_keys(&get_json(&skiff, &["get", "node", "busy"]))
            == [
                "node.kubernetes.io/memory-pressure:NoSchedule",
                "node.kubernetes.io/unschedulable:NoSchedule",
            ])
        .then_some(())
    });
    skiff.kubectl(&["uncordon", "busy"]);
    let relieved = r#"{"status":{"conditions":[{"type":"MemoryPressure","status":"False","reason":"KubeletHasSufficientMemory","message":"kubelet has sufficient memory available","lastHeartbeatTime":"2030-01-01T00:00:01Z","lastTransitionTime":"2030-01-01T00:00:01Z"}]}}"#;
    skiff.kubectl(&[
        "patch",
        "node",
        "busy",
        "--subresource=status",
        "--type=strategic",
        "-p",
        relieved,
    ]);
    within(20, "the taints to go", || {
        taint_keys(&get_json(&skiff, &["get", "node", "busy"]))
            .is_empty()
            .then_some(())
    });
    // The beta OS and arch labels follow the stable ones.
    skiff.kubectl(&[
        "label",
        "node",
        "busy",
        "kubernetes.io/os=linux",
        "kubernetes.io/arch=amd64",
    ]);
    within(20, "the beta labels", || {
        let labels = get_json(&skiff, &["get", "node", "busy"])["metadata"]["labels"].clone();
        (labels["beta.kubernetes.io/os"] == "linux" && labels["beta.kubernetes.io/arch"] == "amd64").then_some(())
    });
}

#[test]
fn pods_of_a_node_that_is_gone_are_collected() {
    let skiff = Skiff::start_with(&["--node-monitor-grace-period", "1h", "--simulated-nodes", "0"]);
    let dir = tempfile::tempdir().unwrap();
    skiff.kubectl(&["create", "namespace", "gc"]);
    skiff.kubectl(&[
        "create",
        "-f",
        &write(dir.path(), "p.yaml", &pod_yaml("gc", "orphan", "ghost", "app: x", "")),
    ]);
    running(&skiff, "gc", "orphan", "10.244.9.9", true);
    // After the quarantine (40s) and the next pass (every 20s) the pod is gone.
    within(90, "the orphan to be collected", || {
        let out = skiff.kubectl_with(Path::new("/usr/bin/kubectl"), &["get", "pod", "orphan", "-n", "gc"]);
        (!out.status.success()).then_some(())
    });
}

#[test]
fn pod_disruption_budgets_report_what_may_be_disrupted() {
    let skiff = Skiff::start_with(&["--node-monitor-grace-period", "1h", "--simulated-nodes", "0"]);
    let dir = tempfile::tempdir().unwrap();
    nodes(&skiff, &["db-node"]);
    skiff.kubectl(&["create", "namespace", "db"]);
    let docs: Vec<String> = (0..3)
        .map(|i| pod_yaml("db", &format!("db-{i}"), "db-node", "app: db", ""))
        .collect();
    skiff.kubectl(&["create", "-f", &write(dir.path(), "db.yaml", &docs.join("---\n"))]);
    running(&skiff, "db", "db-0", "10.244.4.1", true);
    running(&skiff, "db", "db-1", "10.244.4.2", true);
    running(&skiff, "db", "db-2", "10.244.4.3", false);
    skiff.kubectl(&[
        "create",
        "pdb",
        "db",
        "-n",
        "db",
        "--selector=app=db",
        "--min-available=2",
    ]);
    let pdb = within(20, "the PDB status", || {
        let p = get_json(&skiff, &["get", "pdb", "db", "-n", "db"]);
        (p["status"]["expectedPods"] == 3).then_some(p)
    });
    let status = &pdb["status"];
    assert_eq!(
        (status["currentHealthy"].as_i64(), status["desiredHealthy"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(status["disruptionsAllowed"], 0);
    assert_eq!(status["observedGeneration"], pdb["metadata"]["generation"]);
    let c = condition(&pdb, "DisruptionAllowed").unwrap();
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some("False"), Some("InsufficientPods"))
    );
    let table = skiff.kubectl(&["get", "pdb", "-n", "db"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        &header[..4],
        ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS"],
        "{table}"
    );
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..4], ["db", "2", "N/A", "0"], "{table}");

    // The third pod becomes Ready: one disruption allowed.
    running(&skiff, "db", "db-2", "10.244.4.3", true);
    let pdb = within(20, "a disruption to be allowed", || {
        let p = get_json(&skiff, &["get", "pdb", "db", "-n", "db"]);
        (p["status"]["disruptionsAllowed"] == 1).then_some(p)
    });
    let c = condition(&pdb, "DisruptionAllowed").unwrap();
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some("True"), Some("SufficientPods"))
    );
    let row: Vec<String> = skiff
        .kubectl(&["get", "pdb", "db", "-n", "db", "--no-headers"])
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(row[3], "1");

    // maxUnavailable as a percentage counts the scale of the pods' controller: a ReplicaSet of 4
    // adopting four pods, three of them Ready.
    let docs: Vec<String> = (0..4)
        .map(|i| pod_yaml("db", &format!("rs-{i}"), "db-node", "app: rs", ""))
        .collect();
    skiff.kubectl(&["create", "-f", &write(dir.path(), "rs-pods.yaml", &docs.join("---\n"))]);
    for i in 0..4 {
        running(&skiff, "db", &format!("rs-{i}"), &format!("10.244.5.{}", i + 1), i != 3);
    }
    let rs = "apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: rs
  namespace: db
spec:
  replicas: 4
  selector:
    matchLabels: {app: rs}
  template:
    metadata:
      labels: {app: rs}
    spec:
      containers:
      - name: c
        image: registry.k8s.io/pause:3.10
";
    skiff.kubectl(&["create", "-f", &write(dir.path(), "rs.yaml", rs)]);
    skiff.kubectl(&[
        "create",
        "pdb",
        "rs",
        "-n",
        "db",
        "--selector=app=rs",
        "--max-unavailable=50%",
    ]);
    let pdb = within(30, "the percentage PDB", || {
        let p = get_json(&skiff, &["get", "pdb", "rs", "-n", "db"]);
        (p["status"]["expectedPods"] == 4 && p["status"]["currentHealthy"] == 3).then_some(p)
    });
    assert_eq!(pdb["status"]["desiredHealthy"], 2);
    assert_eq!(pdb["status"]["disruptionsAllowed"], 1);
    let row: Vec<String> = skiff
        .kubectl(&["get", "pdb", "rs", "-n", "db", "--no-headers"])
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(&row[1..4], ["N/A", "50%", "1"]);
}

/// A `skiff node` process, killed when dropped.
struct Agent(std::process::Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn pods_of_a_node_that_stops_heartbeating_are_recreated_elsewhere_by_their_replicaset() {
    // Two simulated nodes in the server; a third runs as its own `skiff node` process.
    let skiff = Skiff::start_with(&["--node-monitor-grace-period", "15s", "--simulated-nodes", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent(
        std::process::Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(["node", "--name", "runaway", "--kubeconfig"])
            .arg(&skiff.kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start skiff node"),
    );
    within(60, "three Ready nodes", || {
        let nodes = get_json(&skiff, &["get", "nodes"]);
        let ready = nodes["items"]
            .as_array()?
            .iter()
            .filter(|n| condition(n, "Ready").is_some_and(|c| c["status"] == "True"))
            .count();
        (ready == 3).then_some(())
    });
    // Only runaway takes the pods at first.
    skiff.kubectl(&["cordon", "skiff-node-0", "skiff-node-1"]);
    let rs = "apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers:
      - name: web
        image: registry.k8s.io/pause:3.10
";
    skiff.kubectl(&["create", "-f", &write(dir.path(), "rs.yaml", rs)]);
    let on = |node: &str| -> Vec<Value> {
        get_json(&skiff, &["get", "pods", "-l", "app=web"])["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["spec"]["nodeName"] == node)
            .cloned()
            .collect()
    };
    let running = |p: &Value| p["status"]["phase"] == "Running" && p["metadata"]["deletionTimestamp"].is_null();
    within(60, "both pods running on runaway", || {
        (on("runaway").iter().filter(|p| running(p)).count() == 2).then_some(())
    });
    skiff.kubectl(&["uncordon", "skiff-node-0", "skiff-node-1"]);

    // The agent dies: no more Lease renewals.
    agent.0.kill().unwrap();
    agent.0.wait().unwrap();
    within(60, "runaway to be NotReady", || {
        let table = skiff.kubectl(&["get", "node", "runaway", "--no-headers"]);
        (table.split_whitespace().nth(1) == Some("NotReady")).then_some(())
    });
    within(30, "runaway to be tainted unreachable", || {
        let keys = taint_keys(&get_json(&skiff, &["get", "node", "runaway"]));
        (keys
            == [
                "node.kubernetes.io/unreachable:NoExecute",
                "node.kubernetes.io/unreachable:NoSchedule",
            ])
        .then_some(())
    });
    // Evicted after their 2 s toleration; the ReplicaSet makes new pods on the live nodes.
    let replaced = within(60, "two replacements running elsewhere", || {
        let pods = get_json(&skiff, &["get", "pods", "-l", "app=web"]);
        let elsewhere: Vec<Value> = pods["items"]
            .as_array()?
            .iter()
            .filter(|p| running(p) && p["spec"]["nodeName"] != "runaway")
            .cloned()
            .collect();
        (elsewhere.len() == 2).then_some(elsewhere)
    });
    for p in &replaced {
        let node = p["spec"]["nodeName"].as_str().unwrap();
        assert!(node.starts_with("skiff-node-"), "{node}");
    }
    for old in on("runaway") {
        assert!(old["metadata"]["deletionTimestamp"].is_string(), "{old}");
        assert_eq!(
            condition(&old, "DisruptionTarget").unwrap()["reason"],
            "DeletionByTaintManager"
        );
    }
    let rs = get_json(&skiff, &["get", "rs", "web"]);
    assert_eq!(rs["status"]["readyReplicas"], 2);
}
