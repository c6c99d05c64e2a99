//! Objects of real projects' CRDs (Gateway API from the field kit) behave as on upstream through
//! stock kubectl: schema defaults filled, unknown fields pruned with kubectl's warning, printer
//! columns in `kubectl get`, both served versions readable, and a transition rule (an immutable
//! field) refusing an update with upstream's message.

use crate::common;

use crate::common::{fails, ok, write, Skiff};
use serde_json::{json, Value};

const ROUTE: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  bogus: 1
  hostnames: [example.com]
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{name: web, port: 80}]
";

const CLASS: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: example}
spec: {controllerName: example.net/gateway-controller}
";

#[test]
fn gateway_api_objects_are_defaulted_pruned_printed_and_guarded() {
    let Some(crds) = common::fieldkit("crds/gateway-api/standard") else {
        return;
    };
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    for crd in ["httproutes", "gatewayclasses"] {
        let file = crds.join(format!("gateway.networking.k8s.io_{crd}.yaml"));
        skiff.kubectl(&["create", "-f", file.to_str().unwrap()]);
        skiff.wait_established(&format!("{crd}.gateway.networking.k8s.io"));
    }

    for kubectl in common::kubectls() {
        let route = write(dir.path(), "route.yaml", ROUTE);
        let args = ["create", "--validate=warn", "-f", route.as_str()];
        let out = skiff.kubectl_with(&kubectl, &args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "Warning: unknown field \"spec.bogus\"\n",
            "{kubectl:?}"
        );

        let get = ["get", "httproute", "web", "-o", "json"];
        let live: Value = serde_json::from_str(&ok(skiff.kubectl_with(&kubectl, &get), &get)).unwrap();
        let spec = &live["spec"];
        assert!(spec.get("bogus").is_none(), "{spec}");
        assert_eq!(
            spec["parentRefs"],
            json!([{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}])
        );
        assert_eq!(
            spec["rules"][0]["matches"],
            json!([{"path": {"type": "PathPrefix", "value": "/"}}])
        );
        assert_eq!(
            spec["rules"][0]["backendRefs"],
            json!([{"group": "", "kind": "Service", "name": "web", "port": 80, "weight": 1}])
        );

        let table = ["get", "httproutes"];
        let table = ok(skiff.kubectl_with(&kubectl, &table), &table);
        let lines: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(lines[0], ["NAME", "HOSTNAMES", "AGE"], "{table}");
        assert_eq!(lines[1][..2], ["web", "[\"example.com\"]"], "{table}");

        let beta = [
            "get",
            "httproutes.v1beta1.gateway.networking.k8s.io",
            "web",
            "-o",
            "jsonpath={.apiVersion} {.spec.hostnames[0]}",
        ];
        assert_eq!(
            ok(skiff.kubectl_with(&kubectl, &beta), &beta),
            "gateway.networking.k8s.io/v1beta1 example.com"
        );
        skiff.kubectl(&["delete", "httproute", "web"]);

        let class = write(dir.path(), "class.yaml", CLASS);
        skiff.kubectl(&["create", "-f", &class]);
        let change = [
            "patch",
            "gatewayclass",
            "example",
            "--type=merge",
            "-p",
            r#"{"spec":{"controllerName":"example.net/other"}}"#,
        ];
        assert_eq!(
            fails(skiff.kubectl_with(&kubectl, &change), &change).trim_end(),
            r#"The GatewayClass "example" is invalid: spec.controllerName: Invalid value: "string": Value is immutable"#
        );
        let describe = [
            "patch",
            "gatewayclass",
            "example",
            "--type=merge",
            "-p",
            r#"{"spec":{"description":"the example class"}}"#,
        ];
        assert_eq!(
            ok(skiff.kubectl_with(&kubectl, &describe), &describe),
            "gatewayclass.gateway.networking.k8s.io/example patched\n"
        );
        let controller = [
            "get",
            "gatewayclass",
            "example",
            "-o",
            "jsonpath={.spec.controllerName}",
        ];
        assert_eq!(
            ok(skiff.kubectl_with(&kubectl, &controller), &controller),
            "example.net/gateway-controller"
        );
        skiff.kubectl(&["delete", "gatewayclass", "example"]);
    }
}
