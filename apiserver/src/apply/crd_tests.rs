//! Unit tests of apply on a custom resource whose structure is derived from its CRD schema: list-map,
//! set and atomic lists between two managers, nested list-maps, key defaults and embedded resources.

use super::*;
use crate::registry::catalogue::builtin_resources;
use crate::registry::definitions::Definitions;
use crate::registry::ResourceIndex;
use std::sync::LazyLock;

static DEFS: LazyLock<Definitions> =
    LazyLock::new(|| Definitions::build(&ResourceIndex::new(builtin_resources()).snapshot()));

static ROUTE: LazyLock<Structure> = LazyLock::new(|| {
    Structure::derive(&json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "hostnames": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            "args": {"type": "array", "items": {"type": "string"}},
            "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                "additionalProperties": {"type": "string"}},
            "rules": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "backendRefs": {"type": "array", "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name", "port"],
                        "items": {"type": "object", "properties": {
                            "name": {"type": "string"},
                            "port": {"type": "integer", "default": 80},
                            "weight": {"type": "integer"}}}}}}},
            "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                "x-kubernetes-preserve-unknown-fields": true}
        }}
    }}))
});

fn route() -> Target<'static> {
    Target {
        schema: Schema::derived(Some(DEFS.schemas()), &ROUTE),
        api_version: "example.com/v1",
        kind: "Route",
        subresource: None,
        has_status: false,
    }
}

fn config(spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Route", "metadata": {"name": "r"}, "spec": spec})
}

fn fields_of<'a>(obj: &'a Value, manager: &str) -> &'a Value {
    obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == manager)
        .map(|e| &e["fieldsV1"])
        .unwrap_or_else(|| panic!("no entry for {manager}"))
}

fn conflict_paths(result: Result<Value, ApplyError>) -> Vec<String> {
    match result {
        Err(ApplyError::Conflict(conflicts)) => conflicts.iter().map(|c| path_string(&c.path)).collect(),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn two_managers_keep_their_own_items_of_a_map_list() {
    let a = apply(None, &config(json!({"rules": [{"name": "a"}]})), "ma", false, &route()).unwrap();
    let both = apply(
        Some(&a),
        &config(json!({"rules": [{"name": "b"}]})),
        "mb",
        false,
        &route(),
    )
    .unwrap();
    assert_eq!(both["spec"]["rules"], json!([{"name": "a"}, {"name": "b"}]));
    assert_eq!(
        fields_of(&both, "ma"),
        &json!({"f:spec": {"f:rules": {"k:{\"name\":\"a\"}": {".": {}, "f:name": {}}}}})
    );
    assert_eq!(
        fields_of(&both, "mb"),
        &json!({"f:spec": {"f:rules": {"k:{\"name\":\"b\"}": {".": {}, "f:name": {}}}}})
    );
    // Dropping its item removes only that manager's item.
    let out = apply(Some(&both), &config(json!({"rules": []})), "ma", false, &route()).unwrap();
    assert_eq!(out["spec"]["rules"], json!([{"name": "b"}]));
}

#[test]
fn sets_merge_and_atomic_lists_and_maps_conflict_as_a_whole() {
    let a = apply(
        None,
        &config(json!({"hostnames": ["a"], "args": ["x"], "selector": {"app": "a"}})),
        "ma",
        false,
        &route(),
    )
    .unwrap();
    assert_eq!(
        fields_of(&a, "ma")["f:spec"],
        json!({"f:args": {}, "f:hostnames": {"v:\"a\"": {}}, "f:selector": {}})
    );
    let b = apply(Some(&a), &config(json!({"hostnames": ["b"]})), "mb", false, &route()).unwrap();
    assert_eq!(b["spec"]["hostnames"], json!(["a", "b"]));

    let conflicts = conflict_paths(apply(
        Some(&b),
        &config(json!({"args": ["y"], "selector": {"other": "b"}})),
        "mb",
        false,
        &route(),
    ));
    assert_eq!(conflicts, [".spec.args", ".spec.selector"]);
    let forced = apply(Some(&b), &config(json!({"args": ["y"]})), "mb", true, &route()).unwrap();
    assert_eq!(forced["spec"]["args"], json!(["y"]));
    assert!(fields_of(&forced, "ma")["f:spec"].get("f:args").is_none());
}

#[test]
fn nested_map_lists_merge_by_key_with_defaults() {
    let a = apply(
        None,
        &config(json!({"rules": [{"name": "r", "backendRefs": [{"name": "svc-a", "weight": 1}]}]})),
        "ma",
        false,
        &route(),
    )
    .unwrap();
    let b = apply(
        Some(&a),
        &config(json!({"rules": [{"name": "r", "backendRefs": [{"name": "svc-b", "port": 8080}]}]})),
        "mb",
        false,
        &route(),
    )
    .unwrap();
    assert_eq!(
        b["spec"]["rules"],
        json!([{"name": "r", "backendRefs": [{"name": "svc-a", "weight": 1}, {"name": "svc-b", "port": 8080}]}])
    );
    let refs = &fields_of(&b, "ma")["f:spec"]["f:rules"]["k:{\"name\":\"r\"}"]["f:backendRefs"];
    assert_eq!(
        refs,
        &json!({"k:{\"name\":\"svc-a\",\"port\":80}": {".": {}, "f:name": {}, "f:weight": {}}})
    );
    // The same backend changed by another manager conflicts on its leaf only.
    let conflicts = conflict_paths(apply(
        Some(&b),
        &config(json!({"rules": [{"name": "r", "backendRefs": [{"name": "svc-a", "weight": 5}]}]})),
        "mb",
        false,
        &route(),
    ));
    assert_eq!(
        conflicts,
        [r#".spec.rules[name="r"].backendRefs[name="svc-a",port=80].weight"#]
    );
}

#[test]
fn embedded_resources_have_object_meta_and_preserved_fields_are_deduced() {
    let obj = config(json!({"template": {"apiVersion": "v1", "kind": "Pod",
        "metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c"}]}}}));
    let set = typed::to_field_set(&obj, route().schema).unwrap();
    let template = &set.to_fields_v1()["f:spec"]["f:template"];
    assert_eq!(
        template,
        &json!({"f:apiVersion": {}, "f:kind": {}, "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {".": {}, "f:containers": {}}})
    );
}

#[test]
fn a_map_list_item_without_its_key_is_rejected() {
    let err = apply(
        None,
        &config(json!({"rules": [{"backendRefs": []}]})),
        "ma",
        false,
        &route(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to create typed patch object (/r; example.com/v1, Kind=Route): .spec.rules: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)"
    );
}
