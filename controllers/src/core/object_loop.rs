//! The shared shape of a controller that reconciles every object of one kind on its own: a
//! kube-runtime `Controller`, per-object error backoff, and outcomes drained into the logs.

use crate::core::backoff::ErrorBackoff;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

struct Context<F> {
    client: Client,
    backoff: ErrorBackoff,
    sync: F,
}

/// Run `sync(object, client)` for every `K` whenever it changes, until the watch ends; failures
/// are retried with per-object exponential backoff.
pub async fn run<K, F, Fut, E>(name: &'static str, client: Client, sync: F)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    F: Fn(Arc<K>, Client) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    let context = Arc::new(Context {
        client: client.clone(),
        backoff: ErrorBackoff::default(),
        sync,
    });
    let outcomes = Controller::new(Api::<K>::all(client), watcher::Config::default()).run(
        |object: Arc<K>, ctx: Arc<Context<F>>| async move {
            let key = object.name_any();
            let result = (ctx.sync)(object, ctx.client.clone()).await;
            ctx.backoff.track(&key, result)
        },
        |object, _, ctx| ctx.backoff.requeue(&object.name_any()),
        context,
    );
    crate::core::outcomes::drain(name, outcomes).await;
}
