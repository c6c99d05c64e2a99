//! The resource quota controller (upstream's pkg/controller/resourcequota): keeps every
//! ResourceQuota's status — `hard` from the spec and `used` recounted from the objects of its
//! namespace, with upstream's evaluators ([`skiff_machinery::quota`]): compute resources of pods
//! that have not finished, object counts (`pods`, `services`, `secrets`, `count/<resource>.<group>`,
//! ...), storage of claims, scopes and scopeSelector. Quota admission charges creates at once;
//! this loop recounts on every change of a quota and of the pods, Services and claims of its
//! namespace, and every resync period, which also returns what deletions freed.

use crate::core::backoff::ErrorBackoff;
use crate::core::credentials::Identity;
use crate::core::informers::{Informer, Informers};
use crate::core::status;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, ResourceQuota, Service};
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};
use serde_json::{json, Value};
use skiff_machinery::quantity::Quantity;
use skiff_machinery::quota::{covers, resource_list, usage, Usage};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How often every quota is recounted even when nothing it watches changed.
const RESYNC: Duration = Duration::from_secs(15);

struct Context {
    client: Client,
    pods: Informer<Pod>,
    services: Informer<Service>,
    claims: Informer<PersistentVolumeClaim>,
    backoff: ErrorBackoff,
}

/// Subscribe to quotas, pods, Services and claims now; the returned future runs the controller.
pub fn start(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    let quotas = informers.get::<ResourceQuota>();
    let quota_changes = quotas.subscribe();
    let ctx = Arc::new(Context {
        client: informers.client_as(Identity::Controller("resourcequota-controller")),
        pods: informers.get::<Pod>(),
        services: informers.get::<Service>(),
        claims: informers.get::<PersistentVolumeClaim>(),
        backoff: ErrorBackoff::default(),
    });
    let pod_changes = ctx.pods.subscribe();
    let service_changes = ctx.services.subscribe();
    let claim_changes = ctx.claims.subscribe();
    async move {
        for ready in [
            quotas.store().wait_until_ready().await,
            ctx.pods.store().wait_until_ready().await,
            ctx.services.store().wait_until_ready().await,
            ctx.claims.store().wait_until_ready().await,
        ] {
            if ready.is_err() {
                return;
            }
        }
        let (q1, q2, q3) = (quotas.clone(), quotas.clone(), quotas.clone());
        let outcomes = Controller::for_shared_stream(quota_changes, quotas.store().clone())
            .watches_shared_stream(pod_changes, move |pod: Arc<Pod>| in_namespace(&q1, pod.namespace()))
            .watches_shared_stream(service_changes, move |s: Arc<Service>| in_namespace(&q2, s.namespace()))
            .watches_shared_stream(claim_changes, move |c: Arc<PersistentVolumeClaim>| {
                in_namespace(&q3, c.namespace())
            })
            .run(
                |quota: Arc<ResourceQuota>, ctx: Arc<Context>| async move {
                    let key = quota.uid().unwrap_or_default();
                    let result = sync(&quota, &ctx).await.map(|()| Action::requeue(RESYNC));
                    ctx.backoff.track(&key, result)
                },
                |quota, _error, ctx| ctx.backoff.requeue(&quota.uid().unwrap_or_default()),
                ctx.clone(),
            );
        crate::core::outcomes::drain("resourcequota-controller", outcomes.boxed()).await;
    }
}

fn in_namespace(quotas: &Informer<ResourceQuota>, namespace: Option<String>) -> Vec<ObjectRef<ResourceQuota>> {
    quotas
        .store()
        .state()
        .iter()
        .filter(|q| q.namespace() == namespace)
        .map(|q| ObjectRef::from_obj(&**q))
        .collect()
}

/// Recount one quota and write its status when it changed.
async fn sync(quota: &ResourceQuota, ctx: &Context) -> Result<(), kube::Error> {
    let namespace = quota.namespace().unwrap_or_default();
    let spec = serde_json::to_value(quota.spec.clone().unwrap_or_default()).unwrap_or(Value::Null);
    let hard = resource_list(spec.get("hard"));
    let mut used: Usage = hard.keys().map(|k| (k.clone(), Quantity::ZERO)).collect();
    for (group, plural) in counted_resources(&hard) {
        for obj in objects(ctx, &namespace, &group, &plural).await? {
            if !covers(&spec, &plural, &obj) {
                continue;
            }
            for (name, amount) in usage(&group, &plural, &obj) {
                if let Some(total) = used.get_mut(&name) {
                    *total = total.checked_add(&amount).unwrap_or(*total);
                }
            }
        }
    }
    let as_json = |u: &Usage| -> Value { u.iter().map(|(k, v)| (k.clone(), Value::from(v.to_string()))).collect() };
    let status = json!({"hard": as_json(&hard), "used": as_json(&used)});
    let current = serde_json::to_value(&quota.status).unwrap_or(Value::Null);
    let same = |key: &str| {
        resource_list(current.get(key)) == resource_list(status.get(key))
            && current.get(key).and_then(Value::as_object).map(|m| m.len())
                == status.get(key).and_then(Value::as_object).map(|m| m.len())
    };
    if same("hard") && same("used") {
        return Ok(());
    }
    let api: Api<ResourceQuota> = Api::namespaced(ctx.client.clone(), &namespace);
    status::update_status(&api, quota, &json!({ "status": status })).await?;
    Ok(())
}

/// Which (group, plural) the hard resources count.
fn counted_resources(hard: &Usage) -> BTreeSet<(String, String)> {
    let core = |plural: &str| (String::new(), plural.to_string());
    hard.keys()
        .filter_map(|name| {
            if let Some(counted) = name.strip_prefix("count/") {
                return Some(match counted.split_once('.') {
                    Some((plural, group)) => (group.to_string(), plural.to_string()),
                    None => core(counted),
                });
            }
            Some(match name.as_str() {
                "pods" | "cpu" | "memory" | "ephemeral-storage" => core("pods"),
                n if n.starts_with("requests.") && n != "requests.storage" || n.starts_with("limits.") => core("pods"),
                n if n.starts_with("services") => core("services"),
                "persistentvolumeclaims" | "requests.storage" => core("persistentvolumeclaims"),
                n if n.contains(".storageclass.storage.k8s.io/") => core("persistentvolumeclaims"),
                "configmaps" | "secrets" | "replicationcontrollers" | "resourcequotas" => core(name),
                _ => return None,
            })
        })
        .collect()
}

/// The namespace's objects of a resource as JSON: from the shared informers for pods, Services
/// and claims, otherwise listed through discovery's preferred version.
async fn objects(ctx: &Context, namespace: &str, group: &str, plural: &str) -> Result<Vec<Value>, kube::Error> {
    fn cached<K: crate::core::informers::Kind + serde::Serialize>(
        informer: &Informer<K>,
        namespace: &str,
    ) -> Vec<Value> {
        informer
            .store()
            .state()
            .iter()
            .filter(|o| o.meta().namespace.as_deref() == Some(namespace))
            .filter_map(|o| serde_json::to_value(&**o).ok())
            .collect()
    }
    match (group, plural) {
        ("", "pods") => return Ok(cached(&ctx.pods, namespace)),
        ("", "services") => return Ok(cached(&ctx.services, namespace)),
        ("", "persistentvolumeclaims") => return Ok(cached(&ctx.claims, namespace)),
        _ => {}
    }
    let Some(resource) = discover(&ctx.client, group, plural).await? else {
        return Ok(Vec::new());
    };
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), namespace, &resource);
    let list = api.list(&ListParams::default()).await?;
    Ok(list.items.iter().filter_map(|o| serde_json::to_value(o).ok()).collect())
}

async fn discover(client: &Client, group: &str, plural: &str) -> Result<Option<ApiResource>, kube::Error> {
    let found = if group.is_empty() {
        kube::discovery::pinned_group(client, &kube::core::GroupVersion::gv("", "v1")).await
    } else {
        kube::discovery::group(client, group).await
    };
    let Ok(api_group) = found else {
        return Ok(None);
    };
    Ok(api_group
        .recommended_resources()
        .into_iter()
        .map(|(resource, _)| resource)
        .find(|r| r.plural == plural))
}
