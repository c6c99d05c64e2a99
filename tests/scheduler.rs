//! The scheduler end to end: the real `skiff server` with three nodes (node-a: zone a, ssd;
//! node-b: zone b, hdd; node-c: zone c, tainted dedicated=gpu:NoSchedule), driven with stock
//! kubectl, asserting what a user sees — NODE and NOMINATED NODE in `get pods -o wide`, the
//! Scheduled / FailedScheduling / Preempted events in `describe`, the PodScheduled condition.

use crate::common;

use crate::common::{eventually, ok, write, Skiff};
use std::path::PathBuf;

struct Cluster {
    skiff: Skiff,
    dir: tempfile::TempDir,
    kubectl: PathBuf,
}

const NODES: [(&str, &str, &str, &str); 3] = [
    ("node-a", "a", "ssd", ""),
    ("node-b", "b", "hdd", ""),
    ("node-c", "c", "ssd", "dedicated=gpu"),
];

/// Every pod tolerates node-c's taint when this goes into its spec.
const TOLERATE_GPU: &str = "  tolerations:\n  - {key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}\n";

impl Cluster {
    /// A server with the three simulated nodes, each with 4 cpus, 8Gi and 110 pods allocatable.
    fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let mut config = String::new();
        for (name, zone, disk, taint) in NODES {
            let taints = match taint.split_once('=') {
                Some((k, v)) => format!("[{{key: {k}, value: {v}, effect: NoSchedule}}]"),
                None => "[]".into(),
            };
            config.push_str(&format!(
                "- name: {name}\n  labels: {{topology.kubernetes.io/zone: {zone}, disk: {disk}}}\n  taints: {taints}\n  \
                 capacity: {{cpu: \"4\", memory: 8Gi, pods: \"110\"}}\n"
            ));
        }
        let file = write(dir.path(), "nodes.yaml", &config);
        let skiff = Skiff::start_with(&["--node-config", &file]);
        let kubectl = common::kubectls().pop().expect("a kubectl");
        let cluster = Cluster { skiff, dir, kubectl };
        eventually("three Ready nodes", || {
            let ready = cluster.k(&[
                "get",
                "nodes",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Ready\")].status} {end}",
            ]);
            (ready.matches("=True").count() == 3).then_some(())
        });
        cluster
    }

    fn k(&self, args: &[&str]) -> String {
        ok(self.skiff.kubectl_with(&self.kubectl, args), args)
    }

    /// Create a pod from `spec` (YAML lines under `spec:`, indented two spaces).
    fn pod(&self, name: &str, labels: &str, spec: &str) {
        let yaml =
            format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\nspec:\n{spec}");
        self.k(&["create", "-f", &write(self.dir.path(), &format!("{name}.yaml"), &yaml)]);
    }

    fn field(&self, pod: &str, path: &str) -> String {
        self.k(&["get", "pod", pod, "-o", &format!("jsonpath={{{path}}}")])
    }

    /// The node the pod was bound to, waiting for it.
    fn node_of(&self, pod: &str) -> String {
        eventually(&format!("{pod} to be scheduled"), || {
            Some(self.field(pod, ".spec.nodeName")).filter(|n| !n.is_empty())
        })
    }

    /// The pod's FailedScheduling message as `kubectl describe` shows it, waiting for it.
    fn failed_scheduling(&self, pod: &str) -> String {
        eventually(&format!("FailedScheduling for {pod}"), || {
            let describe = self.k(&["describe", "pod", pod]);
            describe
                .lines()
                .find(|l| l.contains("FailedScheduling"))
                .map(|l| l.split("default-scheduler").nth(1).unwrap_or("").trim().to_string())
        })
    }

    /// The NODE and NOMINATED NODE columns of `kubectl get pods -o wide` for the pod.
    fn wide(&self, pod: &str) -> (String, String) {
        let out = self.k(&["get", "pod", pod, "-o", "wide"]);
        let mut lines = out.lines();
        let header = lines.next().unwrap_or("");
        let row = lines.next().unwrap_or("");
        let column = |name: &str| {
            let start = header.find(name).expect("column");
            row.get(start..)
                .unwrap_or("")
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string()
        };
        (column("NODE "), column("NOMINATED NODE"))
    }
}

fn container(cpu: &str) -> String {
    let requests = if cpu.is_empty() {
        String::new()
    } else {
        format!("\n    resources: {{requests: {{cpu: \"{cpu}\"}}}}")
    };
    format!("  containers:\n  - name: c\n    image: busybox{requests}\n")
}

#[test]
fn pods_land_where_their_constraints_allow() {
    let c = Cluster::start();

    // kubectl run lands on an untainted node, with a Scheduled event.
    assert_eq!(c.k(&["run", "p1", "--image=busybox"]), "pod/p1 created\n");
    let node = c.node_of("p1");
    assert!(node == "node-a" || node == "node-b", "p1 on {node}");
    assert_eq!(c.wide("p1").0, node);
    // The node runs it: Running, with a pod IP in the wide listing.
    let ip = eventually("p1 to run with an IP", || {
        let out = c.k(&["get", "pod", "p1", "-o", "wide", "--no-headers"]);
        let cols: Vec<&str> = out.split_whitespace().collect();
        (cols.get(2) == Some(&"Running") && cols.get(5).is_some_and(|ip| ip.contains('.'))).then(|| cols[5].to_string())
    });
    assert_eq!(c.field("p1", ".status.podIP"), ip);
    let describe = c.k(&["describe", "pod", "p1"]);
    let node_line = describe.lines().find(|l| l.starts_with("Node:")).unwrap_or("");
    assert!(node_line.contains(&node), "{node_line}");
    eventually("the Scheduled event", || {
        let d = c.k(&["describe", "pod", "p1"]);
        d.contains(&format!("Successfully assigned default/p1 to {node}"))
            .then_some(())
    });

    // nodeSelector.
    c.pod(
        "ssd",
        "app: x",
        &format!("  nodeSelector: {{disk: ssd}}\n{}", container("")),
    );
    assert_eq!(c.node_of("ssd"), "node-a");

    // Required node affinity.
    c.pod(
        "zone-b",
        "app: x",
        &format!(
            "  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        \
             - matchExpressions:\n          - {{key: topology.kubernetes.io/zone, operator: In, values: [b]}}\n{}",
            container("")
        ),
    );
    assert_eq!(c.node_of("zone-b"), "node-b");

    // Preferred node affinity (node-c's taint is tolerated, so all three are feasible).
    c.pod(
        "prefers-c",
        "app: x",
        &format!(
            "  affinity:\n    nodeAffinity:\n      preferredDuringSchedulingIgnoredDuringExecution:\n      - weight: 100\n        \
             preference:\n          matchExpressions:\n          - {{key: topology.kubernetes.io/zone, operator: In, values: [c]}}\n{TOLERATE_GPU}{}",
            container("")
        ),
    );
    assert_eq!(c.node_of("prefers-c"), "node-c");

    // Taints: without the toleration node-c is out, with it the pod lands there.
    c.pod(
        "untolerated",
        "app: x",
        &format!(
            "  nodeSelector: {{disk: ssd, topology.kubernetes.io/zone: c}}\n{}",
            container("")
        ),
    );
    assert_eq!(
        c.failed_scheduling("untolerated"),
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match Pod's node \
         affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    assert_eq!(
        c.field("untolerated", ".status.conditions[?(@.type==\"PodScheduled\")].reason"),
        "Unschedulable"
    );
    assert_eq!(c.wide("untolerated"), ("<none>".to_string(), "<none>".to_string()));
    c.pod(
        "tolerated",
        "app: x",
        &format!(
            "  nodeSelector: {{topology.kubernetes.io/zone: c}}\n{TOLERATE_GPU}{}",
            container("")
        ),
    );
    assert_eq!(c.node_of("tolerated"), "node-c");

    // Removing the taint lets the waiting pod in (a node update moves it out of the pool).
    c.k(&["taint", "nodes", "node-c", "dedicated=gpu:NoSchedule-"]);
    assert_eq!(c.node_of("untolerated"), "node-c");

    // Cordon keeps new pods off a node; uncordon lets the waiting one in.
    assert_eq!(c.k(&["cordon", "node-b"]), "node/node-b cordoned\n");
    c.pod(
        "wants-b",
        "app: x",
        &format!("  nodeSelector: {{disk: hdd}}\n{}", container("")),
    );
    assert_eq!(
        c.failed_scheduling("wants-b"),
        "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't match Pod's node affinity/selector. \
         preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    assert_eq!(c.k(&["uncordon", "node-b"]), "node/node-b uncordoned\n");
    assert_eq!(c.node_of("wants-b"), "node-b");

    // Manual scheduling: a pod naming its node is not the scheduler's business, taints or not.
    c.k(&["taint", "nodes", "node-c", "dedicated=gpu:NoSchedule"]);
    c.pod("manual", "app: x", &format!("  nodeName: node-c\n{}", container("")));
    assert_eq!(c.field("manual", ".spec.nodeName"), "node-c");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let reasons = c.k(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=manual",
        "-o",
        "jsonpath={.items[*].reason}",
    ]);
    assert!(
        !reasons.contains("Scheduled") && !reasons.contains("FailedScheduling"),
        "the scheduler leaves manually scheduled pods alone: {reasons}"
    );

    // Another scheduler's pods are left alone too.
    c.pod(
        "elsewhere",
        "app: x",
        &format!("  schedulerName: my-scheduler\n{}", container("")),
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(c.field("elsewhere", ".spec.nodeName"), "");
    assert_eq!(c.field("elsewhere", ".status.conditions"), "");
}

#[test]
fn replicas_spread_over_nodes() {
    let c = Cluster::start();

    // Required anti-affinity on the hostname: three replicas, three nodes.
    let anti = format!(
        "  affinity:\n    podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - labelSelector:\n          \
         matchLabels: {{app: web}}\n        topologyKey: kubernetes.io/hostname\n{TOLERATE_GPU}{}",
        container("")
    );
    for i in 1..=3 {
        c.pod(&format!("web-{i}"), "app: web", &anti);
        c.node_of(&format!("web-{i}"));
    }
    let mut nodes: Vec<String> = (1..=3).map(|i| c.node_of(&format!("web-{i}"))).collect();
    nodes.sort();
    assert_eq!(nodes, ["node-a", "node-b", "node-c"]);
    c.pod("web-4", "app: web", &anti);
    assert_eq!(
        c.failed_scheduling("web-4"),
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are available: \
         3 No preemption victims found for incoming pod."
    );
    // A replica going away makes room.
    let freed = c.node_of("web-1");
    c.k(&["delete", "pod", "web-1", "--grace-period=0", "--force"]);
    assert_eq!(c.node_of("web-4"), freed);

    // Topology spread with maxSkew 1 over zones: one per zone, then a second round.
    let spread = format!(
        "  topologySpreadConstraints:\n  - maxSkew: 1\n    topologyKey: topology.kubernetes.io/zone\n    \
         whenUnsatisfiable: DoNotSchedule\n    labelSelector:\n      matchLabels: {{app: spread}}\n{TOLERATE_GPU}{}",
        container("")
    );
    for i in 1..=6 {
        c.pod(&format!("spread-{i}"), "app: spread", &spread);
        c.node_of(&format!("spread-{i}"));
    }
    let mut per_node = std::collections::BTreeMap::new();
    for i in 1..=6 {
        *per_node.entry(c.node_of(&format!("spread-{i}"))).or_insert(0) += 1;
    }
    assert_eq!(
        per_node.values().copied().collect::<Vec<i32>>(),
        [2, 2, 2],
        "{per_node:?}"
    );

    // Pods held to zone a (counting every zone): a third fits (skew 1), a fourth does not.
    let zone_a = format!(
        "  nodeSelector: {{topology.kubernetes.io/zone: a}}\n  topologySpreadConstraints:\n  - maxSkew: 1\n    \
         topologyKey: topology.kubernetes.io/zone\n    whenUnsatisfiable: DoNotSchedule\n    nodeAffinityPolicy: Ignore\n    \
         labelSelector:\n      matchLabels: {{app: spread}}\n{TOLERATE_GPU}{}",
        container("")
    );
    c.pod("spread-a1", "app: spread", &zone_a);
    assert_eq!(c.node_of("spread-a1"), "node-a");
    c.pod("spread-a2", "app: spread", &zone_a);
    assert_eq!(
        c.failed_scheduling("spread-a2"),
        "0/3 nodes are available: 1 node(s) didn't match pod topology spread constraints, 2 node(s) didn't match Pod's \
         node affinity/selector. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, \
         2 Preemption is not helpful for scheduling."
    );
}

#[test]
fn resources_and_preemption() {
    let c = Cluster::start();

    // More cpu than any node has: Pending, with the reasons per node in describe.
    c.pod("huge", "app: x", &container("5"));
    assert_eq!(
        c.failed_scheduling("huge"),
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. preemption: \
         0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
    );
    let condition = c.field("huge", ".status.conditions[?(@.type==\"PodScheduled\")]");
    assert!(
        condition.contains("\"reason\":\"Unschedulable\"") && condition.contains("\"status\":\"False\""),
        "{condition}"
    );
    assert_eq!(c.field("huge", ".status.phase"), "Pending");
    c.k(&["delete", "pod", "huge", "--grace-period=0", "--force"]);

    // Requests add up: two 3-cpu pods take node-a and node-b.
    let classes = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: low\nvalue: 100\n---\n\
                   apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: high\nvalue: 1000\n---\n\
                   apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: high-polite\nvalue: 1000\n\
                   preemptionPolicy: Never\n";
    c.k(&["create", "-f", &write(c.dir.path(), "classes.yaml", classes)]);
    c.pod(
        "low-a",
        "app: low",
        &format!(
            "  priorityClassName: low\n  nodeSelector: {{disk: ssd}}\n{}",
            container("3")
        ),
    );
    c.pod(
        "low-b",
        "app: low",
        &format!(
            "  priorityClassName: low\n  nodeSelector: {{disk: hdd}}\n{}",
            container("3")
        ),
    );
    assert_eq!(c.node_of("low-a"), "node-a");
    assert_eq!(c.node_of("low-b"), "node-b");

    // A pod that may not preempt waits.
    c.pod(
        "polite",
        "app: x",
        &format!("  priorityClassName: high-polite\n{}", container("2")),
    );
    assert_eq!(
        c.failed_scheduling("polite"),
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. preemption: \
         not eligible due to preemptionPolicy=Never."
    );
    c.k(&["delete", "pod", "polite", "--grace-period=0", "--force"]);

    // A high-priority pod preempts one low-priority pod and is nominated to its node.
    c.pod(
        "important",
        "app: vip",
        &format!("  priorityClassName: high\n{}", container("2")),
    );
    let nominated = eventually("a nominated node", || {
        Some(c.field("important", ".status.nominatedNodeName")).filter(|n| !n.is_empty())
    });
    let victim = if nominated == "node-a" { "low-a" } else { "low-b" };
    let survivor = if victim == "low-a" { "low-b" } else { "low-a" };
    let uid = c.field("important", ".metadata.uid");
    let expected = format!("Preempted by pod {uid} on node {nominated}");
    eventually("the victim's Preempted event", || {
        let selector = format!("involvedObject.name={victim}");
        let messages = c.k(&[
            "get",
            "events",
            "--field-selector",
            &selector,
            "-o",
            "jsonpath={.items[*].message}",
        ]);
        messages.contains(&expected).then_some(())
    });
    // The victim is gone or going (graceful deletion; finished here as a kubelet would).
    let gone = eventually("the victim to be deleted", || {
        let out = c.skiff.kubectl_with(
            &c.kubectl,
            &["get", "pod", victim, "-o", "jsonpath={.metadata.deletionTimestamp}"],
        );
        if !out.status.success() {
            return Some(true);
        }
        (!String::from_utf8_lossy(&out.stdout).is_empty()).then_some(false)
    });
    if !gone {
        let target = c.skiff.kubectl_with(
            &c.kubectl,
            &[
                "get",
                "pod",
                victim,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"DisruptionTarget\")].reason}",
            ],
        );
        assert_eq!(String::from_utf8_lossy(&target.stdout), "PreemptionByScheduler");
        let (_, nnn) = c.wide("important");
        assert_eq!(nnn, nominated, "NOMINATED NODE while the victim terminates");
        std::thread::sleep(std::time::Duration::from_secs(2));
        let _ = c
            .skiff
            .kubectl_with(&c.kubectl, &["delete", "pod", victim, "--grace-period=0", "--force"]);
    }
    assert_eq!(c.node_of("important"), nominated);
    assert_eq!(
        c.field(survivor, ".spec.nodeName"),
        if survivor == "low-a" { "node-a" } else { "node-b" }
    );
    assert_eq!(c.field(survivor, ".metadata.deletionTimestamp"), "");
}
