//! Server-side apply through kube::Client against the in-process apiserver: create, update, no-op,
//! conflicts between managers, force, field removal, and managedFields bookkeeping.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{json, Value};
use skiff_apiserver::ApiServer;

fn configmap(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": data})
}

fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]}
            }
        }
    })
}

fn api_error(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Server-side apply `body` to the object `name` of `api` with `params`.
async fn apply<K>(api: &Api<K>, name: &str, params: &PatchParams, body: Value) -> kube::Result<K>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(name, params, &Patch::Apply(body)).await
}

/// (manager, operation) of each managedFields entry.
fn managers<K: kube::Resource>(obj: &K) -> Vec<(String, String)> {
    obj.meta()
        .managed_fields
        .iter()
        .flatten()
        .map(|e| {
            (
                e.manager.clone().unwrap_or_default(),
                e.operation.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn configmap_apply_create_update_noop_conflict_force_and_removal() {
    let server = ApiServer::in_memory().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");

    let created = apply(
        &api,
        "cfg",
        &PatchParams::apply("mgr"),
        configmap(json!({"a": "1", "b": "2"})),
    )
    .await
    .unwrap();
    assert_eq!(created.data.as_ref().unwrap().len(), 2);
    assert!(created.metadata.uid.is_some());
    assert_eq!(managers(&created), vec![("mgr".to_string(), "Apply".to_string())]);
    let entry = &created.metadata.managed_fields.as_ref().unwrap()[0];
    assert_eq!(
        entry.fields_v1.as_ref().unwrap().0,
        json!({"f:data": {"f:a": {}, "f:b": {}}})
    );

    // Re-applying the same configuration writes nothing.
    let again = apply(
        &api,
        "cfg",
        &PatchParams::apply("mgr"),
        configmap(json!({"a": "1", "b": "2"})),
    )
    .await
    .unwrap();
    assert_eq!(again.metadata.resource_version, created.metadata.resource_version);

    // Update one value, drop another: the dropped field goes away.
    let updated = apply(&api, "cfg", &PatchParams::apply("mgr"), configmap(json!({"a": "3"})))
        .await
        .unwrap();
    assert_eq!(updated.data.unwrap(), [("a".to_string(), "3".to_string())].into());

    // A second manager changing the field conflicts.
    let err = api_error(
        apply(&api, "cfg", &PatchParams::apply("other"), configmap(json!({"a": "4"})))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 409);
    assert_eq!(err.reason, "Conflict");
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"mgr\": .data.a"
    );

    // Forcing takes the field over.
    let forced = apply(
        &api,
        "cfg",
        &PatchParams::apply("other").force(),
        configmap(json!({"a": "4"})),
    )
    .await
    .unwrap();
    assert_eq!(forced.data.as_ref().unwrap()["a"], "4");
    assert_eq!(managers(&forced), vec![("other".to_string(), "Apply".to_string())]);

    // Applying without a field manager is refused as upstream refuses it.
    let err = api_error(
        apply(&api, "cfg", &PatchParams::default(), configmap(json!({"a": "5"})))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422);
    assert_eq!(
        err.message,
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
}

#[tokio::test]
async fn deployment_apply_merges_by_schema_and_reports_conflicts() {
    let server = ApiServer::in_memory().await.unwrap();
    let api: Api<Deployment> = Api::namespaced(server.client(), "default");
    let created = apply(&api, "web", &PatchParams::apply("mgr"), deployment(2, "nginx:1"))
        .await
        .unwrap();
    assert_eq!(created.spec.as_ref().unwrap().replicas, Some(2));

    // A second manager adds a sidecar container: containers merge by name.
    let sidecar = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}
    });
    let merged = apply(&api, "web", &PatchParams::apply("sidecar"), sidecar)
        .await
        .unwrap();
    let containers = &merged.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers;
    let names: Vec<_> = containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["web", "side"]);

    let err = api_error(
        apply(&api, "web", &PatchParams::apply("other"), deployment(3, "nginx:2"))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 409);
    assert_eq!(
        err.message,
        "Apply failed with 2 conflicts: conflicts with \"mgr\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"].image"
    );

    let forced = apply(
        &api,
        "web",
        &PatchParams::apply("other").force(),
        deployment(3, "nginx:2"),
    )
    .await
    .unwrap();
    assert_eq!(forced.spec.as_ref().unwrap().replicas, Some(3));

    // "mgr" no longer owns replicas or the image; dropping replicas from its config keeps "other"'s value.
    let mut without_replicas = deployment(3, "nginx:2");
    without_replicas["spec"].as_object_mut().unwrap().remove("replicas");
    let after = apply(&api, "web", &PatchParams::apply("mgr"), without_replicas)
        .await
        .unwrap();
    assert_eq!(after.spec.as_ref().unwrap().replicas, Some(3));

    // The sidecar manager dropping its container removes it.
    let empty = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
    let pruned = apply(&api, "web", &PatchParams::apply("sidecar"), empty).await.unwrap();
    let containers = &pruned.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers;
    assert_eq!(containers.len(), 1);
    assert!(managers(&pruned).iter().all(|(m, _)| m != "sidecar"));
}

#[tokio::test]
async fn dry_run_apply_persists_nothing_and_status_applies_through_the_subresource() {
    let server = ApiServer::in_memory().await.unwrap();
    let api: Api<Deployment> = Api::namespaced(server.client(), "default");
    let mut dry = PatchParams::apply("mgr");
    dry.dry_run = true;
    let shown = apply(&api, "web", &dry, deployment(1, "nginx")).await.unwrap();
    assert_eq!(shown.spec.unwrap().replicas, Some(1));
    assert!(api.get_opt("web").await.unwrap().is_none());

    apply(&api, "web", &PatchParams::apply("mgr"), deployment(1, "nginx"))
        .await
        .unwrap();
    let status =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "status": {"observedGeneration": 1, "replicas": 1}});
    let patched = api
        .patch_status("web", &PatchParams::apply("controller"), &Patch::Apply(status))
        .await
        .unwrap();
    assert_eq!(patched.status.unwrap().replicas, Some(1));
    assert_eq!(patched.spec.unwrap().replicas, Some(1));
}

/// A custom resource of the test's own, as a kube-rs operator would define it.
#[derive(kube::CustomResource, serde::Serialize, serde::Deserialize, Clone, Debug, schemars::JsonSchema)]
#[kube(
    group = "example.com",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
struct WidgetSpec {
    size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    color: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, schemars::JsonSchema)]
struct WidgetStatus {
    ready: bool,
}

#[tokio::test]
async fn custom_resource_apply_and_status_apply() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::runtime::wait::{await_condition, conditions};
    use kube::CustomResourceExt;
    let server = skiff_apiserver::ApiServer::in_memory().await.unwrap();
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&Default::default(), &Widget::crd()).await.unwrap();
    await_condition(crds, "widgets.example.com", conditions::is_crd_established())
        .await
        .unwrap();

    let widgets: Api<Widget> = Api::namespaced(client, "default");
    let params = PatchParams::apply("widget-operator");
    let applied = apply(
        &widgets,
        "w",
        &params,
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"size": 1, "color": "red"}}),
    )
    .await
    .unwrap();
    assert_eq!((applied.spec.size, applied.spec.color.as_deref()), (1, Some("red")));
    assert_eq!(
        managers(&applied),
        vec![("widget-operator".to_string(), "Apply".to_string())]
    );
    let updated = apply(
        &widgets,
        "w",
        &params,
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"size": 2}}),
    )
    .await
    .unwrap();
    assert_eq!(
        (updated.spec.size, updated.spec.color.as_deref()),
        (2, None),
        "a field dropped from the configuration is removed"
    );
    assert_eq!(
        managers(&updated),
        vec![("widget-operator".to_string(), "Apply".to_string())]
    );

    let status = widgets
        .patch_status(
            "w",
            &params,
            &Patch::Apply(json!({"apiVersion": "example.com/v1", "kind": "Widget", "status": {"ready": true}})),
        )
        .await
        .unwrap();
    assert!(status.status.unwrap().ready);
    assert_eq!(status.spec.size, 2, "a status apply leaves the spec alone");
}

/// A Gateway-API-like CRD: `rules` is a map list by name whose `backendRefs` are a map list by
/// (name, port); `hostnames` a set; `args` atomic.
fn route_crd() -> Value {
    let backend_refs = json!({"type": "array", "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name", "port"],
        "items": {"type": "object", "required": ["name", "port"], "properties": {
            "name": {"type": "string"}, "port": {"type": "integer"}, "weight": {"type": "integer"}}}});
    let rules = json!({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
        "items": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "backendRefs": backend_refs}}});
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "routes.example.com"},
        "spec": {
            "group": "example.com", "scope": "Namespaced",
            "names": {"plural": "routes", "singular": "route", "kind": "Route", "listKind": "RouteList"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object", "properties": {"spec": {"type": "object", "properties": {
                    "hostnames": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                    "args": {"type": "array", "items": {"type": "string"}},
                    "rules": rules}}}}}}]
        }
    })
}

fn route(spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Route", "metadata": {"name": "r"}, "spec": spec})
}

#[tokio::test]
async fn custom_resource_lists_merge_by_their_crd_list_types() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
    use kube::runtime::wait::{await_condition, conditions};
    let server = ApiServer::in_memory().await.unwrap();
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&Default::default(), &serde_json::from_value(route_crd()).unwrap())
        .await
        .unwrap();
    await_condition(crds, "routes.example.com", conditions::is_crd_established())
        .await
        .unwrap();
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("example.com", "v1", "Route"));
    let routes: Api<DynamicObject> = Api::namespaced_with(client, "default", &resource);
    let as_a = PatchParams::apply("team-a");
    let as_b = PatchParams::apply("team-b");

    apply(
        &routes,
        "r",
        &as_a,
        route(json!({
            "hostnames": ["a.example.com"], "args": ["--a"],
            "rules": [{"name": "web", "backendRefs": [{"name": "svc-a", "port": 80, "weight": 1}]}]
        })),
    )
    .await
    .unwrap();
    let both = apply(
        &routes,
        "r",
        &as_b,
        route(json!({
            "hostnames": ["b.example.com"],
            "rules": [
                {"name": "web", "backendRefs": [{"name": "svc-b", "port": 8080}]},
                {"name": "api"}
            ]
        })),
    )
    .await
    .unwrap();
    assert_eq!(
        both.data["spec"],
        json!({
            "hostnames": ["a.example.com", "b.example.com"], "args": ["--a"],
            "rules": [
                {"name": "web", "backendRefs": [{"name": "svc-a", "port": 80, "weight": 1}, {"name": "svc-b", "port": 8080}]},
                {"name": "api"}
            ]
        }),
        "both managers keep their items of the set and of the nested map lists"
    );
    let fields = |manager: &str| {
        both.metadata
            .managed_fields
            .iter()
            .flatten()
            .find(|e| e.manager.as_deref() == Some(manager))
            .and_then(|e| e.fields_v1.clone())
            .unwrap()
            .0
    };
    assert_eq!(
        fields("team-b")["f:spec"],
        json!({
            "f:hostnames": {"v:\"b.example.com\"": {}},
            "f:rules": {
                "k:{\"name\":\"api\"}": {".": {}, "f:name": {}},
                "k:{\"name\":\"web\"}": {".": {}, "f:name": {}, "f:backendRefs": {
                    "k:{\"name\":\"svc-b\",\"port\":8080}": {".": {}, "f:name": {}, "f:port": {}}
                }}
            }
        })
    );
    assert_eq!(fields("team-a")["f:spec"]["f:args"], json!({}));

    // An atomic list conflicts as a whole; so does a leaf of another manager's list-map item.
    let err = apply(
        &routes,
        "r",
        &as_b,
        route(json!({
            "args": ["--b"],
            "rules": [{"name": "web", "backendRefs": [{"name": "svc-a", "port": 80, "weight": 9}]}]
        })),
    )
    .await
    .unwrap_err();
    let status = api_error(err);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        status.message,
        "Apply failed with 2 conflicts: conflicts with \"team-a\":\n- .spec.args\n- .spec.rules[name=\"web\"].backendRefs[name=\"svc-a\",port=80].weight"
    );

    // Fields the schema does not declare are refused, as upstream's typed conversion refuses them.
    let status = api_error(
        apply(&routes, "r", &as_b, route(json!({"bogus": 1})))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (status.code, status.message.as_str()),
        (
            400,
            "failed to create typed patch object (/r; example.com/v1, Kind=Route): .spec.bogus: field not declared in schema"
        )
    );

    // team-a dropping its rule item leaves team-b's items in place.
    let dropped = apply(
        &routes,
        "r",
        &as_a,
        route(json!({"hostnames": ["a.example.com"], "args": ["--a"]})),
    )
    .await
    .unwrap();
    assert_eq!(
        dropped.data["spec"]["rules"],
        json!([{"name": "web", "backendRefs": [{"name": "svc-b", "port": 8080}]}, {"name": "api"}])
    );
}

#[tokio::test]
async fn update_entries_beyond_ten_merge_into_ancient_changes() {
    let server = ApiServer::in_memory().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let mut created: ConfigMap = serde_json::from_value(configmap(json!({"k00": "v"}))).unwrap();
    created.metadata.managed_fields = None;
    api.create(
        &kube::api::PostParams {
            field_manager: Some("m00".into()),
            ..Default::default()
        },
        &created,
    )
    .await
    .unwrap();
    let mut last = None;
    for i in 1..12 {
        let params = PatchParams {
            field_manager: Some(format!("m{i:02}")),
            ..Default::default()
        };
        let patch = json!({"data": {format!("k{i:02}"): "v"}});
        last = Some(api.patch("cfg", &params, &Patch::Merge(patch)).await.unwrap());
    }
    let entries = last.unwrap().metadata.managed_fields.unwrap();
    assert_eq!(entries.len(), 10, "eleven managers beyond the cap: {entries:?}");
    let ancient: Vec<_> = entries
        .iter()
        .filter(|e| e.manager.as_deref() == Some("ancient-changes"))
        .collect();
    assert_eq!(ancient.len(), 1);
    assert_eq!(ancient[0].operation.as_deref(), Some("Update"));
    let mut owned: Vec<String> = entries
        .iter()
        .flat_map(|e| {
            let data = e.fields_v1.as_ref().unwrap().0["f:data"].clone();
            data.as_object()
                .unwrap()
                .keys()
                .filter(|k| k.as_str() != ".")
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    owned.sort();
    let expected: Vec<String> = (0..12).map(|i| format!("f:k{i:02}")).collect();
    assert_eq!(owned, expected, "merged entries keep every field they owned");
}

#[tokio::test]
async fn force_on_a_non_apply_patch_is_forbidden() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = server.client();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    apply(&api, "cfg", &PatchParams::apply("mgr"), configmap(json!({"a": "1"})))
        .await
        .unwrap();
    for force in ["true", "false"] {
        let request = http::Request::patch(format!("/api/v1/namespaces/default/configmaps/cfg?force={force}"))
            .header("Content-Type", "application/merge-patch+json")
            .body(br#"{"data":{"a":"2"}}"#.to_vec())
            .unwrap();
        let status = api_error(client.request::<ConfigMap>(request).await.unwrap_err());
        assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
        assert_eq!(
            status.message,
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"
        );
    }
    assert_eq!(
        api.get("cfg").await.unwrap().data.unwrap()["a"],
        "1",
        "nothing was patched"
    );
}
