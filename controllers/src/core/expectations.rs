//! Expectations: what a loop has just created or deleted and is waiting to see in its shared
//! store, so that it never creates the same pod twice while its cache lags (client-go's
//! UIDTrackingControllerExpectations). Checked against the store, so nothing needs to call back
//! from the watch; entries older than five minutes are given up, as upstream does.

use kube::runtime::reflector::{ObjectRef, Store};
use kube::Resource;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(300);

/// Pending creations and deletions per owner key (e.g. `namespace/name` of a ReplicaSet).
pub struct Expectations<K: Resource<DynamicType = ()>> {
    pending: Mutex<HashMap<String, Pending<K>>>,
}

struct Pending<K: Resource<DynamicType = ()>> {
    created: Vec<ObjectRef<K>>,
    /// Deleted objects and the UID they had (a recreated object of the same name is another).
    deleted: Vec<(ObjectRef<K>, String)>,
    since: Instant,
}

impl<K: Resource<DynamicType = ()>> Default for Expectations<K> {
    fn default() -> Self {
        Expectations {
            pending: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Resource<DynamicType = ()> + Clone> Expectations<K> {
    fn with<T>(&self, owner: &str, f: impl FnOnce(&mut Pending<K>) -> T) -> T {
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = pending.entry(owner.to_string()).or_insert_with(|| Pending {
            created: Vec::new(),
            deleted: Vec::new(),
            since: Instant::now(),
        });
        f(entry)
    }

    /// `owner` has created `object`; wait until the store has it.
    pub fn created(&self, owner: &str, object: &K) {
        let key = ObjectRef::from_obj(object);
        self.with(owner, |p| {
            p.since = Instant::now();
            p.created.push(key)
        });
    }

    /// `owner` has deleted `object`; wait until the store no longer has it (or has it terminating).
    pub fn deleted(&self, owner: &str, object: &K) {
        let key = ObjectRef::from_obj(object);
        let uid = object.meta().uid.clone().unwrap_or_default();
        self.with(owner, |p| {
            p.since = Instant::now();
            p.deleted.push((key, uid))
        });
    }

    /// Whether everything `owner` did has reached `store`, so its view is fresh enough to act on.
    pub fn satisfied(&self, owner: &str, store: &Store<K>) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(entry) = pending.get_mut(owner) else {
            return true;
        };
        entry.created.retain(|key| store.get(key).is_none());
        entry.deleted.retain(|(key, uid)| {
            store
                .get(key)
                .is_some_and(|o| o.meta().uid.as_deref() == Some(uid.as_str()) && o.meta().deletion_timestamp.is_none())
        });
        let done = (entry.created.is_empty() && entry.deleted.is_empty()) || entry.since.elapsed() > TIMEOUT;
        if done {
            pending.remove(owner);
        }
        done
    }

    /// Forget `owner` (it was deleted).
    pub fn forget(&self, owner: &str) {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use kube::runtime::reflector::store::Writer;
    use kube::runtime::watcher::Event;

    fn pod(name: &str, uid: &str) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some(name.into());
        pod.metadata.namespace = Some("ns".into());
        pod.metadata.uid = Some(uid.into());
        pod
    }

    #[test]
    fn satisfied_once_the_store_caught_up() {
        let mut writer = Writer::<Pod>::default();
        let store = writer.as_reader();
        let expectations = Expectations::<Pod>::default();
        assert!(expectations.satisfied("ns/rs", &store));
        let created = pod("a", "1");
        expectations.created("ns/rs", &created);
        assert!(!expectations.satisfied("ns/rs", &store));
        writer.apply_watcher_event(&Event::Apply(created.clone()));
        assert!(expectations.satisfied("ns/rs", &store));
        expectations.deleted("ns/rs", &created);
        assert!(!expectations.satisfied("ns/rs", &store));
        // The same name with another UID is a new object: the deletion was seen.
        writer.apply_watcher_event(&Event::Apply(pod("a", "2")));
        assert!(expectations.satisfied("ns/rs", &store));
    }
}
