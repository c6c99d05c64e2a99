//! Whole-CRD validation cases, checked against upstream's messages.

use super::*;

fn crd() -> Value {
    json!({
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}],
            "conversion": {"strategy": "None"}},
        "status": {"storedVersions": ["v1"]}
    })
}

fn messages(errors: Vec<FieldError>) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

#[test]
fn a_good_crd_passes() {
    assert!(validate_create(&crd()).is_empty(), "{:?}", validate_create(&crd()));
}

#[test]
fn names_and_versions() {
    let mut obj = crd();
    obj["spec"]["names"]["listKind"] = json!("Widget");
    obj["spec"]["names"]["shortNames"] = json!(["W"]);
    obj["spec"]["versions"][0]["name"] = json!("V1");
    obj["status"]["storedVersions"] = json!(["V1"]);
    let errors = messages(validate_create(&obj));
    assert!(
        errors.contains(
            &r#"spec.names.listKind: Invalid value: "Widget": kind and listKind may not be the same"#.to_string()
        ),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(r#"spec.names.shortNames[0]: Invalid value: "W": a DNS-1035 label"#)),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(r#"spec.versions[0].name: Invalid value: "V1": a DNS-1035 label"#)),
        "{errors:?}"
    );
}

#[test]
fn shared_schemas_are_reported_at_the_top_level() {
    let mut obj = crd();
    obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["x"] = json!({});
    assert_eq!(
        messages(validate_create(&obj)),
        ["spec.validation.openAPIV3Schema.properties[spec].properties[x].type: Required value: must not be empty for specified object fields"]
    );
    let mut two = obj.clone();
    two["spec"]["versions"].as_array_mut().unwrap().push(
        json!({"name": "v2", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "object"}}}),
    );
    assert_eq!(
        messages(validate_create(&two)),
        ["spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[x].type: Required value: must not be empty for specified object fields"]
    );
}

#[test]
fn updates_keep_identity_and_stored_versions() {
    let mut old = crd();
    old["status"]["conditions"] = json!([{"type": "Established", "status": "True"}]);
    let mut new = old.clone();
    new["spec"]["scope"] = json!("Cluster");
    new["spec"]["versions"][0]["name"] = json!("v2");
    new["status"]["storedVersions"] = json!(["v1", "v2"]);
    assert_eq!(
        messages(validate_update(&new, &old)),
        [
            r#"spec.scope: Invalid value: "Cluster": field is immutable"#,
            r#"status.storedVersions[0]: Invalid value: "v1": missing from spec.versions; v1 was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in v1 and removes v1 from status.storedVersions"#,
        ]
    );
}

#[test]
fn protected_groups_need_approval() {
    let mut obj = crd();
    obj["metadata"]["name"] = json!("widgets.x.k8s.io");
    obj["spec"]["group"] = json!("x.k8s.io");
    assert_eq!(
        messages(validate_create(&obj)),
        [
            r#"metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval annotation "api-approved.kubernetes.io", see https://github.com/kubernetes/enhancements/pull/1111"#
        ]
    );
}

#[test]
fn status_writes_skip_the_spec_rules() {
    let mut old = crd();
    old["spec"]["names"]["listKind"] = json!("Widget");
    let mut new = old.clone();
    new["status"]["acceptedNames"] = json!({"plural": "widgets", "kind": "Widget"});
    assert!(validate_update(&new, &old).is_empty());
    new["spec"]["scope"] = json!("Namespaced ");
    assert_eq!(validate_update(&new, &old).len(), 2);
}
