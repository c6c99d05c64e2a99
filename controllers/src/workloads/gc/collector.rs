//! The collector's workers (upstream's GarbageCollector attemptToDelete and attemptToOrphan):
//! decide from live reads, never from the graph alone, whether an object's owners are gone, and
//! delete it, strip the dangling references, or finish a foreground or orphan deletion of an owner
//! by removing its finalizer.

use super::graph::{Change, Dependent, Graph, Identity, FOREGROUND, ORPHAN};
use super::monitors::Resources;
use super::queue::Queue;
use crate::core::api_errors;
use crate::workloads::events::{EventType, Recorder};
use futures::channel::mpsc;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::Client;
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Conflicting read-modify-write attempts before giving up until the next retry.
const CONFLICT_RETRIES: usize = 5;
/// Remembered absent owners (upstream keeps an LRU of 500; this is cleared when full).
const ABSENT_CAPACITY: usize = 10_000;

/// Why an attempt failed (the item is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("unable to find a resource for apiVersion {0} kind {1}")]
    UnknownKind(String, String),
    #[error("{0}")]
    Conflict(String),
}

/// How an attempt ended well.
#[derive(Debug, PartialEq)]
enum Done {
    Ok,
    /// The object is gone: a virtual deletion went to the graph.
    VirtualDelete,
    /// A cluster-scoped object names a namespaced owner; nothing sensible to do.
    NamespacedOwnerOfClusterScoped,
}

/// What a worker reads of one graph node.
struct Item {
    identity: Identity,
    observed: bool,
    being_deleted: bool,
    deleting_dependents: bool,
    dependents: Vec<Dependent>,
}

pub struct Collector {
    pub client: Client,
    pub resources: Arc<Resources>,
    pub graph: Mutex<Graph>,
    pub to_delete: Arc<Queue>,
    pub to_orphan: Arc<Queue>,
    pub changes: mpsc::UnboundedSender<Change>,
    pub recorder: Recorder,
    absent: Mutex<HashSet<Identity>>,
}

impl Collector {
    pub fn new(
        client: Client,
        resources: Arc<Resources>,
        changes: mpsc::UnboundedSender<Change>,
        recorder: Recorder,
    ) -> Self {
        Collector {
            client,
            resources,
            graph: Mutex::new(Graph::default()),
            to_delete: Arc::new(Queue::default()),
            to_orphan: Arc::new(Queue::default()),
            changes,
            recorder,
            absent: Mutex::new(HashSet::new()),
        }
    }

    fn graph(&self) -> std::sync::MutexGuard<'_, Graph> {
        self.graph.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn absent(&self) -> std::sync::MutexGuard<'_, HashSet<Identity>> {
        self.absent.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Apply a change to the graph and hand out the work it causes.
    pub fn apply(&self, change: Change) {
        let work = self.graph().apply(change);
        for item in work {
            use super::graph::Work;
            match item {
                Work::AttemptToDelete(uid) => self.to_delete.add(&uid),
                Work::AttemptToDeleteLater(uid) => self.to_delete.add_rate_limited(&uid),
                Work::AttemptToOrphan(uid) => self.to_orphan.add(&uid),
                Work::Absent(identity) => self.remember_absent(identity),
                Work::InvalidNamespace { dependent, owner } => {
                    let invalid = Identity::of_owner(&owner, &dependent.namespace);
                    let message = format!(
                        "ownerRef {} does not exist in namespace {:?}",
                        invalid.describe(),
                        dependent.namespace
                    );
                    self.recorder.record_ref(
                        reference(&dependent),
                        EventType::Warning,
                        "OwnerRefInvalidNamespace",
                        message,
                    );
                }
            }
        }
    }

    fn remember_absent(&self, identity: Identity) {
        let mut absent = self.absent();
        if absent.len() >= ABSENT_CAPACITY {
            absent.clear();
        }
        absent.insert(identity);
    }

    fn item(&self, uid: &str) -> Option<Item> {
        let graph = self.graph();
        let node = graph.node(uid)?;
        Some(Item {
            identity: node.identity.clone(),
            observed: node.observed,
            being_deleted: node.being_deleted,
            deleting_dependents: node.deleting_dependents,
            dependents: graph.dependents(uid),
        })
    }

    /// One attemptToDelete worker, until the queue goes away.
    pub async fn delete_worker(self: Arc<Self>) {
        loop {
            let uid = self.to_delete.get().await;
            let requeue = match self.item(&uid) {
                None => false,
                Some(item) => match self.attempt_to_delete(&item).await {
                    Ok(Done::VirtualDelete | Done::NamespacedOwnerOfClusterScoped) => false,
                    // Still virtual: look again until a watch shows it or it is confirmed gone.
                    Ok(Done::Ok) => !item.observed,
                    Err(error) => {
                        tracing::debug!(item = %item.identity.describe(), %error, "garbage collection failed; retrying");
                        true
                    }
                },
            };
            if requeue {
                self.to_delete.add_rate_limited(&uid);
            } else {
                self.to_delete.forget(&uid);
            }
            self.to_delete.done(&uid);
        }
    }

    /// One attemptToOrphan worker, until the queue goes away.
    pub async fn orphan_worker(self: Arc<Self>) {
        loop {
            let uid = self.to_orphan.get().await;
            let result = match self.item(&uid) {
                None => Ok(()),
                Some(item) => self.orphan(&item).await,
            };
            match result {
                Ok(()) => self.to_orphan.forget(&uid),
                Err(error) => {
                    tracing::debug!(%uid, %error, "orphaning dependents failed; retrying");
                    self.to_orphan.add_rate_limited(&uid);
                }
            }
            self.to_orphan.done(&uid);
        }
    }

    fn resource(&self, identity: &Identity) -> Result<super::monitors::Resource, Error> {
        self.resources
            .resolve(&identity.api_version, &identity.kind)
            .ok_or_else(|| Error::UnknownKind(identity.api_version.clone(), identity.kind.clone()))
    }

    /// The object's metadata as the apiserver has it now; `None` when it is gone.
    async fn get(&self, identity: &Identity) -> Result<Option<ObjectMeta>, Error> {
        let api = self.resource(identity)?.api(&self.client, &identity.namespace);
        Ok(api.get_metadata_opt(&identity.name).await?.map(|o| o.metadata))
    }

    fn virtual_delete(&self, identity: &Identity) {
        let _ = self.changes.unbounded_send(Change {
            identity: identity.clone(),
            owners: Vec::new(),
            deleting: false,
            finalizers: Vec::new(),
            deleted: true,
            virtual_: true,
        });
    }

    /// attemptToDeleteItem.
    async fn attempt_to_delete(&self, item: &Item) -> Result<Done, Error> {
        if item.being_deleted && !item.deleting_dependents {
            // Already on its way; its dependents are handled when it is gone.
            return Ok(Done::Ok);
        }
        let Some(latest) = self.get(&item.identity).await? else {
            self.virtual_delete(&item.identity);
            return Ok(Done::VirtualDelete);
        };
        if latest.uid.as_deref() != Some(item.identity.uid.as_str()) {
            self.virtual_delete(&item.identity);
            return Ok(Done::VirtualDelete);
        }
        if item.deleting_dependents {
            return self.process_deleting_dependents(item).await;
        }
        let references = latest.owner_references.clone().unwrap_or_default();
        if references.is_empty() {
            return Ok(Done::Ok);
        }
        let (mut solid, mut dangling, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
        for reference in &references {
            match self.owner_of(reference, item).await? {
                Owner::Dangling => dangling.push(reference.clone()),
                Owner::NamespacedOwnerOfClusterScoped => return Ok(Done::NamespacedOwnerOfClusterScoped),
                Owner::Live(owner) => {
                    let foreground = owner.finalizers.iter().flatten().any(|f| f == FOREGROUND);
                    if owner.deletion_timestamp.is_some() && foreground {
                        waiting.push(reference.clone());
                    } else {
                        solid.push(reference.clone());
                    }
                }
            }
        }
        let has_finalizer = |f: &str| latest.finalizers.iter().flatten().any(|x| x == f);
        if !solid.is_empty() {
            if dangling.is_empty() && waiting.is_empty() {
                return Ok(Done::Ok);
            }
            // Drop the references to owners that are gone or waiting for their dependents.
            let uids: HashSet<String> = dangling.iter().chain(&waiting).map(|r| r.uid.clone()).collect();
            self.rewrite_owner_references(&item.identity, |refs| refs.retain(|r| !uids.contains(&r.uid)))
                .await?;
            return Ok(Done::Ok);
        }
        if !waiting.is_empty() && !item.dependents.is_empty() {
            if item.dependents.iter().any(|d| d.deleting_dependents) {
                // A cycle of foreground deletions: stop blocking the owners.
                self.rewrite_owner_references(&item.identity, |refs| {
                    for r in refs.iter_mut().filter(|r| r.block_owner_deletion == Some(true)) {
                        r.block_owner_deletion = Some(false);
                    }
                })
                .await?;
            }
            self.delete(&item.identity, &latest, PropagationPolicy::Foreground)
                .await?;
            return Ok(Done::Ok);
        }
        let policy = if has_finalizer(ORPHAN) {
            PropagationPolicy::Orphan
        } else if has_finalizer(FOREGROUND) {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        };
        self.delete(&item.identity, &latest, policy).await?;
        Ok(Done::Ok)
    }

    /// Whether the owner `reference` names still exists (isDangling), read live.
    async fn owner_of(&self, reference: &OwnerReference, item: &Item) -> Result<Owner, Error> {
        let mut key = Identity::of_owner(reference, "");
        if self.absent().contains(&key) {
            return Ok(Owner::Dangling);
        }
        key.namespace = item.identity.namespace.clone();
        if self.absent().contains(&key) {
            return Ok(Owner::Dangling);
        }
        let resource = self
            .resources
            .resolve(&reference.api_version, &reference.kind)
            .ok_or_else(|| Error::UnknownKind(reference.api_version.clone(), reference.kind.clone()))?;
        if !resource.namespaced {
            key.namespace.clear();
        }
        if item.identity.namespace.is_empty() && resource.namespaced {
            return Ok(Owner::NamespacedOwnerOfClusterScoped);
        }
        let api = resource.api(&self.client, &item.identity.namespace);
        match api.get_metadata_opt(&reference.name).await? {
            None => {
                self.remember_absent(key);
                Ok(Owner::Dangling)
            }
            Some(owner) if owner.metadata.uid.as_deref() != Some(reference.uid.as_str()) => {
                self.remember_absent(key);
                Ok(Owner::Dangling)
            }
            Some(owner) => Ok(Owner::Live(owner.metadata)),
        }
    }

    /// An owner in foreground deletion: wait for its blocking dependents, then let it go.
    async fn process_deleting_dependents(&self, item: &Item) -> Result<Done, Error> {
        let blocking: Vec<&Dependent> = item
            .dependents
            .iter()
            .filter(|d| {
                d.owners
                    .iter()
                    .any(|r| r.uid == item.identity.uid && r.block_owner_deletion == Some(true))
            })
            .collect();
        if blocking.is_empty() {
            self.remove_finalizer(&item.identity, FOREGROUND).await?;
            return Ok(Done::Ok);
        }
        for dependent in blocking.iter().filter(|d| !d.deleting_dependents) {
            self.to_delete.add(&dependent.identity.uid);
        }
        Ok(Done::Ok)
    }

    /// Orphan the dependents of an owner with the orphan finalizer, then remove the finalizer.
    async fn orphan(&self, item: &Item) -> Result<(), Error> {
        let owner = item.identity.uid.clone();
        let mut failure = None;
        for dependent in &item.dependents {
            if let Err(error) = self
                .rewrite_owner_references(&dependent.identity, |refs| refs.retain(|r| r.uid != owner))
                .await
            {
                failure.get_or_insert(error);
            }
        }
        if let Some(error) = failure {
            return Err(error);
        }
        self.remove_finalizer(&item.identity, ORPHAN).await
    }

    /// Read-modify-write of an object's ownerReferences (a merge patch guarded by its
    /// resourceVersion and UID, so it works for custom resources too); gone objects are fine.
    async fn rewrite_owner_references(
        &self,
        identity: &Identity,
        edit: impl Fn(&mut Vec<OwnerReference>),
    ) -> Result<(), Error> {
        let api = self.resource(identity)?.api(&self.client, &identity.namespace);
        for _ in 0..CONFLICT_RETRIES {
            let Some(current) = api.get_metadata_opt(&identity.name).await? else {
                return Ok(());
            };
            if current.metadata.uid.as_deref() != Some(identity.uid.as_str()) {
                return Ok(());
            }
            let before = current.metadata.owner_references.clone().unwrap_or_default();
            let mut after = before.clone();
            edit(&mut after);
            if after == before {
                return Ok(());
            }
            let references = if after.is_empty() { json!(null) } else { json!(after) };
            let patch = json!({"metadata": {
                "ownerReferences": references,
                "resourceVersion": current.metadata.resource_version,
                "uid": identity.uid,
            }});
            match api
                .patch(&identity.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                Err(error) if api_errors::is_not_found(&error) => return Ok(()),
                Err(error) if is_conflict(&error) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(Error::Conflict(format!("{} kept changing", identity.describe())))
    }

    /// Remove `finalizer` from the object (read-modify-write guarded by its resourceVersion).
    async fn remove_finalizer(&self, identity: &Identity, finalizer: &str) -> Result<(), Error> {
        let api = self.resource(identity)?.api(&self.client, &identity.namespace);
        for _ in 0..CONFLICT_RETRIES {
            let Some(current) = api.get_metadata_opt(&identity.name).await? else {
                return Ok(());
            };
            if current.metadata.uid.as_deref() != Some(identity.uid.as_str()) {
                return Ok(());
            }
            let finalizers = current.metadata.finalizers.clone().unwrap_or_default();
            if !finalizers.iter().any(|f| f == finalizer) {
                return Ok(());
            }
            let rest: Vec<&String> = finalizers.iter().filter(|f| *f != finalizer).collect();
            let patch = json!({"metadata": {
                "finalizers": rest,
                "resourceVersion": current.metadata.resource_version,
            }});
            match api
                .patch(&identity.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                Err(error) if api_errors::is_not_found(&error) => return Ok(()),
                Err(error) if is_conflict(&error) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(Error::Conflict(format!("{} kept changing", identity.describe())))
    }

    /// Delete with UID and resourceVersion preconditions; when only the resourceVersion moved
    /// and the owner references are as they were, delete without it (upstream's deleteObject).
    async fn delete(&self, identity: &Identity, latest: &ObjectMeta, policy: PropagationPolicy) -> Result<(), Error> {
        let api = self.resource(identity)?.api(&self.client, &identity.namespace);
        let mut params = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(Preconditions {
                uid: Some(identity.uid.clone()),
                resource_version: latest.resource_version.clone(),
            }),
            ..Default::default()
        };
        let error = match api.delete(&identity.name, &params).await {
            Ok(_) => return Ok(()),
            Err(error) if api_errors::is_not_found(&error) => return Ok(()),
            Err(error) => error,
        };
        if !is_conflict(&error) {
            return Err(error.into());
        }
        let Some(live) = api.get_metadata_opt(&identity.name).await? else {
            return Ok(());
        };
        if live.metadata.uid.as_deref() != Some(identity.uid.as_str()) {
            return Ok(());
        }
        if live.metadata.owner_references != latest.owner_references {
            return Err(error.into());
        }
        if let Some(p) = params.preconditions.as_mut() {
            p.resource_version = None;
        }
        match api.delete(&identity.name, &params).await {
            Ok(_) => Ok(()),
            Err(error) if api_errors::is_not_found(&error) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

enum Owner {
    Dangling,
    Live(ObjectMeta),
    NamespacedOwnerOfClusterScoped,
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

fn reference(identity: &Identity) -> ObjectReference {
    ObjectReference {
        api_version: Some(identity.api_version.clone()),
        kind: Some(identity.kind.clone()),
        name: Some(identity.name.clone()),
        namespace: (!identity.namespace.is_empty()).then(|| identity.namespace.clone()),
        uid: Some(identity.uid.clone()),
        ..Default::default()
    }
}
