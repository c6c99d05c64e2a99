//! CustomResourceDefinitions from real projects (../shared/fieldkit/crds) install with stock kubectl,
//! become Established, show in discovery, serve custom objects with their printer columns, and
//! deleting a CRD deletes its objects first.

use crate::common;

use crate::common::{ok, Skiff};

/// The field kit's CRD folders, one per project.
const PROJECTS: [&str; 4] = [
    "cert-manager",
    "prometheus-operator",
    "crossplane",
    "gateway-api/standard",
];

#[test]
fn fieldkit_crds_install_and_become_established() {
    let Some(dir) = common::fieldkit("crds") else { return };
    let skiff = Skiff::start();
    for project in PROJECTS {
        let path = dir.join(project);
        let created = skiff.kubectl(&["create", "-f", path.to_str().unwrap()]);
        assert!(
            !created.is_empty() && created.lines().all(|l| l.ends_with(" created")),
            "{created}"
        );
    }
    skiff.kubectl(&["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
    // The same CRDs, installed the way their projects recommend: server-side apply.
    let applied = Skiff::start();
    for project in PROJECTS {
        let path = dir.join(project);
        let out = applied.kubectl(&["apply", "--server-side", "-f", path.to_str().unwrap()]);
        assert!(
            !out.is_empty() && out.lines().all(|l| l.ends_with(" serverside-applied")),
            "{out}"
        );
    }
    applied.kubectl(&["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
    assert_eq!(
        applied.kubectl(&["get", "crd", "-o", "name"]),
        skiff.kubectl(&["get", "crd", "-o", "name"]),
        "create and server-side apply install the same CRDs"
    );
    drop(applied);
    let resources = skiff.kubectl(&["api-resources", "-o", "name"]);
    for name in [
        "certificates.cert-manager.io",
        "prometheuses.monitoring.coreos.com",
        "httproutes.gateway.networking.k8s.io",
        "compositions.apiextensions.crossplane.io",
    ] {
        assert!(
            resources.lines().any(|l| l == name),
            "{name} missing from api-resources"
        );
    }
    for kubectl in common::kubectls() {
        let explained = ok(
            skiff.kubectl_with(&kubectl, &["explain", "certificate.spec.secretName"]),
            &[],
        );
        assert!(
            explained.starts_with("GROUP:      cert-manager.io\nKIND:       Certificate\nVERSION:    v1\n"),
            "{explained}"
        );
        assert!(explained.contains("FIELD: secretName <string>"), "{explained}");
        let recursive = ok(
            skiff.kubectl_with(&kubectl, &["explain", "httproutes", "--recursive"]),
            &[],
        );
        assert!(recursive.contains("parentRefs\t<[]Object>"), "{recursive}");
    }
    let short = skiff.kubectl(&["api-resources", "--api-group=cert-manager.io"]);
    assert!(
        short
            .lines()
            .any(|l| l.starts_with("certificates") && l.contains("cert,certs")),
        "{short}"
    );
}

const ISSUER: &str = "apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: selfsigned
spec:
  selfSigned: {}
";

#[test]
fn custom_objects_print_their_columns_and_go_with_their_crd() {
    let Some(crds) = common::fieldkit("crds") else { return };
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let crd = crds.join("cert-manager/cert-manager.io_issuers.yaml");
    skiff.kubectl(&["create", "-f", crd.to_str().unwrap()]);
    skiff.wait_established("issuers.cert-manager.io");
    let issuer = common::write(dir.path(), "issuer.yaml", ISSUER);
    for kubectl in common::kubectls() {
        let k = |args: &[&str]| ok(skiff.kubectl_with(&kubectl, args), args);
        assert_eq!(
            k(&["apply", "-f", &issuer]),
            "issuer.cert-manager.io/selfsigned created\n"
        );
        let table = k(&["get", "issuers"]);
        let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(header, ["NAME", "READY", "AGE"]);
        let wide = k(&["get", "issuers", "-o", "wide"]);
        let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(header, ["NAME", "READY", "STATUS", "AGE"]);
        // status is a subresource: the main endpoint ignores it, /status takes it
        let ready = r#"{"status":{"conditions":[{"type":"Ready","status":"True","message":"ok"}]}}"#;
        k(&["patch", "issuer", "selfsigned", "--type=merge", "-p", ready]);
        assert_eq!(k(&["get", "issuer", "selfsigned", "-o", "jsonpath={.status}"]), "");
        k(&[
            "patch",
            "issuer",
            "selfsigned",
            "--subresource=status",
            "--type=merge",
            "-p",
            ready,
        ]);
        let table = k(&["get", "issuer", "selfsigned", "--no-headers"]);
        assert_eq!(table.split_whitespace().nth(1), Some("True"), "{table}");
        k(&["delete", "issuer", "selfsigned"]);
    }
    skiff.kubectl(&["apply", "-f", &issuer]);
    skiff.kubectl(&["delete", "crd", "issuers.cert-manager.io", "--timeout=30s"]);
    let crds = skiff.kubectl(&["get", "crd", "-o", "name"]);
    assert_eq!(crds, "");
    // Issuers are no longer served.
    skiff.kubectl_fails(&["get", "issuers"]);
}
