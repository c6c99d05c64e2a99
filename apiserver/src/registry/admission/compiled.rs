//! Admission configuration objects (webhook configurations, policies, bindings) as the watch
//! cache holds them, each compiled once per revision and shared by every request until it
//! changes.

use crate::registry::Store;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What `build` made of each object of one resource, by storage key.
pub struct Compiled<T> {
    entries: Mutex<HashMap<String, (i64, Arc<T>)>>,
}

impl<T> Default for Compiled<T> {
    fn default() -> Self {
        Compiled {
            entries: Mutex::default(),
        }
    }
}

impl<T> Compiled<T> {
    /// The compiled form of every live object of the admissionregistration resource `plural`,
    /// in name order; objects that changed since the last call are built again.
    pub fn current(&self, store: &Store, plural: &str, build: impl Fn(&Value) -> T) -> Vec<Arc<T>> {
        let objects = store.cached_objects("admissionregistration.k8s.io", plural, None);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|key, _| objects.iter().any(|o| &*o.key == key));
        let mut out = Vec::with_capacity(objects.len());
        for object in objects {
            if let Some((_, built)) = entries.get(&*object.key).filter(|(rev, _)| *rev == object.revision) {
                out.push(built.clone());
                continue;
            }
            let Ok(value) = serde_json::from_slice::<Value>(&object.json) else {
                continue;
            };
            let built = Arc::new(build(&value));
            entries.insert(object.key.to_string(), (object.revision, built.clone()));
            out.push(built);
        }
        out
    }
}
