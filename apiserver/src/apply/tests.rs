//! Unit tests of apply and update bookkeeping on ConfigMaps and Deployments with the built-in schemas.

use super::*;
use crate::registry::catalogue::builtin_resources;
use crate::registry::definitions::Definitions;
use crate::registry::ResourceIndex;
use std::sync::LazyLock;

static DEFS: LazyLock<Definitions> =
    LazyLock::new(|| Definitions::build(&ResourceIndex::new(builtin_resources()).snapshot()));

fn target(api_version: &'static str, kind: &'static str, root: &'static str) -> Target<'static> {
    Target {
        schema: Schema::typed(DEFS.schemas(), root),
        api_version,
        kind,
        subresource: None,
        has_status: kind != "ConfigMap",
    }
}

fn cm() -> Target<'static> {
    target("v1", "ConfigMap", "io.k8s.api.core.v1.ConfigMap")
}

fn deploy() -> Target<'static> {
    target("apps/v1", "Deployment", "io.k8s.api.apps.v1.Deployment")
}

fn config_map(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"app": "x"}}, "data": data})
}

fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]}
            }
        }
    })
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

#[test]
fn field_set_of_a_deployment_matches_upstream() {
    let set = typed::to_field_set(&deployment(2, "nginx"), deploy().schema).unwrap();
    let set = set.difference(&deploy().strip_set());
    assert_eq!(
        set.to_fields_v1(),
        json!({
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                        ".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                    }}}
                }
            }
        })
    );
}

#[test]
fn deduced_schema_owns_maps_and_keeps_lists_atomic() {
    let obj = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"labels": {"a": "1"}}, "spec": {"list": [1, 2], "m": {"k": "v"}}});
    let set = typed::to_field_set(&obj, Schema::deduced(Some(DEFS.schemas()))).unwrap();
    assert_eq!(
        set.to_fields_v1(),
        json!({
            "f:apiVersion": {}, "f:kind": {},
            "f:metadata": {"f:labels": {"f:a": {}}},
            "f:spec": {".": {}, "f:list": {}, "f:m": {".": {}, "f:k": {}}}
        })
    );
}

#[test]
fn apply_creates_and_records_an_apply_entry() {
    let out = apply(None, &config_map(json!({"k": "v"})), "mgr", false, &cm()).unwrap();
    assert_eq!(out["data"], json!({"k": "v"}));
    let entry = &out["metadata"]["managedFields"][0];
    assert_eq!(entry["manager"], "mgr");
    assert_eq!(entry["operation"], "Apply");
    assert_eq!(entry["apiVersion"], "v1");
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert_eq!(
        entry["fieldsV1"],
        json!({"f:data": {"f:k": {}}, "f:metadata": {"f:labels": {"f:app": {}}}})
    );
}

#[test]
fn merge_keeps_other_fields_and_merges_lists_by_key() {
    let live = apply(None, &deployment(2, "nginx"), "a", false, &deploy()).unwrap();
    let mut live = live;
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
    let sidecar = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}
    });
    let out = apply(Some(&live), &sidecar, "b", false, &deploy()).unwrap();
    let containers = &out["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers.as_array().unwrap().len(), 2);
    assert_eq!(containers[0]["imagePullPolicy"], "Always");
    assert_eq!(containers[1]["name"], "side");
    assert_eq!(out["spec"]["replicas"], 2);
}

#[test]
fn dropped_fields_are_removed_unless_someone_else_owns_them() {
    let live = apply(None, &config_map(json!({"a": "1", "b": "2"})), "mgr", false, &cm()).unwrap();
    let out = apply(Some(&live), &config_map(json!({"a": "1"})), "mgr", false, &cm()).unwrap();
    assert_eq!(out["data"], json!({"a": "1"}));
    assert_eq!(fields_of(&out, "mgr")["f:data"], json!({"f:a": {}}));

    // Another manager applying the same value shares ownership, so the field survives.
    let shared = apply(Some(&live), &config_map(json!({"b": "2"})), "other", false, &cm()).unwrap();
    let out = apply(Some(&shared), &config_map(json!({"a": "1"})), "mgr", false, &cm()).unwrap();
    assert_eq!(out["data"], json!({"a": "1", "b": "2"}));

    // Dropping a whole container removes it; dropping the last data key removes the map.
    let d = apply(None, &deployment(1, "nginx"), "mgr", false, &deploy()).unwrap();
    let mut smaller = deployment(1, "nginx");
    smaller["spec"].as_object_mut().unwrap().remove("replicas");
    let out = apply(Some(&d), &smaller, "mgr", false, &deploy()).unwrap();
    assert!(out["spec"].get("replicas").is_none());
    let only_meta = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"app": "x"}}});
    let out = apply(Some(&live), &only_meta, "mgr", false, &cm()).unwrap();
    assert!(out.get("data").is_none());
}

#[test]
fn conflicting_values_fail_with_upstream_message_and_force_takes_ownership() {
    let live = apply(None, &config_map(json!({"key": "one"})), "first", false, &cm()).unwrap();
    let err = apply(Some(&live), &config_map(json!({"key": "two"})), "second", false, &cm()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"first\": .data.key"
    );
    let status = ApiError::from(err);
    assert_eq!((status.code, status.reason), (409, "Conflict"));
    assert_eq!(
        status.details.unwrap()["causes"],
        json!([{"type": "FieldManagerConflict", "message": "conflict with \"first\"", "field": ".data.key"}])
    );

    // The same value is no conflict: both own it.
    let same = apply(Some(&live), &config_map(json!({"key": "one"})), "second", false, &cm()).unwrap();
    assert_eq!(same["metadata"]["managedFields"].as_array().unwrap().len(), 2);

    let forced = apply(Some(&live), &config_map(json!({"key": "two"})), "second", true, &cm()).unwrap();
    assert_eq!(forced["data"]["key"], "two");
    assert_eq!(fields_of(&forced, "second")["f:data"], json!({"f:key": {}}));
    assert!(fields_of(&forced, "first").get("f:data").is_none());
}

#[test]
fn conflicts_with_several_fields_group_by_manager() {
    let live = apply(None, &deployment(1, "nginx"), "mgr", false, &deploy()).unwrap();
    let err = apply(Some(&live), &deployment(3, "httpd"), "other", false, &deploy()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"mgr\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"].image"
    );
}

#[test]
fn updates_take_ownership_and_conflict_with_appliers_as_updaters() {
    let created = record_update(None, &config_map(json!({"key": "one"})), "kubectl-create", &cm());
    assert_eq!(
        fields_of(&created, "kubectl-create"),
        &json!({"f:data": {".": {}, "f:key": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}})
    );
    assert_eq!(created["metadata"]["managedFields"][0]["operation"], "Update");
    let err = apply(
        Some(&created),
        &config_map(json!({"key": "two"})),
        "kubectl",
        false,
        &cm(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-create\" using v1: .data.key"
    );

    // An update moves changed fields away from the applier.
    let applied = apply(None, &config_map(json!({"key": "one", "x": "y"})), "mgr", false, &cm()).unwrap();
    let mut edited = applied.clone();
    edited["data"]["key"] = json!("edited");
    let out = record_update(Some(&applied), &edited, "kubectl-edit", &cm());
    assert_eq!(fields_of(&out, "kubectl-edit"), &json!({"f:data": {"f:key": {}}}));
    assert_eq!(fields_of(&out, "mgr")["f:data"], json!({"f:x": {}}));

    // Objects that never tracked ownership stay untracked on update.
    let untracked = config_map(json!({"a": "b"}));
    let out = record_update(Some(&untracked), &config_map(json!({"a": "c"})), "x", &cm());
    assert!(out["metadata"].get("managedFields").is_none());
}

#[test]
fn first_apply_to_an_untracked_object_credits_before_first_apply() {
    let untracked = config_map(json!({"a": "b"}));
    let err = apply(Some(&untracked), &config_map(json!({"a": "c"})), "mgr", false, &cm()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using v1: .data.a"
    );
}

#[test]
fn bad_configurations_are_rejected() {
    let mut wrong = config_map(json!({}));
    wrong["apiVersion"] = json!("apps/v1");
    assert_eq!(
        apply(None, &wrong, "m", false, &cm()).unwrap_err().to_string(),
        "invalid object type: apps/v1, Kind=ConfigMap"
    );
    let mut managed = config_map(json!({}));
    managed["metadata"]["managedFields"] = json!([]);
    assert_eq!(
        apply(None, &managed, "m", false, &cm()).unwrap_err().to_string(),
        "metadata.managedFields must be nil"
    );
}

#[test]
fn status_is_not_owned_through_the_main_resource() {
    let mut d = deployment(1, "nginx");
    d["status"] = json!({"replicas": 5});
    let out = apply(None, &d, "mgr", false, &deploy()).unwrap();
    assert!(fields_of(&out, "mgr").get("f:status").is_none());
}

#[test]
fn default_manager_is_the_user_agent_program() {
    assert_eq!(
        default_manager("kubectl/v1.35.0 (linux/amd64) kubernetes/abc"),
        "kubectl"
    );
    assert_eq!(
        default_manager("kube-controller-manager/v1.35.0"),
        "kube-controller-manager"
    );
    assert_eq!(default_manager(&"x".repeat(200)).len(), 128);
}

#[test]
fn kubectl_upgrades_from_client_side_apply() {
    let mut csa = config_map(json!({"key": "one"}));
    csa["metadata"]["annotations"] = json!({
        "kubectl.kubernetes.io/last-applied-configuration":
            "{\"apiVersion\":\"v1\",\"data\":{\"key\":\"one\"},\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}"
    });
    let live = record_update(None, &csa, "kubectl-client-side-apply", &cm());
    // Another manager still conflicts.
    let err = apply(Some(&live), &config_map(json!({"key": "two"})), "other", false, &cm()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.key"
    );
    // kubectl takes over what it applied before, and the annotation follows the new configuration.
    let out = apply(Some(&live), &config_map(json!({"key": "two"})), "kubectl", false, &cm()).unwrap();
    assert_eq!(out["data"]["key"], "two");
    assert_eq!(
        out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        "{\"apiVersion\":\"v1\",\"data\":{\"key\":\"two\"},\"kind\":\"ConfigMap\",\"metadata\":{\"labels\":{\"app\":\"x\"},\"name\":\"c\"}}"
    );
    assert_eq!(fields_of(&out, "kubectl")["f:data"], json!({"f:key": {}}));
}
