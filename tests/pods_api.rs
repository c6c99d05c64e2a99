//! The pod registry end to end: the real `skiff server` driven with stock kubectl, as a user sees
//! pods/binding, graceful deletion, pods/eviction and PodDisruptionBudgets (raw and through
//! `kubectl drain`), the Priority and DefaultTolerationSeconds admission plugins, a StatefulSet
//! mounting its claim templates, and `kubectl logs` / `kubectl exec` on pods no kubelet serves.
//!
//! Pods stay clear of the scheduler (schedulerName `none`, or a nodeName given at creation) and
//! of the node agents: they are bound to `sim-node`, a Node object created here that no agent
//! runs (so it publishes no kubelet endpoint).

use crate::common;

use crate::common::{fails, ok, write, Skiff};
use std::path::{Path, PathBuf};

struct Cluster {
    skiff: Skiff,
    dir: tempfile::TempDir,
}

const NODE: &str = "sim-node";

impl Cluster {
    fn start() -> Cluster {
        let cluster = Cluster {
            skiff: Skiff::start(),
            dir: tempfile::tempdir().unwrap(),
        };
        cluster.create(
            "node.yaml",
            &format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {NODE}\n  labels:\n    kubernetes.io/hostname: {NODE}\n"),
        );
        cluster
    }

    fn k(&self, args: &[&str]) -> String {
        self.skiff.kubectl(args)
    }

    fn k_fails(&self, args: &[&str]) -> String {
        self.skiff.kubectl_fails(args)
    }

    fn file(&self, name: &str, text: &str) -> String {
        write(self.dir.path(), name, text)
    }

    fn create(&self, name: &str, yaml: &str) -> String {
        self.k(&["create", "-f", &self.file(name, yaml)])
    }

    /// A pod (one busybox container `app`); `spec` is more YAML under `spec:`, indented two spaces.
    fn pod(&self, name: &str, labels: &str, spec: &str) {
        let yaml = format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\nspec:\n  containers:\n  - name: app\n    image: busybox\n{spec}"
        );
        self.create(&format!("{name}.yaml"), &yaml);
    }

    /// A pod bound to the simulated node at creation.
    fn bound_pod(&self, name: &str, labels: &str) {
        self.pod(name, labels, &format!("  nodeName: {NODE}\n"));
    }

    fn field(&self, kind_name: &str, path: &str) -> String {
        self.k(&["get", kind_name, "-o", &format!("jsonpath={{{path}}}")])
    }

    fn gone(&self, kind_name: &str) -> bool {
        let out = self
            .skiff
            .kubectl_with(Path::new("/usr/bin/kubectl"), &["get", kind_name]);
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("NotFound")
    }

    /// POST `body` to `path` with `kubectl create --raw`.
    fn post(&self, path: &str, file: &str, body: &str) -> std::process::Output {
        let file = self.file(file, body);
        self.skiff
            .kubectl_with(Path::new("/usr/bin/kubectl"), &["create", "--raw", path, "-f", &file])
    }

    /// `kubectl` of every tested version (1.32 and 1.35 when installed).
    fn kubectls(&self) -> Vec<PathBuf> {
        common::kubectls()
    }
}

fn binding(pod: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Binding","metadata":{{"name":"{pod}","annotations":{{"example.com/bound-by":"pods-api-test"}}}},"target":{{"apiVersion":"v1","kind":"Node","name":"{NODE}"}}}}"#
    )
}

#[test]
fn binding_assigns_a_pod_once() {
    let c = Cluster::start();
    c.pod("waiting", "app: w", "  schedulerName: none\n");
    let bind = c.post(
        "/api/v1/namespaces/default/pods/waiting/binding",
        "b1.json",
        &binding("waiting"),
    );
    let answer = ok(bind, &["create", "--raw", "binding"]);
    assert!(
        answer.contains(r#""status":"Success""#) && answer.contains(r#""code":201"#),
        "{answer}"
    );
    assert_eq!(c.field("pod/waiting", ".spec.nodeName"), NODE);
    assert_eq!(
        c.field("pod/waiting", r#".status.conditions[?(@.type=="PodScheduled")].status"#),
        "True"
    );
    assert_eq!(
        c.field("pod/waiting", r#".metadata.annotations.example\.com/bound-by"#),
        "pods-api-test"
    );
    let again = c.post(
        "/api/v1/namespaces/default/pods/waiting/binding",
        "b2.json",
        &binding("waiting"),
    );
    let err = fails(again, &["create", "--raw", "binding again"]);
    assert!(
        err.contains(&format!(
            "Error from server (Conflict): Operation cannot be fulfilled on pods/binding \"waiting\": pod waiting is already assigned to node \"{NODE}\""
        )),
        "{err}"
    );
    // The namespaced `bindings` resource binds the pod its body names.
    c.pod("second", "app: w", "  schedulerName: none\n");
    let bind = c.post("/api/v1/namespaces/default/bindings", "b3.json", &binding("second"));
    ok(bind, &["create", "--raw", "bindings"]);
    assert_eq!(c.field("pod/second", ".spec.nodeName"), NODE);
    let renamed = c.post(
        "/api/v1/namespaces/default/pods/second/binding",
        "b4.json",
        &binding("waiting"),
    );
    let err = fails(renamed, &["create", "--raw", "renamed binding"]);
    assert!(
        err.contains("name in URL does not match name in Binding object"),
        "{err}"
    );
}

#[test]
fn bound_pods_are_deleted_gracefully() {
    let c = Cluster::start();
    c.bound_pod("web", "app: web");
    let out = c.k(&["delete", "pod", "web", "--wait=false"]);
    assert!(out.contains("pod \"web\" deleted"), "{out}");
    // Still there, terminating for the pod's 30 seconds.
    assert!(!c.field("pod/web", ".metadata.deletionTimestamp").is_empty());
    assert_eq!(c.field("pod/web", ".metadata.deletionGracePeriodSeconds"), "30");
    let listed = c.k(&["get", "pod", "web"]);
    assert!(listed.contains("Terminating"), "{listed}");
    // A DELETE of a pod answers with the pod itself.
    let raw = c.k(&["delete", "--raw", "/api/v1/namespaces/default/pods/web"]);
    assert!(
        raw.contains(r#""kind":"Pod""#) && raw.contains("deletionTimestamp"),
        "{raw}"
    );
    let out = c.k(&["delete", "pod", "web", "--grace-period=0", "--force"]);
    assert!(out.contains("force deleted"), "{out}");
    assert!(c.gone("pod/web"));
    // A pod never scheduled goes at once.
    c.pod("idle", "app: idle", "  schedulerName: none\n");
    c.k(&["delete", "pod", "idle", "--wait=false"]);
    assert!(c.gone("pod/idle"));
}

fn eviction(pod: &str, grace: Option<i64>) -> String {
    let options = grace
        .map(|g| format!(r#","deleteOptions":{{"gracePeriodSeconds":{g}}}"#))
        .unwrap_or_default();
    format!(
        r#"{{"apiVersion":"policy/v1","kind":"Eviction","metadata":{{"name":"{pod}","namespace":"default"}}{options}}}"#
    )
}

#[test]
fn evictions_respect_disruption_budgets() {
    let c = Cluster::start();
    // The budget first, while the node is fresh (its lifecycle controller has not yet marked it,
    // or its pods, not ready).
    c.bound_pod("web-1", "app: web");
    c.k(&[
        "patch",
        "pod",
        "web-1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#,
    ]);
    c.create(
        "pdb.yaml",
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels: {app: web}\n",
    );
    // What the disruption controller computes for one ready pod and minAvailable 1.
    c.k(&[
        "patch",
        "pdb",
        "web",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"observedGeneration":1,"disruptionsAllowed":0,"currentHealthy":1,"desiredHealthy":1,"expectedPods":1}}"#,
    ]);
    let blocked = c.post(
        "/api/v1/namespaces/default/pods/web-1/eviction",
        "e1.json",
        &eviction("web-1", Some(0)),
    );
    let err = fails(blocked, &["create", "--raw", "eviction"]);
    assert!(
        err.contains(
            "Error from server (TooManyRequests): Cannot evict pod as it would violate the pod's disruption budget."
        ),
        "{err}"
    );
    // kubectl drain evicts through the same subresource and reports the budget.
    let drain = c.skiff.kubectl_with(
        Path::new("/usr/bin/kubectl"),
        &[
            "drain",
            NODE,
            "--pod-selector=app=web",
            "--force",
            "--ignore-daemonsets",
            "--timeout=3s",
        ],
    );
    let err = fails(drain, &["drain"]);
    assert!(
        err.contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "{err}"
    );
    assert!(!c.gone("pod/web-1"));

    // Without a budget, an eviction deletes the pod.
    c.bound_pod("free", "app: free");
    let evicted = c.post(
        "/api/v1/namespaces/default/pods/free/eviction",
        "e2.json",
        &eviction("free", Some(0)),
    );
    let answer = ok(evicted, &["create", "--raw", "eviction"]);
    assert!(answer.contains(r#""status":"Success""#), "{answer}");
    assert!(c.gone("pod/free"));
    // A body naming another pod is refused.
    let wrong = c.post(
        "/api/v1/namespaces/default/pods/web-1/eviction",
        "e3.json",
        &eviction("free", None),
    );
    let err = fails(wrong, &["create", "--raw", "eviction"]);
    assert!(
        err.contains("Error from server (BadRequest): name in URL does not match name in Eviction object"),
        "{err}"
    );
}

#[test]
fn priority_classes_and_default_tolerations() {
    let c = Cluster::start();
    let classes = c.k(&["get", "priorityclasses"]);
    for (name, value) in [
        ("system-cluster-critical", "2000000000"),
        ("system-node-critical", "2000001000"),
    ] {
        let line = classes
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{classes}"));
        assert!(line.contains(value), "{line}");
    }
    c.create(
        "pc.yaml",
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: high\nvalue: 1000\ndescription: important\n",
    );
    c.pod(
        "important",
        "app: p",
        "  schedulerName: none\n  priorityClassName: high\n",
    );
    assert_eq!(c.field("pod/important", ".spec.priority"), "1000");
    assert_eq!(
        c.field("pod/important", ".spec.preemptionPolicy"),
        "PreemptLowerPriority"
    );
    c.pod("plain", "app: p", "  schedulerName: none\n");
    assert_eq!(c.field("pod/plain", ".spec.priority"), "0");
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: unknown\nspec:\n  schedulerName: none\n  priorityClassName: nope\n  containers:\n  - name: app\n    image: busybox\n";
    let err = c.k_fails(&["create", "-f", &c.file("unknown.yaml", yaml)]);
    assert!(
        err.contains("pods \"unknown\" is forbidden: no PriorityClass with name nope was found"),
        "{err}"
    );
    let err = c.k_fails(&["delete", "priorityclass", "system-node-critical"]);
    assert!(
        err.contains("this is a system priority class and cannot be deleted"),
        "{err}"
    );

    let keys = c.k(&[
        "get",
        "pod",
        "plain",
        "-o",
        r#"jsonpath={range .spec.tolerations[*]}{.key}:{.effect}:{.tolerationSeconds} {end}"#,
    ]);
    assert_eq!(
        keys.trim(),
        "node.kubernetes.io/not-ready:NoExecute:300 node.kubernetes.io/unreachable:NoExecute:300"
    );
}

#[test]
fn statefulsets_mount_their_claim_templates() {
    let c = Cluster::start();
    let yaml = "apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: redis
spec:
  replicas: 0
  serviceName: redis
  selector:
    matchLabels: {app: redis}
  template:
    metadata:
      labels: {app: redis}
    spec:
      containers:
      - name: redis
        image: redis
        volumeMounts:
        - {name: config, mountPath: /etc/redis}
        - {name: redis-data, mountPath: /data}
      volumes:
      - name: config
        emptyDir: {}
  volumeClaimTemplates:
  - metadata:
      name: redis-data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests: {storage: 1Gi}
";
    let out = c.create("sts.yaml", yaml);
    assert!(out.contains("statefulset.apps/redis created"), "{out}");
    // A mount of neither a volume nor a claim template is still refused.
    let bad = yaml
        .replace("name: redis\nspec:", "name: broken\nspec:")
        .replace("{name: redis-data,", "{name: missing,");
    let err = c.k_fails(&["create", "-f", &c.file("bad.yaml", &bad)]);
    assert!(err.contains("volumeMounts[1].name: Not found: \"missing\""), "{err}");
}

#[test]
fn logs_and_exec_fail_promptly_without_a_kubelet() {
    let c = Cluster::start();
    c.pod("queued", "app: q", "  schedulerName: none\n");
    c.bound_pod("simulated", "app: s");
    for kubectl in c.kubectls() {
        let run = |args: &[&str]| {
            let mut all = vec!["--request-timeout=20s"];
            all.extend_from_slice(args);
            fails(c.skiff.kubectl_with(&kubectl, &all), args)
        };
        let err = run(&["logs", "queued"]);
        assert!(
            err.contains("Error from server (BadRequest): pod queued does not have a host assigned"),
            "{kubectl:?}: {err}"
        );
        let err = run(&["logs", "queued", "-c", "nope"]);
        assert!(
            err.contains("container nope is not valid for pod queued"),
            "{kubectl:?}: {err}"
        );
        let err = run(&["logs", "simulated"]);
        assert!(
            err.contains(&format!("node \"{NODE}\" is simulated and serves no container logs")),
            "{kubectl:?}: {err}"
        );
        let err = run(&["exec", "simulated", "--", "ls"]);
        assert!(err.contains("is simulated and serves no exec"), "{kubectl:?}: {err}");
        let err = run(&["exec", "queued", "--", "ls"]);
        assert!(
            err.contains("pod queued does not have a host assigned"),
            "{kubectl:?}: {err}"
        );
    }
}

#[test]
fn kubectl_debug_adds_an_ephemeral_container_that_then_stays() {
    let c = Cluster::start();
    c.bound_pod("target", "app: t");
    c.k(&["debug", "target", "--image=busybox", "-c", "debugger", "--target=app"]);
    assert_eq!(c.field("pod/target", ".spec.ephemeralContainers[*].name"), "debugger");
    assert_eq!(
        c.field("pod/target", ".spec.ephemeralContainers[0].targetContainerName"),
        "app"
    );
    assert_eq!(
        c.field("pod/target", ".spec.ephemeralContainers[0].terminationMessagePolicy"),
        "File",
        "defaulted like any container"
    );

    let path = "/api/v1/namespaces/default/pods/target/ephemeralcontainers";
    let served = c.k(&["get", "--raw", path]);
    let pod: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert_eq!(pod["kind"], "Pod", "the subresource speaks Pod: {served}");

    let mut removed = pod.clone();
    removed["spec"].as_object_mut().unwrap().remove("ephemeralContainers");
    let file = c.file("removed.json", &removed.to_string());
    let err = c.k_fails(&["replace", "--raw", path, "-f", &file]);
    assert!(
        err.contains(
            r#"spec.ephemeralContainers: Forbidden: existing ephemeral containers "debugger" may not be removed"#
        ),
        "{err}"
    );

    let mut with_ports = pod.clone();
    with_ports["spec"]["ephemeralContainers"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "listener", "image": "busybox", "ports": [{"containerPort": 80}]}));
    let file = c.file("ports.json", &with_ports.to_string());
    let err = c.k_fails(&["replace", "--raw", path, "-f", &file]);
    assert!(
        err.contains("spec.ephemeralContainers[1].ports: Forbidden: cannot be set for an Ephemeral Container"),
        "{err}"
    );

    let err = c.k_fails(&[
        "patch",
        "pod",
        "target",
        "-p",
        r#"{"spec":{"ephemeralContainers":[{"name":"sneaky","image":"busybox"}]}}"#,
    ]);
    assert!(err.contains("pod updates may not change fields other than"), "{err}");
    assert_eq!(c.field("pod/target", ".spec.ephemeralContainers[*].name"), "debugger");
}
