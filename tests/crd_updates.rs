//! Updating a CRD takes effect without a restart: a new printer column shows in `kubectl get`, a
//! new served version is discovered and served, a new schema field is explained and kept.

use crate::common;

use crate::common::{crd_yaml, eventually, ok, write, Skiff};
use std::path::Path;

fn crd(columns: &str, extra_version: &str, extra_field: &str) -> String {
    let versions = format!(
        "  versions:
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
    );
    crd_yaml("lamps.example.com", "Lamp", &versions)
}

#[test]
fn crd_changes_take_effect_without_restart() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "crd.yaml", &crd("", "", ""));
    skiff.kubectl(&["apply", "--server-side", "-f", &file]);
    skiff.wait_established("lamps.example.com");
    let lamp = write(
        dir.path(),
        "lamp.yaml",
        "apiVersion: example.com/v1\nkind: Lamp\nmetadata: {name: l}\nspec: {color: red, watts: 40}\n",
    );
    skiff.kubectl(&["apply", "--validate=false", "-f", &lamp]);
    // watts is not in the schema yet: pruned.
    assert_eq!(
        skiff.kubectl(&["get", "lamp", "l", "-o", "jsonpath={.spec}"]),
        r#"{"color":"red"}"#
    );

    let v2 = "  - name: v2\n    served: true\n    storage: false\n    schema:\n      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}\n";
    let file = write(
        dir.path(),
        "crd.yaml",
        &crd(
            ", {name: Watts, type: integer, jsonPath: .spec.watts}",
            v2,
            ", watts: {type: integer, description: power draw}",
        ),
    );
    skiff.kubectl(&["apply", "--server-side", "-f", &file]);
    // The new schema is served once the catalogue has caught up with the CRD (strict validation
    // refuses watts until then).
    let apply = ["apply", "-f", lamp.as_str()];
    eventually("the new schema", || {
        let out = skiff.kubectl_with(Path::new("/usr/bin/kubectl"), &apply);
        out.status.success().then_some(())
    });
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
