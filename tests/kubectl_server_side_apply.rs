//! Server-side apply with stock kubectl against the real binary: create/update/no-op, conflicts
//! between field managers, --force-conflicts, removing fields, client-side then server-side apply,
//! kubectl diff, and managedFields.

use crate::common;

use crate::common::{fails, ok, Skiff};

fn configmap(data: &[(&str, &str)]) -> String {
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n");
    for (k, v) in data {
        text.push_str(&format!("  {k}: \"{v}\"\n"));
    }
    text
}

#[test]
fn apply_server_side_like_upstream() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cm.yaml");
    let f = file.to_str().unwrap();
    for (i, kubectl) in common::kubectls().iter().enumerate() {
        let ns = format!("ssa-{i}");
        skiff.kubectl(&["create", "namespace", &ns]);
        let k = |args: &[&str]| {
            let mut full = vec!["-n", ns.as_str()];
            full.extend_from_slice(args);
            ok(skiff.kubectl_with(kubectl, &full), &full)
        };
        std::fs::write(&file, configmap(&[("a", "1"), ("b", "2")])).unwrap();
        assert_eq!(
            k(&["apply", "--server-side", "-f", f]),
            "configmap/ssa serverside-applied\n"
        );
        let rv = k(&["get", "cm", "ssa", "-o", "jsonpath={.metadata.resourceVersion}"]);
        assert_eq!(
            k(&["apply", "--server-side", "-f", f]),
            "configmap/ssa serverside-applied\n"
        );
        assert_eq!(
            k(&["get", "cm", "ssa", "-o", "jsonpath={.metadata.resourceVersion}"]),
            rv,
            "a no-op apply writes nothing"
        );

        // Another manager changing an owned field conflicts; forcing takes it over.
        std::fs::write(&file, configmap(&[("a", "9")])).unwrap();
        let args = [
            "-n",
            ns.as_str(),
            "apply",
            "--server-side",
            "-f",
            f,
            "--field-manager=other",
        ];
        let err = fails(skiff.kubectl_with(kubectl, &args), &args);
        assert!(
            err.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .data.a"),
            "{err}"
        );
        k(&[
            "apply",
            "--server-side",
            "-f",
            f,
            "--field-manager=other",
            "--force-conflicts",
        ]);
        assert_eq!(k(&["get", "cm", "ssa", "-o", "jsonpath={.data.a}"]), "9");
        let managers = k(&[
            "get",
            "cm",
            "ssa",
            "--show-managed-fields",
            "-o",
            "jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation} {end}",
        ]);
        assert_eq!(managers, "kubectl/Apply other/Apply ");

        // Dropping a field from kubectl's configuration removes it (nobody else owns b).
        std::fs::write(&file, configmap(&[("c", "3")])).unwrap();
        k(&["apply", "--server-side", "-f", f]);
        assert_eq!(
            k(&["get", "cm", "ssa", "-o", "jsonpath={.data}"]),
            r#"{"a":"9","c":"3"}"#
        );

        // kubectl diff is a server-side dry-run apply.
        std::fs::write(&file, configmap(&[("c", "4")])).unwrap();
        let diff = skiff.kubectl_with(kubectl, &["-n", &ns, "diff", "--server-side", "-f", f]);
        assert_eq!(diff.status.code(), Some(1), "diff exits 1 when there are changes");
        let text = String::from_utf8_lossy(&diff.stdout);
        assert!(text.contains("-  c: \"3\"") && text.contains("+  c: \"4\""), "{text}");
        assert_eq!(
            k(&["get", "cm", "ssa", "-o", "jsonpath={.data.c}"]),
            "3",
            "diff changed nothing"
        );
    }
}

#[test]
fn client_side_apply_then_server_side_apply() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cm.yaml");
    let f = file.to_str().unwrap();
    std::fs::write(&file, configmap(&[("a", "1")])).unwrap();
    assert_eq!(skiff.kubectl(&["apply", "-f", f]), "configmap/ssa created\n");
    std::fs::write(&file, configmap(&[("a", "2")])).unwrap();
    assert_eq!(
        skiff.kubectl(&["apply", "--server-side", "-f", f]),
        "configmap/ssa serverside-applied\n"
    );
    assert_eq!(skiff.kubectl(&["get", "cm", "ssa", "-o", "jsonpath={.data.a}"]), "2");
    let managers = skiff.kubectl(&[
        "get",
        "cm",
        "ssa",
        "--show-managed-fields",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
    ]);
    assert!(managers.split(' ').any(|m| m == "kubectl"), "{managers}");
}
