//! CustomResourceDefinitions are validated as upstream validates them (stock kubectl shows the same
//! messages and nothing is stored), CRDs whose names collide are not served, selectable fields
//! work as field selectors, /status writes are pruned and validated, and client-side apply of a
//! CRD too big for the last-applied annotation fails as it does against Kubernetes.

use crate::common;

use crate::common::{fails, Skiff};
use serde_json::{json, Value};
use std::path::Path;

/// A namespaced CRD of example.com with one served storage version v1 using `schema`.
fn crd(plural: &str, kind: &str, schema: Value) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.example.com")},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": plural, "kind": kind},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": schema},
                "subresources": {"status": {}}}]}
    })
}

fn widget_schema() -> Value {
    json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "color": {"type": "string"}, "size": {"type": "integer"}}},
        "status": {"type": "object", "properties": {
            "ready": {"type": "boolean"}, "phase": {"type": "string", "default": "Pending"}}}}})
}

/// Write `value` as JSON to `dir/name`; returns the path.
fn write(dir: &Path, name: &str, value: &Value) -> String {
    common::write(dir, name, &value.to_string())
}

#[test]
fn invalid_crds_are_rejected_with_upstreams_messages() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let mut untyped = widget_schema();
    untyped["properties"]["spec"]["properties"]["shape"] = json!({"description": "no type"});
    let mut bad_default = widget_schema();
    bad_default["properties"]["spec"]["properties"]["size"] = json!({"type": "integer", "enum": [1, 2], "default": 3});
    let mut same_kinds = crd("widgets", "Widget", widget_schema());
    same_kinds["spec"]["names"]["listKind"] = json!("Widget");
    let mut webhook = crd("widgets", "Widget", widget_schema());
    webhook["spec"]["conversion"] = json!({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"]}});
    let mut scale = crd("widgets", "Widget", widget_schema());
    scale["spec"]["versions"][0]["subresources"]["scale"] =
        json!({"specReplicasPath": ".status.size", "statusReplicasPath": ".status.size"});
    let cases = [
        (
            crd("widgets", "Widget", untyped),
            "spec.validation.openAPIV3Schema.properties[spec].properties[shape].type: Required value: must not be empty for specified object fields",
        ),
        (
            crd("widgets", "Widget", bad_default),
            r#"spec.validation.openAPIV3Schema.properties[spec].properties[size].default: Unsupported value: 3: supported values: "1", "2""#,
        ),
        (same_kinds, r#"spec.names.listKind: Invalid value: "Widget": kind and listKind may not be the same"#),
        (webhook, "spec.conversion.webhookClientConfig: Required value: required when strategy is set to Webhook"),
        (
            scale,
            r#"spec.subresources.scale.specReplicasPath: Invalid value: ".status.size": should be a json path under .spec"#,
        ),
    ];
    for (i, (definition, message)) in cases.iter().enumerate() {
        let file = write(dir.path(), &format!("crd{i}.json"), definition);
        let args = ["create", "-f", file.as_str()];
        for kubectl in common::kubectls() {
            let stderr = fails(skiff.kubectl_with(&kubectl, &args), &args);
            assert_eq!(
                stderr.trim_end(),
                format!(r#"The CustomResourceDefinition "widgets.example.com" is invalid: {message}"#),
            );
        }
    }
    assert_eq!(skiff.kubectl(&["get", "crd", "-o", "name"]), "");
}

#[test]
fn names_conflicts_selectable_fields_and_status() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    let mut widgets = crd("widgets", "Widget", widget_schema());
    widgets["spec"]["names"]["shortNames"] = json!(["wd"]);
    widgets["spec"]["versions"][0]["selectableFields"] = json!([{"jsonPath": ".spec.color"}]);
    skiff.kubectl(&["create", "-f", &write(dir.path(), "widgets.json", &widgets)]);
    skiff.wait_established("widgets.example.com");

    // A second CRD claiming the same kind in the group is not accepted, not established, not served.
    let gadgets = crd("gadgets", "Widget", widget_schema());
    skiff.kubectl(&["create", "-f", &write(dir.path(), "gadgets.json", &gadgets)]);
    skiff.kubectl(&[
        "wait",
        "--for=condition=NamesAccepted=false",
        "crd/gadgets.example.com",
        "--timeout=30s",
    ]);
    let condition = |name: &str, type_: &str| {
        skiff.kubectl(&[
            "get",
            "crd",
            name,
            "-o",
            &format!("jsonpath={{.status.conditions[?(@.type==\"{type_}\")]}}"),
        ])
    };
    let accepted: Value = serde_json::from_str(&condition("gadgets.example.com", "NamesAccepted")).unwrap();
    assert_eq!(
        (&accepted["status"], &accepted["reason"], &accepted["message"]),
        (
            &json!("False"),
            &json!("ListKindConflict"),
            &json!("\"WidgetList\" is already in use")
        )
    );
    let established: Value = serde_json::from_str(&condition("gadgets.example.com", "Established")).unwrap();
    assert_eq!(established["status"], "False");
    let resources = skiff.kubectl(&["api-resources", "--api-group=example.com", "-o", "name"]);
    assert_eq!(resources, "widgets.example.com\n");

    // Field selectors on selectable fields; others are refused as upstream refuses them.
    for (name, color) in [("a", "blue"), ("b", "red")] {
        let obj = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name, "namespace": "default"},
            "spec": {"color": color, "size": 1}});
        skiff.kubectl(&["create", "-f", &write(dir.path(), &format!("{name}.json"), &obj)]);
    }
    let blue = skiff.kubectl(&["get", "wd", "--field-selector", "spec.color=blue", "-o", "name"]);
    assert_eq!(blue, "widget.example.com/a\n");
    let not_blue = skiff.kubectl(&["get", "widgets", "--field-selector", "spec.color!=blue", "-o", "name"]);
    assert_eq!(not_blue, "widget.example.com/b\n");
    let refused = skiff.kubectl_fails(&["get", "widgets", "--field-selector", "spec.size=1"]);
    assert_eq!(
        refused.trim_end(),
        r#"Error from server (BadRequest): Unable to find "example.com/v1, Resource=widgets" that match label selector "", field selector "spec.size=1": field label not supported: spec.size"#
    );

    // /status: unknown fields pruned, defaults filled, invalid values refused; spec untouched.
    let patch = [
        "patch",
        "widget",
        "a",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"spec": {"color": "green"}, "status": {"ready": true, "bogus": 1}}"#,
    ];
    skiff.kubectl(&patch);
    let stored: Value = serde_json::from_str(&skiff.kubectl(&["get", "widget", "a", "-o", "json"])).unwrap();
    assert_eq!(stored["status"], json!({"ready": true, "phase": "Pending"}));
    assert_eq!(stored["spec"]["color"], "blue");
    let stderr = skiff.kubectl_fails(&[
        "patch",
        "widget",
        "a",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status": {"ready": "yes"}}"#,
    ]);
    assert_eq!(
        stderr.trim_end(),
        r#"The Widget "a" is invalid: status.ready: Invalid value: "string": status.ready in body must be of type boolean: "string""#
    );
    // The main endpoint ignores status.
    skiff.kubectl(&[
        "patch",
        "widget",
        "a",
        "--type=merge",
        "-p",
        r#"{"spec": {"color": "teal"}, "status": {"ready": false}}"#,
    ]);
    let stored: Value = serde_json::from_str(&skiff.kubectl(&["get", "widget", "a", "-o", "json"])).unwrap();
    assert_eq!(
        (&stored["spec"]["color"], &stored["status"]["ready"]),
        (&json!("teal"), &json!(true))
    );

    // Deleting the CRD holding the names lets the other one have them.
    skiff.kubectl(&["delete", "crd", "widgets.example.com", "--timeout=30s"]);
    skiff.wait_established("gadgets.example.com");
    let resources = skiff.kubectl(&["api-resources", "--api-group=example.com", "-o", "name"]);
    assert_eq!(resources, "gadgets.example.com\n");
}

#[test]
fn huge_crds_and_objects_and_the_last_applied_limit() {
    let skiff = Skiff::start();
    let dir = tempfile::tempdir().unwrap();
    // ~300 KB of schema: fine to create, too big to repeat in the last-applied annotation.
    let mut schema = widget_schema();
    for i in 0..300 {
        schema["properties"]["spec"]["properties"][format!("field{i}")] =
            json!({"type": "string", "description": "x".repeat(1000)});
    }
    let big = crd("bigs", "Big", schema);
    let file = write(dir.path(), "big.json", &big);
    let stderr = skiff.kubectl_fails(&["apply", "-f", &file]);
    assert_eq!(
        stderr.trim_end(),
        r#"The CustomResourceDefinition "bigs.example.com" is invalid: metadata.annotations: Too long: may not be more than 262144 bytes"#
    );
    let created = skiff.kubectl(&["create", "-f", &file]);
    assert_eq!(
        created,
        "customresourcedefinition.apiextensions.k8s.io/bigs.example.com created\n"
    );
    skiff.wait_established("bigs.example.com");
    // Objects up to the 3 MiB request limit are stored and served whole.
    let payload = "y".repeat(2_500_000);
    let object = json!({"apiVersion": "example.com/v1", "kind": "Big", "metadata": {"name": "b", "namespace": "default"},
        "spec": {"field0": payload}});
    let file = write(dir.path(), "b.json", &object);
    skiff.kubectl(&["create", "-f", &file]);
    let read = skiff.kubectl(&["get", "big", "b", "-o", "jsonpath={.spec.field0}"]);
    assert!(read == payload, "read back {} bytes", read.len());
}
