//! DaemonSets end to end: `skiff server --node-config` with three simulated nodes (node-c tainted
//! dedicated=gpu:NoSchedule), driven by stock kubectl, asserting what users see: one pod per
//! eligible node (not on the tainted one until the set tolerates it), nodeSelector narrowing and a
//! node becoming eligible when labelled, pods pinned by node affinity and bound by the scheduler,
//! a deleted pod recreated, `kubectl get ds` columns, RollingUpdate node by node, maxSurge,
//! OnDelete, `kubectl rollout status|history|undo`, and cascading delete.

use crate::common;

use crate::common::{eventually, ok, write, Skiff};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

struct Cluster {
    skiff: Skiff,
    dir: tempfile::TempDir,
    kubectl: PathBuf,
}

impl Cluster {
    /// node-a (disk=ssd), node-b (disk=hdd), node-c (disk=ssd, tainted dedicated=gpu:NoSchedule).
    fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let mut config = String::new();
        for (name, disk, taints) in [
            ("node-a", "ssd", "[]"),
            ("node-b", "hdd", "[]"),
            ("node-c", "ssd", "[{key: dedicated, value: gpu, effect: NoSchedule}]"),
        ] {
            config.push_str(&format!(
                "- name: {name}\n  labels: {{disk: {disk}}}\n  taints: {taints}\n  \
                 capacity: {{cpu: \"4\", memory: 8Gi, pods: \"110\"}}\n"
            ));
        }
        let file = write(dir.path(), "nodes.yaml", &config);
        let skiff = Skiff::start_with(&["--node-config", &file]);
        let kubectl = common::kubectls().pop().expect("a kubectl");
        let cluster = Cluster { skiff, dir, kubectl };
        eventually("three nodes", || {
            (cluster.k(&["get", "nodes", "-o", "name"]).lines().count() == 3).then_some(())
        });
        cluster
    }

    fn k(&self, args: &[&str]) -> String {
        ok(self.skiff.kubectl_with(&self.kubectl, args), args)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.k(&all)).unwrap()
    }

    /// Apply a DaemonSet `name` in `ns`: pods labelled app=<name>, one container of `image`,
    /// `spec` lines (indented two spaces) and `pod` lines under the template's spec (four).
    fn apply_ds(&self, ns: &str, name: &str, image: &str, spec: &str, pod: &str) {
        let yaml = format!(
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  \
             selector:\n    matchLabels: {{app: {name}}}\n{spec}  template:\n    metadata:\n      labels: {{app: {name}}}\n    \
             spec:\n{pod}      containers:\n      - {{name: c, image: {image}}}\n"
        );
        self.k(&[
            "apply",
            "-f",
            &write(self.dir.path(), &format!("{ns}-{name}.yaml"), &yaml),
        ]);
    }

    /// `node=image` for every pod of app=<name> that is running on a node, sorted; pods being
    /// deleted left out.
    fn placement(&self, ns: &str, name: &str) -> Vec<String> {
        let pods = self.json(&["get", "pods", "-n", ns, "-l", &format!("app={name}")]);
        let mut out: Vec<String> = pods["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .map(|p| {
                format!(
                    "{}={}",
                    p["spec"]["nodeName"].as_str().unwrap_or("-"),
                    p["spec"]["containers"][0]["image"].as_str().unwrap_or("")
                )
            })
            .collect();
        out.sort();
        out
    }

    fn wait_placement(&self, ns: &str, name: &str, wanted: &[&str]) {
        eventually(&format!("{name} pods on {wanted:?}"), || {
            (self.placement(ns, name) == wanted).then_some(())
        });
    }

    /// The `kubectl get ds` row's DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR.
    fn columns(&self, ns: &str, name: &str) -> String {
        let table = self.k(&["get", "ds", name, "-n", ns]);
        let row = table.lines().nth(1).unwrap_or_default();
        let cells: Vec<&str> = row.split_whitespace().collect();
        cells[1..cells.len() - 1].join(" ")
    }
}

#[test]
fn placement_by_taints_selectors_and_labels_with_recreate_and_cascading_delete() {
    let c = Cluster::start();
    c.k(&["create", "namespace", "place"]);
    let header = c.k(&["get", "ds", "-n", "place", "--no-headers=false"]);
    assert!(header.is_empty() || header.contains("No resources"), "{header}");

    // Every node but the tainted one; pods pinned by affinity, with the daemon tolerations.
    c.apply_ds("place", "agent", "busybox:1", "", "");
    c.wait_placement("place", "agent", &["node-a=busybox:1", "node-b=busybox:1"]);
    eventually("agent 2 2 2 2 2", || {
        (c.columns("place", "agent") == "2 2 2 2 2 <none>").then_some(())
    });
    let table = c.k(&["get", "ds", "agent", "-n", "place"]);
    assert!(
        table.starts_with("NAME")
            && table.contains("DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE"),
        "{table}"
    );
    let pods = c.json(&["get", "pods", "-n", "place", "-l", "app=agent"]);
    let pod = &pods["items"][0];
    let node = pod["spec"]["nodeName"].as_str().unwrap();
    let term = &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"][0]["matchFields"][0];
    assert_eq!(term["key"], "metadata.name");
    assert_eq!(term["values"][0], node);
    let tolerations = pod["spec"]["tolerations"].to_string();
    for key in [
        "not-ready",
        "unreachable",
        "disk-pressure",
        "memory-pressure",
        "pid-pressure",
        "unschedulable",
    ] {
        assert!(
            tolerations.contains(&format!("node.kubernetes.io/{key}")),
            "{tolerations}"
        );
    }
    assert!(!tolerations.contains("network-unavailable"), "{tolerations}");
    assert!(
        pod["metadata"]["labels"]["controller-revision-hash"].is_string(),
        "{pod}"
    );
    assert_eq!(pod["metadata"]["labels"]["pod-template-generation"], "1");
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "DaemonSet");

    // Tolerating the taint adds node-c.
    c.apply_ds(
        "place",
        "agent",
        "busybox:1",
        "",
        "      tolerations:\n      - {key: dedicated, operator: Exists, effect: NoSchedule}\n",
    );
    c.wait_placement(
        "place",
        "agent",
        &["node-a=busybox:1", "node-b=busybox:1", "node-c=busybox:1"],
    );
    eventually("agent 3 3 3 3 3", || {
        (c.columns("place", "agent") == "3 3 3 3 3 <none>").then_some(())
    });

    // A deleted pod comes back on its node.
    let victim = c.k(&[
        "get",
        "pods",
        "-n",
        "place",
        "-l",
        "app=agent",
        "--field-selector",
        "spec.nodeName=node-b",
        "-o",
        "name",
    ]);
    c.k(&["delete", "-n", "place", victim.trim(), "--wait=false"]);
    eventually("a new pod on node-b", || {
        let now = c.k(&[
            "get",
            "pods",
            "-n",
            "place",
            "-l",
            "app=agent",
            "--field-selector",
            "spec.nodeName=node-b",
            "-o",
            "name",
        ]);
        (!now.trim().is_empty() && now.trim() != victim.trim()).then_some(())
    });
    let events = c.k(&[
        "get",
        "events",
        "-n",
        "place",
        "--field-selector",
        "involvedObject.kind=DaemonSet",
    ]);
    assert!(
        events.contains("SuccessfulCreate") && events.contains("Created pod: agent-"),
        "{events}"
    );

    // nodeSelector narrows; labelling a node makes it eligible; unlabelling removes its pod.
    c.apply_ds("place", "ssd", "busybox:1", "", "      nodeSelector: {disk: ssd}\n");
    c.wait_placement("place", "ssd", &["node-a=busybox:1"]);
    eventually("ssd 1 1 1 1 1 disk=ssd", || {
        (c.columns("place", "ssd") == "1 1 1 1 1 disk=ssd").then_some(())
    });
    c.k(&["label", "node", "node-b", "disk=ssd", "--overwrite"]);
    c.wait_placement("place", "ssd", &["node-a=busybox:1", "node-b=busybox:1"]);
    c.k(&["label", "node", "node-a", "disk=hdd", "--overwrite"]);
    c.wait_placement("place", "ssd", &["node-b=busybox:1"]);
    let status = c.json(&["get", "ds", "ssd", "-n", "place"])["status"].clone();
    eventually("ssd status", || {
        let status = c.json(&["get", "ds", "ssd", "-n", "place"])["status"].clone();
        (status["desiredNumberScheduled"] == 1 && status["numberMisscheduled"] == 0).then_some(())
    });
    assert!(status["observedGeneration"].is_number(), "{status}");

    // Cascading delete takes the pods and the revisions.
    c.k(&["delete", "ds", "agent", "-n", "place"]);
    eventually("agent's pods gone", || {
        c.placement("place", "agent").is_empty().then_some(())
    });
    eventually("agent's revisions gone", || {
        let revisions = c.k(&["get", "controllerrevisions", "-n", "place", "-o", "name"]);
        (!revisions.contains("agent-")).then_some(())
    });
}

#[test]
fn rolling_update_surge_on_delete_and_rollout_history_undo() {
    let c = Cluster::start();
    c.k(&["create", "namespace", "roll"]);
    let rolling = "  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate: {maxUnavailable: 1}\n";
    let tolerate = "      tolerations:\n      - {key: dedicated, operator: Exists}\n";
    c.apply_ds("roll", "web", "nginx:1", rolling, tolerate);
    c.wait_placement("roll", "web", &["node-a=nginx:1", "node-b=nginx:1", "node-c=nginx:1"]);
    c.k(&["rollout", "status", "ds/web", "-n", "roll", "--timeout=30s"]);

    // RollingUpdate: never more than one node without an available pod.
    c.k(&["set", "image", "ds/web", "c=nginx:2", "-n", "roll"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = c.json(&["get", "ds", "web", "-n", "roll"])["status"].clone();
        let available = status["numberAvailable"].as_i64().unwrap_or(0);
        assert!(available >= 2, "more than maxUnavailable down: {status}");
        if c.placement("roll", "web") == ["node-a=nginx:2", "node-b=nginx:2", "node-c=nginx:2"]
            && status["updatedNumberScheduled"] == 3
            && available == 3
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rolling update did not finish: {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = c.k(&["rollout", "status", "ds/web", "-n", "roll", "--timeout=30s"]);
    assert!(out.contains("daemon set \"web\" successfully rolled out"), "{out}");
    let events = c.k(&[
        "get",
        "events",
        "-n",
        "roll",
        "--field-selector",
        "involvedObject.name=web",
    ]);
    assert!(events.contains("SuccessfulDelete"), "{events}");

    // History and undo.
    let history = c.k(&["rollout", "history", "ds/web", "-n", "roll"]);
    let revisions: Vec<&str> = history
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(revisions, ["1", "2"], "{history}");
    c.k(&["rollout", "undo", "ds/web", "-n", "roll"]);
    c.wait_placement("roll", "web", &["node-a=nginx:1", "node-b=nginx:1", "node-c=nginx:1"]);
    c.k(&["rollout", "status", "ds/web", "-n", "roll", "--timeout=30s"]);
    let history = c.k(&["rollout", "history", "ds/web", "-n", "roll"]);
    let revisions: Vec<&str> = history
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(revisions, ["2", "3"], "{history}");

    // maxSurge: the new pod starts beside the old one, which goes once the new one is available.
    let surge = "  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate: {maxUnavailable: 0, maxSurge: 1}\n";
    c.apply_ds("roll", "web", "nginx:3", surge, tolerate);
    c.wait_placement("roll", "web", &["node-a=nginx:3", "node-b=nginx:3", "node-c=nginx:3"]);
    c.k(&["rollout", "status", "ds/web", "-n", "roll", "--timeout=30s"]);

    // OnDelete: a template change replaces only pods that are deleted.
    let on_delete = "  updateStrategy:\n    type: OnDelete\n";
    c.apply_ds("roll", "web", "nginx:4", on_delete, tolerate);
    eventually("observed generation", || {
        let ds = c.json(&["get", "ds", "web", "-n", "roll"]);
        (ds["status"]["observedGeneration"] == ds["metadata"]["generation"]).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        c.placement("roll", "web"),
        ["node-a=nginx:3", "node-b=nginx:3", "node-c=nginx:3"]
    );
    assert_eq!(c.columns("roll", "web"), "3 3 3 0 3 <none>");
    let victim = c.k(&[
        "get",
        "pods",
        "-n",
        "roll",
        "-l",
        "app=web",
        "--field-selector",
        "spec.nodeName=node-a",
        "-o",
        "name",
    ]);
    c.k(&["delete", "-n", "roll", victim.trim()]);
    c.wait_placement("roll", "web", &["node-a=nginx:4", "node-b=nginx:3", "node-c=nginx:3"]);
    eventually("one up to date", || {
        (c.columns("roll", "web") == "3 3 3 1 3 <none>").then_some(())
    });
}
