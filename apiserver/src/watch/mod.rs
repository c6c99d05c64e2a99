//! The watch cache: every stored object in memory, served as ready-made JSON, plus a window of
//! recent events per resource. It is fed by the store's watch and serves gets, lists and watches
//! without touching the store. Each event is serialized once and shared by every watcher.

mod cache;
mod splice;

pub use cache::{frame, frame_value, CachedObject, ResourceCache, Snapshot, WatchEvent, WatchEventType};
pub use splice::with_resource_version;

use crate::storage::{Backend, Event, StorageError};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

/// The storage key prefix of one resource, e.g. `/registry/apps/deployments/`.
pub fn resource_prefix(group: &str, plural: &str) -> String {
    let group = if group.is_empty() { "core" } else { group };
    format!("/registry/{group}/{plural}/")
}

/// The resource prefix a key belongs to (`/registry/<group>/<plural>/`).
fn prefix_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("/registry/")?;
    let group_end = rest.find('/')?;
    let plural_end = rest[group_end + 1..].find('/')?;
    Some(&key[..10 + group_end + 1 + plural_end + 1])
}

/// All resource caches, fed in revision order by one dispatcher task.
pub struct WatchCache {
    caches: RwLock<HashMap<String, Arc<ResourceCache>>>,
    /// The revision up to which every event has been applied to the caches.
    applied: watch::Sender<i64>,
    store: Arc<dyn Backend>,
}

impl WatchCache {
    /// Load every object from `store`, then follow its watch in the background.
    pub async fn start(store: Arc<dyn Backend>) -> Result<Arc<Self>, StorageError> {
        let all = store
            .range("/registry/", &crate::storage::prefix_end("/registry/"), 0, 0)
            .await?;
        let revision = all.revision;
        let mut caches: HashMap<String, Arc<ResourceCache>> = HashMap::new();
        let mut grouped: HashMap<&str, Vec<_>> = HashMap::new();
        for kv in &all.kvs {
            if let Some(prefix) = prefix_of(&kv.key) {
                grouped.entry(prefix).or_default().push(kv.clone());
            }
        }
        for (prefix, kvs) in grouped {
            caches.insert(prefix.to_string(), Arc::new(ResourceCache::new(prefix, revision, kvs)));
        }
        let (applied, _) = watch::channel(revision);
        let this = Arc::new(WatchCache {
            caches: RwLock::new(caches),
            applied,
            store: store.clone(),
        });
        let mut events = store.watch(revision).await?;
        let weak = Arc::downgrade(&this);
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let Some(cache) = weak.upgrade() else { break };
                cache.apply(event);
            }
        });
        Ok(this)
    }

    fn apply(&self, event: Event) {
        let revision = event.revision();
        if let Some(prefix) = prefix_of(event.key()) {
            self.cache(prefix).apply(&event);
        }
        self.applied.send_replace(revision);
    }

    /// The cache of one resource, created empty on first use.
    pub fn cache(&self, prefix: &str) -> Arc<ResourceCache> {
        if let Some(cache) = self.caches.read().unwrap_or_else(|e| e.into_inner()).get(prefix) {
            return cache.clone();
        }
        let mut caches = self.caches.write().unwrap_or_else(|e| e.into_inner());
        let revision = *self.applied.borrow();
        caches
            .entry(prefix.to_string())
            .or_insert_with(|| Arc::new(ResourceCache::new(prefix, revision, Vec::new())))
            .clone()
    }

    /// The revision every cache has applied.
    pub fn revision(&self) -> i64 {
        *self.applied.borrow()
    }

    /// Wait until the caches reflect every write the store has acknowledged so far, so a read
    /// after a write sees it (upstream's consistent reads from cache).
    pub async fn wait_fresh(&self) {
        self.wait_for(self.store.revision()).await;
    }

    /// Wait until the caches have applied `revision`.
    pub async fn wait_for(&self, revision: i64) {
        let mut rx = self.applied.subscribe();
        let _ = rx.wait_for(|applied| *applied >= revision).await;
    }

    /// Send a bookmark with the current revision to every watcher of every resource.
    pub fn bookmark_all(&self) {
        let caches: Vec<_> = self
            .caches
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for cache in caches {
            cache.bookmark(&self.applied);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(
            prefix_of("/registry/core/pods/default/web"),
            Some("/registry/core/pods/")
        );
        assert_eq!(
            prefix_of("/registry/apps/deployments/ns/x"),
            Some("/registry/apps/deployments/")
        );
        assert_eq!(
            prefix_of("/registry/core/namespaces/default"),
            Some("/registry/core/namespaces/")
        );
        assert_eq!(prefix_of("/other"), None);
        assert_eq!(resource_prefix("", "pods"), "/registry/core/pods/");
    }
}
