//! PodSecurity admission end to end with stock kubectl: a namespace labelled enforce=restricted
//! rejects a privileged pod with upstream's message and admits a compliant one; warn=baseline
//! prints `Warning: would violate PodSecurity` for a Deployment's template, which is never
//! enforced (its ReplicaSet's pods are); defaults and exemptions (namespaces, usernames, runtime
//! classes) come from --admission-control-config-file; labelling a namespace warns about the pods
//! already there and refuses bad values; pod updates are re-checked only when images change, and
//! `kubectl debug`'s ephemeral containers must comply.

use crate::common::{fails, kubectls, ok, within, write, Skiff};
use std::path::Path;
use std::process::Output;

const PRIVILEGED_POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: c
    image: busybox
    securityContext:
      privileged: true
";

const RESTRICTED_POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: ok
spec:
  securityContext:
    runAsNonRoot: true
    seccompProfile:
      type: RuntimeDefault
  containers:
  - name: c
    image: busybox
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop: [ALL]
";

const PRIVILEGED_DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: c
        image: nginx
        securityContext:
          privileged: true
";

/// What kube-apiserver answers for [`PRIVILEGED_POD`] under restricted:latest.
const RESTRICTED_VIOLATIONS: &str = concat!(
    r#"violates PodSecurity "restricted:latest": "#,
    r#"privileged (container "c" must not set securityContext.privileged=true), "#,
    r#"allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), "#,
    r#"unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), "#,
    r#"runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), "#,
    r#"seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#
);

fn run(skiff: &Skiff, kubectl: &Path, args: &[&str]) -> Output {
    skiff.kubectl_with(kubectl, args)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A namespace with PodSecurity `labels` (`enforce=restricted`, ...).
fn namespace(skiff: &Skiff, name: &str, labels: &[&str]) {
    skiff.kubectl(&["create", "namespace", name]);
    for label in labels {
        skiff.kubectl(&[
            "label",
            "namespace",
            name,
            &format!("pod-security.kubernetes.io/{label}"),
        ]);
    }
}

#[test]
fn restricted_namespaces_reject_privileged_pods_with_upstreams_message() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let privileged = write(dir.path(), "privileged.yaml", PRIVILEGED_POD);
    let compliant = write(dir.path(), "compliant.yaml", RESTRICTED_POD);
    for (i, kubectl) in kubectls().iter().enumerate() {
        let ns = format!("restricted-{i}");
        namespace(&skiff, &ns, &["enforce=restricted"]);
        let args = ["apply", "-n", &ns, "-f", &privileged];
        let denied = fails(run(&skiff, kubectl, &args), &args);
        let expected = format!(
            r#"Error from server (Forbidden): error when creating "{privileged}": pods "p" is forbidden: {RESTRICTED_VIOLATIONS}"#
        );
        assert!(denied.contains(&expected), "{kubectl:?}: {denied}");
        let args = ["apply", "-n", &ns, "-f", &compliant];
        let created = run(&skiff, kubectl, &args);
        assert_eq!(ok(created.clone(), &args).trim(), "pod/ok created");
        assert!(!stderr(&created).contains("PodSecurity"), "{}", stderr(&created));
        // Ephemeral containers are checked too: a debug container must comply.
        let args = [
            "debug",
            "-n",
            &ns,
            "ok",
            "--image=busybox",
            "-c",
            "dbg",
            "--profile=legacy",
        ];
        let denied = fails(run(&skiff, kubectl, &args), &args);
        assert!(
            denied.contains(r#"Error from server (Forbidden): pods "ok" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "dbg" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "dbg" must set securityContext.capabilities.drop=["ALL"])"#),
            "{denied}"
        );
        let args = [
            "debug",
            "-n",
            &ns,
            "ok",
            "--image=busybox",
            "-c",
            "safe",
            "--profile=restricted",
        ];
        ok(run(&skiff, kubectl, &args), &args);

        // baseline only forbids the privileged container.
        let relaxed = format!("relaxed-{i}");
        namespace(&skiff, &relaxed, &["enforce=baseline", "enforce-version=v1.30"]);
        let args = ["create", "-n", &relaxed, "-f", &privileged];
        let denied = fails(run(&skiff, kubectl, &args), &args);
        assert!(
            denied.contains(r#"pods "p" is forbidden: violates PodSecurity "baseline:v1.30": privileged (container "c" must not set securityContext.privileged=true)"#),
            "{denied}"
        );
    }
}

#[test]
fn warn_mode_warns_about_pod_templates_which_are_never_enforced() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let deployment = write(dir.path(), "web.yaml", PRIVILEGED_DEPLOYMENT);
    let warning = r#"Warning: would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)"#;
    for (i, kubectl) in kubectls().iter().enumerate() {
        let ns = format!("warned-{i}");
        namespace(&skiff, &ns, &["warn=baseline"]);
        let args = ["apply", "-n", &ns, "-f", &deployment];
        let out = run(&skiff, kubectl, &args);
        assert_eq!(ok(out.clone(), &args).trim(), "deployment.apps/web created");
        assert!(stderr(&out).contains(warning), "{kubectl:?}: {}", stderr(&out));
    }

    // Enforce never blocks the Deployment; its ReplicaSet's pods are refused.
    namespace(&skiff, "enforced", &["enforce=restricted"]);
    let out = skiff.kubectl_with(
        Path::new("/usr/bin/kubectl"),
        &["apply", "-n", "enforced", "-f", &deployment],
    );
    assert_eq!(ok(out.clone(), &["apply"]).trim(), "deployment.apps/web created");
    assert!(!stderr(&out).contains("PodSecurity"), "{}", stderr(&out));
    let event = within(60, "a FailedCreate event from the ReplicaSet", || {
        let messages = skiff.kubectl(&[
            "get",
            "events",
            "-n",
            "enforced",
            "--field-selector",
            "reason=FailedCreate",
            "-o",
            "jsonpath={.items[*].message}",
        ]);
        (!messages.is_empty()).then_some(messages)
    });
    assert!(event.starts_with(r#"Error creating: pods "web-"#), "{event}");
    assert!(
        event.contains(&format!(r#"" is forbidden: {RESTRICTED_VIOLATIONS}"#)),
        "{event}"
    );
}

#[test]
fn defaults_and_exemptions_come_from_the_admission_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "admission.yaml",
        "apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults:
      enforce: baseline
      warn: restricted
    exemptions:
      namespaces: [ops]
      usernames: [ci-bot]
      runtimeClasses: [kata]
",
    );
    let skiff = Skiff::start_with(&["--admission-control-config-file", &config]);
    let privileged = write(dir.path(), "privileged.yaml", PRIVILEGED_POD);

    // Unlabelled namespaces get the configured defaults.
    let denied = skiff.kubectl_fails(&["create", "-f", &privileged]);
    assert!(
        denied.contains(r#"pods "p" is forbidden: violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)"#),
        "{denied}"
    );
    let compliant = write(dir.path(), "compliant.yaml", RESTRICTED_POD);
    let quiet = skiff.kubectl_with(Path::new("/usr/bin/kubectl"), &["create", "-f", &compliant]);
    assert!(
        quiet.status.success() && stderr(&quiet).is_empty(),
        "{}",
        stderr(&quiet)
    );

    // An exempt namespace admits it, and says its labels would be ignored.
    skiff.kubectl(&["create", "namespace", "ops"]);
    skiff.kubectl(&["create", "-n", "ops", "-f", &privileged]);
    for kubectl in kubectls() {
        let label = run(
            &skiff,
            &kubectl,
            &[
                "label",
                "--overwrite",
                "namespace",
                "ops",
                "pod-security.kubernetes.io/enforce=restricted",
            ],
        );
        assert_eq!(
            stderr(&label).trim(),
            r#"Warning: namespace "ops" is exempt from Pod Security, and the policy (enforce=restricted:latest) will be ignored"#,
            "{kubectl:?}"
        );
        skiff.kubectl(&["label", "namespace", "ops", "pod-security.kubernetes.io/enforce-"]);
    }

    // So do an exempt user and an exempt runtime class.
    let as_bot = ["create", "-f", &privileged, "--as=ci-bot", "--as-group=system:masters"];
    ok(skiff.kubectl_with(Path::new("/usr/bin/kubectl"), &as_bot), &as_bot);
    let kata = PRIVILEGED_POD
        .replace("name: p\n", "name: kata\n")
        .replace("spec:\n", "spec:\n  runtimeClassName: kata\n");
    skiff.kubectl(&["create", "-f", &write(dir.path(), "kata.yaml", &kata)]);
}

#[test]
fn labelling_a_namespace_warns_about_existing_pods_and_refuses_bad_values() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    skiff.kubectl(&["create", "namespace", "legacy"]);
    for name in ["p1", "p2"] {
        let pod = PRIVILEGED_POD.replace("name: p\n", &format!("name: {name}\n"));
        skiff.kubectl(&[
            "create",
            "-n",
            "legacy",
            "-f",
            &write(dir.path(), &format!("{name}.yaml"), &pod),
        ]);
    }
    let host_port = RESTRICTED_POD.replace("name: ok\n", "name: h\n").replace(
        "    image: busybox\n",
        "    image: busybox\n    ports:\n    - containerPort: 80\n      hostPort: 8080\n",
    );
    skiff.kubectl(&["create", "-n", "legacy", "-f", &write(dir.path(), "h.yaml", &host_port)]);

    for (i, kubectl) in kubectls().iter().enumerate() {
        let level = ["baseline", "restricted"][i % 2];
        let args = [
            "label",
            "--overwrite",
            "namespace",
            "legacy",
            &format!("pod-security.kubernetes.io/enforce={level}"),
        ];
        let out = run(&skiff, kubectl, &args);
        assert_eq!(ok(out.clone(), &args).trim(), "namespace/legacy labeled");
        let expected = match level {
            "baseline" => [
                r#"Warning: existing pods in namespace "legacy" violate the new PodSecurity enforce level "baseline:latest""#,
                "Warning: h: hostPort",
                "Warning: p1 (and 1 other pod): privileged",
            ]
            .join("\n"),
            _ => [
                r#"Warning: existing pods in namespace "legacy" violate the new PodSecurity enforce level "restricted:latest""#,
                "Warning: h: hostPort",
                "Warning: p1 (and 1 other pod): privileged, allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile",
            ]
            .join("\n"),
        };
        assert_eq!(stderr(&out).trim(), expected, "{kubectl:?}");

        let args = ["label", "namespace", "legacy", "pod-security.kubernetes.io/warn=bogus"];
        let invalid = fails(run(&skiff, kubectl, &args), &args);
        assert!(
            invalid.contains(r#"The Namespace "legacy" is invalid: metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: "bogus": must be one of privileged, baseline, restricted"#),
            "{invalid}"
        );
    }

    // Relaxing warns about nothing; updates that leave the images alone are not re-checked.
    let relax = skiff.kubectl_with(
        Path::new("/usr/bin/kubectl"),
        &[
            "label",
            "--overwrite",
            "namespace",
            "legacy",
            "pod-security.kubernetes.io/enforce=privileged",
        ],
    );
    assert!(stderr(&relax).is_empty(), "{}", stderr(&relax));
    skiff.kubectl(&[
        "label",
        "--overwrite",
        "namespace",
        "legacy",
        "pod-security.kubernetes.io/enforce=baseline",
    ]);
    skiff.kubectl(&["label", "-n", "legacy", "pod", "p1", "touched=yes"]);
    let image = fails(
        skiff.kubectl_with(
            Path::new("/usr/bin/kubectl"),
            &["set", "image", "-n", "legacy", "pod/p1", "c=busybox:1.36"],
        ),
        &["set", "image"],
    );
    assert!(
        image.contains(r#"pods "p1" is forbidden: violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)"#),
        "{image}"
    );

    let bad = write(
        dir.path(),
        "bad-ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bad\n  labels:\n    pod-security.kubernetes.io/enforce-version: \"1.30\"\n",
    );
    let refused = skiff.kubectl_fails(&["create", "-f", &bad]);
    assert!(
        refused.contains(r#"The Namespace "bad" is invalid: metadata.labels[pod-security.kubernetes.io/enforce-version]: Invalid value: "1.30": must be "latest" or "v1.x""#),
        "{refused}"
    );
}
