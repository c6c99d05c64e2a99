//! The one generic store path every resource goes through: reads from the watch cache, writes
//! through the storage backend with compare-and-swap, per-kind behaviour from the strategy.

mod convert;
mod list;
pub mod object;
mod service_ips;
mod watch;
mod write;

pub use list::{ListOptions, ListResult};
pub use service_ips::KUBERNETES_SERVICE_IP;
pub use watch::{WatchOptions, WatchStream};
pub use write::{DeleteOptions, Deleted, Preconditions, WriteOptions};

use crate::auth::Authorizer;
use crate::registry::admission::AdmissionConfig;
use crate::registry::{Resource, ResourceIndex};
use crate::status::{ApiError, ApiResult, Gr};
use crate::storage::{Backend, StorageError};
use crate::watch::{CachedObject, WatchCache};
use std::sync::Arc;

/// Generic create/read/update/delete/list/watch over any resource.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    cache: Arc<WatchCache>,
    /// The served resources (the store writes a few objects on its own, like Service IP claims).
    index: Arc<ResourceIndex>,
    /// Who may do what: the RBAC registry's escalation checks ask it.
    authorizer: Arc<dyn Authorizer>,
    /// The admission plugins' settings.
    admission: Arc<AdmissionConfig>,
    /// The compiled webhook configurations and policies of dynamic admission.
    dynamic: Arc<crate::registry::admission::Dynamic>,
}

/// Where an object lives: its resource and (for namespaced resources) namespace.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub resource: &'a Resource,
    pub namespace: Option<&'a str>,
}

impl Scope<'_> {
    pub fn gr(&self) -> Gr<'_> {
        Gr {
            group: &self.resource.group,
            resource: &self.resource.plural,
        }
    }
}

impl Store {
    pub fn new(
        backend: Arc<dyn Backend>,
        cache: Arc<WatchCache>,
        index: Arc<ResourceIndex>,
        authorizer: Arc<dyn Authorizer>,
    ) -> Self {
        Store {
            backend,
            cache,
            index,
            authorizer,
            admission: Arc::default(),
            dynamic: Arc::default(),
        }
    }

    /// The store with `admission` as the admission plugins' settings.
    pub fn with_admission_config(self, admission: AdmissionConfig) -> Self {
        Store {
            admission: Arc::new(admission),
            ..self
        }
    }

    pub(crate) fn admission_config(&self) -> &AdmissionConfig {
        &self.admission
    }

    pub(crate) fn dynamic_admission(&self) -> &crate::registry::admission::Dynamic {
        &self.dynamic
    }

    pub(crate) fn authorizer(&self) -> &dyn Authorizer {
        self.authorizer.as_ref()
    }

    /// Whether a resource is the core Service (whose addresses the store allocates).
    fn is_service(resource: &Resource) -> bool {
        resource.group.is_empty() && resource.plural == "services"
    }

    /// The served resources.
    pub(crate) fn resources(&self) -> Arc<crate::registry::index::Resources> {
        self.index.snapshot()
    }

    pub fn cache(&self) -> &Arc<WatchCache> {
        &self.cache
    }

    /// The current object as the scope's version, read after every acknowledged write is visible.
    /// Whether the storage backend answers a read (componentstatuses' etcd-0).
    pub async fn backend_health(&self) -> Result<(), crate::storage::StorageError> {
        self.backend.get("/registry/health").await.map(drop)
    }

    pub async fn get(&self, scope: Scope<'_>, name: &str) -> ApiResult<Arc<CachedObject>> {
        self.cache.wait_fresh().await;
        let stored = self
            .get_cached(scope, name)
            .ok_or_else(|| ApiError::not_found(scope.gr(), name))?;
        convert::served_one(scope.resource, stored).await
    }

    fn get_cached(&self, scope: Scope<'_>, name: &str) -> Option<Arc<CachedObject>> {
        let key = object::object_key(scope.resource, scope.namespace, name);
        let prefix = scope.resource.storage_prefix();
        self.cache.cache(&prefix).get(&key)
    }

    /// The live objects of a single-version built-in resource (`group`, `plural`), in one
    /// namespace or all, as the watch cache holds them now (for admission and subresources that
    /// consult other objects; callers wait for freshness first when they need it).
    pub(crate) fn cached_objects(&self, group: &str, plural: &str, namespace: Option<&str>) -> Vec<Arc<CachedObject>> {
        use std::ops::Bound;
        let mut prefix = crate::watch::resource_prefix(group, plural);
        if let Some(ns) = namespace {
            prefix.push_str(ns);
            prefix.push('/');
        }
        let cache_prefix = crate::watch::resource_prefix(group, plural);
        let (snapshot, _) = self.cache.cache(&cache_prefix).snapshot();
        let end = crate::storage::prefix_end(&prefix);
        snapshot
            .range::<_, str>((Bound::Included(prefix.as_str()), Bound::Excluded(end.as_str())))
            .map(|(_, object)| object.clone())
            .collect()
    }

    /// One live object of a single-version built-in resource, as the watch cache holds it now.
    pub(crate) fn cached_object(
        &self,
        group: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Arc<CachedObject>> {
        let prefix = crate::watch::resource_prefix(group, plural);
        let key = match namespace {
            Some(ns) => format!("{prefix}{ns}/{name}"),
            None => format!("{prefix}{name}"),
        };
        self.cache.cache(&prefix).get(&key)
    }

    /// Whether a namespace exists, and whether it is being deleted.
    pub async fn namespace_state(&self, name: &str) -> Option<bool> {
        self.cache.wait_fresh().await;
        let ns = self
            .cache
            .cache("/registry/core/namespaces/")
            .get(&format!("/registry/core/namespaces/{name}"))?;
        let value: serde_json::Value = serde_json::from_slice(&ns.json).ok()?;
        Some(object::meta(&value).is_some_and(|m| m.contains_key("deletionTimestamp")))
    }
}

/// Map a storage failure to the API error a client sees.
pub(crate) fn storage_error(scope: Scope<'_>, name: &str, err: StorageError) -> ApiError {
    match err {
        StorageError::AlreadyExists(_) => ApiError::already_exists(scope.gr(), name),
        StorageError::NotFound(_) => ApiError::not_found(scope.gr(), name),
        StorageError::Conflict { .. } => ApiError::modified(scope.gr(), name),
        StorageError::Compacted { requested, compacted } => {
            ApiError::expired(format!("too old resource version: {requested} ({compacted})"))
        }
        StorageError::FutureRevision(rev) => {
            ApiError::timeout(format!("Too large resource version: {rev}, current: unknown"))
        }
        StorageError::Backend(msg) => ApiError::internal(msg),
    }
}
