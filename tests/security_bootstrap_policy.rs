//! The RBAC bootstrap policy through stock kubectl: upstream's default ClusterRoles, bindings and
//! kube-system Roles exist from the start, `view`/`edit`/`admin` are filled by the ClusterRole
//! aggregation controller (and pick up a user's aggregate-to-view role), and a restart restores
//! what was edited away from a default object unless it is annotated autoupdate=false.

use crate::common::{within, write, Skiff};
use serde_json::{json, Value};

fn get(skiff: &Skiff, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend(["-o", "json"]);
    serde_json::from_str(&skiff.kubectl(&all)).expect("kubectl JSON")
}

fn rules(skiff: &Skiff, role: &str) -> Vec<Value> {
    get(skiff, &["clusterrole", role])["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Wait until `role`'s rules satisfy `ok`, and return them.
fn rules_when(skiff: &Skiff, role: &str, what: &str, ok: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    within(30, what, || Some(rules(skiff, role)).filter(|r| ok(r)))
}

fn patch(skiff: &Skiff, kind: &str, name: &str, patch: Value) {
    skiff.kubectl(&["patch", kind, name, "--type=merge", "-p", &patch.to_string()]);
}

#[test]
fn the_default_policy_is_there_and_aggregates() {
    let skiff = Skiff::start();
    let names = skiff.kubectl(&["get", "clusterroles", "-o", "name"]);
    for role in [
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
        "system:node",
        "system:kube-scheduler",
        "system:certificates.k8s.io:kube-apiserver-client-approver",
        "system:controller:clusterrole-aggregation-controller",
        "system:controller:job-controller",
    ] {
        assert!(
            names
                .lines()
                .any(|l| l == format!("clusterrole.rbac.authorization.k8s.io/{role}")),
            "{role} missing from:\n{names}"
        );
    }
    let admin = get(&skiff, &["clusterrolebinding", "cluster-admin"]);
    assert_eq!(
        admin["subjects"],
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}])
    );
    assert_eq!(
        admin["metadata"]["labels"]["kubernetes.io/bootstrapping"],
        "rbac-defaults"
    );
    assert_eq!(
        admin["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"],
        "true"
    );
    let jobs = get(&skiff, &["clusterrolebinding", "system:controller:job-controller"]);
    assert_eq!(jobs["subjects"][0]["name"], "job-controller");
    assert_eq!(jobs["subjects"][0]["namespace"], "kube-system");
    let roles = skiff.kubectl(&["get", "roles", "-n", "kube-system", "-o", "name"]);
    assert!(roles.contains("role.rbac.authorization.k8s.io/extension-apiserver-authentication-reader"));
    let signer = get(
        &skiff,
        &["rolebinding", "system:controller:bootstrap-signer", "-n", "kube-public"],
    );
    assert_eq!(signer["roleRef"]["kind"], "Role");

    // view is aggregated: its rules are system:aggregate-to-view's, which are upstream's.
    let view = get(&skiff, &["clusterrole", "view"]);
    assert_eq!(
        view["aggregationRule"]["clusterRoleSelectors"],
        json!([{"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}])
    );
    let view_rules = rules_when(&skiff, "view", "view to be aggregated", |r| !r.is_empty());
    assert_eq!(view_rules, rules(&skiff, "system:aggregate-to-view"));
    let has = |rules: &[Value], rule: Value| rules.iter().any(|r| *r == rule);
    for rule in [
        json!({"apiGroups": [""], "resources": ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/status"], "verbs": ["get", "list", "watch"]}),
        json!({"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["get", "list", "watch"]}),
        json!({"apiGroups": ["batch"], "resources": ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], "verbs": ["get", "list", "watch"]}),
        json!({"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]}),
    ] {
        assert!(has(&view_rules, rule.clone()), "view lacks {rule}: {view_rules:#?}");
    }
    // admin ← edit ← view.
    let roles_rule = json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings", "roles"], "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]});
    rules_when(&skiff, "admin", "admin to gather edit and view", |r| {
        has(r, roles_rule.clone()) && view_rules.iter().all(|v| has(r, v.clone()))
    });
    assert!(!has(&rules(&skiff, "edit"), roles_rule));

    // A user's aggregate-to-view role reaches view, edit and admin, and leaves with its label.
    let widgets = json!({"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]});
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "widget-viewer.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: widget-viewer
  labels: {rbac.authorization.k8s.io/aggregate-to-view: \"true\"}
rules:
- {apiGroups: [example.com], resources: [widgets], verbs: [get, list, watch]}
",
    );
    skiff.kubectl(&["create", "-f", &file]);
    for role in ["view", "edit", "admin"] {
        rules_when(&skiff, role, &format!("{role} to gather widget-viewer"), |r| {
            has(r, widgets.clone())
        });
    }
    skiff.kubectl(&[
        "label",
        "clusterrole",
        "widget-viewer",
        "rbac.authorization.k8s.io/aggregate-to-view-",
    ]);
    rules_when(&skiff, "view", "view to drop widget-viewer", |r| {
        !has(r, widgets.clone())
    });
}

#[test]
fn a_restart_restores_defaults_unless_autoupdate_is_false() {
    let dir = tempfile::tempdir().unwrap();
    let skiff = Skiff::start_in(dir.path());
    let only_version = json!([{"nonResourceURLs": ["/version"], "verbs": ["get"]}]);
    patch(
        &skiff,
        "clusterrole",
        "system:discovery",
        json!({"rules": only_version}),
    );
    patch(
        &skiff,
        "clusterrole",
        "system:public-info-viewer",
        json!({"metadata": {"annotations": {"rbac.authorization.kubernetes.io/autoupdate": "false"}}, "rules": only_version}),
    );
    patch(
        &skiff,
        "clusterrolebinding",
        "system:public-info-viewer",
        json!({"subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]}),
    );
    skiff.kubectl(&["label", "clusterrole", "system:basic-user", "team=mine"]);
    skiff.kubectl(&["delete", "clusterrole", "system:heapster"]);
    skiff.stop();

    let skiff = Skiff::start_in(dir.path());
    let discovery = rules(&skiff, "system:discovery");
    for url in ["/version", "/api", "/apis/*", "/healthz", "/openapi/*", "/version/"] {
        assert!(
            discovery
                .iter()
                .any(|r| r["nonResourceURLs"].as_array().is_some_and(|u| u.contains(&json!(url)))),
            "{url} not restored: {discovery:#?}"
        );
    }
    assert_eq!(
        json!(rules(&skiff, "system:public-info-viewer")),
        only_version,
        "autoupdate=false is left alone"
    );
    let binding = get(&skiff, &["clusterrolebinding", "system:public-info-viewer"]);
    let subjects: Vec<&str> = binding["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["system:authenticated", "system:unauthenticated"]);
    let basic = get(&skiff, &["clusterrole", "system:basic-user"]);
    assert_eq!(basic["metadata"]["labels"]["team"], "mine", "additions are kept");
    assert_eq!(
        rules(&skiff, "system:heapster"),
        [
            json!({"apiGroups": [""], "resources": ["events", "namespaces", "nodes", "pods"], "verbs": ["get", "list", "watch"]}),
            json!({"apiGroups": ["extensions"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]}),
        ]
    );
}
