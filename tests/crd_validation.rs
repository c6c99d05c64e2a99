//! Custom objects are pruned, defaulted and validated by their CRD's openAPIV3Schema, with the error
//! text stock kubectl shows against upstream Kubernetes.

use crate::common::{eventually, ok, write, Skiff};
use std::path::Path;

const KUBECTL: &str = "/usr/bin/kubectl";

/// The versions of the Widget CRD, with its schema.
const VERSIONS: &str = "  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [name]
            properties:
              name: {type: string, pattern: '^[a-z]+$'}
              size: {type: string, enum: [small, large], default: small}
              count: {type: integer, minimum: 0, maximum: 10, default: 1}
              tags:
                type: array
                maxItems: 3
                x-kubernetes-list-type: set
                items: {type: string}
              ports:
                type: array
                items:
                  type: object
                  properties:
                    port: {x-kubernetes-int-or-string: true}
                    protocol: {type: string, default: TCP}
";

fn widget(name: &str, spec: &str) -> String {
    format!("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

#[test]
fn custom_objects_are_pruned_defaulted_and_validated() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    skiff.create_crd(dir.path(), "widgets.example.com", "Widget", VERSIONS);

    let good = write(
        dir.path(),
        "good.yaml",
        &widget(
            "good",
            "  name: abc\n  foo: dropped\n  ports:\n  - port: http\n  - port: 80\n",
        ),
    );
    let refused = skiff.kubectl_fails(&["create", "--validate=strict", "-f", &good]);
    assert!(refused.contains(r#"unknown field "spec.foo""#), "{refused}");

    let args = ["create", "--validate=warn", "-f", good.as_str()];
    let out = skiff.kubectl_with(Path::new(KUBECTL), &args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(ok(out, &args), "widget.example.com/good created\n");
    assert!(stderr.contains(r#"Warning: unknown field "spec.foo""#), "{stderr}");
    let spec = skiff.kubectl(&["get", "widget", "good", "-o", "jsonpath={.spec}"]);
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(
        spec,
        serde_json::json!({"name": "abc", "size": "small", "count": 1,
            "ports": [{"port": "http", "protocol": "TCP"}, {"port": 80, "protocol": "TCP"}]})
    );

    for (name, spec, message) in [
        (
            "bad",
            "  name: abc\n  size: huge\n",
            r#"The Widget "bad" is invalid: spec.size: Unsupported value: "huge": supported values: "small", "large""#,
        ),
        (
            "big",
            "  name: abc\n  count: 11\n",
            r#"The Widget "big" is invalid: spec.count: Invalid value: 11: spec.count in body should be less than or equal to 10"#,
        ),
        (
            "typed",
            "  name: abc\n  count: many\n",
            r#"The Widget "typed" is invalid: spec.count: Invalid value: "string": spec.count in body must be of type integer: "string""#,
        ),
        (
            "nameless",
            "  size: large\n",
            r#"The Widget "nameless" is invalid: spec.name: Required value"#,
        ),
        (
            "shouty",
            "  name: ABC\n",
            r#"The Widget "shouty" is invalid: spec.name: Invalid value: "ABC": spec.name in body should match '^[a-z]+$'"#,
        ),
        (
            "twice",
            "  name: abc\n  tags: [a, a]\n",
            r#"The Widget "twice" is invalid: spec.tags[1]: Duplicate value: "a""#,
        ),
    ] {
        let file = write(dir.path(), &format!("{name}.yaml"), &widget(name, spec));
        let stderr = skiff.kubectl_fails(&["create", "-f", &file]);
        assert_eq!(stderr.trim_end(), message);
    }

    let many = write(
        dir.path(),
        "many.yaml",
        &widget("many", "  name: abc\n  count: -1\n  tags: [a, b, c, d]\n"),
    );
    let stderr = skiff.kubectl_fails(&["create", "-f", &many]);
    assert_eq!(
        stderr.trim_end(),
        r#"The Widget "many" is invalid: 
* spec.count: Invalid value: -1: spec.count in body should be greater than or equal to 0
* spec.tags: Too many: 4: must have at most 3 items"#
    );

    let stderr = skiff.kubectl_fails(&[
        "patch",
        "widget",
        "good",
        "--type=merge",
        "-p",
        r#"{"spec":{"size":"medium"}}"#,
    ]);
    assert!(
        stderr.contains(r#"spec.size: Unsupported value: "medium": supported values: "small", "large""#),
        "{stderr}"
    );

    // Tightening the schema leaves stored objects updatable as long as the invalid value stays
    // (validation ratcheting), while a changed value must pass.
    skiff.kubectl(&[
        "patch",
        "crd",
        "widgets.example.com",
        "--type=json",
        "-p",
        // The default must satisfy the tightened schema too, or upstream refuses the CRD.
        r#"[{"op":"replace","path":"/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/count/maximum","value":0},
            {"op":"replace","path":"/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/count/default","value":0}]"#,
    ]);
    let raise = [
        "patch",
        "widget",
        "good",
        "--type=merge",
        "-p",
        r#"{"spec":{"count":2}}"#,
    ];
    let stderr = eventually("the tightened schema", || {
        let out = skiff.kubectl_with(Path::new(KUBECTL), &raise);
        if !out.status.success() {
            return Some(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        skiff.kubectl(&[
            "patch",
            "widget",
            "good",
            "--type=merge",
            "-p",
            r#"{"spec":{"count":1}}"#,
        ]);
        None
    });
    assert!(
        stderr.contains("spec.count: Invalid value: 2: spec.count in body should be less than or equal to 0"),
        "{stderr}"
    );
    skiff.kubectl(&["label", "widget", "good", "ratchet=yes"]);
}
