//! Helm's hooks on simulated nodes, with Helm 3 and Helm 4: a chart whose pre/post-install,
//! pre/post-upgrade, pre/post-rollback and pre-delete hooks are Jobs (weights and delete
//! policies) and whose `helm test` hook is a pod. The hooks complete, so `helm install --wait
//! --wait-for-jobs`, `helm upgrade`, `helm rollback`, `helm test` and `helm uninstall` succeed.

use crate::common::helm::{helm, helms};
use crate::common::{write, Skiff};
use std::path::Path;

fn hook_job(name: &str, hook: &str, weight: i32, policy: &str) -> String {
    format!(
        r#"---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{{{ .Release.Name }}}}-{name}
  annotations:
    "helm.sh/hook": {hook}
    "helm.sh/hook-weight": "{weight}"
    "helm.sh/hook-delete-policy": {policy}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: hook
        image: busybox
        command: ["sh", "-c", "echo {name} {{{{ .Values.color }}}}"]
"#
    )
}

fn chart(dir: &Path) -> String {
    let root = dir.join("hooked");
    std::fs::create_dir_all(root.join("templates")).unwrap();
    write(&root, "Chart.yaml", "apiVersion: v2\nname: hooked\nversion: 0.1.0\n");
    write(&root, "values.yaml", "color: red\n");
    write(
        &root.join("templates"),
        "app.yaml",
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-color
data:
  color: {{ .Values.color }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: 2
  selector:
    matchLabels: {app: {{ .Release.Name }}-web}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-web}
    spec:
      containers:
      - name: web
        image: nginx
---
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    "helm.sh/hook": test
    "helm.sh/hook-delete-policy": before-hook-creation
spec:
  restartPolicy: Never
  containers:
  - name: check
    image: busybox
"#,
    );
    let hooks: String = [
        hook_job("migrate", "pre-install", -5, "before-hook-creation"),
        hook_job("seed", "pre-install", 5, "before-hook-creation"),
        hook_job("announce", "post-install", 0, "before-hook-creation"),
        hook_job("pre-upgrade", "pre-upgrade", 0, "before-hook-creation"),
        hook_job("post-upgrade", "post-upgrade", 0, "before-hook-creation"),
        hook_job("pre-rollback", "pre-rollback", 0, "before-hook-creation"),
        hook_job("post-rollback", "post-rollback", 0, "before-hook-creation"),
        hook_job("goodbye", "pre-delete", 0, "hook-succeeded"),
    ]
    .concat();
    write(&root.join("templates"), "hooks.yaml", &hooks);
    root.to_str().unwrap().to_string()
}

fn succeeded(skiff: &Skiff, ns: &str, job: &str) -> bool {
    skiff.kubectl(&["get", "job", job, "-n", ns, "-o", "jsonpath={.status.succeeded}"]) == "1"
}

#[test]
fn hooks_run_as_jobs_that_complete() {
    let helms = helms();
    if helms.is_empty() {
        return;
    }
    let skiff = Skiff::start_with(&["--simulated-nodes", "2"]);
    let dir = tempfile::tempdir().unwrap();
    let chart = chart(dir.path());
    for (i, bin) in helms.iter().enumerate() {
        let ns = format!("hooks-{i}");
        let wait = ["--wait", "--timeout", "120s"];
        let mut install = vec![
            "install",
            "r",
            chart.as_str(),
            "-n",
            &ns,
            "--create-namespace",
            "--wait-for-jobs",
        ];
        install.extend(wait);
        helm(&skiff, bin, &install);
        for job in ["r-migrate", "r-seed", "r-announce"] {
            assert!(
                succeeded(&skiff, &ns, job),
                "{job} ran to completion ({bin:?}): {}",
                skiff.kubectl(&["get", "job", job, "-n", &ns, "-o", "jsonpath={.status}"])
            );
        }
        assert_eq!(
            skiff.kubectl(&[
                "get",
                "deployment",
                "r-web",
                "-n",
                &ns,
                "-o",
                "jsonpath={.status.availableReplicas}"
            ]),
            "2",
            "--wait returned with the Deployment available"
        );

        let tested = helm(&skiff, bin, &["test", "r", "-n", &ns, "--timeout", "120s"]);
        assert!(tested.contains("Succeeded"), "{tested}");
        assert_eq!(
            skiff.kubectl(&["get", "pod", "r-test", "-n", &ns, "-o", "jsonpath={.status.phase}"]),
            "Succeeded"
        );

        let mut upgrade = vec!["upgrade", "r", chart.as_str(), "-n", &ns, "--set", "color=blue"];
        upgrade.extend(wait);
        helm(&skiff, bin, &upgrade);
        assert!(succeeded(&skiff, &ns, "r-pre-upgrade") && succeeded(&skiff, &ns, "r-post-upgrade"));
        assert_eq!(
            skiff.kubectl(&["get", "configmap", "r-color", "-n", &ns, "-o", "jsonpath={.data.color}"]),
            "blue"
        );

        let mut rollback = vec!["rollback", "r", "1", "-n", &ns];
        rollback.extend(wait);
        helm(&skiff, bin, &rollback);
        assert!(succeeded(&skiff, &ns, "r-pre-rollback") && succeeded(&skiff, &ns, "r-post-rollback"));
        assert_eq!(
            skiff.kubectl(&["get", "configmap", "r-color", "-n", &ns, "-o", "jsonpath={.data.color}"]),
            "red"
        );

        helm(&skiff, bin, &["uninstall", "r", "-n", &ns, "--timeout", "120s"]);
        let left = skiff.kubectl(&["get", "jobs,deployments,configmaps", "-n", &ns, "-o", "name"]);
        assert!(
            !left.contains("r-goodbye"),
            "the pre-delete hook ran and was deleted on success: {left}"
        );
        assert!(!left.contains("deployment.apps/r-web"), "{left}");
    }
}
