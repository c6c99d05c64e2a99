//! Updating a CRD takes effect without a restart: a new printer column shows in `kubectl get`, a
//! new served version is discovered and served, a new schema field is explained and kept.

mod common;

use common::{ok, Skiff};
use std::path::Path;

fn crd(columns: &str, extra_version: &str, extra_field: &str) -> String {
    format!(
        "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: lamps.example.com}}
spec:
  group: example.com
  scope: Namespaced
  names: {{plural: lamps, singular: lamp, kind: Lamp, listKind: LampList}}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns: [{{name: Color, type: string, jsonPath: .spec.color}}{columns}]
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {{type: object, properties: {{color: {{type: string}}{extra_field}}}}}
{extra_version}"
    )
}

#[test]
fn crd_changes_take_effect_without_restart() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crd.yaml");
    let write = |text: String| std::fs::write(&file, text).unwrap();
    write(crd("", "", ""));
    skiff.kubectl(&["apply", "--server-side", "-f", file.to_str().unwrap()]);
    skiff.kubectl(&["wait", "--for=condition=Established", "crd/lamps.example.com"]);
    let lamp = dir.path().join("lamp.yaml");
    std::fs::write(
        &lamp,
        "apiVersion: example.com/v1\nkind: Lamp\nmetadata: {name: l}\nspec: {color: red, watts: 40}\n",
    )
    .unwrap();
    skiff.kubectl(&["apply", "--validate=false", "-f", lamp.to_str().unwrap()]);
    // watts is not in the schema yet: pruned.
    assert_eq!(
        skiff.kubectl(&["get", "lamp", "l", "-o", "jsonpath={.spec}"]),
        r#"{"color":"red"}"#
    );

    let v2 = "  - name: v2\n    served: true\n    storage: false\n    schema:\n      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}\n";
    write(crd(
        ", {name: Watts, type: integer, jsonPath: .spec.watts}",
        v2,
        ", watts: {type: integer, description: power draw}",
    ));
    skiff.kubectl(&["apply", "--server-side", "-f", file.to_str().unwrap()]);
    // The new schema is served once the catalogue has caught up with the CRD (strict validation
    // refuses watts until then).
    let apply = ["apply", "-f", lamp.to_str().unwrap()];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !skiff
        .kubectl_with(Path::new("/usr/bin/kubectl"), &apply)
        .status
        .success()
    {
        assert!(std::time::Instant::now() < deadline, "the new schema never took effect");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    for kubectl in common::kubectls() {
        let k = |args: &[&str]| ok(skiff.kubectl_with(Path::new(&kubectl), args), args);
        let table = k(&["get", "lamps.v1.example.com"]);
        let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(rows[0], ["NAME", "COLOR", "WATTS"], "{table}");
        assert_eq!(rows[1], ["l", "red", "40"], "{table}");
        assert!(k(&["api-versions"]).lines().any(|l| l == "example.com/v2"));
        assert_eq!(
            k(&["get", "lamps.v2.example.com", "l", "-o", "jsonpath={.apiVersion}"]),
            "example.com/v2"
        );
        let explained = k(&["explain", "lamp.spec.watts", "--api-version=example.com/v1"]);
        assert!(explained.contains("power draw"), "{explained}");
    }
}
