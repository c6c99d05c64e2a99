//! The garbage collector end to end against `skiff server` with stock kubectl 1.35: cascading
//! deletes (background, and foreground/orphan through their finalizers), dangling owners,
//! owners in another namespace, custom resources of CRDs created while the server runs, and the
//! kube-rs widget operator's owned ConfigMap.

use crate::common;

use crate::common::{ok, repo_root, write, Skiff};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn kubectl_bin() -> PathBuf {
    common::kubectls().pop().expect("a kubectl")
}

fn k(skiff: &Skiff, args: &[&str]) -> String {
    ok(skiff.kubectl_with(&kubectl_bin(), args), args)
}

fn json(skiff: &Skiff, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&k(skiff, &all)).unwrap()
}

/// The object, or None once the server says NotFound.
fn get(skiff: &Skiff, args: &[&str]) -> Option<Value> {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let out = skiff.kubectl_with(&kubectl_bin(), &all);
    if out.status.success() {
        return serde_json::from_slice(&out.stdout).ok();
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("NotFound"), "kubectl {args:?}: {stderr}");
    None
}

fn wait_for<T>(what: &str, seconds: u64, mut attempt: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {seconds}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wait_gone(skiff: &Skiff, args: &[&str]) {
    wait_for(&format!("{args:?} to be gone"), 60, || {
        get(skiff, args).is_none().then_some(())
    });
}

fn names(skiff: &Skiff, args: &[&str]) -> Vec<String> {
    let mut all = args.to_vec();
    all.extend(["-o", "name"]);
    k(skiff, &all).lines().map(str::to_string).collect()
}

fn uid(skiff: &Skiff, args: &[&str]) -> String {
    json(skiff, args)["metadata"]["uid"].as_str().unwrap().to_string()
}

/// A ConfigMap `name` in `ns` owned by `owners` (apiVersion, kind, name, uid, blockOwnerDeletion).
fn owned_config_map(name: &str, ns: &str, owners: &[(&str, &str, &str, &str, bool)], finalizers: &[&str]) -> String {
    let refs: Vec<Value> = owners
        .iter()
        .map(|(api_version, kind, owner, uid, block)| {
            serde_json::json!({"apiVersion": api_version, "kind": kind, "name": owner, "uid": uid,
                "blockOwnerDeletion": block})
        })
        .collect();
    serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "ownerReferences": refs, "finalizers": finalizers}})
    .to_string()
}

fn create_deployment(skiff: &Skiff, name: &str) -> (String, Vec<String>) {
    k(skiff, &["create", "deployment", name, "--image=nginx", "--replicas=2"]);
    k(
        skiff,
        &["rollout", "status", &format!("deployment/{name}"), "--timeout=60s"],
    );
    let rs = names(skiff, &["get", "rs", "-l", &format!("app={name}")]);
    let pods = names(skiff, &["get", "pods", "-l", &format!("app={name}")]);
    assert_eq!((rs.len(), pods.len()), (1, 2), "{rs:?} {pods:?}");
    (rs[0].clone(), pods)
}

#[test]
fn background_deletion_removes_replica_sets_and_pods() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "2"]);
    let (rs, _) = create_deployment(&skiff, "web");
    k(&skiff, &["delete", "deployment", "web"]);
    wait_for("the ReplicaSet and its pods collected", 60, || {
        let left = names(&skiff, &["get", "rs,pods", "-l", "app=web"]);
        left.is_empty().then_some(())
    });
    assert!(get(&skiff, &["get", &rs]).is_none());

    let (rs, _) = create_deployment(&skiff, "api");
    k(&skiff, &["delete", "deployment", "api", "--cascade=background"]);
    wait_gone(&skiff, &["get", &rs]);
    wait_for("pods collected", 60, || {
        names(&skiff, &["get", "pods", "-l", "app=api"])
            .is_empty()
            .then_some(())
    });
}

#[test]
fn orphan_finalizer_keeps_dependents_without_their_owner_reference() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "2"]);
    let (rs, pods) = create_deployment(&skiff, "web");
    // What the apiserver does for `--cascade=orphan`: the orphan finalizer, then the deletion.
    k(
        &skiff,
        &[
            "patch",
            "deployment",
            "web",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":["orphan"]}}"#,
        ],
    );
    // A DELETE without propagationPolicy keeps the object's own finalizer (kubectl delete would
    // send Background, which takes precedence over it, as upstream's).
    k(
        &skiff,
        &["delete", "--raw", "/apis/apps/v1/namespaces/default/deployments/web"],
    );
    wait_gone(&skiff, &["get", "deployment", "web"]);
    let kept = json(&skiff, &["get", &rs]);
    assert!(kept["metadata"]["ownerReferences"].is_null(), "{}", kept["metadata"]);
    assert!(kept["metadata"]["deletionTimestamp"].is_null());
    // The pods still belong to the ReplicaSet, which keeps them running.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(names(&skiff, &["get", "pods", "-l", "app=web"]), pods);
    let pod = json(&skiff, &["get", &pods[0]]);
    assert_eq!(
        format!(
            "replicaset.apps/{}",
            pod["metadata"]["ownerReferences"][0]["name"].as_str().unwrap()
        ),
        rs
    );
}

#[test]
fn foreground_finalizer_waits_for_blocking_dependents() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "0"]);
    let dir = tempfile::tempdir().unwrap();
    k(&skiff, &["create", "configmap", "owner"]);
    k(
        &skiff,
        &[
            "patch",
            "configmap",
            "owner",
            "-p",
            r#"{"metadata":{"finalizers":["foregroundDeletion"]}}"#,
        ],
    );
    let owner = uid(&skiff, &["get", "configmap", "owner"]);
    let blocking = owned_config_map(
        "blocking",
        "default",
        &[("v1", "ConfigMap", "owner", &owner, true)],
        &["example.com/hold"],
    );
    let free = owned_config_map("free", "default", &[("v1", "ConfigMap", "owner", &owner, false)], &[]);
    k(
        &skiff,
        &["create", "-f", &write(dir.path(), "blocking.json", &blocking)],
    );
    k(&skiff, &["create", "-f", &write(dir.path(), "free.json", &free)]);
    k(
        &skiff,
        &["delete", "--raw", "/api/v1/namespaces/default/configmaps/owner"],
    );
    // The dependents are deleted; the owner waits for the blocking one.
    wait_gone(&skiff, &["get", "configmap", "free"]);
    wait_for("the blocking dependent deleting", 30, || {
        let b = json(&skiff, &["get", "configmap", "blocking"]);
        (!b["metadata"]["deletionTimestamp"].is_null()).then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    let waiting = json(&skiff, &["get", "configmap", "owner"]);
    assert!(!waiting["metadata"]["deletionTimestamp"].is_null());
    assert_eq!(
        waiting["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"])
    );
    // Once it is gone, the collector removes the finalizer and the owner goes.
    k(
        &skiff,
        &[
            "patch",
            "configmap",
            "blocking",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ],
    );
    wait_gone(&skiff, &["get", "configmap", "blocking"]);
    wait_gone(&skiff, &["get", "configmap", "owner"]);

    // Foreground deletion of a Deployment: pods, then ReplicaSet, then the Deployment.
    drop(skiff);
    let skiff = Skiff::start_with(&["--simulated-nodes", "2"]);
    let (rs, _) = create_deployment(&skiff, "web");
    k(
        &skiff,
        &[
            "patch",
            "deployment",
            "web",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":["foregroundDeletion"]}}"#,
        ],
    );
    k(&skiff, &["delete", "deployment", "web", "--wait=false"]);
    wait_gone(&skiff, &["get", "deployment", "web"]);
    assert!(get(&skiff, &["get", &rs]).is_none(), "the ReplicaSet went first");
    assert!(
        names(&skiff, &["get", "pods", "-l", "app=web"]).is_empty(),
        "its pods went first"
    );
}

/// `kubectl delete --cascade=orphan|foreground`: the apiserver adds the orphan or
/// foregroundDeletion finalizer from the request's propagationPolicy.
#[test]
fn kubectl_cascade_orphan_and_foreground() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "2"]);
    let (rs, pods) = create_deployment(&skiff, "web");
    k(&skiff, &["delete", "deployment", "web", "--cascade=orphan"]);
    std::thread::sleep(Duration::from_secs(2));
    let kept = json(&skiff, &["get", &rs]);
    assert!(kept["metadata"]["ownerReferences"].is_null());
    assert_eq!(names(&skiff, &["get", "pods", "-l", "app=web"]), pods);

    let (rs, _) = create_deployment(&skiff, "api");
    // --cascade=foreground waits (kubectl --wait) until the dependents and then the owner are gone.
    k(
        &skiff,
        &["delete", "deployment", "api", "--cascade=foreground", "--timeout=60s"],
    );
    assert!(get(&skiff, &["get", &rs]).is_none());
    assert!(names(&skiff, &["get", "pods", "-l", "app=api"]).is_empty());
}

#[test]
fn dangling_and_cross_namespace_owners() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "0"]);
    let dir = tempfile::tempdir().unwrap();
    // An owner that never existed: the dependent is collected.
    let dangling = owned_config_map(
        "dangling",
        "default",
        &[(
            "v1",
            "ConfigMap",
            "ghost",
            "00000000-0000-0000-0000-000000000001",
            false,
        )],
        &[],
    );
    k(
        &skiff,
        &["create", "-f", &write(dir.path(), "dangling.json", &dangling)],
    );
    wait_gone(&skiff, &["get", "configmap", "dangling"]);

    // A dependent with one live and one missing owner keeps the live one only.
    k(&skiff, &["create", "configmap", "alive"]);
    let alive = uid(&skiff, &["get", "configmap", "alive"]);
    let both = owned_config_map(
        "both",
        "default",
        &[
            ("v1", "ConfigMap", "alive", &alive, false),
            (
                "v1",
                "ConfigMap",
                "ghost",
                "00000000-0000-0000-0000-000000000002",
                false,
            ),
        ],
        &[],
    );
    k(&skiff, &["create", "-f", &write(dir.path(), "both.json", &both)]);
    let refs = wait_for("the dangling reference dropped", 30, || {
        let cm = json(&skiff, &["get", "configmap", "both"]);
        let refs = cm["metadata"]["ownerReferences"].as_array()?.clone();
        (refs.len() == 1).then_some(refs)
    });
    assert_eq!(refs[0]["uid"], alive.as_str());

    // An owner in another namespace: the dependent is collected and a warning says why.
    k(&skiff, &["create", "namespace", "a"]);
    k(&skiff, &["create", "namespace", "b"]);
    k(&skiff, &["create", "configmap", "owner", "-n", "a"]);
    let owner = uid(&skiff, &["get", "configmap", "owner", "-n", "a"]);
    let elsewhere = owned_config_map("elsewhere", "b", &[("v1", "ConfigMap", "owner", &owner, false)], &[]);
    k(
        &skiff,
        &["create", "-f", &write(dir.path(), "elsewhere.json", &elsewhere)],
    );
    wait_gone(&skiff, &["get", "configmap", "elsewhere", "-n", "b"]);
    let event = wait_for("the OwnerRefInvalidNamespace event", 30, || {
        let list = json(
            &skiff,
            &[
                "get",
                "events",
                "-n",
                "b",
                "--field-selector",
                "reason=OwnerRefInvalidNamespace",
            ],
        );
        list["items"].as_array()?.first().cloned()
    });
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["involvedObject"]["name"], "elsewhere");
    assert_eq!(event["source"]["component"], "garbage-collector-controller");
    assert_eq!(
        event["message"],
        format!("ownerRef [v1/ConfigMap, namespace: b, name: owner, uid: {owner}] does not exist in namespace \"b\"")
            .as_str()
    );
    assert!(get(&skiff, &["get", "configmap", "owner", "-n", "a"]).is_some());
}

#[test]
fn custom_resources_of_new_crds_own_and_are_owned() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "0"]);
    let dir = tempfile::tempdir().unwrap();
    // A CRD created while the server runs is picked up by the collector.
    skiff.create_crd(
        dir.path(),
        "gadgets.example.com",
        "Gadget",
        "  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
",
    );
    let gadget = r#"{"apiVersion":"example.com/v1","kind":"Gadget","metadata":{"name":"g1"}}"#;
    k(&skiff, &["create", "-f", &write(dir.path(), "g1.json", gadget)]);
    let g1 = uid(&skiff, &["get", "gadget", "g1"]);
    let owned = owned_config_map(
        "by-gadget",
        "default",
        &[("example.com/v1", "Gadget", "g1", &g1, true)],
        &[],
    );
    k(&skiff, &["create", "-f", &write(dir.path(), "owned.json", &owned)]);
    // A custom resource owned by a ConfigMap.
    k(&skiff, &["create", "configmap", "holder"]);
    let holder = uid(&skiff, &["get", "configmap", "holder"]);
    let dependent = serde_json::json!({"apiVersion": "example.com/v1", "kind": "Gadget",
        "metadata": {"name": "g2", "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap",
            "name": "holder", "uid": holder}]}});
    k(
        &skiff,
        &["create", "-f", &write(dir.path(), "g2.json", &dependent.to_string())],
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(get(&skiff, &["get", "configmap", "by-gadget"]).is_some());
    assert!(get(&skiff, &["get", "gadget", "g2"]).is_some());

    k(&skiff, &["delete", "gadget", "g1"]);
    wait_gone(&skiff, &["get", "configmap", "by-gadget"]);
    k(&skiff, &["delete", "configmap", "holder"]);
    wait_gone(&skiff, &["get", "gadget", "g2"]);
}

/// The kube-rs operator on its own runtime; dropping it stops the operator.
struct Operator(Option<tokio::runtime::Runtime>);

impl Drop for Operator {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

fn start_operator(skiff: &Skiff) -> Operator {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let kubeconfig = skiff.kubeconfig.clone();
    let client = runtime.block_on(async move {
        let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    });
    runtime.spawn(skiff_example_operator::run(client));
    Operator(Some(runtime))
}

#[test]
fn widget_operators_config_map_is_collected_with_its_widget() {
    let skiff = Skiff::start_with(&["--simulated-nodes", "0"]);
    let crd = repo_root().join("crds/widgets.example.skiff.dev.yaml");
    k(&skiff, &["apply", "-f", crd.to_str().unwrap()]);
    skiff.wait_established("widgets.example.skiff.dev");
    let operator = start_operator(&skiff);
    let widget = r#"{"apiVersion":"example.skiff.dev/v1","kind":"Widget","metadata":{"name":"hello","namespace":"default"},"spec":{"message":"hi"}}"#;
    let dir = tempfile::tempdir().unwrap();
    k(&skiff, &["apply", "-f", &write(dir.path(), "widget.json", widget)]);
    k(
        &skiff,
        &[
            "wait",
            "--for=jsonpath={.data.message}=hi",
            "configmap/hello-widget",
            "--timeout=30s",
        ],
    );
    let cm = json(&skiff, &["get", "configmap", "hello-widget"]);
    assert_eq!(cm["metadata"]["ownerReferences"][0]["kind"], "Widget");
    // Without the operator (whose cleanup would delete the ConfigMap itself), the Widget goes
    // once its finalizer is removed, and the collector takes the ConfigMap.
    drop(operator);
    k(&skiff, &["delete", "widget", "hello", "--wait=false"]);
    k(
        &skiff,
        &[
            "patch",
            "widget",
            "hello",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ],
    );
    wait_gone(&skiff, &["get", "widget", "hello"]);
    wait_gone(&skiff, &["get", "configmap", "hello-widget"]);
}
