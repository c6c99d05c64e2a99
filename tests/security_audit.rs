//! The audit log with stock kubectl: an audit.k8s.io/v1 Policy file decides the level of each
//! request (None, Metadata, Request, RequestResponse) by its first matching rule; events are
//! audit.k8s.io/v1 Event JSON lines, one per stage not omitted.

use crate::common::{write, Skiff};
use serde_json::Value;

const POLICY: &str = "apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  nonResourceURLs: ['/healthz*', '/readyz*', '/livez*', /version, '/api*', '/openapi*']
  verbs: [get]
- level: None
  userGroups: ['system:serviceaccounts', 'system:nodes']
- level: None
  users: ['system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver']
- level: RequestResponse
  resources: [{group: '', resources: [configmaps]}]
  namespaces: [audited]
- level: Metadata
  resources: [{group: '', resources: [secrets]}]
- level: Request
  verbs: [create, update, patch, delete]
";

fn events(log: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

#[test]
fn the_policy_decides_what_each_request_records() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.yaml", POLICY);
    let log = dir.path().join("audit.log");
    let skiff = Skiff::start_with(&[
        "--audit-policy-file",
        &policy,
        "--audit-log-path",
        log.to_str().unwrap(),
    ]);
    skiff.kubectl(&["create", "namespace", "audited"]);
    skiff.kubectl(&["create", "configmap", "cm", "-n", "audited", "--from-literal=a=b"]);
    skiff.kubectl(&["create", "secret", "generic", "s", "--from-literal=password=hunter2"]);
    skiff.kubectl(&["get", "secret", "s"]);

    let all = events(&log);
    assert!(!all.is_empty());
    for event in &all {
        assert_eq!(event["kind"], "Event");
        assert_eq!(event["apiVersion"], "audit.k8s.io/v1");
        assert_ne!(event["stage"], "RequestReceived", "omitted stage logged: {event}");
        assert!(event["auditID"].as_str().is_some_and(|id| id.len() == 36), "{event}");
        assert!(
            event["stageTimestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z') && t.contains('.')),
            "{event}"
        );
    }
    // Metadata for secrets: who, what, the outcome — never the secret itself.
    let secret = all
        .iter()
        .find(|e| e["objectRef"]["resource"] == "secrets" && e["verb"] == "create")
        .expect("the secret create is audited");
    assert_eq!(secret["level"], "Metadata");
    assert_eq!(secret["stage"], "ResponseComplete");
    assert_eq!(secret["user"]["username"], "kubernetes-admin");
    assert_eq!(
        secret["user"]["groups"],
        serde_json::json!(["system:masters", "system:authenticated"])
    );
    assert_eq!(secret["objectRef"]["namespace"], "default");
    assert_eq!(secret["objectRef"]["apiVersion"], "v1");
    assert_eq!(secret["responseStatus"]["code"], 201);
    assert_eq!(secret["sourceIPs"], serde_json::json!(["127.0.0.1"]));
    assert!(
        secret["userAgent"].as_str().is_some_and(|a| a.starts_with("kubectl")),
        "{secret}"
    );
    assert!(secret.get("requestObject").is_none() && secret.get("responseObject").is_none());
    assert!(!std::fs::read_to_string(&log).unwrap().contains("hunter2"));
    let read = all
        .iter()
        .find(|e| e["objectRef"]["resource"] == "secrets" && e["verb"] == "get")
        .expect("the secret read is audited");
    assert_eq!(read["objectRef"]["name"], "s");
    assert_eq!(read["responseStatus"]["code"], 200);

    // RequestResponse for configmaps in "audited": both bodies.
    let cm = all
        .iter()
        .find(|e| {
            e["objectRef"]["resource"] == "configmaps"
                && e["verb"] == "create"
                && e["user"]["username"] == "kubernetes-admin"
        })
        .expect("the configmap create is audited");
    assert_eq!(cm["level"], "RequestResponse");
    assert_eq!(cm["requestObject"]["data"]["a"], "b", "{cm}");
    assert_eq!(cm["responseObject"]["metadata"]["name"], "cm");
    assert!(cm["responseObject"]["metadata"]["uid"].is_string());

    // Request level for the namespace create: the body, not the response.
    let ns = all
        .iter()
        .find(|e| e["objectRef"]["resource"] == "namespaces" && e["verb"] == "create")
        .expect("the namespace create is audited");
    assert_eq!(ns["level"], "Request");
    assert_eq!(ns["requestObject"]["metadata"]["name"], "audited");
    assert!(ns.get("responseObject").is_none());

    // Level None: health checks, discovery, and the control plane's own loops.
    assert!(!all
        .iter()
        .any(|e| e["requestURI"].as_str().is_some_and(|u| u.starts_with("/readyz"))));
    assert!(!all.iter().any(|e| e["user"]["username"]
        .as_str()
        .is_some_and(|u| u.starts_with("system:serviceaccount:") || u.starts_with("system:kube-"))));
}

#[test]
fn a_bad_policy_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "policy.yaml",
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [Later]\nrules: []\n",
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(["server", "--data-dir"])
        .arg(dir.path().join("data"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--audit-policy-file",
            &policy,
            "--audit-log-path",
        ])
        .arg(dir.path().join("audit.log"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(r#"omitStages: Unsupported value: "Later""#), "{stderr}");
}
