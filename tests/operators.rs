//! Real operators against `skiff server`: the kube-rs example (examples/widget-operator, run in-process
//! through its `run(client)`) and the kopf example (examples/kopf-operator, run as `kopf run`) each
//! reconcile Widgets: finalizer, owned ConfigMap, status subresource, events, and cleanup on delete.

use crate::common::{repo_root, Skiff};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const CRD: &str = "crds/widgets.example.skiff.dev.yaml";
const WAIT: &str = "--timeout=30s";

/// Install the Widget CRD and wait until it is served.
fn install_crd(skiff: &Skiff) {
    let crd = repo_root().join(CRD);
    skiff.kubectl(&["apply", "-f", crd.to_str().unwrap()]);
    skiff.wait_established("widgets.example.skiff.dev");
}

/// `kubectl apply` a Widget `name` in the default namespace.
fn apply_widget(skiff: &Skiff, name: &str, message: &str, repeat: Option<i32>) {
    let mut spec = serde_json::json!({ "message": message });
    if let Some(repeat) = repeat {
        spec["repeat"] = repeat.into();
    }
    let widget = serde_json::json!({
        "apiVersion": "example.skiff.dev/v1",
        "kind": "Widget",
        "metadata": { "name": name, "namespace": "default" },
        "spec": spec,
    });
    let path = skiff.data_dir.join(format!("{name}.json"));
    std::fs::write(&path, widget.to_string()).unwrap();
    skiff.kubectl(&["apply", "-f", path.to_str().unwrap()]);
}

fn get_json(skiff: &Skiff, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&skiff.kubectl(&all)).unwrap()
}

/// Which Events API an operator writes: kube-rs's Recorder uses events.k8s.io/v1, kopf core/v1.
#[derive(Clone, Copy)]
enum Events {
    EventsV1,
    CoreV1,
}

/// Wait, through a watch (`kubectl get <events> -w`), until an event with `reason` is about object `name`.
fn wait_for_event(skiff: &Skiff, events: Events, name: &str, reason: &str) {
    let (resource, selector) = match events {
        Events::EventsV1 => ("events.events.k8s.io", format!("regarding.name={name},reason={reason}")),
        Events::CoreV1 => ("events", format!("involvedObject.name={name},reason={reason}")),
    };
    let mut watch = Command::new("/usr/bin/kubectl")
        .args([
            "get",
            resource,
            "-n",
            "default",
            "-w",
            "-o",
            "name",
            "--field-selector",
            &selector,
        ])
        .env("KUBECONFIG", &skiff.kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = watch.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let first = BufReader::new(stdout).lines().next();
        let _ = tx.send(first);
    });
    let seen = rx.recv_timeout(Duration::from_secs(30));
    let _ = watch.kill();
    let _ = watch.wait();
    match seen {
        Ok(Some(Ok(line))) => assert!(line.starts_with("event"), "{line}"),
        other => panic!("no {reason} event for {name} within 30s: {other:?}"),
    }
}

/// The whole life of one Widget under a running operator whose finalizer is `finalizer`.
fn reconciles_a_widget_through_its_life(skiff: &Skiff, finalizer: &str, events: Events) {
    apply_widget(skiff, "hello", "hello", Some(2));
    let gen1 = "--for=jsonpath={.status.observedGeneration}=1";
    skiff.kubectl(&["wait", gen1, "widget/hello", WAIT]);
    let widget = get_json(skiff, &["get", "widget", "hello"]);
    assert_eq!(widget["status"]["phase"], "Ready", "{widget}");
    assert_eq!(widget["status"]["configMap"], "hello-widget", "{widget}");
    let ready = &widget["status"]["conditions"][0];
    assert_eq!(
        (&ready["type"], &ready["status"]),
        (&"Ready".into(), &"True".into()),
        "{widget}"
    );
    assert_eq!(ready["observedGeneration"], 1, "{widget}");
    let finalizers = widget["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
    assert!(finalizers.contains(&finalizer.into()), "{widget}");

    // The owned ConfigMap carries the spec and points back at the Widget as its controller.
    skiff.kubectl(&[
        "wait",
        "--for=jsonpath={.data.message}=hello",
        "configmap/hello-widget",
        WAIT,
    ]);
    let cm = get_json(skiff, &["get", "configmap", "hello-widget"]);
    assert_eq!(cm["data"]["text"], "hello hello", "{cm}");
    let owner = &cm["metadata"]["ownerReferences"][0];
    assert_eq!(owner["apiVersion"], "example.skiff.dev/v1", "{cm}");
    assert_eq!(owner["kind"], "Widget", "{cm}");
    assert_eq!(owner["name"], "hello", "{cm}");
    assert_eq!(owner["uid"], widget["metadata"]["uid"], "{cm}");
    assert_eq!(owner["controller"], true, "{cm}");
    wait_for_event(skiff, events, "hello", "Synced");

    // The printer columns show the spec and the status.
    let table = skiff.kubectl(&["get", "widgets"]);
    let mut lines = table.lines();
    let header: Vec<_> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "MESSAGE", "PHASE", "AGE"], "{table}");
    let row: Vec<_> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..3], ["hello", "hello", "Ready"], "{table}");

    // A spec change (new generation) flows into the ConfigMap and the status.
    let spec = r#"{"spec":{"message":"bye","repeat":3}}"#;
    skiff.kubectl(&["patch", "widget", "hello", "--type=merge", "-p", spec]);
    skiff.kubectl(&[
        "wait",
        "--for=jsonpath={.status.observedGeneration}=2",
        "widget/hello",
        WAIT,
    ]);
    skiff.kubectl(&[
        "wait",
        "--for=jsonpath={.data.message}=bye",
        "configmap/hello-widget",
        WAIT,
    ]);
    let cm = get_json(skiff, &["get", "configmap", "hello-widget"]);
    assert_eq!(cm["data"]["text"], "bye bye bye", "{cm}");
    let widget = get_json(skiff, &["get", "widget", "hello"]);
    assert_eq!(widget["status"]["conditions"][0]["observedGeneration"], 2, "{widget}");

    // Deleting the Widget runs the operator's cleanup behind its finalizer: ConfigMap, then Widget, go.
    skiff.kubectl(&["delete", "widget", "hello", "--wait=false"]);
    skiff.kubectl(&["wait", "--for=delete", "widget/hello", WAIT]);
    wait_for_event(skiff, events, "hello", "Cleaned");
    let gone = skiff.kubectl_with(
        std::path::Path::new("/usr/bin/kubectl"),
        &["get", "configmap", "hello-widget"],
    );
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("NotFound"));

    // A Widget without `repeat` gets the schema default.
    apply_widget(skiff, "plain", "one", None);
    skiff.kubectl(&["wait", gen1, "widget/plain", WAIT]);
    skiff.kubectl(&[
        "wait",
        "--for=jsonpath={.data.text}=one",
        "configmap/plain-widget",
        WAIT,
    ]);
    let widget = get_json(skiff, &["get", "widget", "plain"]);
    assert_eq!(widget["spec"]["repeat"], 1, "{widget}");
}

/// The kube-rs operator running on its own runtime; dropping it stops the operator.
struct InProcess(Option<tokio::runtime::Runtime>);

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

fn start_kube_rs_operator(skiff: &Skiff) -> InProcess {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let kubeconfig = skiff.kubeconfig.clone();
    let client = runtime.block_on(async move {
        let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
        let options = kube::config::KubeConfigOptions::default();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    });
    runtime.spawn(skiff_example_operator::run(client));
    InProcess(Some(runtime))
}

#[test]
fn kube_rs_operator_reconciles_widgets() {
    let skiff = Skiff::start();
    install_crd(&skiff);
    let _operator = start_kube_rs_operator(&skiff);
    reconciles_a_widget_through_its_life(&skiff, skiff_example_operator::reconcile::FINALIZER, Events::EventsV1);
    // `Controller::owns` follows ConfigMaps through a metadata-only watch (PartialObjectMetadata): a
    // tampered ConfigMap wakes its Widget's reconcile, which puts the spec back.
    let tamper = r#"{"data":{"text":"tampered"}}"#;
    skiff.kubectl(&["patch", "configmap", "plain-widget", "--type=merge", "-p", tamper]);
    skiff.kubectl(&[
        "wait",
        "--for=jsonpath={.data.text}=one",
        "configmap/plain-widget",
        WAIT,
    ]);
}

/// `kopf run` as a child process, killed on drop; its log is printed if the test failed.
struct Kopf {
    child: Child,
    log: PathBuf,
}

impl Drop for Kopf {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("--- kopf log ---\n{log}");
        }
    }
}

fn start_kopf_operator(skiff: &Skiff, kopf: &std::path::Path) -> Kopf {
    let log = skiff.data_dir.join("kopf.log");
    let file = std::fs::File::create(&log).unwrap();
    let child = Command::new(kopf)
        .args(["run", "--standalone", "--namespace", "default"])
        .arg(repo_root().join("examples/kopf-operator/operator.py"))
        .env("KUBECONFIG", &skiff.kubeconfig)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    Kopf { child, log }
}

#[test]
fn kopf_operator_reconciles_widgets() {
    let kopf = repo_root().join(".tools/python/bin/kopf");
    if !kopf.exists() {
        eprintln!("skipping: no kopf in .tools/python (run scripts/install-python.sh)");
        return;
    }
    let skiff = Skiff::start();
    install_crd(&skiff);
    let _operator = start_kopf_operator(&skiff, &kopf);
    reconciles_a_widget_through_its_life(&skiff, "example.skiff.dev/kopf-cleanup", Events::CoreV1);
}
