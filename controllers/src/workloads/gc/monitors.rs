//! What the garbage collector watches (upstream's GraphBuilder monitors): every resource that
//! discovery says supports list, watch and delete, built-in or custom, each through a
//! metadata-only watch that feeds the graph. Discovery runs again every 30 seconds and whenever a
//! CustomResourceDefinition changes, so custom resources are followed as their CRDs come and go.
//! It also maps owner references' apiVersion/kind to resources for the collector's requests.

use super::graph::{Change, Identity};
use futures::channel::{mpsc, oneshot};
use futures::{Stream, StreamExt};
use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::PartialObjectMeta;
use kube::discovery::{verbs, Discovery, Scope};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Client, ResourceExt};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::task::{AbortHandle, JoinSet};

/// How often discovery runs again (upstream's garbage collector resync period).
const RESYNC: Duration = Duration::from_secs(30);
/// How long the collector waits for the first lists before it starts collecting anyway.
const INITIAL_SYNC_TIMEOUT: Duration = Duration::from_secs(60);

/// A resource and whether it is namespaced.
#[derive(Clone, Debug)]
pub struct Resource {
    pub api: ApiResource,
    pub namespaced: bool,
}

impl Resource {
    /// The dynamic API for objects of this resource in `namespace` (ignored when cluster-scoped).
    pub fn api(&self, client: &Client, namespace: &str) -> Api<DynamicObject> {
        if self.namespaced {
            Api::namespaced_with(client.clone(), namespace, &self.api)
        } else {
            Api::all_with(client.clone(), &self.api)
        }
    }
}

/// apiVersion/kind → resource, for every served version.
#[derive(Default)]
pub struct Resources {
    by_version_kind: RwLock<HashMap<(String, String), Resource>>,
}

impl Resources {
    /// The resource an owner reference's apiVersion and kind name; another served version of
    /// the same group and kind when that version is not served.
    pub fn resolve(&self, api_version: &str, kind: &str) -> Option<Resource> {
        let map = self
            .by_version_kind
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(found) = map.get(&(api_version.to_string(), kind.to_string())) {
            return Some(found.clone());
        }
        let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
        map.values()
            .find(|r| r.api.group == group && r.api.kind == kind)
            .cloned()
    }

    fn replace(&self, map: HashMap<(String, String), Resource>) {
        *self
            .by_version_kind
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = map;
    }
}

/// Events are never owners nor owned in a way worth collecting (upstream's ignored resources).
fn ignored(resource: &ApiResource) -> bool {
    resource.plural == "events" && (resource.group.is_empty() || resource.group == "events.k8s.io")
}

/// Run discovery and the watches until the client's server goes away. `crd_changes` wakes a
/// new discovery; `synced` is told once the first round of watches has listed everything.
pub async fn run(
    client: Client,
    resources: Arc<Resources>,
    changes: mpsc::UnboundedSender<Change>,
    crd_changes: impl Stream<Item = ()> + Send + 'static,
    synced: oneshot::Sender<()>,
) {
    let mut crd_changes = Box::pin(crd_changes);
    let mut watches: HashMap<(String, String), AbortHandle> = HashMap::new();
    let mut tasks = JoinSet::new();
    let mut synced = Some(synced);
    loop {
        match discover(&client).await {
            Ok(found) => {
                let mut map = HashMap::new();
                let mut watchable = HashMap::new();
                for (resource, watch) in found {
                    let key = (resource.api.api_version.clone(), resource.api.kind.clone());
                    if watch {
                        watchable.insert(
                            (resource.api.group.clone(), resource.api.plural.clone()),
                            resource.clone(),
                        );
                    }
                    map.insert(key, resource);
                }
                resources.replace(map);
                watches.retain(|key, handle| {
                    let keep = watchable.contains_key(key);
                    if !keep {
                        handle.abort();
                    }
                    keep
                });
                let mut first_lists = Vec::new();
                for (key, resource) in watchable {
                    if watches.contains_key(&key) {
                        continue;
                    }
                    let (listed, done) = oneshot::channel();
                    first_lists.push(done);
                    let handle = tasks.spawn(watch(client.clone(), resource, changes.clone(), listed));
                    watches.insert(key, handle);
                }
                if let Some(tell) = synced.take() {
                    tasks.spawn(async move {
                        let all = futures::future::join_all(first_lists);
                        let _ = tokio::time::timeout(INITIAL_SYNC_TIMEOUT, all).await;
                        let _ = tell.send(());
                    });
                }
            }
            Err(error) => tracing::debug!(%error, "garbage collector discovery failed; retrying"),
        }
        // Reap finished tasks so the set does not grow.
        while tasks.try_join_next().is_some() {}
        tokio::select! {
            _ = tokio::time::sleep(RESYNC) => {}
            next = crd_changes.next() => {
                if next.is_none() {
                    tokio::time::sleep(RESYNC).await;
                } else {
                    // A CRD changing usually comes in a burst (created, then established).
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    while futures::FutureExt::now_or_never(crd_changes.next()).flatten().is_some() {}
                }
            }
        }
    }
}

/// Every served resource (all versions, for resolving references) and whether to watch it (its
/// most stable version, when it supports list, watch and delete).
async fn discover(client: &Client) -> Result<Vec<(Resource, bool)>, kube::Error> {
    let discovery = match Discovery::new(client.clone()).run_aggregated().await {
        Ok(d) => d,
        Err(_) => Discovery::new(client.clone()).run().await?,
    };
    let mut out = Vec::new();
    for group in discovery.groups() {
        let stable: HashSet<(String, String)> = group
            .resources_by_stability()
            .into_iter()
            .map(|(ar, _)| (ar.api_version, ar.plural))
            .collect();
        for version in group.versions() {
            for (ar, caps) in group.versioned_resources(version) {
                let namespaced = matches!(caps.scope, Scope::Namespaced);
                let watch = stable.contains(&(ar.api_version.clone(), ar.plural.clone()))
                    && [verbs::LIST, verbs::WATCH, verbs::DELETE]
                        .iter()
                        .all(|v| caps.supports_operation(v))
                    && !ignored(&ar);
                out.push((Resource { api: ar, namespaced }, watch));
            }
        }
    }
    Ok(out)
}

fn change(resource: &Resource, object: &PartialObjectMeta<DynamicObject>, deleted: bool) -> Change {
    Change {
        identity: Identity {
            api_version: resource.api.api_version.clone(),
            kind: resource.api.kind.clone(),
            namespace: object.namespace().unwrap_or_default(),
            name: object.name_any(),
            uid: object.uid().unwrap_or_default(),
        },
        owners: object.metadata.owner_references.clone().unwrap_or_default(),
        deleting: object.metadata.deletion_timestamp.is_some(),
        finalizers: object.metadata.finalizers.clone().unwrap_or_default(),
        deleted,
        virtual_: false,
    }
}

/// Follow one resource's objects (metadata only) into the graph. Objects missing after a relist
/// are reported deleted.
async fn watch(
    client: Client,
    resource: Resource,
    changes: mpsc::UnboundedSender<Change>,
    listed: oneshot::Sender<()>,
) {
    let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client, &resource.api);
    let mut events = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut known: HashMap<String, Identity> = HashMap::new();
    let mut relisted: Option<HashSet<String>> = None;
    let mut listed = Some(listed);
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                tracing::debug!(resource = %resource.api.plural, %error, "garbage collector watch failed; retrying");
                continue;
            }
        };
        match event {
            Event::Init => relisted = Some(HashSet::new()),
            Event::InitApply(object) | Event::Apply(object) => {
                let c = change(&resource, &object, false);
                if let Some(seen) = relisted.as_mut() {
                    seen.insert(c.identity.uid.clone());
                }
                known.insert(c.identity.uid.clone(), c.identity.clone());
                let _ = changes.unbounded_send(c);
            }
            Event::Delete(object) => {
                let c = change(&resource, &object, true);
                known.remove(&c.identity.uid);
                let _ = changes.unbounded_send(c);
            }
            Event::InitDone => {
                if let Some(seen) = relisted.take() {
                    let gone: Vec<String> = known.keys().filter(|uid| !seen.contains(*uid)).cloned().collect();
                    for uid in gone {
                        if let Some(identity) = known.remove(&uid) {
                            let _ = changes.unbounded_send(Change {
                                identity,
                                owners: Vec::new(),
                                deleting: false,
                                finalizers: Vec::new(),
                                deleted: true,
                                virtual_: false,
                            });
                        }
                    }
                }
                if let Some(tell) = listed.take() {
                    let _ = tell.send(());
                }
            }
        }
    }
}
