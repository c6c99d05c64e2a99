//! The CRD cleanup controller: a CustomResourceDefinition being deleted first loses every one of
//! its custom resources, then its `customresourcecleanup.apiextensions.k8s.io` finalizer, after
//! which the apiserver removes it (upstream's CRD finalizer controller).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Client, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

const FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";
/// How soon to look again while custom resources are still going (they may have finalizers).
const RECHECK: Duration = Duration::from_secs(1);

/// Run the cleanup controller until its watch ends.
pub async fn run(client: Client) {
    crate::core::object_loop::run(
        "crd-cleanup",
        client,
        |crd: Arc<CustomResourceDefinition>, client| async move { cleanup(&crd, &client).await },
    )
    .await;
}

/// Delete the CRD's custom resources; drop the finalizer once none is left.
async fn cleanup(crd: &CustomResourceDefinition, client: &Client) -> Result<Action, kube::Error> {
    let pending = crd.metadata.deletion_timestamp.is_some() && crd.finalizers().iter().any(|f| f == FINALIZER);
    if !pending {
        return Ok(Action::await_change());
    }
    let Some(version) = crd
        .spec
        .versions
        .iter()
        .find(|v| v.served)
        .or(crd.spec.versions.first())
    else {
        return remove_finalizer(crd, client).await;
    };
    let gvk = GroupVersionKind::gvk(&crd.spec.group, &version.name, &crd.spec.names.kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, &crd.spec.names.plural);
    let all: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let left = all.list(&ListParams::default()).await?;
    if left.items.is_empty() {
        return remove_finalizer(crd, client).await;
    }
    for object in &left.items {
        if object.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let api: Api<DynamicObject> = match object.namespace() {
            Some(ns) => Api::namespaced_with(client.clone(), &ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        match api.delete(&object.name_any(), &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Action::requeue(RECHECK))
}

async fn remove_finalizer(crd: &CustomResourceDefinition, client: &Client) -> Result<Action, kube::Error> {
    let finalizers: Vec<String> = crd.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
    let patch = serde_json::json!({
        "metadata": {"finalizers": finalizers, "resourceVersion": crd.resource_version()}
    });
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    match api
        .patch(&crd.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Action::await_change()),
        Err(e) => Err(e),
    }
}
