//! Server-side apply of a custom resource with stock kubectl against the real binary: the CRD's list
//! types decide merging — two field managers keep their own items of a map list (nested too), a set
//! merges, an atomic list conflicts as a whole — and managedFields name items as upstream does.

use crate::common;

use crate::common::{crd_yaml, fails, ok, write, Skiff};

/// The versions of a Gateway-like CRD: `listeners` is a map list by name whose `routes` are a map
/// list by port; `addresses` is a set; `notes` an atomic list.
const VERSIONS: &str = r#"  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              addresses:
                type: array
                items: {type: string}
                x-kubernetes-list-type: set
              notes:
                type: array
                items: {type: string}
              listeners:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    protocol: {type: string}
                    routes:
                      type: array
                      x-kubernetes-list-type: map
                      x-kubernetes-list-map-keys: [port]
                      items:
                        type: object
                        required: [port]
                        properties:
                          port: {type: integer}
                          backend: {type: string}
"#;

fn gateway(spec: &str) -> String {
    format!("apiVersion: net.example.com/v1\nkind: Gateway\nmetadata:\n  name: gw\nspec:\n{spec}")
}

#[test]
fn kubectl_server_side_apply_follows_the_crd_list_types() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let crd = crd_yaml("gateways.net.example.com", "Gateway", VERSIONS);
    skiff.kubectl(&["apply", "--server-side", "-f", &write(dir.path(), "crd.yaml", &crd)]);
    skiff.wait_established("gateways.net.example.com");
    let file = dir.path().join("gw.yaml");
    let f = file.to_str().unwrap();
    for (i, kubectl) in common::kubectls().iter().enumerate() {
        let ns = format!("gw-{i}");
        skiff.kubectl(&["create", "namespace", &ns]);
        let apply = |manager: &str, spec: &str| {
            std::fs::write(&file, gateway(spec)).unwrap();
            let manager = format!("--field-manager={manager}");
            let args = ["-n", ns.as_str(), "apply", "--server-side", "-f", f, manager.as_str()];
            skiff.kubectl_with(kubectl, &args)
        };
        let get = |path: &str| {
            let args = ["-n", ns.as_str(), "get", "gateway", "gw", "-o", path];
            ok(skiff.kubectl_with(kubectl, &args), &args)
        };
        let out = apply(
            "team-a",
            "  addresses: [10.0.0.1]\n  notes: [a]\n  listeners:\n  - name: http\n    protocol: HTTP\n    routes:\n    - {port: 80, backend: a}\n",
        );
        assert_eq!(
            ok(out, &["apply team-a"]),
            "gateway.net.example.com/gw serverside-applied\n"
        );
        let out = apply(
            "team-b",
            "  addresses: [10.0.0.2]\n  listeners:\n  - name: http\n    routes:\n    - {port: 8080, backend: b}\n  - name: tls\n    protocol: TLS\n",
        );
        assert_eq!(
            ok(out, &["apply team-b"]),
            "gateway.net.example.com/gw serverside-applied\n"
        );
        assert_eq!(
            get("jsonpath={.spec.addresses}|{.spec.listeners[*].name}|{.spec.listeners[0].routes[*].backend}"),
            r#"["10.0.0.1","10.0.0.2"]|http tls|a b"#,
            "both managers keep their items"
        );
        assert_eq!(
            get(r#"jsonpath={.metadata.managedFields[?(@.manager=="team-b")].fieldsV1}"#),
            r#"{"f:spec":{"f:addresses":{"v:\"10.0.0.2\"":{}},"f:listeners":{"k:{\"name\":\"http\"}":{".":{},"f:name":{},"f:routes":{"k:{\"port\":8080}":{".":{},"f:backend":{},"f:port":{}}}},"k:{\"name\":\"tls\"}":{".":{},"f:name":{},"f:protocol":{}}}}}"#
        );

        // An atomic list conflicts as a whole, and so does another manager's leaf in a nested item.
        let err = fails(
            apply(
                "team-b",
                "  notes: [b]\n  listeners:\n  - name: http\n    routes:\n    - {port: 80, backend: b}\n",
            ),
            &["apply team-b notes"],
        );
        assert!(
            err.contains("Apply failed with 2 conflicts: conflicts with \"team-a\":\n- .spec.listeners[name=\"http\"].routes[port=80].backend\n- .spec.notes"),
            "{err}"
        );

        // team-a giving up its listener leaves what team-b applied in it.
        ok(
            apply("team-a", "  addresses: [10.0.0.1]\n  notes: [a]\n"),
            &["apply team-a again"],
        );
        assert_eq!(
            get("jsonpath={.spec.listeners[*].name}|{.spec.listeners[0]}"),
            r#"http tls|{"name":"http","routes":[{"backend":"b","port":8080}]}"#
        );
    }
}
