//! The scale subresource of a custom resource follows its CRD's specReplicasPath,
//! statusReplicasPath and labelSelectorPath: `kubectl scale` and `kubectl get --subresource=scale`.

use crate::common;

use crate::common::{ok, write, Skiff};
use serde_json::{json, Value};

/// The Pool CRD's versions: the scale subresource maps to spec.size, status.ready, status.selector.
const VERSIONS: &str = "  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.size, statusReplicasPath: .status.ready, labelSelectorPath: .status.selector}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
          status: {type: object, properties: {ready: {type: integer}, selector: {type: string}}}
";

#[test]
fn kubectl_scale_uses_the_crd_scale_paths() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    skiff.create_crd(dir.path(), "pools.example.com", "Pool", VERSIONS);
    let pool = write(
        dir.path(),
        "pool.yaml",
        "apiVersion: example.com/v1\nkind: Pool\nmetadata: {name: p}\nspec: {size: 1}\n",
    );
    skiff.kubectl(&["create", "-f", &pool]);
    skiff.kubectl(&[
        "patch",
        "pool",
        "p",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"ready":1,"selector":"app=pool"}}"#,
    ]);

    for (kubectl, replicas) in common::kubectls().iter().zip([3, 5]) {
        let count = format!("--replicas={replicas}");
        let args = ["scale", "pool", "p", count.as_str()];
        assert_eq!(
            ok(skiff.kubectl_with(kubectl, &args), &args),
            "pool.example.com/p scaled\n"
        );
        let args = ["get", "pool", "p", "-o", "jsonpath={.spec.size}"];
        assert_eq!(ok(skiff.kubectl_with(kubectl, &args), &args), replicas.to_string());
        let args = ["get", "pool", "p", "--subresource=scale", "-o", "json"];
        let scale: Value = serde_json::from_str(&ok(skiff.kubectl_with(kubectl, &args), &args)).unwrap();
        assert_eq!(
            (&scale["kind"], &scale["spec"], &scale["status"]),
            (
                &json!("Scale"),
                &json!({"replicas": replicas}),
                &json!({"replicas": 1, "selector": "app=pool"})
            )
        );
    }
}
