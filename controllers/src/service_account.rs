//! The service-account controller: every active Namespace has a ServiceAccount named `default`,
//! recreated if it is deleted.

use crate::api_errors;
use crate::backoff::ErrorBackoff;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use std::sync::Arc;

/// The service account every namespace gets.
const DEFAULT: &str = "default";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("ensuring serviceaccount {namespace}/default: {source}")]
    Api {
        namespace: String,
        #[source]
        source: kube::Error,
    },
}

struct Context {
    client: Client,
    backoff: ErrorBackoff,
}

/// Run the service-account controller until its watch streams end.
pub async fn run(client: Client) {
    let context = Arc::new(Context {
        client: client.clone(),
        backoff: ErrorBackoff::default(),
    });
    let defaults = watcher::Config::default().fields(&format!("metadata.name={DEFAULT}"));
    let outcomes = Controller::new(Api::<Namespace>::all(client.clone()), watcher::Config::default())
        .watches(Api::<ServiceAccount>::all(client), defaults, |sa| {
            sa.namespace()
                .filter(|_| sa.name_any() == DEFAULT)
                .map(|ns| ObjectRef::new(&ns))
        })
        .run(reconcile, |ns, _, ctx| ctx.backoff.requeue(&ns.name_any()), context);
    crate::outcomes::drain("serviceaccount", outcomes).await;
}

async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = ns.name_any();
    let result = if crate::active::is_active(&ns) {
        ensure(&ctx.client, &name).await
    } else {
        Ok(())
    };
    let result = result.map_err(|source| Error::Api {
        namespace: name.clone(),
        source,
    });
    ctx.backoff.track(&name, result.map(|()| Action::await_change()))
}

/// Create `default` in `namespace` unless it exists (or the namespace is gone or going).
async fn ensure(client: &Client, namespace: &str) -> Result<(), kube::Error> {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    if api.get_opt(DEFAULT).await?.is_some() {
        return Ok(());
    }
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &sa).await {
        Ok(_) => Ok(()),
        Err(e)
            if api_errors::is_already_exists(&e)
                || api_errors::is_not_found(&e)
                || api_errors::is_namespace_terminating(&e) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}
