//! Everyday kubectl workflows against the real binary: apply, edit, patch, label/annotate, scale,
//! get output formats, watch, wait, describe, delete and namespace deletion.

use crate::common;

use crate::common::{fails, ok, write, Skiff};
use std::io::Write;
use std::process::{Command, Stdio};

const MANIFEST: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels:
    app: demo
data:
  color: blue
  size: large
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: demo
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
        env:
        - name: MODE
          value: prod
";

#[test]
fn apply_reapply_change_and_remove_fields() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    for kubectl in common::kubectls() {
        let k = |args: &[&str]| ok(skiff.kubectl_with(&kubectl, args), args);
        let file = write(dir.path(), "app.yaml", MANIFEST);
        assert_eq!(
            k(&["apply", "-f", &file]),
            "configmap/settings created\ndeployment.apps/web created\n"
        );
        assert_eq!(
            k(&["apply", "-f", &file]),
            "configmap/settings unchanged\ndeployment.apps/web unchanged\n"
        );
        let changed = MANIFEST
            .replace("color: blue", "color: green")
            .replace("value: prod", "value: dev");
        let file = write(dir.path(), "app.yaml", &changed);
        assert_eq!(
            k(&["apply", "-f", &file]),
            "configmap/settings configured\ndeployment.apps/web configured\n"
        );
        assert_eq!(
            k(&["get", "configmap", "settings", "-o", "jsonpath={.data.color}"]),
            "green"
        );
        assert_eq!(
            k(&[
                "get",
                "deploy",
                "web",
                "-o",
                "jsonpath={.spec.template.spec.containers[0].env[0].value}"
            ]),
            "dev"
        );
        assert_eq!(
            k(&["get", "deploy", "web", "-o", "jsonpath={.metadata.generation}"]),
            "2"
        );
        // Removing a field from the file removes it from the object.
        let removed = changed.replace("  size: large\n", "");
        let file = write(dir.path(), "app.yaml", &removed);
        assert_eq!(
            k(&["apply", "-f", &file]),
            "configmap/settings configured\ndeployment.apps/web unchanged\n"
        );
        assert_eq!(
            k(&["get", "configmap", "settings", "-o", "jsonpath={.data}"]),
            r#"{"color":"green"}"#
        );
        k(&["delete", "-f", &file]);
    }
}

#[test]
fn edit_patch_label_annotate_scale() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "app.yaml", MANIFEST);
    skiff.kubectl(&["apply", "-f", &file]);
    for (i, kubectl) in common::kubectls().iter().enumerate() {
        let k = |args: &[&str]| ok(skiff.kubectl_with(kubectl, args), args);
        // edit through an editor that rewrites the file
        let out = Command::new(kubectl)
            .args(["edit", "configmap", "settings"])
            .env("KUBECONFIG", &skiff.kubeconfig)
            .env("KUBE_EDITOR", format!("sed -i -e s/size:.*/size:\\ edited-{i}/"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "configmap/settings edited\n");
        assert_eq!(
            k(&["get", "cm", "settings", "-o", "jsonpath={.data.size}"]),
            format!("edited-{i}")
        );

        assert_eq!(
            k(&["patch", "cm", "settings", "-p", r#"{"data":{"shape":"round"}}"#]),
            "configmap/settings patched\n"
        );
        assert_eq!(
            k(&[
                "patch",
                "cm",
                "settings",
                "--type=merge",
                "-p",
                r#"{"data":{"shape":null}}"#
            ]),
            "configmap/settings patched\n"
        );
        assert_eq!(
            k(&[
                "patch",
                "cm",
                "settings",
                "--type=json",
                "-p",
                &format!(r#"[{{"op":"add","path":"/data/json","value":"yes-{i}"}}]"#)
            ]),
            "configmap/settings patched\n"
        );
        assert_eq!(
            k(&["get", "cm", "settings", "-o", "jsonpath={.data.json}/{.data.shape}"]),
            format!("yes-{i}/")
        );
        assert_eq!(
            k(&[
                "patch",
                "cm",
                "settings",
                "--type=merge",
                "-p",
                &format!(r#"{{"data":{{"json":"yes-{i}"}}}}"#)
            ]),
            "configmap/settings patched (no change)\n"
        );
        // strategic merge on a container list keyed by name
        k(&[
            "patch",
            "deploy",
            "web",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}"#,
        ]);
        assert_eq!(
            k(&[
                "get",
                "deploy",
                "web",
                "-o",
                "jsonpath={.spec.template.spec.containers[*].image} {.spec.template.spec.containers[0].env[0].name}"
            ]),
            "nginx:1.28 MODE"
        );

        assert_eq!(
            k(&["label", "cm", "settings", "tier=backend"]),
            "configmap/settings labeled\n"
        );
        let err = fails(
            skiff.kubectl_with(kubectl, &["label", "cm", "settings", "tier=frontend"]),
            &[],
        );
        assert!(
            err.contains("already has a value (backend), and --overwrite is false"),
            "{err}"
        );
        k(&["label", "cm", "settings", "tier=frontend", "--overwrite"]);
        assert_eq!(
            k(&["get", "cm", "-l", "tier=frontend", "-o", "name"]),
            "configmap/settings\n"
        );
        assert_eq!(
            k(&["label", "cm", "settings", "tier-"]),
            "configmap/settings unlabeled\n"
        );
        assert_eq!(
            k(&["annotate", "cm", "settings", "owner=team-a"]),
            "configmap/settings annotated\n"
        );
        k(&["annotate", "cm", "settings", "owner-"]);
        assert_eq!(
            k(&["get", "cm", "settings", "-o", "jsonpath={.metadata.annotations.owner}"]),
            ""
        );

        assert_eq!(
            k(&["scale", "deploy", "web", "--replicas=3"]),
            "deployment.apps/web scaled\n"
        );
        assert_eq!(k(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]), "3");
    }
}

#[test]
fn get_output_formats_and_describe() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "app.yaml", MANIFEST);
    skiff.kubectl(&["apply", "-f", &file]);
    for kubectl in common::kubectls() {
        let k = |args: &[&str]| ok(skiff.kubectl_with(&kubectl, args), args);
        let table = k(&["get", "configmaps"]);
        let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(header, ["NAME", "DATA", "AGE"]);
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("settings") && l.split_whitespace().nth(1) == Some("2")),
            "{table}"
        );
        let wide = k(&["get", "deploy", "-o", "wide"]);
        let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(
            header,
            [
                "NAME",
                "READY",
                "UP-TO-DATE",
                "AVAILABLE",
                "AGE",
                "CONTAINERS",
                "IMAGES",
                "SELECTOR"
            ]
        );
        assert!(wide.contains("nginx:1.27") && wide.contains("app=web"), "{wide}");
        let yaml = k(&["get", "cm", "settings", "-o", "yaml"]);
        assert!(
            yaml.starts_with("apiVersion: v1\n")
                && yaml.contains("  color: blue\n")
                && yaml.contains("resourceVersion: "),
            "{yaml}"
        );
        let json: serde_json::Value = serde_json::from_str(&k(&["get", "cm", "settings", "-o", "json"])).unwrap();
        assert_eq!(json["metadata"]["labels"]["app"], "demo");
        assert_eq!(k(&["get", "cm", "settings", "-o", "name"]), "configmap/settings\n");
        let columns = k(&[
            "get",
            "cm",
            "-o",
            "custom-columns=NAME:.metadata.name,COLOR:.data.color",
            "-l",
            "app=demo",
        ]);
        assert_eq!(columns, "NAME       COLOR\nsettings   blue\n");
        let described = k(&["describe", "configmap", "settings"]);
        assert!(
            described.contains("Name:         settings") && described.contains("color:\n----\nblue"),
            "{described}"
        );
        let described = k(&["describe", "deploy", "web"]);
        assert!(
            described.contains("Replicas:") && described.contains("nginx:1.27"),
            "{described}"
        );
    }
}

#[test]
fn watch_streams_an_update_and_wait_sees_it() {
    let skiff = Skiff::start();
    skiff.kubectl(&["create", "configmap", "w", "--from-literal=k=v1"]);
    for kubectl in common::kubectls() {
        let mut watch = Command::new(&kubectl)
            .args(["get", "configmap", "w", "-w", "-o", "jsonpath={.data.k}{\"\\n\"}"])
            .env("KUBECONFIG", &skiff.kubeconfig)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(watch.stdout.take().unwrap()));
        let first = lines.next().unwrap().unwrap();
        skiff.kubectl(&[
            "patch",
            "cm",
            "w",
            "-p",
            &format!(r#"{{"data":{{"k":"{first}-next"}}}}"#),
        ]);
        let second = lines.next().unwrap().unwrap();
        assert_eq!(second, format!("{first}-next"));
        watch.kill().unwrap();
        let _ = watch.wait();
        let waited = ok(
            skiff.kubectl_with(
                &kubectl,
                &[
                    "wait",
                    "cm/w",
                    &format!("--for=jsonpath={{.data.k}}={second}"),
                    "--timeout=10s",
                ],
            ),
            &[],
        );
        assert_eq!(waited, "configmap/w condition met\n");
    }
}

#[test]
fn delete_by_name_label_all_and_finalizers() {
    let skiff = Skiff::start();
    for kubectl in common::kubectls() {
        let k = |args: &[&str]| ok(skiff.kubectl_with(&kubectl, args), args);
        // kubectl 1.35 names the namespace in its deletion message.
        let suffix = if kubectl.ends_with("kubectl-1.35") {
            " from default namespace"
        } else {
            ""
        };
        let deleted = |name: &str| format!("configmap \"{name}\" deleted{suffix}\n");
        for name in ["a", "b", "c", "d"] {
            k(&["create", "cm", name]);
        }
        k(&["label", "cm", "b", "c", "group=x"]);
        assert_eq!(k(&["delete", "cm", "a"]), deleted("a"));
        assert_eq!(k(&["delete", "cm", "-l", "group=x"]), deleted("b") + &deleted("c"));
        let err = fails(skiff.kubectl_with(&kubectl, &["get", "cm", "a"]), &[]);
        assert_eq!(err, "Error from server (NotFound): configmaps \"a\" not found\n");
        k(&[
            "patch",
            "cm",
            "d",
            "-p",
            r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
        ]);
        assert_eq!(k(&["delete", "cm", "d", "--wait=false"]), deleted("d"));
        assert!(!k(&["get", "cm", "d", "-o", "jsonpath={.metadata.deletionTimestamp}"]).is_empty());
        k(&[
            "patch",
            "cm",
            "d",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ]);
        fails(skiff.kubectl_with(&kubectl, &["get", "cm", "d"]), &[]);
        k(&["create", "cm", "e"]);
        k(&["create", "cm", "f"]);
        let all = k(&["delete", "cm", "--all"]);
        assert!(all.contains(&deleted("e")) && all.contains(&deleted("f")), "{all}");
    }
}

#[test]
fn restart_keeps_objects_and_versions_grow() {
    let dir = tempfile::tempdir().unwrap();
    let skiff = Skiff::start_in(dir.path());
    skiff.kubectl(&["create", "configmap", "keep", "--from-literal=k=v"]);
    let before: i64 = skiff
        .kubectl(&["get", "cm", "keep", "-o", "jsonpath={.metadata.resourceVersion}"])
        .parse()
        .unwrap();
    let ca_before = std::fs::read(dir.path().join("pki/ca.crt")).unwrap();
    skiff.stop();
    let skiff = Skiff::start_in(dir.path());
    assert_eq!(skiff.kubectl(&["get", "cm", "keep", "-o", "jsonpath={.data.k}"]), "v");
    assert_eq!(std::fs::read(dir.path().join("pki/ca.crt")).unwrap(), ca_before);
    skiff.kubectl(&["create", "configmap", "after"]);
    let after: i64 = skiff
        .kubectl(&["get", "cm", "after", "-o", "jsonpath={.metadata.resourceVersion}"])
        .parse()
        .unwrap();
    assert!(after > before, "{after} <= {before}");
}

#[test]
fn stdin_apply() {
    let skiff = Skiff::start();
    let mut child = Command::new("/usr/bin/kubectl")
        .args(["apply", "-f", "-"])
        .env("KUBECONFIG", &skiff.kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(MANIFEST.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "configmap/settings created\ndeployment.apps/web created\n"
    );
}

const EVENTS: &str = "apiVersion: v1
kind: Event
metadata:
  name: second
involvedObject:
  kind: ConfigMap
  name: settings
  namespace: default
reason: Updated
message: second thing happened
type: Normal
firstTimestamp: \"2026-01-01T00:00:10Z\"
lastTimestamp: \"2026-01-01T00:00:10Z\"
count: 1
---
apiVersion: v1
kind: Event
metadata:
  name: first
involvedObject:
  kind: ConfigMap
  name: settings
  namespace: default
reason: Created
message: first thing happened
type: Warning
firstTimestamp: \"2026-01-01T00:00:05Z\"
lastTimestamp: \"2026-01-01T00:00:05Z\"
count: 1
";

#[test]
fn get_all_events_expose_and_namespace_deletion() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let app = write(dir.path(), "app.yaml", MANIFEST);
    let events = write(dir.path(), "events.yaml", EVENTS);
    for (i, kubectl) in common::kubectls().iter().enumerate() {
        let k = |args: &[&str]| ok(skiff.kubectl_with(kubectl, args), args);
        let ns = format!("work-{i}");
        k(&["create", "namespace", &ns]);
        k(&["apply", "-n", &ns, "-f", &app]);
        let all = k(&["get", "all", "-n", &ns]);
        assert!(all.contains("deployment.apps/web"), "{all}");
        assert!(
            !all.contains("configmap"),
            "configmaps are not in the `all` category: {all}"
        );

        k(&["apply", "-n", &ns, "-f", &events]);
        let sorted = k(&[
            "get",
            "events",
            "-n",
            &ns,
            "--sort-by=.lastTimestamp",
            // The workload loops and the scheduler record events of their own about the app.
            "--field-selector=involvedObject.kind=ConfigMap",
            "-o",
            "custom-columns=REASON:.reason",
        ]);
        assert_eq!(sorted, "REASON\nCreated\nUpdated\n");
        let listed = k(&["events", "-n", &ns]);
        assert!(listed.starts_with("LAST SEEN"), "{listed}");
        assert!(
            listed.find("first thing").unwrap() < listed.find("second thing").unwrap(),
            "{listed}"
        );

        assert_eq!(
            k(&[
                "expose",
                "deployment",
                "web",
                "-n",
                &ns,
                "--port=80",
                "--target-port=8080"
            ]),
            "service/web exposed\n"
        );
        let svc: serde_json::Value = serde_json::from_str(&k(&["get", "svc", "web", "-n", &ns, "-o", "json"])).unwrap();
        assert_eq!(svc["spec"]["selector"]["app"], "web");
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
        assert!(svc["spec"]["clusterIP"].as_str().unwrap().starts_with("10."), "{svc}");

        assert_eq!(
            k(&["delete", "namespace", &ns]),
            format!("namespace \"{ns}\" deleted\n")
        );
        let gone = skiff.kubectl_with(kubectl, &["get", "namespace", &ns]);
        assert!(!gone.status.success(), "namespace deletion waits until it is gone");
        assert_eq!(k(&["get", "cm", "-n", &ns, "-o", "name"]), "");
    }
}
