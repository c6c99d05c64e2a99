//! Builds the documents for a handful of built-in kinds and checks what kubectl reads from them.

use super::*;
use crate::registry::resource::ALL_VERBS;
use crate::registry::{DefaultStrategy, Resource, Subresource};
use k8s_openapi::api::{apps, core, rbac};
use serde_json::{json, Value};
use std::sync::Arc;

fn resource(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    schema: Option<fn(&mut schemars::SchemaGenerator) -> schemars::Schema>,
) -> Resource {
    Resource {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        namespaced,
        short_names: Vec::new(),
        categories: Vec::new(),
        verbs: ALL_VERBS.iter().map(|v| v.to_string()).collect(),
        subresources: Vec::new(),
        storage_version: version.into(),
        preferred: true,
        strategy: Arc::new(DefaultStrategy),
        builtin_schema: schema,
        custom_schema: None,
        apply_structure: None,
        converter: None,
        stored_as: None,
        deprecation_warning: None,
    }
}

fn sample() -> Vec<Resource> {
    let mut pod = resource(
        "",
        "v1",
        "Pod",
        "pods",
        true,
        Some(|g| g.subschema_for::<core::v1::Pod>()),
    );
    pod.subresources = vec![
        Subresource::status(&pod),
        Subresource {
            name: "eviction".into(),
            group: "policy".into(),
            version: "v1".into(),
            kind: "Eviction".into(),
            verbs: vec!["create".into()],
        },
        Subresource {
            name: "log".into(),
            group: "".into(),
            version: "v1".into(),
            kind: "Pod".into(),
            verbs: vec!["get".into()],
        },
    ];
    let mut deployment = resource(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        true,
        Some(|g| g.subschema_for::<apps::v1::Deployment>()),
    );
    deployment.subresources = vec![Subresource::status(&deployment), Subresource::scale()];
    vec![
        pod,
        deployment,
        resource(
            "",
            "v1",
            "ConfigMap",
            "configmaps",
            true,
            Some(|g| g.subschema_for::<core::v1::ConfigMap>()),
        ),
        resource(
            "",
            "v1",
            "Namespace",
            "namespaces",
            false,
            Some(|g| g.subschema_for::<core::v1::Namespace>()),
        ),
        resource("stable.example.com", "v1", "CronTab", "crontabs", true, None),
    ]
}

fn patch_meta(def: &str, field: &str) -> Option<FieldMeta> {
    match (def, field) {
        ("io.k8s.api.core.v1.PodSpec", "containers") => Some((Some("merge"), Some("name"), Some("map"), &["name"])),
        ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers") => {
            Some((Some("merge"), None, Some("set"), &[]))
        }
        _ => None,
    }
}

fn parse(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap()
}

fn v3_doc(api: &OpenApi, path: &str) -> Value {
    parse(&api.v3_group_version(path).unwrap().0)
}

/// Follows `$ref` (directly or as the single `allOf` entry) to the named schema in `doc`.
fn resolve<'a>(doc: &'a Value, schemas: &str, schema: &'a Value) -> &'a Value {
    let reference = schema.get("$ref").or_else(|| schema.pointer("/allOf/0/$ref"));
    match reference.and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            let target = doc.pointer(&format!("{schemas}/{name}")).unwrap();
            resolve(doc, schemas, target)
        }
        None => schema,
    }
}

/// Walks `fields` from definition `root`, descending into array items, as `kubectl explain` does.
fn walk<'a>(doc: &'a Value, schemas: &str, root: &str, fields: &[&str]) -> (&'a Value, &'a Value) {
    let mut schema = doc.pointer(&format!("{schemas}/{root}")).unwrap();
    let mut property = schema;
    for field in fields {
        property = &schema["properties"][*field];
        assert!(!property.is_null(), "no field {field}");
        schema = resolve(doc, schemas, property);
        if let Some(items) = schema.get("items") {
            schema = resolve(doc, schemas, items);
        }
    }
    (property, schema)
}

/// Every `$ref` in `doc` names a schema present in it.
fn assert_refs_resolve(doc: &Value, schemas: &str) {
    let mut refs = Vec::new();
    collect_refs(doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r.rsplit('/').next().unwrap();
        assert!(doc.pointer(&format!("{schemas}/{name}")).is_some(), "dangling {r}");
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(obj) => {
            for (k, v) in obj {
                match v {
                    Value::String(s) if k == "$ref" => out.push(s.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn v2_deployment_carries_its_gvk_and_no_required_metadata() {
    let v2 = parse(&OpenApi::build(&sample(), None).v2());
    assert_eq!(v2["swagger"], "2.0");
    assert_eq!(v2["info"], json!({"title": "Kubernetes", "version": "v1.35.0"}));
    let deployment = &v2["definitions"]["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        deployment["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    assert!(deployment.get("required").is_none());
    assert_eq!(
        v2["definitions"]["io.k8s.api.apps.v1.DeploymentList"]["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "kind": "DeploymentList", "version": "v1"}])
    );
    assert_eq!(
        v2["definitions"]["io.k8s.api.autoscaling.v1.Scale"]["x-kubernetes-group-version-kind"],
        json!([{"group": "autoscaling", "kind": "Scale", "version": "v1"}])
    );
    assert_refs_resolve(&v2, "/definitions");
}

#[test]
fn containers_resolve_to_container_with_required_name_in_both_versions() {
    let api = OpenApi::build(&sample(), None);
    let v2 = parse(&api.v2());
    let (property, container) = walk(
        &v2,
        "/definitions",
        "io.k8s.api.apps.v1.Deployment",
        &["spec", "template", "spec", "containers"],
    );
    assert_eq!(property["type"], "array");
    assert_eq!(property["items"]["$ref"], "#/definitions/io.k8s.api.core.v1.Container");
    assert!(container["required"].as_array().unwrap().contains(&json!("name")));

    let v3 = v3_doc(&api, "apis/apps/v1");
    let (_, container) = walk(
        &v3,
        "/components/schemas",
        "io.k8s.api.apps.v1.Deployment",
        &["spec", "template", "spec", "containers"],
    );
    assert!(container["required"].as_array().unwrap().contains(&json!("name")));
    // Annotated refs are wrapped in allOf, as upstream publishes them for OpenAPI 3.0.
    let spec = &v3["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"];
    assert_eq!(
        spec["allOf"],
        json!([{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}])
    );
    assert!(spec["description"].is_string());
}

#[test]
fn v3_index_lists_group_versions_whose_documents_resolve() {
    let api = OpenApi::build(&sample(), None);
    let index = parse(&api.v3_index());
    for key in [
        "api",
        "apis",
        "api/v1",
        "apis/apps",
        "apis/apps/v1",
        "apis/stable.example.com/v1",
    ] {
        let url = index["paths"][key]["serverRelativeURL"]
            .as_str()
            .unwrap_or_else(|| panic!("{key} missing"));
        let (body, hash) = api.v3_group_version(key).unwrap();
        assert_eq!(url, format!("/openapi/v3/{key}?hash={hash}"));
        assert_eq!(hash.len(), 128);
        assert!(hash.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        let doc = parse(&body);
        assert_eq!(doc["openapi"], "3.0.0");
        assert_refs_resolve(&doc, "/components/schemas");
    }
    assert!(api.v3_group_version("apis/batch/v1").is_none());
    // A rebuild over the same resources gives the same hashes.
    assert_eq!(OpenApi::build(&sample(), None).v3_index(), api.v3_index());
}

#[test]
fn kubectl_explain_finds_the_gvk_from_paths_and_schemas() {
    let api = OpenApi::build(&sample(), None);
    let apps = v3_doc(&api, "apis/apps/v1");
    let gvk = json!({"group": "apps", "kind": "Deployment", "version": "v1"});
    let list = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["get"];
    assert_eq!(list["x-kubernetes-group-version-kind"], gvk);
    assert_eq!(list["operationId"], "listAppsV1NamespacedDeployment");
    assert_eq!(list["x-kubernetes-action"], "list");
    let matching: Vec<_> = apps["components"]["schemas"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, s)| {
            s["x-kubernetes-group-version-kind"]
                .as_array()
                .is_some_and(|l| l.contains(&gvk))
        })
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(matching, ["io.k8s.api.apps.v1.Deployment"]);

    let core = v3_doc(&api, "api/v1");
    let namespace = &core["paths"]["/api/v1/namespaces/{name}"]["get"];
    assert_eq!(namespace["operationId"], "readCoreV1Namespace");
    assert_eq!(
        core["paths"]["/api/v1/pods"]["get"]["operationId"],
        "listCoreV1PodForAllNamespaces"
    );
    let eviction = &core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]["post"];
    assert_eq!(
        eviction["x-kubernetes-group-version-kind"],
        json!({"group": "policy", "kind": "Eviction", "version": "v1"})
    );
    assert!(core["paths"]
        .get("/api/v1/namespaces/{namespace}/pods/{name}/log")
        .is_none());
}

#[test]
fn patch_operations_advertise_field_validation_for_kubectl() {
    let api = OpenApi::build(&sample(), None);
    let param_names = |op: &Value| -> Vec<String> {
        op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let apps = v3_doc(&api, "apis/apps/v1");
    let patch = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        json!({"group": "apps", "kind": "Deployment", "version": "v1"})
    );
    assert!(param_names(patch).contains(&"fieldValidation".to_string()));
    assert!(patch["requestBody"]["content"]["application/strategic-merge-patch+json"].is_object());
    assert_eq!(
        apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["get"]["operationId"],
        "readAppsV1NamespacedDeploymentScale"
    );

    let v2 = parse(&api.v2());
    let patch = &v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert!(param_names(patch).contains(&"fieldValidation".to_string()));
    assert_eq!(patch["parameters"][0]["in"], "body");
    assert_eq!(
        v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["delete"]["operationId"],
        "deleteAppsV1CollectionNamespacedDeployment"
    );
}

#[test]
fn field_meta_hook_adds_patch_extensions() {
    let api = OpenApi::build(&sample(), Some(patch_meta));
    let expected = json!({
        "x-kubernetes-list-map-keys": ["name"],
        "x-kubernetes-list-type": "map",
        "x-kubernetes-patch-merge-key": "name",
        "x-kubernetes-patch-strategy": "merge",
    });
    let v2 = parse(&api.v2());
    let v3 = v3_doc(&api, "api/v1");
    for containers in [
        &v2["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"],
        &v3["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"],
    ] {
        for (key, value) in expected.as_object().unwrap() {
            assert_eq!(&containers[key], value, "{key}");
        }
    }
    let finalizers = &v2["definitions"]["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["finalizers"];
    assert_eq!(finalizers["x-kubernetes-list-type"], "set");
    assert!(finalizers.get("x-kubernetes-patch-merge-key").is_none());
    assert!(finalizers.get("x-kubernetes-list-map-keys").is_none());
}

#[test]
fn int_or_string_and_quantity_match_upstream() {
    let api = OpenApi::build(&sample(), None);
    let v2 = parse(&api.v2());
    let defs = &v2["definitions"];
    let int_or_string = &defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
    assert_eq!(
        (&int_or_string["type"], &int_or_string["format"]),
        (&json!("string"), &json!("int-or-string"))
    );
    assert!(int_or_string.get("x-kubernetes-int-or-string").is_none());
    assert_eq!(defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"], "string");
    assert_eq!(defs["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]["format"], "date-time");
    assert_eq!(defs["io.k8s.apimachinery.pkg.apis.meta.v1.Status"]["type"], "object");

    let v3 = v3_doc(&api, "apis/apps/v1");
    let schemas = &v3["components"]["schemas"];
    let int_or_string = &schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
    assert_eq!(int_or_string["oneOf"], json!([{"type": "integer"}, {"type": "string"}]));
    assert_eq!(int_or_string["format"], "int-or-string");
    assert!(int_or_string.get("type").is_none());
    assert_eq!(
        schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]["oneOf"],
        json!([{"type": "string"}, {"type": "number"}])
    );
}

#[test]
fn kinds_without_a_builtin_schema_get_an_open_definition() {
    let api = OpenApi::build(&sample(), None);
    let doc = v3_doc(&api, "apis/stable.example.com/v1");
    let crontab = &doc["components"]["schemas"]["com.example.stable.v1.CronTab"];
    assert_eq!(
        crontab["x-kubernetes-group-version-kind"],
        json!([{"group": "stable.example.com", "kind": "CronTab", "version": "v1"}])
    );
    assert_eq!(crontab["x-kubernetes-preserve-unknown-fields"], true);
    let patch = &doc["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]["patch"];
    assert!(patch["requestBody"]["content"]
        .get("application/strategic-merge-patch+json")
        .is_none());
    assert!(doc["components"]["schemas"].get("io.k8s.api.core.v1.Pod").is_none());
}

#[test]
fn builds_many_kinds_quickly() {
    let mut resources = sample();
    macro_rules! add {
        ($group:expr, $kind:literal, $plural:literal, $ns:expr, $ty:ty) => {
            resources.push(resource(
                $group,
                "v1",
                $kind,
                $plural,
                $ns,
                Some(|g| g.subschema_for::<$ty>()),
            ));
        };
    }
    add!("", "Service", "services", true, core::v1::Service);
    add!("", "Secret", "secrets", true, core::v1::Secret);
    add!("", "Node", "nodes", false, core::v1::Node);
    add!(
        "",
        "PersistentVolume",
        "persistentvolumes",
        false,
        core::v1::PersistentVolume
    );
    add!(
        "",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        core::v1::PersistentVolumeClaim
    );
    add!("", "ServiceAccount", "serviceaccounts", true, core::v1::ServiceAccount);
    add!("", "Event", "events", true, core::v1::Event);
    add!("apps", "StatefulSet", "statefulsets", true, apps::v1::StatefulSet);
    add!("apps", "DaemonSet", "daemonsets", true, apps::v1::DaemonSet);
    add!("apps", "ReplicaSet", "replicasets", true, apps::v1::ReplicaSet);
    add!("batch", "Job", "jobs", true, k8s_openapi::api::batch::v1::Job);
    add!(
        "batch",
        "CronJob",
        "cronjobs",
        true,
        k8s_openapi::api::batch::v1::CronJob
    );
    add!("rbac.authorization.k8s.io", "Role", "roles", true, rbac::v1::Role);
    add!(
        "rbac.authorization.k8s.io",
        "ClusterRole",
        "clusterroles",
        false,
        rbac::v1::ClusterRole
    );
    add!(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition
    );
    let start = std::time::Instant::now();
    let api = OpenApi::build(&resources, Some(patch_meta));
    let elapsed = start.elapsed();
    eprintln!(
        "built {} kinds in {elapsed:?}; v2 is {} bytes",
        resources.len(),
        api.v2().len()
    );
    let rbac = v3_doc(&api, "apis/rbac.authorization.k8s.io/v1");
    assert_eq!(
        rbac["paths"]["/apis/rbac.authorization.k8s.io/v1/clusterroles"]["get"]["operationId"],
        "listRbacAuthorizationV1ClusterRole"
    );
    assert_eq!(
        rbac["paths"]["/apis/rbac.authorization.k8s.io/v1/clusterroles"]["get"]["tags"],
        json!(["rbacAuthorization_v1"])
    );
    // JSONSchemaProps has a property literally named `$ref`; it must survive the v3 rewrite.
    let crd = v3_doc(&api, "apis/apiextensions.k8s.io/v1");
    let props = &crd["components"]["schemas"]
        ["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"]["properties"];
    assert_eq!(props["$ref"]["type"], "string");
}
