//! The shared loop of the per-namespace publishers: every active Namespace holds one object of a
//! fixed name, put back whenever it is changed or deleted.

use crate::core::api_errors;
use crate::core::backoff::ErrorBackoff;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::serde::de::DeserializeOwned;
use k8s_openapi::serde::Serialize;
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

/// One publisher: which object it keeps in every active namespace, and how.
pub trait Publisher: Send + Sync + 'static {
    /// The kind of the published object.
    type Object: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static;
    /// The published object's name.
    const NAME: &'static str;
    /// The controller's name in logs.
    const CONTROLLER: &'static str;
    /// What a failure was doing, as in "publishing configmap".
    const ACTION: &'static str;

    /// Create or repair the object in `namespace`.
    fn ensure(&self, clients: &Clients, namespace: &str) -> impl Future<Output = Result<(), kube::Error>> + Send;
}

/// A publisher's clients: upstream's publishers read through the controller-manager's shared
/// informers and write as their own ServiceAccount, whose role grants only the writes.
#[derive(Clone)]
pub struct Clients {
    /// Watches and reads.
    pub read: Client,
    /// Creates and updates.
    pub write: Client,
}

/// A failed reconcile of one namespace.
#[derive(Debug, thiserror::Error)]
#[error("{action} {namespace}/{name}: {source}")]
pub struct Error {
    action: &'static str,
    namespace: String,
    name: &'static str,
    #[source]
    source: kube::Error,
}

struct Context<P> {
    clients: Clients,
    publisher: P,
    backoff: ErrorBackoff,
}

/// Run `publisher` until its watch streams end.
pub async fn run<P: Publisher>(clients: Clients, publisher: P) {
    let client = clients.read.clone();
    let context = Arc::new(Context {
        clients,
        publisher,
        backoff: ErrorBackoff::default(),
    });
    let published = watcher::Config::default().fields(&format!("metadata.name={}", P::NAME));
    let outcomes = Controller::new(Api::<Namespace>::all(client.clone()), watcher::Config::default())
        .watches(Api::<P::Object>::all(client), published, |obj| {
            obj.namespace()
                .filter(|_| obj.name_any() == P::NAME)
                .map(|ns| ObjectRef::new(&ns))
        })
        .run(
            reconcile::<P>,
            |ns, _, ctx| ctx.backoff.requeue(&ns.name_any()),
            context,
        );
    crate::core::outcomes::drain(P::CONTROLLER, outcomes).await;
}

async fn reconcile<P: Publisher>(ns: Arc<Namespace>, ctx: Arc<Context<P>>) -> Result<Action, Error> {
    let name = ns.name_any();
    let result = if crate::system::active::is_active(&ns) {
        ctx.publisher.ensure(&ctx.clients, &name).await
    } else {
        Ok(())
    };
    let result = result.map_err(|source| Error {
        action: P::ACTION,
        namespace: name.clone(),
        name: P::NAME,
        source,
    });
    ctx.backoff.track(&name, result.map(|()| Action::await_change()))
}

/// A new, otherwise empty object called `P::NAME`, for a publisher to fill in.
pub fn fresh<P: Publisher>() -> P::Object
where
    P::Object: Default,
{
    let mut obj = P::Object::default();
    obj.meta_mut().name = Some(P::NAME.to_string());
    obj
}

/// Create `obj` through `api`; a namespace that is gone or terminating needs nothing, so those
/// refusals count as success.
pub async fn create<K>(api: &Api<K>, obj: &K) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    match api.create(&PostParams::default(), obj).await {
        Ok(_) => Ok(()),
        Err(e) if api_errors::is_not_found(&e) || api_errors::is_namespace_terminating(&e) => Ok(()),
        Err(e) => Err(e),
    }
}
