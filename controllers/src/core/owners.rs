//! The owner-reference index of one shared kind: which objects each owner UID has, and which
//! objects no controller owns, per namespace. Kept by the shared watch; answers are checked
//! against the store, so they never return an object that is gone.

use kube::runtime::reflector::{ObjectRef, Store};
use kube::Resource;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Owner UID → dependents, and namespace → objects without a controller.
pub struct OwnerIndex<K: Resource<DynamicType = ()>> {
    inner: Mutex<Index<K>>,
}

struct Index<K: Resource<DynamicType = ()>> {
    dependents: HashMap<String, HashSet<ObjectRef<K>>>,
    owners_of: HashMap<ObjectRef<K>, Vec<String>>,
    orphans: HashMap<String, HashSet<ObjectRef<K>>>,
}

impl<K: Resource<DynamicType = ()>> Default for OwnerIndex<K> {
    fn default() -> Self {
        OwnerIndex {
            inner: Mutex::new(Index {
                dependents: HashMap::new(),
                owners_of: HashMap::new(),
                orphans: HashMap::new(),
            }),
        }
    }
}

impl<K: Resource<DynamicType = ()> + Clone> OwnerIndex<K> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Index<K>> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Record the current state of `key`: `Some(object)` when it exists, `None` once deleted.
    pub fn observe(&self, key: ObjectRef<K>, object: Option<&Arc<K>>) {
        let mut index = self.lock();
        if let Some(previous) = index.owners_of.remove(&key) {
            for uid in previous {
                if let Some(set) = index.dependents.get_mut(&uid) {
                    set.remove(&key);
                    if set.is_empty() {
                        index.dependents.remove(&uid);
                    }
                }
            }
        }
        let namespace = key.namespace.clone().unwrap_or_default();
        if let Some(set) = index.orphans.get_mut(&namespace) {
            set.remove(&key);
        }
        let Some(object) = object else { return };
        let refs = object.meta().owner_references.as_deref().unwrap_or_default();
        if !refs.iter().any(|r| r.controller == Some(true)) {
            index.orphans.entry(namespace).or_default().insert(key.clone());
        }
        if refs.is_empty() {
            return;
        }
        let uids: Vec<String> = refs.iter().map(|r| r.uid.clone()).collect();
        for uid in &uids {
            index.dependents.entry(uid.clone()).or_default().insert(key.clone());
        }
        index.owners_of.insert(key, uids);
    }

    /// The live objects that name `uid` among their owners.
    pub fn dependents(&self, uid: &str, store: &Store<K>) -> Vec<Arc<K>> {
        let keys: Vec<ObjectRef<K>> = self
            .lock()
            .dependents
            .get(uid)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default();
        keys.iter()
            .filter_map(|key| store.get(key))
            .filter(|o| {
                o.meta()
                    .owner_references
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .any(|r| r.uid == uid)
            })
            .collect()
    }

    /// The live objects in `namespace` without a controller reference.
    pub fn orphans_in(&self, namespace: &str, store: &Store<K>) -> Vec<Arc<K>> {
        let keys: Vec<ObjectRef<K>> = self
            .lock()
            .orphans
            .get(namespace)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default();
        keys.iter()
            .filter_map(|key| store.get(key))
            .filter(|o| {
                !o.meta()
                    .owner_references
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .any(|r| r.controller == Some(true))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use kube::runtime::reflector::store::Writer;
    use kube::runtime::watcher::Event;

    fn pod(name: &str, owner: Option<&str>) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some(name.into());
        pod.metadata.namespace = Some("ns".into());
        pod.metadata.owner_references = owner.map(|uid| {
            vec![OwnerReference {
                uid: uid.into(),
                controller: Some(true),
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: "rs".into(),
                ..Default::default()
            }]
        });
        pod
    }

    #[test]
    fn follows_owners_orphans_and_deletions() {
        let mut writer = Writer::<Pod>::default();
        let store = writer.as_reader();
        let index = OwnerIndex::<Pod>::default();
        for p in [pod("a", Some("u1")), pod("b", Some("u1")), pod("c", None)] {
            writer.apply_watcher_event(&Event::Apply(p.clone()));
            let key = ObjectRef::from_obj(&p);
            index.observe(key.clone(), store.get(&key).as_ref());
        }
        let names = |list: Vec<Arc<Pod>>| {
            let mut n: Vec<String> = list.iter().map(|p| p.metadata.name.clone().unwrap()).collect();
            n.sort();
            n
        };
        assert_eq!(names(index.dependents("u1", &store)), ["a", "b"]);
        assert_eq!(names(index.orphans_in("ns", &store)), ["c"]);
        // b is released (its controller reference removed), a is deleted.
        let released = pod("b", None);
        writer.apply_watcher_event(&Event::Apply(released.clone()));
        let key = ObjectRef::from_obj(&released);
        index.observe(key.clone(), store.get(&key).as_ref());
        let gone = pod("a", Some("u1"));
        writer.apply_watcher_event(&Event::Delete(gone.clone()));
        index.observe(ObjectRef::from_obj(&gone), None);
        assert!(index.dependents("u1", &store).is_empty());
        assert_eq!(names(index.orphans_in("ns", &store)), ["b", "c"]);
    }
}
