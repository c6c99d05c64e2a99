//! What a slice loop wrote and has not seen in its shared store yet (upstream's
//! EndpointSliceTracker): the resourceVersion each written slice should have and the slices it
//! deleted, per owner key. A sync on a store older than the loop's own writes would undo them,
//! so it waits; and a slice event that is only the echo of the loop's own write needs no sync.

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::ResourceExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, PartialEq)]
enum Expect {
    /// Written with this resourceVersion.
    Version(String),
    /// Deleted.
    Deleted,
}

/// Expected slice states by owner key (`namespace/name`) and slice UID.
#[derive(Default)]
pub struct SliceTracker {
    owners: Mutex<HashMap<String, HashMap<String, Expect>>>,
}

/// Whether resourceVersion `a` is older than `b`. Versions are etcd revisions (integers) in
/// Skiff and upstream alike; anything else compares only for equality.
fn older(a: &str, b: &str) -> bool {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(a), Ok(b)) => a < b,
        _ => false,
    }
}

impl SliceTracker {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, HashMap<String, Expect>>) -> T) -> T {
        f(&mut self.owners.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// The loop created or updated `slice` (as the apiserver answered it) for `owner`.
    pub fn wrote(&self, owner: &str, slice: &EndpointSlice) {
        let (Some(uid), Some(rv)) = (slice.uid(), slice.resource_version()) else {
            return;
        };
        self.with(|o| o.entry(owner.to_string()).or_default().insert(uid, Expect::Version(rv)));
    }

    /// The loop deleted `slice` of `owner`.
    pub fn deleted(&self, owner: &str, slice: &EndpointSlice) {
        let Some(uid) = slice.uid() else { return };
        self.with(|o| o.entry(owner.to_string()).or_default().insert(uid, Expect::Deleted));
    }

    /// Whether the store's `slices` of `owner` predate the loop's own writes: a slice it wrote
    /// is missing or older, or a slice it deleted is still there.
    pub fn stale(&self, owner: &str, slices: &[Arc<EndpointSlice>]) -> bool {
        self.with(|o| {
            let Some(expected) = o.get(owner) else { return false };
            let present: HashMap<String, String> = slices
                .iter()
                .filter_map(|s| Some((s.uid()?, s.resource_version().unwrap_or_default())))
                .collect();
            expected.iter().any(|(uid, want)| match (want, present.get(uid)) {
                (Expect::Deleted, found) => found.is_some(),
                (Expect::Version(_), None) => true,
                (Expect::Version(rv), Some(have)) => older(have, rv),
            })
        })
    }

    /// Whether a change of `slice` seen by the watch needs a sync of `owner`: not when it is the
    /// loop's own write or older.
    pub fn should_sync(&self, owner: &str, slice: &EndpointSlice) -> bool {
        self.with(|o| {
            let Some(want) = slice
                .uid()
                .and_then(|uid| o.get(owner).and_then(|e| e.get(&uid)).cloned())
            else {
                return true;
            };
            match want {
                Expect::Deleted => true,
                Expect::Version(rv) => {
                    let have = slice.resource_version().unwrap_or_default();
                    have != rv && !older(&have, &rv)
                }
            }
        })
    }

    /// A deleted `slice` of `owner` was seen: true when the loop deleted it itself.
    pub fn deletion_seen(&self, owner: &str, slice: &EndpointSlice) -> bool {
        let Some(uid) = slice.uid() else { return false };
        self.with(|o| {
            let Some(expected) = o.get_mut(owner) else { return false };
            let ours = expected.remove(&uid) == Some(Expect::Deleted);
            if expected.is_empty() {
                o.remove(owner);
            }
            ours
        })
    }

    /// Forget `owner` (deleted, or no longer the loop's concern).
    pub fn forget(&self, owner: &str) {
        self.with(|o| o.remove(owner));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(uid: &str, rv: &str) -> Arc<EndpointSlice> {
        let mut s = EndpointSlice::default();
        s.metadata.name = Some(format!("s-{uid}"));
        s.metadata.uid = Some(uid.into());
        s.metadata.resource_version = Some(rv.into());
        Arc::new(s)
    }

    #[test]
    fn own_writes_make_older_stores_stale() {
        let t = SliceTracker::default();
        assert!(!t.stale("ns/web", &[slice("a", "5")]));
        t.wrote("ns/web", &slice("a", "7"));
        assert!(t.stale("ns/web", &[slice("a", "5")]));
        assert!(!t.stale("ns/web", &[slice("a", "7")]));
        assert!(!t.stale("ns/web", &[slice("a", "9")]));
        // Created but not in the store yet.
        t.wrote("ns/web", &slice("b", "8"));
        assert!(t.stale("ns/web", &[slice("a", "7")]));
        assert!(!t.stale("ns/web", &[slice("a", "7"), slice("b", "8")]));
        // Deleted but still in the store.
        t.deleted("ns/web", &slice("b", "8"));
        assert!(t.stale("ns/web", &[slice("a", "7"), slice("b", "8")]));
        assert!(!t.stale("ns/web", &[slice("a", "7")]));
        assert!(t.deletion_seen("ns/web", &slice("b", "8")));
        assert!(!t.deletion_seen("ns/web", &slice("a", "7")));
    }

    #[test]
    fn echoes_of_own_writes_need_no_sync() {
        let t = SliceTracker::default();
        assert!(t.should_sync("ns/web", &slice("a", "3")));
        t.wrote("ns/web", &slice("a", "7"));
        assert!(!t.should_sync("ns/web", &slice("a", "7")));
        assert!(!t.should_sync("ns/web", &slice("a", "6")));
        assert!(t.should_sync("ns/web", &slice("a", "8")));
    }
}
