//! RBAC end to end with stock kubectl: a user with no bindings is Forbidden with upstream's
//! message, the `view` ClusterRole bound in one namespace lets them read but not write there,
//! `kubectl auth can-i` (and `--list`), `auth whoami`, `--as` impersonation gated by the
//! impersonate verb, SubjectAccessReviews with upstream's reasons, and bindings to missing roles.
//! (Anonymous requests are in tests/bad_input.rs.)

use crate::common::{fails, kubectl_as, kubectls, ok, write, Skiff};

/// The static tokens the server accepts: jane has no groups, bob is in "ops".
const TOKENS: &str = "jane-token,jane,uid-jane\nbob-token,bob,uid-bob,\"ops\"\n";

#[test]
fn rbac_forbids_until_bound_and_reviews_tell_why() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = write(dir.path(), "tokens.csv", TOKENS);
    let skiff = Skiff::start_with(&["--token-auth-file", &tokens]);
    let jane = skiff.token_kubeconfig(dir.path(), "jane", "jane-token");
    let as_jane = |args: &[&str]| kubectl_as(&jane, args);

    // No bindings: Forbidden, worded like upstream.
    let denied = fails(as_jane(&["get", "pods"]), &["get", "pods"]);
    assert!(
        denied.contains(r#"Error from server (Forbidden): pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default""#),
        "{denied}"
    );
    let whoami = ok(as_jane(&["auth", "whoami"]), &["auth", "whoami"]);
    assert!(
        whoami.contains("jane") && whoami.contains("[system:authenticated]"),
        "{whoami}"
    );
    let no = as_jane(&["auth", "can-i", "list", "pods"]);
    assert_eq!(String::from_utf8_lossy(&no.stdout).trim(), "no");
    assert!(!no.status.success());

    // view in default: read there, nothing else.
    skiff.kubectl(&[
        "create",
        "rolebinding",
        "jane-view",
        "--clusterrole=view",
        "--user=jane",
        "-n",
        "default",
    ]);
    skiff.kubectl(&["create", "configmap", "settings", "--from-literal=a=b"]);
    let listed = ok(as_jane(&["get", "configmaps", "-o", "name"]), &["get", "configmaps"]);
    assert!(listed.contains("configmap/settings"), "{listed}");
    let yes = ok(as_jane(&["auth", "can-i", "list", "pods"]), &["auth", "can-i"]);
    assert_eq!(yes.trim(), "yes");
    let create = fails(
        as_jane(&["create", "configmap", "mine", "--from-literal=x=y"]),
        &["create", "configmap"],
    );
    assert!(
        create.contains(r#"configmaps is forbidden: User "jane" cannot create resource "configmaps" in API group "" in the namespace "default""#),
        "{create}"
    );
    let elsewhere = fails(as_jane(&["get", "pods", "-n", "kube-system"]), &["get", "pods"]);
    assert!(elsewhere.contains(r#"in the namespace "kube-system""#), "{elsewhere}");
    let secrets = as_jane(&["auth", "can-i", "get", "secrets"]);
    assert_eq!(
        String::from_utf8_lossy(&secrets.stdout).trim(),
        "no",
        "view does not read secrets"
    );
    let list = ok(as_jane(&["auth", "can-i", "--list"]), &["auth", "can-i", "--list"]);
    let pods_row = list
        .lines()
        .find(|l| l.starts_with("pods ") || l.starts_with("pods\t"))
        .unwrap_or_else(|| panic!("no pods row in\n{list}"));
    assert!(pods_row.contains("[get list watch]"), "{pods_row}");
    assert!(list.contains("selfsubjectaccessreviews.authorization.k8s.io"), "{list}");

    // Impersonation: the admin may, jane may not.
    let as_flag = skiff.kubectl_with(
        &kubectls().pop().unwrap(),
        &["auth", "can-i", "create", "configmaps", "--as", "jane"],
    );
    assert_eq!(String::from_utf8_lossy(&as_flag.stdout).trim(), "no");
    assert!(!as_flag.status.success());
    let as_group = skiff.kubectl(&["auth", "whoami", "--as", "jane", "--as-group", "ops", "-o", "json"]);
    let who: serde_json::Value = serde_json::from_str(&as_group).unwrap();
    assert_eq!(
        who["status"]["userInfo"]["groups"],
        serde_json::json!(["ops", "system:authenticated"])
    );
    let refused = fails(
        as_jane(&["get", "pods", "--as", "bob"]),
        &["get", "pods", "--as", "bob"],
    );
    assert!(
        refused.contains(r#"users "bob" is forbidden: User "jane" cannot impersonate resource "users" in API group "" at the cluster scope"#),
        "{refused}"
    );

    // A SubjectAccessReview names the binding that allowed it.
    let sar = write(
        dir.path(),
        "sar.yaml",
        "apiVersion: authorization.k8s.io/v1\nkind: SubjectAccessReview\nspec:\n  user: jane\n  resourceAttributes:\n    namespace: default\n    verb: get\n    resource: pods\n",
    );
    let answered = skiff.kubectl(&["create", "-f", &sar, "-o", "json", "--validate=false"]);
    let answered: serde_json::Value = serde_json::from_str(&answered).unwrap();
    assert_eq!(answered["status"]["allowed"], true);
    assert_eq!(
        answered["status"]["reason"],
        r#"RBAC: allowed by RoleBinding "jane-view/default" of ClusterRole "view" to User "jane""#
    );

    // A binding to a role that does not exist: upstream's reason after the message.
    skiff.kubectl(&[
        "create",
        "rolebinding",
        "ops-missing",
        "--clusterrole=nope",
        "--group=ops",
    ]);
    let bob = skiff.token_kubeconfig(dir.path(), "bob", "bob-token");
    let missing = fails(kubectl_as(&bob, &["get", "secrets"]), &["get", "secrets"]);
    assert!(
        missing.contains(r#"secrets is forbidden: User "bob" cannot list resource "secrets" in API group "" in the namespace "default": RBAC: clusterrole.rbac.authorization.k8s.io "nope" not found"#),
        "{missing}"
    );
}

#[test]
fn roles_and_bindings_grant_only_what_their_writer_holds() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = write(dir.path(), "tokens.csv", TOKENS);
    let skiff = Skiff::start_with(&["--token-auth-file", &tokens]);
    skiff.kubectl(&["create", "namespace", "team"]);
    skiff.kubectl(&[
        "create",
        "rolebinding",
        "jane-admin",
        "--clusterrole=admin",
        "--user=jane",
        "-n",
        "team",
    ]);
    let jane = skiff.token_kubeconfig(dir.path(), "jane", "jane-token");
    let as_jane = |args: &[&str]| kubectl_as(&jane, args);

    // What admin holds in team, jane may hand on there.
    ok(
        as_jane(&[
            "create",
            "role",
            "pod-reader",
            "--verb=get,list",
            "--resource=pods",
            "-n",
            "team",
        ]),
        &["create", "role", "pod-reader"],
    );
    ok(
        as_jane(&[
            "create",
            "rolebinding",
            "bob-view",
            "--clusterrole=view",
            "--user=bob",
            "-n",
            "team",
        ]),
        &["create", "rolebinding", "bob-view"],
    );
    // Nodes are not hers to grant, nor is cluster-admin hers to bind.
    let role = fails(
        as_jane(&[
            "create",
            "role",
            "node-reader",
            "--verb=get",
            "--resource=nodes",
            "-n",
            "team",
        ]),
        &["create", "role", "node-reader"],
    );
    assert!(
        role.contains(
            "roles.rbac.authorization.k8s.io \"node-reader\" is forbidden: user \"jane\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"nodes\"], Verbs:[\"get\"]}"
        ),
        "{role}"
    );
    let binding = fails(
        as_jane(&[
            "create",
            "rolebinding",
            "root",
            "--clusterrole=cluster-admin",
            "--user=jane",
            "-n",
            "team",
        ]),
        &["create", "rolebinding", "root"],
    );
    assert!(
        binding.contains(r#"rolebindings.rbac.authorization.k8s.io "root" is forbidden: user "jane" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:"#)
            && binding.contains(r#"{APIGroups:["*"], Resources:["*"], Verbs:["*"]}"#),
        "{binding}"
    );
    let missing = fails(
        as_jane(&[
            "create",
            "rolebinding",
            "ghost",
            "--clusterrole=ghost",
            "--user=jane",
            "-n",
            "team",
        ]),
        &["create", "rolebinding", "ghost"],
    );
    assert!(
        missing.contains(r#"clusterroles.rbac.authorization.k8s.io "ghost" not found"#),
        "{missing}"
    );
    let rejected = ["node-reader", "root", "ghost"];
    let roles = skiff.kubectl(&["get", "roles,rolebindings", "-n", "team", "-o", "name"]);
    assert!(
        rejected.iter().all(|name| !roles.contains(&format!("/{name}\n"))),
        "{roles}"
    );

    // The escalate and bind verbs lift the check, as upstream's.
    let escalator = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: escalator\nrules:\n- apiGroups: [rbac.authorization.k8s.io]\n  resources: [roles]\n  verbs: [escalate]\n- apiGroups: [rbac.authorization.k8s.io]\n  resources: [clusterroles]\n  verbs: [bind]\n  resourceNames: [cluster-admin]\n";
    skiff.kubectl(&["create", "-f", &write(dir.path(), "escalator.yaml", escalator)]);
    skiff.kubectl(&[
        "create",
        "rolebinding",
        "jane-escalator",
        "--clusterrole=escalator",
        "--user=jane",
        "-n",
        "team",
    ]);
    ok(
        as_jane(&[
            "create",
            "role",
            "node-reader",
            "--verb=get",
            "--resource=nodes",
            "-n",
            "team",
        ]),
        &["create", "role", "node-reader"],
    );
    ok(
        as_jane(&[
            "create",
            "rolebinding",
            "root",
            "--clusterrole=cluster-admin",
            "--user=jane",
            "-n",
            "team",
        ]),
        &["create", "rolebinding", "root"],
    );
}
