//! CEL validation rules (x-kubernetes-validations) of custom resources, through stock kubectl:
//! a field-kit CRD's rules accept and refuse objects with upstream's messages, transition rules
//! see the old object, messageExpression/reason/fieldPath shape the error, and CRDs whose rules do
//! not compile or cost too much are refused at creation.

use crate::common;

use crate::common::{crd_yaml, eventually, write, Skiff};
use std::path::Path;

const KUBECTL: &str = "/usr/bin/kubectl";

fn gateway(name: &str, tls: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: {name}\nspec:\n  gatewayClassName: example\n  listeners:\n  - name: http\n    protocol: HTTP\n    port: 80\n{tls}"
    )
}

#[test]
fn fieldkit_gateway_rules_accept_and_refuse() {
    let Some(crds) = common::fieldkit("crds/gateway-api/standard") else {
        return;
    };
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let crd = crds.join("gateway.networking.k8s.io_gateways.yaml");
    skiff.kubectl(&["create", "-f", crd.to_str().unwrap()]);
    skiff.wait_established("gateways.gateway.networking.k8s.io");

    let good = write(dir.path(), "good.yaml", &gateway("good", ""));
    assert_eq!(
        skiff.kubectl(&["create", "-f", &good]),
        "gateway.gateway.networking.k8s.io/good created\n"
    );

    let tls = "    tls:\n      mode: Terminate\n      certificateRefs:\n      - name: cert\n";
    let bad = write(dir.path(), "bad.yaml", &gateway("bad", tls));
    let stderr = skiff.kubectl_fails(&["create", "-f", &bad]);
    assert_eq!(
        stderr.trim_end(),
        r#"The Gateway "bad" is invalid: spec.listeners: Invalid value: "array": tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"#
    );
    skiff.kubectl_fails(&["get", "gateway", "bad"]);
}

/// The versions of the Widget CRD, with its rules.
const WIDGET_VERSIONS: &str = "  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - rule: self.replicas >= oldSelf.replicas
              message: replicas may not decrease
            - rule: >-
                self.name.startsWith('web-')
              messageExpression: \"'name ' + self.name + ' must start with web-'\"
              reason: FieldValueForbidden
              fieldPath: .name
            properties:
              replicas: {type: integer}
              name: {type: string, maxLength: 63}
";

fn widget(name: &str, replicas: i64, app: &str) -> String {
    format!("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  replicas: {replicas}\n  name: {app}\n")
}

#[test]
fn rules_transitions_and_refused_crds() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    skiff.create_crd(dir.path(), "widgets.example.com", "Widget", WIDGET_VERSIONS);

    let first = write(dir.path(), "w.yaml", &widget("w", 2, "web-a"));
    skiff.kubectl(&["create", "-f", &first]);

    // messageExpression, reason and fieldPath shape the error.
    let named = write(dir.path(), "named.yaml", &widget("named", 1, "db"));
    let stderr = skiff.kubectl_fails(&["create", "-f", &named]);
    assert_eq!(
        stderr.trim_end(),
        r#"The Widget "named" is invalid: spec.name: Forbidden: name db must start with web-"#
    );

    // The transition rule sees the stored object.
    let shrunk = write(dir.path(), "shrunk.yaml", &widget("w", 1, "web-a"));
    let stderr = skiff.kubectl_fails(&["replace", "-f", &shrunk]);
    assert_eq!(
        stderr.trim_end(),
        r#"The Widget "w" is invalid: spec: Invalid value: "object": replicas may not decrease"#
    );
    let grown = write(dir.path(), "grown.yaml", &widget("w", 3, "web-a"));
    assert_eq!(
        skiff.kubectl(&["replace", "-f", &grown]),
        "widget.example.com/w replaced\n"
    );
    assert_eq!(
        skiff.kubectl(&["get", "widget", "w", "-o", "jsonpath={.spec.replicas}"]),
        "3"
    );

    // A tightened rule ratchets: an update that leaves spec as it was passes with a warning, one
    // that changes spec is held to the rule.
    skiff.kubectl(&[
        "patch",
        "crd",
        "widgets.example.com",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/versions/0/schema/openAPIV3Schema/properties/spec/x-kubernetes-validations/1/rule","value":"self.name.startsWith('web-b')"}]"#,
    ]);
    let probe = write(dir.path(), "probe.yaml", &widget("probe", 1, "web-a"));
    let probe = ["create", "--dry-run=server", "-f", probe.as_str()];
    eventually("the tightened rule", || {
        (!skiff.kubectl_with(Path::new(KUBECTL), &probe).status.success()).then_some(())
    });
    let args = ["label", "widget", "w", "tier=web"];
    let out = skiff.kubectl_with(Path::new(KUBECTL), &args);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "widget.example.com/w labeled\n",
        "{out:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Warning: spec.name: Forbidden: name web-a must start with web-\n"
    );
    let again = write(dir.path(), "again.yaml", &widget("w", 4, "web-a"));
    let stderr = skiff.kubectl_fails(&["replace", "-f", &again]);
    assert_eq!(
        stderr.trim_end(),
        r#"The Widget "w" is invalid: spec.name: Forbidden: name web-a must start with web-"#
    );

    // A rule that does not compile refuses the CRD, and nothing is stored.
    let broken = crd_yaml(
        "gadgets.example.com",
        "Gadget",
        &WIDGET_VERSIONS.replace("self.replicas >= oldSelf.replicas", "self.replica > 1"),
    );
    let broken = write(dir.path(), "broken.yaml", &broken);
    let stderr = skiff.kubectl_fails(&["create", "-f", &broken]);
    assert!(
        stderr.contains(concat!(
            "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: ",
            "apiextensions.ValidationRule{Rule:\"self.replica > 1\", Message:\"replicas may not decrease\", ",
            "MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", ",
            "OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: <input>:1:5: undefined field 'replica'\n",
            " | self.replica > 1\n | ....^"
        )),
        "{stderr}"
    );
    let stderr = skiff.kubectl_fails(&["get", "crd", "gadgets.example.com"]);
    assert!(stderr.contains("NotFound"), "{stderr}");

    // A rule whose cost the schema does not bound refuses the CRD.
    let costly = WIDGET_VERSIONS
        .replace(
            "self.replicas >= oldSelf.replicas",
            "self.tags.all(a, self.tags.all(b, a == b))",
        )
        .replace(
            "replicas: {type: integer}",
            "replicas: {type: integer}\n              tags: {type: array, items: {type: string}}",
        );
    let costly = crd_yaml("gizmos.example.com", "Gizmo", &costly);
    let costly = write(dir.path(), "costly.yaml", &costly);
    let stderr = skiff.kubectl_fails(&["create", "-f", &costly]);
    assert!(
        stderr.contains("spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Forbidden: estimated rule cost exceeds budget by factor of more than 100x (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"),
        "{stderr}"
    );
    skiff.kubectl_fails(&["get", "crd", "gizmos.example.com"]);
}

/// The versions of the Box CRD, with its rules.
const BOX_VERSIONS: &str = "  versions:
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
              tags:
                type: array
                x-kubernetes-list-type: set
                items: {type: string, maxLength: 16}
                maxItems: 8
                x-kubernetes-validations:
                - rule: self == oldSelf
                  message: tags are immutable
              label:
                type: string
                maxLength: 32
                x-kubernetes-validations:
                - rule: cel.bind(l, self.lowerAscii(), l.startsWith('box-') && l != 'box-')
                  message: label must start with box-
";

fn boxed(tags: &str, label: &str) -> String {
    format!("apiVersion: example.com/v1\nkind: Box\nmetadata:\n  name: b\n  namespace: default\nspec:\n  tags: {tags}\n  label: {label}\n")
}

/// Set lists compare without order, cel.bind binds, and CRDs whose rules mistype their operands or
/// hide rules under a junctor are refused with upstream's messages.
#[test]
fn set_lists_bind_and_mistyped_rules() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    skiff.create_crd(dir.path(), "boxes.example.com", "Box", BOX_VERSIONS);

    let first = write(dir.path(), "b.yaml", &boxed("[a, b]", "Box-1"));
    assert_eq!(skiff.kubectl(&["create", "-f", &first]), "box.example.com/b created\n");
    let reordered = write(dir.path(), "r.yaml", &boxed("[b, a]", "box-2"));
    assert_eq!(
        skiff.kubectl(&["replace", "-f", &reordered]),
        "box.example.com/b replaced\n"
    );
    assert_eq!(
        skiff.kubectl(&["get", "box", "b", "-o", "jsonpath={.spec.tags}"]),
        r#"["b","a"]"#
    );
    let changed = write(dir.path(), "c.yaml", &boxed("[b, c]", "crate"));
    let stderr = skiff.kubectl_fails(&["replace", "-f", &changed]);
    assert_eq!(
        stderr.trim_end(),
        concat!(
            r#"The Box "b" is invalid: "#,
            "\n* spec.label: Invalid value: \"string\": label must start with box-",
            "\n* spec.tags: Invalid value: \"array\": tags are immutable"
        )
    );

    // A rule comparing an int with a string does not type-check.
    let mistyped = crd_yaml(
        "crates.example.com",
        "Crate",
        &BOX_VERSIONS.replace("rule: self == oldSelf", "rule: self.size() > 'a'"),
    );
    let mistyped = write(dir.path(), "mistyped.yaml", &mistyped);
    let stderr = skiff.kubectl_fails(&["create", "-f", &mistyped]);
    assert!(
        stderr.contains(concat!(
            "spec.validation.openAPIV3Schema.properties[spec].properties[tags].x-kubernetes-validations[0].rule: ",
            "Invalid value: apiextensions.ValidationRule{Rule:\"self.size() > 'a'\", Message:\"tags are immutable\", ",
            "MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", ",
            "OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: <input>:1:13: ",
            "found no matching overload for '_>_' applied to '(int, string)'\n",
            " | self.size() > 'a'\n | ............^"
        )),
        "{stderr}"
    );

    // Rules under allOf are not structural.
    let nested = BOX_VERSIONS.replace(
        "              label:\n",
        "              label:\n                allOf:\n                - x-kubernetes-validations: [{rule: 'true'}]\n",
    );
    let nested = write(dir.path(), "nested.yaml", &crd_yaml("bins.example.com", "Bin", &nested));
    let stderr = skiff.kubectl_fails(&["create", "-f", &nested]);
    assert!(
        stderr.contains("spec.validation.openAPIV3Schema.properties[spec].properties[label].allOf[0].x-kubernetes-validations: Forbidden: must be empty to be structural"),
        "{stderr}"
    );
    for crd in ["crates.example.com", "bins.example.com"] {
        skiff.kubectl_fails(&["get", "crd", crd]);
    }
}
