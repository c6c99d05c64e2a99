//! Strategic merge patch tests over schemars definitions of k8s-openapi types, with the patches kubectl sends.

use std::sync::LazyLock;

use k8s_openapi::api::{apps::v1::Deployment, core::v1::Pod, core::v1::Service};
use serde_json::{json, Map, Value};

use super::{strategic_merge_patch, PatchError};

static DEFS: LazyLock<Map<String, Value>> = LazyLock::new(|| {
    let mut generator = schemars::generate::SchemaSettings::openapi3().into_generator();
    generator.subschema_for::<Deployment>();
    generator.subschema_for::<Pod>();
    generator.subschema_for::<Service>();
    generator.take_definitions(false)
});

const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";

fn deployment(containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}, "finalizers": ["a.io/one"]},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {"spec": {"containers": containers, "tolerations": [{"key": "k", "operator": "Exists"}]}}
        }
    })
}

fn apply(doc: &Value, patch: Value) -> Result<Value, PatchError> {
    strategic_merge_patch(doc, &patch, &DEFS, DEPLOYMENT)
}

fn containers(doc: &Value) -> &Value {
    &doc["spec"]["template"]["spec"]["containers"]
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

fn pod_template_patch(spec: Value) -> Value {
    json!({"spec": {"template": {"spec": spec}}})
}

#[test]
fn definitions_use_the_expected_names() {
    assert!(DEFS.contains_key(DEPLOYMENT));
    assert!(DEFS.contains_key("io.k8s.api.core.v1.PodSpec"));
}

#[test]
fn changing_a_container_image_keeps_other_fields_and_containers() {
    let doc = deployment(json!([
        {"name": "app", "image": "nginx:1.24", "ports": [{"containerPort": 80}]},
        {"name": "sidecar", "image": "busybox"}
    ]));
    let patch = pod_template_patch(json!({
        "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
        "containers": [{"name": "app", "image": "nginx:1.25"}]
    }));
    let out = apply(&doc, patch).unwrap();
    assert_eq!(
        containers(&out),
        &json!([
            {"name": "app", "image": "nginx:1.25", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "busybox"}
        ])
    );
    assert_eq!(out["spec"]["replicas"], 1);
}

#[test]
fn adding_and_removing_env_vars() {
    let doc = deployment(json!([{"name": "app", "image": "x", "env": [{"name": "A", "value": "1"}]}]));
    let added = apply(
        &doc,
        pod_template_patch(json!({
            "$setElementOrder/containers": [{"name": "app"}],
            "containers": [{"$setElementOrder/env": [{"name": "A"}, {"name": "B"}], "env": [{"name": "B", "value": "2"}], "name": "app"}]
        })),
    )
    .unwrap();
    assert_eq!(
        containers(&added)[0]["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    );

    let removed = apply(
        &added,
        pod_template_patch(json!({
            "$setElementOrder/containers": [{"name": "app"}],
            "containers": [{"$setElementOrder/env": [{"name": "B"}], "env": [{"$patch": "delete", "name": "A"}], "name": "app"}]
        })),
    )
    .unwrap();
    assert_eq!(containers(&removed)[0]["env"], json!([{"name": "B", "value": "2"}]));
}

#[test]
fn adding_a_port_merges_by_container_port() {
    let doc = deployment(json!([{"name": "app", "ports": [{"containerPort": 80, "name": "http"}]}]));
    let out = apply(
        &doc,
        pod_template_patch(
            json!({"containers": [{"name": "app", "ports": [{"containerPort": 443, "name": "https"}]}]}),
        ),
    )
    .unwrap();
    // Without $setElementOrder, new items go first, as upstream does.
    assert_eq!(
        containers(&out)[0]["ports"],
        json!([{"containerPort": 443, "name": "https"}, {"containerPort": 80, "name": "http"}])
    );
    let ordered = apply(
        &doc,
        pod_template_patch(json!({"containers": [{
            "name": "app",
            "$setElementOrder/ports": [{"containerPort": 80}, {"containerPort": 443}],
            "ports": [{"containerPort": 443, "name": "https"}]
        }]})),
    )
    .unwrap();
    assert_eq!(
        containers(&ordered)[0]["ports"],
        json!([{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}])
    );
}

#[test]
fn deleting_a_container_with_patch_delete() {
    let doc = deployment(json!([{"name": "app"}, {"name": "sidecar"}]));
    let out = apply(
        &doc,
        pod_template_patch(json!({"containers": [{"$patch": "delete", "name": "sidecar"}]})),
    )
    .unwrap();
    assert_eq!(names(containers(&out)), ["app"]);
}

#[test]
fn null_removes_a_label_and_unmatched_nulls_are_ignored() {
    let doc = deployment(json!([{"name": "app"}]));
    let out = apply(
        &doc,
        json!({"metadata": {"labels": {"tier": null, "gone": null, "new": "yes"}}}),
    )
    .unwrap();
    assert_eq!(out["metadata"]["labels"], json!({"app": "web", "new": "yes"}));
}

#[test]
fn set_element_order_reorders_the_live_list() {
    let doc = deployment(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]));
    let out = apply(
        &doc,
        pod_template_patch(json!({"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]})),
    )
    .unwrap();
    assert_eq!(names(containers(&out)), ["c", "a", "b"]);
}

#[test]
fn set_element_order_must_list_the_patched_items() {
    let doc = deployment(json!([{"name": "a"}]));
    let err = apply(
        &doc,
        pod_template_patch(json!({"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "z"}]})),
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("the order in patch list:"), "{err}");
    let err = apply(&doc, pod_template_patch(json!({"$setElementOrder": [{"name": "a"}]}))).unwrap_err();
    assert_eq!(err, PatchError::BadPatchFormatForSetElementOrderList);
}

#[test]
fn retain_keys_switches_strategy_to_recreate() {
    let doc = deployment(json!([{"name": "app"}]));
    let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": null, "type": "Recreate"}}});
    let out = apply(&doc, patch).unwrap();
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn retain_keys_replaces_a_volume_source() {
    let doc = deployment(json!([{"name": "app"}]));
    let doc = apply(
        &doc,
        pod_template_patch(json!({"volumes": [{"name": "data", "emptyDir": {}}]})),
    )
    .unwrap();
    let out = apply(
        &doc,
        pod_template_patch(
            json!({"volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "cfg"}, "name": "data"}]}),
        ),
    )
    .unwrap();
    assert_eq!(
        out["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "data", "configMap": {"name": "cfg"}}])
    );
}

#[test]
fn retain_keys_errors_like_upstream() {
    let doc = deployment(json!([{"name": "app"}]));
    let err = apply(
        &doc,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}}),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "invalid patch format of retainKeys");
    assert_eq!(err.status_code(), 400);
    let err = apply(&doc, json!({"spec": {"strategy": {"$retainKeys": "type"}}})).unwrap_err();
    assert_eq!(err, PatchError::BadPatchFormatForRetainKeys);
}

#[test]
fn finalizers_union_and_delete_from_primitive_list() {
    let doc = deployment(json!([{"name": "app"}]));
    let out = apply(&doc, json!({"metadata": {"finalizers": ["b.io/two", "a.io/one"]}})).unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["b.io/two", "a.io/one"]));
    let out = apply(&doc, json!({"metadata": {"finalizers": ["b.io/two"]}})).unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["b.io/two", "a.io/one"]));
    let out = apply(
        &out,
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.io/one"], "$setElementOrder/finalizers": ["b.io/two"]}}),
    )
    .unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["b.io/two"]));
    let err = apply(&doc, json!({"metadata": {"$deleteFromPrimitiveList": ["x"]}})).unwrap_err();
    assert_eq!(err, PatchError::BadPatchFormatForPrimitiveList);
}

#[test]
fn lists_without_merge_strategy_are_replaced() {
    let doc = deployment(json!([{"name": "app", "args": ["a", "b"]}]));
    let out = apply(
        &doc,
        pod_template_patch(json!({
            "tolerations": [{"key": "other", "operator": "Exists"}],
            "containers": [{"name": "app", "args": ["c"]}]
        })),
    )
    .unwrap();
    assert_eq!(
        out["spec"]["template"]["spec"]["tolerations"],
        json!([{"key": "other", "operator": "Exists"}])
    );
    assert_eq!(containers(&out)[0]["args"], json!(["c"]));
}

#[test]
fn replace_directive_on_a_list_and_on_a_map() {
    let doc = deployment(json!([{"name": "a", "image": "x"}, {"name": "b"}]));
    let out = apply(
        &doc,
        pod_template_patch(json!({"containers": [{"name": "c"}, {"$patch": "replace"}]})),
    )
    .unwrap();
    assert_eq!(containers(&out), &json!([{"name": "c"}]));
    let out = apply(
        &doc,
        json!({"metadata": {"labels": {"$patch": "replace", "only": "me"}}}),
    )
    .unwrap();
    assert_eq!(out["metadata"]["labels"], json!({"only": "me"}));
    let out = apply(&doc, json!({"spec": {"strategy": {"$patch": "delete"}}})).unwrap();
    assert_eq!(out["spec"]["strategy"], json!({}));
}

#[test]
fn unknown_fields_merge_like_merge_patch() {
    let doc = json!({"spec": {"extra": {"a": 1, "list": [{"name": "x", "v": 1}]}}});
    let out = apply(&doc, json!({"spec": {"extra": {"b": 2, "list": [{"name": "y"}]}}})).unwrap();
    assert_eq!(
        out,
        json!({"spec": {"extra": {"a": 1, "list": [{"name": "y"}], "b": 2}}})
    );
}

#[test]
fn new_values_lose_directives_and_nulls() {
    let doc = json!({"metadata": {"name": "web"}});
    let out = apply(
        &doc,
        pod_template_patch(json!({
            "$setElementOrder/containers": [{"name": "app"}],
            "containers": [{"name": "app", "image": null, "$setElementOrder/env": [{"name": "A"}], "env": [{"name": "A", "value": "1"}]}]
        })),
    )
    .unwrap();
    assert_eq!(
        containers(&out),
        &json!([{"name": "app", "env": [{"name": "A", "value": "1"}]}])
    );
}

#[test]
fn bad_directives_error_like_upstream() {
    let doc = deployment(json!([{"name": "app"}]));
    let err = apply(&doc, json!({"metadata": {"labels": {"$patch": "foo", "a": "b"}}})).unwrap_err();
    assert_eq!(err.to_string(), "unknown patch type: foo in map: map[$patch:foo a:b]");
    let err = apply(
        &doc,
        pod_template_patch(json!({"containers": [{"$patch": "merge", "name": "app"}]})),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "merging lists cannot yet be specified in the patch");
    let err = apply(&doc, pod_template_patch(json!({"containers": [{"image": "x"}]}))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "map: map[image:x] does not contain declared merge key: name"
    );
    assert_eq!(err.status_code(), 500);
    let err = apply(&doc, pod_template_patch(json!({"containers": [["nested"]]}))).unwrap_err();
    assert_eq!(err, PatchError::NoListOfLists);
    let err = strategic_merge_patch(&doc, &json!([1]), &DEFS, DEPLOYMENT).unwrap_err();
    assert_eq!(err, PatchError::BadJsonDoc);
}

#[test]
fn service_ports_merge_by_port() {
    let doc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": "a", "tier": "x"}}});
    let patch = json!({"spec": {"$setElementOrder/ports": [{"port": 80}, {"port": 443}], "ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}});
    let out = strategic_merge_patch(&doc, &patch, &DEFS, "io.k8s.api.core.v1.Service").unwrap();
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
    );
}

#[test]
fn owner_references_merge_by_uid() {
    let doc = json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "a", "kind": "ReplicaSet"}]}});
    let patch = json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "b", "kind": "ReplicaSet"}, {"uid": "1", "controller": true}]}});
    let out = strategic_merge_patch(&doc, &patch, &DEFS, "io.k8s.api.core.v1.Pod").unwrap();
    assert_eq!(
        out["metadata"]["ownerReferences"],
        json!([{"uid": "2", "name": "b", "kind": "ReplicaSet"}, {"uid": "1", "name": "a", "kind": "ReplicaSet", "controller": true}])
    );
}
