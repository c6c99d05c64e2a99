//! One watch per resource kind, shared by every loop that needs it (client-go's shared informers).
//!
//! Each kind gets a kube-runtime reflector store to read from, an owner index, and a change stream
//! per subscriber. Unlike kube-runtime's own shared streams, the change streams also carry
//! deletions (as the object's last state), so an owner hears of its dependents going away.
//! Subscribe every loop before [`Informers::run`]; the streams then see every object once at
//! start and every change after.

use super::credentials::{self, Credentials, Identity};
use super::owners::OwnerIndex;
use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::{FutureExt, SinkExt, Stream, StreamExt};
use k8s_openapi::serde::de::DeserializeOwned;
use k8s_openapi::serde::Serialize;
use kube::api::Api;
use kube::runtime::reflector::{store::Writer, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Client, Resource};
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

/// How many changes a subscriber may fall behind before the shared watch waits for it.
const BUFFER: usize = 4096;

/// What a shared kind needs to be: a typed built-in or custom resource.
pub trait Kind:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + Sync + 'static
{
}
impl<K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + Debug + Send + Sync + 'static> Kind for K {}

/// The shared watches of one control plane's loops.
pub struct Informers {
    client: Client,
    credentials: Credentials,
    kinds: Mutex<HashMap<TypeId, Box<dyn Any + Send>>>,
    drivers: Mutex<Vec<BoxFuture<'static, ()>>>,
}

/// The shared view of one kind: its store, its owner index and its subscribers.
pub struct Informer<K: Kind> {
    store: Store<K>,
    owners: Arc<OwnerIndex<K>>,
    subscribers: Arc<Mutex<Vec<mpsc::Sender<Arc<K>>>>>,
}

impl<K: Kind> Clone for Informer<K> {
    fn clone(&self) -> Self {
        Informer {
            store: self.store.clone(),
            owners: self.owners.clone(),
            subscribers: self.subscribers.clone(),
        }
    }
}

impl<K: Kind> Informer<K> {
    /// The objects as the shared watch last saw them.
    pub fn store(&self) -> &Store<K> {
        &self.store
    }

    /// One object by namespace and name.
    pub fn get(&self, namespace: Option<&str>, name: &str) -> Option<Arc<K>> {
        let mut key = ObjectRef::<K>::new(name);
        if let Some(ns) = namespace {
            key = key.within(ns);
        }
        self.store.get(&key)
    }

    /// The objects whose ownerReferences name the owner with `uid` (controller or not).
    pub fn owned_by(&self, uid: &str) -> Vec<Arc<K>> {
        self.owners.dependents(uid, &self.store)
    }

    /// The objects in `namespace` that no controller owns (candidates for adoption).
    pub fn orphans_in(&self, namespace: &str) -> Vec<Arc<K>> {
        self.owners.orphans_in(namespace, &self.store)
    }

    /// A stream of every change from now on: objects created or updated, and deleted objects in
    /// their last state (absent from [`Self::store`] by the time they arrive).
    pub fn subscribe(&self) -> impl Stream<Item = Arc<K>> + Send + 'static {
        let (tx, rx) = mpsc::channel(BUFFER);
        self.subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(tx);
        rx
    }

    /// Send `object` to every subscriber, waiting for those whose buffer is full.
    async fn broadcast(&self, object: Arc<K>) {
        let senders = self
            .subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let mut closed = false;
        for mut sender in senders {
            closed |= sender.send(object.clone()).await.is_err();
        }
        if closed {
            self.subscribers
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .retain(|s| !s.is_closed());
        }
    }
}

impl Informers {
    /// Shared watches over `client`, which every loop also writes with; nothing is watched until a
    /// loop asks for a kind.
    pub fn new(client: Client) -> Self {
        Informers::with_credentials(credentials::single(client))
    }

    /// Shared watches as the controller-manager, each loop writing as the identity it asks for.
    pub fn with_credentials(credentials: Credentials) -> Self {
        Informers {
            client: credentials(Identity::ControllerManager),
            credentials,
            kinds: Mutex::new(HashMap::new()),
            drivers: Mutex::new(Vec::new()),
        }
    }

    /// The client the watches use.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The client a loop writes with, authenticated as `identity`.
    pub fn client_as(&self, identity: Identity) -> Client {
        (self.credentials)(identity)
    }

    /// The shared informer of `K` (cluster-wide), created on first use.
    pub fn get<K: Kind>(&self) -> Informer<K> {
        let mut kinds = self.kinds.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(existing) = kinds.get(&TypeId::of::<K>()) {
            if let Some(informer) = existing.downcast_ref::<Informer<K>>() {
                return informer.clone();
            }
        }
        let writer = Writer::<K>::default();
        let informer = Informer {
            store: writer.as_reader(),
            owners: Arc::new(OwnerIndex::default()),
            subscribers: Arc::new(Mutex::new(Vec::new())),
        };
        kinds.insert(TypeId::of::<K>(), Box::new(informer.clone()));
        let api = Api::<K>::all(self.client.clone());
        self.drivers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(drive(api, writer, informer.clone()).boxed());
        informer
    }

    /// Run every shared watch asked for so far, until the client's server goes away.
    pub async fn run(&self) {
        let drivers = std::mem::take(&mut *self.drivers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        futures::future::join_all(drivers).await;
    }
}

/// Follow the watch of one kind: keep the store and the owner index, tell the subscribers.
async fn drive<K: Kind>(api: Api<K>, mut writer: Writer<K>, informer: Informer<K>) {
    let mut events = watcher(api).boxed();
    let mut before_relist: HashMap<ObjectRef<K>, Arc<K>> = HashMap::new();
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                tracing::debug!(kind = %K::kind(&()), %error, "shared watch failed; retrying");
                continue;
            }
        };
        if let Event::Init = event {
            before_relist = informer
                .store
                .state()
                .into_iter()
                .map(|o| (ObjectRef::from_obj(o.as_ref()), o))
                .collect();
        }
        let deleted = match &event {
            Event::Delete(object) => Some(Arc::new(object.clone())),
            _ => None,
        };
        writer.apply_watcher_event(&event);
        match event {
            Event::Apply(object) => {
                let key = ObjectRef::from_obj(&object);
                if let Some(current) = informer.store.get(&key) {
                    informer.owners.observe(key, Some(&current));
                    informer.broadcast(current).await;
                }
            }
            Event::Delete(object) => {
                informer.owners.observe(ObjectRef::from_obj(&object), None);
                if let Some(last) = deleted {
                    informer.broadcast(last).await;
                }
            }
            Event::InitDone => {
                let now = informer.store.state();
                for object in &now {
                    let key = ObjectRef::from_obj(object.as_ref());
                    before_relist.remove(&key);
                    informer.owners.observe(key, Some(object));
                }
                let gone = std::mem::take(&mut before_relist);
                for key in gone.keys() {
                    informer.owners.observe(key.clone(), None);
                }
                for object in now.into_iter().chain(gone.into_values()) {
                    informer.broadcast(object).await;
                }
            }
            Event::Init | Event::InitApply(_) => {}
        }
    }
}

/// A watch of every `K` with client-go's backoff between failed attempts.
fn watcher<K: Kind>(api: Api<K>) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send {
    watcher::watcher(api, watcher::Config::default()).default_backoff()
}
