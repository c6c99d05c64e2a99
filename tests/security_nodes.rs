//! A node agent under its own identity, onboarded as upstream's kubelets are: a client certificate
//! for `system:node:edge-1` in `system:nodes` from the kubernetes.io/kube-apiserver-client-kubelet
//! signer. The Node authorizer lets it read only what its pods use; NodeRestriction keeps it to
//! its own Node, its own pods' status and mirror pods.

use crate::common::{fails, ok, within, write, Skiff};
use crate::nodes::Agent;
use crate::security_certificates::{certificate_kubeconfig, csr_yaml, issued_certificate, key_and_request, kubectl_as};

#[test]
fn a_node_agent_reaches_only_what_its_pods_use() {
    let dir = tempfile::tempdir().unwrap();
    let skiff = Skiff::start();
    let request = key_and_request(dir.path(), "edge-1", "/CN=system:node:edge-1/O=system:nodes");
    let csr = csr_yaml(
        "node-edge-1",
        &request,
        "kubernetes.io/kube-apiserver-client-kubelet",
        "[digital signature, key encipherment, client auth]",
    );
    skiff.kubectl(&["create", "-f", &write(dir.path(), "csr.yaml", &csr)]);
    skiff.kubectl(&["certificate", "approve", "node-edge-1"]);
    std::fs::write(dir.path().join("edge-1.crt"), issued_certificate(&skiff, "node-edge-1")).unwrap();
    let node = certificate_kubeconfig(&skiff, dir.path(), "edge-1");
    let as_node = |args: &[&str]| kubectl_as(&node, args);

    // The agent registers, heartbeats and runs its pods under that identity alone.
    let _agent = Agent::with_kubeconfig(&node, "edge-1");
    within(60, "edge-1 Ready", || {
        let ready = skiff.kubectl_with(
            std::path::Path::new("/usr/bin/kubectl"),
            &[
                "get",
                "node",
                "edge-1",
                "-o",
                r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#,
            ],
        );
        (ready.stdout == b"True").then_some(())
    });
    skiff.kubectl(&["create", "secret", "generic", "used", "--from-literal=k=v"]);
    skiff.kubectl(&["create", "secret", "generic", "other", "--from-literal=k=v"]);
    let pod = "apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  containers:
  - name: c
    image: busybox
    env: [{name: K, valueFrom: {secretKeyRef: {name: used, key: k}}}]
";
    skiff.kubectl(&["create", "-f", &write(dir.path(), "pod.yaml", pod)]);
    within(60, "the pod Running on edge-1", || {
        let phase = skiff.kubectl(&["get", "pod", "app", "-o", "jsonpath={.spec.nodeName} {.status.phase}"]);
        (phase == "edge-1 Running").then_some(())
    });

    // The Node authorizer: its pod's Secret, not another.
    ok(as_node(&["get", "secret", "used"]), &["get", "secret", "used"]);
    let unrelated = fails(as_node(&["get", "secret", "other"]), &["get", "secret", "other"]);
    assert!(
        unrelated.contains(r#"Error from server (Forbidden): secrets "other" is forbidden: User "system:node:edge-1" cannot get resource "secrets" in API group "" in the namespace "default": no relationship found between node 'edge-1' and this object"#),
        "{unrelated}"
    );
    let listed = fails(as_node(&["get", "secrets"]), &["get", "secrets"]);
    assert!(listed.contains("cannot list resource \"secrets\""), "{listed}");
    let lease = fails(
        as_node(&["get", "lease", "someone-else", "-n", "kube-node-lease"]),
        &["get", "lease"],
    );
    assert!(
        lease.contains("can only access node lease with the same name as the requesting node"),
        "{lease}"
    );
    ok(
        as_node(&["get", "lease", "edge-1", "-n", "kube-node-lease"]),
        &["get", "lease"],
    );

    // NodeRestriction: its own Node only, no restricted labels, mirror pods only.
    let other = "apiVersion: v1\nkind: Node\nmetadata: {name: other}\n";
    skiff.kubectl(&["create", "-f", &write(dir.path(), "other.yaml", other)]);
    let foreign = fails(as_node(&["label", "node", "other", "x=y"]), &["label", "node", "other"]);
    assert!(
        foreign.contains(r#"nodes "other" is forbidden: node "edge-1" is not allowed to modify node "other""#),
        "{foreign}"
    );
    ok(
        as_node(&["label", "node", "edge-1", "zone=a"]),
        &["label", "node", "edge-1"],
    );
    let restricted = fails(
        as_node(&["label", "node", "edge-1", "node-restriction.kubernetes.io/pool=x"]),
        &["label", "node", "edge-1"],
    );
    assert!(
        restricted.contains(r#"node "edge-1" is not allowed to modify labels: node-restriction.kubernetes.io/pool"#),
        "{restricted}"
    );
    let rogue = fails(as_node(&["run", "rogue", "--image=busybox"]), &["run", "rogue"]);
    assert!(
        rogue.contains(r#"pods "rogue" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "edge-1" can only create mirror pods"#),
        "{rogue}"
    );
    let other_json = skiff.kubectl(&["get", "node", "other", "-o", "json"]);
    let body = write(dir.path(), "other.json", &other_json);
    let status = fails(
        as_node(&["replace", "--raw", "/api/v1/nodes/other/status", "-f", &body]),
        &["replace", "--raw", "nodes/other/status"],
    );
    assert!(
        status.contains(r#"nodes "other" is forbidden: node "edge-1" is not allowed to modify node "other""#),
        "{status}"
    );
}
