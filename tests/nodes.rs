//! Nodes end to end: `skiff server --simulated-nodes` registers Ready nodes with leases and pod
//! CIDRs; pods bound by hand (spec.nodeName) run, complete, crash-loop with growing back-off and
//! are deleted gracefully; static pods are mirrored; `skiff node` runs an agent alone and picks
//! its pods up again after a restart; `ControlPlane::builder()` does it all in-process. Driven
//! with stock kubectl.

use crate::common;

use crate::common::{eventually, kubectls, write, Skiff};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn json(skiff: &Skiff, args: &[&str]) -> Value {
    let mut full = args.to_vec();
    full.extend(["-o", "json"]);
    serde_json::from_str(&skiff.kubectl(&full)).expect("kubectl json")
}

fn pod(skiff: &Skiff, name: &str) -> Value {
    json(skiff, &["get", "pod", name])
}

/// `kubectl get ... -o json` when it succeeds.
fn try_json(skiff: &Skiff, args: &[&str]) -> Option<Value> {
    let mut full = args.to_vec();
    full.extend(["-o", "json"]);
    let out = skiff.kubectl_with(Path::new("/usr/bin/kubectl"), &full);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())
        .flatten()
}

/// Whether kubectl can get the object (it exists).
fn exists(skiff: &Skiff, args: &[&str]) -> bool {
    skiff.kubectl_with(Path::new("/usr/bin/kubectl"), args).status.success()
}

fn apply(skiff: &Skiff, dir: &Path, file: &str, yaml: &str) {
    skiff.kubectl(&["apply", "-f", &write(dir, file, yaml)]);
}

fn condition<'a>(pod: &'a Value, type_: &str) -> &'a Value {
    pod["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == type_))
        .unwrap_or(&Value::Null)
}

#[test]
fn simulated_nodes_register_ready_with_leases_and_pod_cidrs() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "3"]);
    for kubectl in kubectls() {
        let wide = eventually("3 Ready nodes", || {
            let out = common::ok(
                skiff.kubectl_with(&kubectl, &["get", "nodes", "-o", "wide"]),
                &["get", "nodes"],
            );
            (out.lines().filter(|l| l.contains(" Ready ")).count() == 3).then_some(out)
        });
        let header = wide.lines().next().unwrap_or_default();
        for column in [
            "VERSION",
            "INTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME",
        ] {
            assert!(header.contains(column), "{wide}");
        }
        for (i, line) in wide.lines().skip(1).enumerate() {
            assert!(line.starts_with(&format!("skiff-node-{i} ")), "{wide}");
            assert!(line.contains("v1.35.0"), "{wide}");
            assert!(line.contains(&format!("172.18.0.{}", i + 2)), "{wide}");
            assert!(line.contains("skiff-sim://0.1.0"), "{wide}");
        }
        let described = common::ok(
            skiff.kubectl_with(&kubectl, &["describe", "node", "skiff-node-1"]),
            &["describe", "node"],
        );
        for expected in [
            "Conditions:",
            "KubeletReady                 kubelet is posting ready status",
            "KubeletHasSufficientMemory   kubelet has sufficient memory available",
            "KubeletHasNoDiskPressure     kubelet has no disk pressure",
            "KubeletHasSufficientPID      kubelet has sufficient PID available",
            "Capacity:",
            "Allocatable:",
            "pods:               110",
            "HolderIdentity:  skiff-node-1",
            "kubernetes.io/hostname=skiff-node-1",
            "Kubelet Version:            v1.35.0",
            "PodCIDR:",
        ] {
            assert!(described.contains(expected), "missing {expected:?} in\n{described}");
        }
    }
    let nodes = json(&skiff, &["get", "nodes"]);
    let mut cidrs: Vec<&str> = nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["spec"]["podCIDR"].as_str().unwrap_or_default())
        .collect();
    cidrs.sort();
    assert_eq!(cidrs, ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]);
    let node = &nodes["items"][0];
    assert_eq!(node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"], 0);
    assert_eq!(node["status"]["nodeInfo"]["operatingSystem"], "linux");
    // Leases in kube-node-lease, owned by their Node, renewed every 10s.
    let lease = json(&skiff, &["get", "lease", "-n", "kube-node-lease", "skiff-node-0"]);
    assert_eq!(lease["spec"]["holderIdentity"], "skiff-node-0");
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 40);
    assert_eq!(lease["metadata"]["ownerReferences"][0]["kind"], "Node");
    assert_eq!(lease["metadata"]["ownerReferences"][0]["uid"], node["metadata"]["uid"]);
    let renewed = lease["spec"]["renewTime"].clone();
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        let now = json(&skiff, &["get", "lease", "-n", "kube-node-lease", "skiff-node-0"]);
        if now["spec"]["renewTime"] != renewed {
            break;
        }
        assert!(Instant::now() < deadline, "the lease was not renewed: {now}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn bound_pods_run_complete_crash_loop_and_are_deleted_gracefully() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "2"]);
    let dir = tempfile::tempdir().unwrap();
    apply(
        &skiff,
        dir.path(),
        "pods.yaml",
        "apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  nodeName: skiff-node-1
  initContainers: [{name: setup, image: busybox}]
  containers: [{name: nginx, image: nginx:1.27}]
---
apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  nodeName: skiff-node-0
  restartPolicy: Never
  containers: [{name: c, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata:
  name: crash
  annotations: {sim.skiff.dev/exit-code: \"1\", sim.skiff.dev/run-duration: \"0s\"}
spec:
  nodeName: skiff-node-0
  containers: [{name: app, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata:
  name: unready
  annotations: {sim.skiff.dev/ready: \"false\"}
spec:
  nodeName: skiff-node-0
  containers: [{name: app, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: too-big}
spec:
  nodeName: skiff-node-0
  containers: [{name: app, image: busybox, resources: {requests: {cpu: \"64\"}}}]
",
    );
    // A running pod: phase, IPs from the node's range, conditions, container statuses.
    let web = eventually("web Running and Ready", || {
        let p = pod(&skiff, "web");
        (p["status"]["phase"] == "Running" && condition(&p, "Ready")["status"] == "True").then_some(p)
    });
    let node = json(&skiff, &["get", "node", "skiff-node-1"]);
    let cidr = node["spec"]["podCIDR"].as_str().unwrap();
    let prefix = cidr.trim_end_matches("0/24");
    let ip = web["status"]["podIP"].as_str().unwrap();
    assert!(ip.starts_with(prefix), "{ip} not in {cidr}");
    assert_eq!(web["status"]["podIPs"][0]["ip"], ip);
    assert_eq!(web["status"]["hostIP"], "172.18.0.3");
    assert!(web["status"]["startTime"].is_string());
    for type_ in [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ] {
        assert_eq!(condition(&web, type_)["status"], "True", "{type_}: {web}");
    }
    let nginx = &web["status"]["containerStatuses"][0];
    assert_eq!(nginx["name"], "nginx");
    assert_eq!(nginx["ready"], true);
    assert_eq!(nginx["started"], true);
    assert_eq!(nginx["restartCount"], 0);
    assert_eq!(nginx["image"], "docker.io/library/nginx:1.27");
    assert!(nginx["imageID"]
        .as_str()
        .unwrap()
        .starts_with("docker.io/library/nginx@sha256:"));
    assert!(nginx["containerID"].as_str().unwrap().starts_with("skiff-sim://"));
    assert!(nginx["state"]["running"]["startedAt"].is_string());
    let setup = &web["status"]["initContainerStatuses"][0];
    assert_eq!(setup["state"]["terminated"]["reason"], "Completed");
    assert_eq!(setup["ready"], true);

    // A pod that runs to completion.
    let once = eventually("once Succeeded", || {
        let p = pod(&skiff, "once");
        (p["status"]["phase"] == "Succeeded").then_some(p)
    });
    assert_eq!(condition(&once, "Ready")["reason"], "PodCompleted");
    assert_eq!(
        once["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        0
    );
    assert!(skiff.kubectl(&["get", "pod", "once"]).contains("Completed"));

    // Failing readiness keeps the pod Running but unready.
    let unready = eventually("unready Running", || {
        let p = pod(&skiff, "unready");
        (p["status"]["phase"] == "Running").then_some(p)
    });
    assert_eq!(condition(&unready, "Ready")["reason"], "ContainersNotReady");
    assert_eq!(
        condition(&unready, "Ready")["message"],
        "containers with unready status: [app]"
    );

    // A pod bound by hand that does not fit is rejected by the node's admission.
    let rejected = eventually("too-big rejected", || {
        let p = pod(&skiff, "too-big");
        (p["status"]["phase"] == "Failed").then_some(p)
    });
    assert_eq!(rejected["status"]["reason"], "OutOfcpu");
    assert_eq!(
        rejected["status"]["message"],
        "Pod was rejected: Node didn't have enough resource: cpu, requested: 64000, used: 0, capacity: 4000"
    );

    // CrashLoopBackOff: the first restart is immediate, then 10s, then 20s.
    let first = eventually("crash in back-off", || {
        let p = pod(&skiff, "crash");
        let s = &p["status"]["containerStatuses"][0];
        (s["state"]["waiting"]["reason"] == "CrashLoopBackOff").then(|| s.clone())
    });
    assert_eq!(first["restartCount"], 1);
    let uid = pod(&skiff, "crash")["metadata"]["uid"].as_str().unwrap().to_string();
    assert_eq!(
        first["state"]["waiting"]["message"],
        format!("back-off 10s restarting failed container=app pod=crash_default({uid})")
    );
    assert_eq!(first["lastState"]["terminated"]["exitCode"], 1);
    assert_eq!(first["lastState"]["terminated"]["reason"], "Error");
    assert!(skiff.kubectl(&["get", "pod", "crash"]).contains("CrashLoopBackOff"));
    let second = eventually("the second back-off", || {
        let s = pod(&skiff, "crash")["status"]["containerStatuses"][0].clone();
        (s["restartCount"] == 2 && s["state"]["waiting"]["reason"] == "CrashLoopBackOff").then_some(s)
    });
    assert!(second["state"]["waiting"]["message"]
        .as_str()
        .unwrap()
        .starts_with("back-off 20s"));
    let described = skiff.kubectl(&["describe", "pod", "crash"]);
    assert!(
        described.contains("Back-off restarting failed container app in pod crash_default"),
        "{described}"
    );
    for event in ["Pulling image \"busybox\"", "Container created", "Container started"] {
        assert!(described.contains(event), "{event:?} in\n{described}");
    }

    // Graceful deletion: Killing, containers stopped, pod gone (kubectl waits for it).
    skiff.kubectl(&["delete", "pod", "web", "--timeout=30s"]);
    assert!(!exists(&skiff, &["get", "pod", "web"]));
    let killing = eventually("a Killing event", || {
        let out = skiff.kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=web,reason=Killing",
        ]);
        out.contains("Stopping container nginx").then_some(out)
    });
    assert!(killing.contains("Killing"), "{killing}");
}

#[test]
fn static_pods_are_mirrored_recreated_and_removed() {
    let manifests = tempfile::tempdir().unwrap();
    let dir = manifests.path().to_str().unwrap().to_string();
    let skiff = Skiff::start_with(&["--simulated-nodes", "1", "--pod-manifest-path", &dir]);
    write(
        manifests.path(),
        "etcd.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\n  namespace: kube-system\nspec:\n  containers:\n  - name: etcd\n    image: registry.k8s.io/etcd:3.6.5-0\n",
    );
    let get = ["get", "pod", "-n", "kube-system", "etcd-skiff-node-0"];
    let mirror = eventually("the mirror pod Running", || {
        let p = try_json(&skiff, &get)?;
        (p["status"]["phase"] == "Running").then_some(p)
    });
    let annotations = &mirror["metadata"]["annotations"];
    assert_eq!(annotations["kubernetes.io/config.source"], "file");
    assert_eq!(
        annotations["kubernetes.io/config.mirror"],
        annotations["kubernetes.io/config.hash"]
    );
    assert_eq!(mirror["metadata"]["ownerReferences"][0]["kind"], "Node");
    assert_eq!(mirror["metadata"]["ownerReferences"][0]["name"], "skiff-node-0");
    assert_eq!(mirror["spec"]["nodeName"], "skiff-node-0");
    let uid = mirror["metadata"]["uid"].clone();
    let container = mirror["status"]["containerStatuses"][0]["containerID"].clone();

    // Deleting the mirror makes a new one; the static pod itself keeps running.
    skiff.kubectl(&[
        "delete",
        "pod",
        "-n",
        "kube-system",
        "etcd-skiff-node-0",
        "--wait=false",
    ]);
    let recreated = eventually("a new mirror pod", || {
        let p = try_json(&skiff, &get)?;
        (p["metadata"]["uid"] != uid && p["status"]["phase"] == "Running").then_some(p)
    });
    assert_eq!(recreated["status"]["containerStatuses"][0]["containerID"], container);
    assert_eq!(recreated["status"]["containerStatuses"][0]["restartCount"], 0);

    // Removing the file removes the pod.
    std::fs::remove_file(manifests.path().join("etcd.yaml")).unwrap();
    eventually("the mirror pod gone", || (!exists(&skiff, &get)).then_some(()));
}

#[test]
fn node_config_sets_labels_taints_and_capacity() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "nodes.yaml",
        "- name: gpu-1
  labels: {topology.kubernetes.io/zone: zone-a, accelerator: tesla}
  taints: [{key: dedicated, value: gpu, effect: NoSchedule}]
  capacity: {cpu: \"16\", memory: 64Gi, nvidia.com/gpu: \"4\"}
- name: small-1
  capacity: {cpu: \"1\", pods: \"10\"}
",
    );
    let skiff = Skiff::start_with(&["--node-config", &config]);
    eventually("2 Ready nodes", || {
        let out = skiff.kubectl(&["get", "nodes"]);
        (out.lines().filter(|l| l.contains(" Ready ")).count() == 2).then_some(())
    });
    let gpu = json(&skiff, &["get", "node", "gpu-1"]);
    assert_eq!(gpu["metadata"]["labels"]["accelerator"], "tesla");
    assert_eq!(gpu["metadata"]["labels"]["kubernetes.io/hostname"], "gpu-1");
    assert_eq!(gpu["spec"]["taints"][0]["key"], "dedicated");
    assert_eq!(gpu["status"]["capacity"]["nvidia.com/gpu"], "4");
    assert_eq!(gpu["status"]["allocatable"]["cpu"], "16");
    let small = json(&skiff, &["get", "node", "small-1"]);
    assert_eq!(small["status"]["capacity"]["pods"], "10");
    assert!(skiff
        .kubectl(&["describe", "node", "gpu-1"])
        .contains("dedicated=gpu:NoSchedule"));
}

/// `skiff node` as a child process against a server's kubeconfig, killed on drop.
pub(crate) struct Agent(Child);

impl Agent {
    fn start(skiff: &Skiff, name: &str) -> Agent {
        Agent::with_kubeconfig(&skiff.kubeconfig, name)
    }

    /// `skiff node --name NAME` with the credentials of `kubeconfig`.
    pub(crate) fn with_kubeconfig(kubeconfig: &std::path::Path, name: &str) -> Agent {
        let child = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(["node", "--kubeconfig"])
            .arg(kubeconfig)
            .args(["--name", name])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start skiff node");
        Agent(child)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_standalone_agent_picks_its_pods_up_again_after_a_restart() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(&skiff, "edge-1");
    eventually("edge-1 Ready", || {
        skiff
            .kubectl(&["get", "node", "edge-1"])
            .contains(" Ready ")
            .then_some(())
    });
    apply(
        &skiff,
        dir.path(),
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  nodeName: edge-1\n  containers: [{name: c, image: busybox:1.36}]\n",
    );
    let before = eventually("p Running", || {
        let p = pod(&skiff, "p");
        (p["status"]["phase"] == "Running").then_some(p)
    });
    drop(agent);
    let _agent = Agent::start(&skiff, "edge-1");
    // The new agent renews the lease and reports the same containers, started once.
    let renewed = json(&skiff, &["get", "lease", "-n", "kube-node-lease", "edge-1"])["spec"]["renewTime"].clone();
    eventually("the new agent's lease renewal", || {
        let now = json(&skiff, &["get", "lease", "-n", "kube-node-lease", "edge-1"]);
        (now["spec"]["renewTime"] != renewed).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let after = pod(&skiff, "p");
    assert_eq!(after["status"]["phase"], "Running");
    let (b, a) = (
        &before["status"]["containerStatuses"][0],
        &after["status"]["containerStatuses"][0],
    );
    assert_eq!(a["containerID"], b["containerID"]);
    assert_eq!(a["restartCount"], 0);
    assert_eq!(after["status"]["podIP"], before["status"]["podIP"]);
    let started = skiff.kubectl(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=p,reason=Started",
        "-o",
        "json",
    ]);
    let events: Value = serde_json::from_str(&started).unwrap();
    let count: i64 = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["count"].as_i64().unwrap_or(1))
        .sum();
    assert_eq!(count, 1, "{started}");
}

#[tokio::test]
async fn the_in_process_control_plane_runs_pods_on_simulated_nodes() {
    use k8s_openapi::api::core::v1::{Node, Pod};
    use kube::api::{Api, PostParams};
    let started = Instant::now();
    let cp = skiff::ControlPlane::builder().simulated_nodes(2).start().await.unwrap();
    let took = started.elapsed();
    let client = cp.client();
    let nodes: Api<Node> = Api::all(client.clone());
    assert_eq!(nodes.list(&Default::default()).await.unwrap().items.len(), 2);
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p"},
        "spec": {"nodeName": "skiff-node-1", "containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = pods.get("p").await.unwrap();
        if p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running") {
            assert!(p.status.unwrap().pod_ip.is_some());
            break;
        }
        assert!(Instant::now() < deadline, "the pod did not run");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(took < Duration::from_secs(5), "start took {took:?}");
}
