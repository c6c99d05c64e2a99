//! One resource's cache: its live objects (a persistent map, so a list takes an O(1) snapshot),
//! a bounded window of recent events for watches that resume, and the broadcast to live watchers.

use super::splice::with_resource_version;
use crate::storage::{Event, KeyValue};
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock, RwLock};
use tokio::sync::{broadcast, watch};

/// How many recent events a resource keeps for resuming watches.
const WINDOW: usize = 4096;
/// How many events a live watcher may fall behind before it is dropped (and must resume).
const BROADCAST_CAPACITY: usize = 4096;
/// How many list snapshots are kept for `continue` tokens.
const SNAPSHOTS: usize = 16;

/// An object as served: JSON with its resourceVersion, shared by every reader.
#[derive(Debug)]
pub struct CachedObject {
    pub key: Arc<str>,
    pub json: Bytes,
    /// The revision that wrote this version (its resourceVersion).
    pub revision: i64,
}

impl CachedObject {
    pub fn from_kv(kv: &KeyValue, revision: i64) -> Arc<Self> {
        Arc::new(CachedObject {
            key: kv.key.clone(),
            json: with_resource_version(&kv.value, revision),
            revision,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchEventType {
    Added,
    Modified,
    Deleted,
    Bookmark,
}

impl WatchEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchEventType::Added => "ADDED",
            WatchEventType::Modified => "MODIFIED",
            WatchEventType::Deleted => "DELETED",
            WatchEventType::Bookmark => "BOOKMARK",
        }
    }
}

/// A change to one resource, as watchers see it.
#[derive(Debug)]
pub struct WatchEvent {
    pub type_: WatchEventType,
    /// The object after the change (for deletions: its last state at the deletion's revision).
    /// `None` for bookmarks.
    pub object: Option<Arc<CachedObject>>,
    /// The object before the change, for watchers whose selector it may have left.
    pub prev: Option<Arc<CachedObject>>,
    pub revision: i64,
    /// The JSON event line (`{"type":…,"object":…}\n`), built once on first use.
    frame: OnceLock<Bytes>,
}

impl WatchEvent {
    pub fn new(
        type_: WatchEventType,
        object: Option<Arc<CachedObject>>,
        prev: Option<Arc<CachedObject>>,
        revision: i64,
    ) -> Self {
        WatchEvent {
            type_,
            object,
            prev,
            revision,
            frame: OnceLock::new(),
        }
    }

    /// The event as one line of a JSON watch stream.
    pub fn frame(&self) -> Bytes {
        self.frame
            .get_or_init(|| match &self.object {
                Some(object) => frame(self.type_, &object.json),
                None => Bytes::new(),
            })
            .clone()
    }
}

/// `{"type":"<TYPE>","object":<json>}\n`
pub fn frame(type_: WatchEventType, object: &[u8]) -> Bytes {
    let head = format!("{{\"type\":\"{}\",\"object\":", type_.as_str());
    let mut out = Vec::with_capacity(head.len() + object.len() + 2);
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(object);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

/// A watch line for a non-object event (`ERROR` with a Status, `BOOKMARK`).
pub fn frame_value(type_: &str, object: &serde_json::Value) -> Bytes {
    let line = serde_json::json!({"type": type_, "object": object});
    let mut out = serde_json::to_vec(&line).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

/// A subscription to a resource's events as they happen.
pub type LiveEvents = broadcast::Receiver<Arc<WatchEvent>>;

/// The live objects of a resource at one revision.
pub type Snapshot = imbl::OrdMap<Arc<str>, Arc<CachedObject>>;

struct Inner {
    objects: Snapshot,
    /// The last revision applied to this cache (events of other resources do not move it).
    revision: i64,
    /// Every event with revision > `window_start` is in `window`.
    window: VecDeque<Arc<WatchEvent>>,
    window_start: i64,
    snapshots: VecDeque<(i64, Snapshot)>,
}

pub struct ResourceCache {
    pub prefix: String,
    inner: RwLock<Inner>,
    live: broadcast::Sender<Arc<WatchEvent>>,
}

impl ResourceCache {
    pub(super) fn new(prefix: &str, revision: i64, kvs: Vec<KeyValue>) -> Self {
        let objects = kvs
            .iter()
            .map(|kv| (kv.key.clone(), CachedObject::from_kv(kv, kv.mod_revision)))
            .collect();
        let (live, _) = broadcast::channel(BROADCAST_CAPACITY);
        ResourceCache {
            prefix: prefix.to_string(),
            inner: RwLock::new(Inner {
                objects,
                revision,
                window: VecDeque::new(),
                window_start: revision,
                snapshots: VecDeque::new(),
            }),
            live,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn apply(&self, event: &Event) {
        let mut inner = self.write();
        let watch_event = match event {
            Event::Put { kv, prev } => {
                let object = CachedObject::from_kv(kv, kv.mod_revision);
                let old = inner.objects.insert(kv.key.clone(), object.clone());
                let type_ = if prev.is_some() {
                    WatchEventType::Modified
                } else {
                    WatchEventType::Added
                };
                WatchEvent::new(type_, Some(object), old, kv.mod_revision)
            }
            Event::Delete { prev, revision } => {
                let old = inner.objects.remove(&prev.key);
                let object = CachedObject::from_kv(prev, *revision);
                WatchEvent::new(WatchEventType::Deleted, Some(object), old, *revision)
            }
        };
        let watch_event = Arc::new(watch_event);
        inner.revision = event.revision();
        if inner.window.len() == WINDOW {
            if let Some(evicted) = inner.window.pop_front() {
                inner.window_start = evicted.revision;
            }
        }
        inner.window.push_back(watch_event.clone());
        let _ = self.live.send(watch_event);
    }

    /// Send a bookmark at the current applied revision to live watchers (ordered after every event
    /// of this resource up to that revision, because it is sent under the same lock).
    pub(super) fn bookmark(&self, applied: &watch::Sender<i64>) {
        if self.live.receiver_count() == 0 {
            return;
        }
        let _inner = self.write();
        let revision = *applied.borrow();
        let _ = self.live.send(Arc::new(WatchEvent::new(
            WatchEventType::Bookmark,
            None,
            None,
            revision,
        )));
    }

    /// The last revision applied to this resource.
    pub fn revision(&self) -> i64 {
        self.read().revision
    }

    /// The current version of one object.
    pub fn get(&self, key: &str) -> Option<Arc<CachedObject>> {
        self.read().objects.get(key).cloned()
    }

    /// All live objects and the revision they are current at.
    pub fn snapshot(&self) -> (Snapshot, i64) {
        let inner = self.read();
        (inner.objects.clone(), inner.revision)
    }

    /// Keep `snapshot` at `revision` so later pages of a list read the same state.
    pub fn remember_snapshot(&self, revision: i64, snapshot: &Snapshot) {
        let mut inner = self.write();
        if inner.snapshots.iter().any(|(rev, _)| *rev == revision) {
            return;
        }
        if inner.snapshots.len() == SNAPSHOTS {
            inner.snapshots.pop_front();
        }
        inner.snapshots.push_back((revision, snapshot.clone()));
    }

    /// A snapshot kept for a continue token.
    pub fn snapshot_at(&self, revision: i64) -> Option<Snapshot> {
        let inner = self.read();
        if inner.revision == revision {
            return Some(inner.objects.clone());
        }
        inner
            .snapshots
            .iter()
            .find(|(rev, _)| *rev == revision)
            .map(|(_, s)| s.clone())
    }

    /// Events after `revision` from the window and a subscription to everything after them, taken
    /// atomically so nothing is missed or repeated. `Err(oldest)` if the window no longer reaches back.
    pub fn watch_from(&self, revision: i64) -> Result<(Vec<Arc<WatchEvent>>, LiveEvents), i64> {
        let inner = self.read();
        if revision < inner.window_start {
            return Err(inner.window_start);
        }
        let start = inner.window.partition_point(|e| e.revision <= revision);
        let replay = inner.window.range(start..).cloned().collect();
        Ok((replay, self.live.subscribe()))
    }

    /// The current objects and a subscription to everything after them, taken atomically.
    pub fn snapshot_and_watch(&self) -> (Snapshot, i64, broadcast::Receiver<Arc<WatchEvent>>) {
        let inner = self.read();
        (inner.objects.clone(), inner.revision, self.live.subscribe())
    }
}
