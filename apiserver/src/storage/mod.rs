//! The revisioned key-value store, shaped like etcd's MVCC: one global revision, compare-and-swap
//! writes, reads at a revision, a watch from a revision and compaction. It knows keys and bytes,
//! nothing of HTTP or Kubernetes kinds. The revision of a write is the object's resourceVersion.

mod memory;
mod sqlite;

pub use memory::MemoryBackend;
pub use sqlite::SqliteBackend;

use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::mpsc;

/// One stored key at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: Arc<str>,
    pub value: Bytes,
    /// Revision at which the key was created (etcd's create_revision).
    pub create_revision: i64,
    /// Revision of the last write to the key (etcd's mod_revision).
    pub mod_revision: i64,
}

/// A change committed to the store, in revision order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The key was created or updated; `kv.mod_revision` is the event's revision.
    Put { kv: KeyValue, prev: Option<KeyValue> },
    /// The key was deleted at `revision`; `prev` is its last value.
    Delete { prev: KeyValue, revision: i64 },
}

impl Event {
    pub fn revision(&self) -> i64 {
        match self {
            Event::Put { kv, .. } => kv.mod_revision,
            Event::Delete { revision, .. } => *revision,
        }
    }
    pub fn key(&self) -> &Arc<str> {
        match self {
            Event::Put { kv, .. } => &kv.key,
            Event::Delete { prev, .. } => &prev.key,
        }
    }
}

/// A compare-and-swap write.
#[derive(Clone, Debug)]
pub enum Write {
    /// Create `key`; fails with [`StorageError::AlreadyExists`] if it exists.
    Create { key: Arc<str>, value: Bytes },
    /// Replace `key` if its mod_revision is still `expected_revision`.
    Update {
        key: Arc<str>,
        value: Bytes,
        expected_revision: i64,
    },
    /// Delete `key` if its mod_revision is still `expected_revision`.
    Delete { key: Arc<str>, expected_revision: i64 },
}

impl Write {
    pub fn key(&self) -> &Arc<str> {
        match self {
            Write::Create { key, .. } | Write::Update { key, .. } | Write::Delete { key, .. } => key,
        }
    }
}

/// The result of a range read: the matching keys in key order, and the revision they were read at.
#[derive(Clone, Debug, Default)]
pub struct RangeResult {
    pub kvs: Vec<KeyValue>,
    /// Whether more keys match past `limit`.
    pub more: bool,
    pub revision: i64,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StorageError {
    #[error("key {0} already exists")]
    AlreadyExists(String),
    #[error("key {0} not found")]
    NotFound(String),
    /// The key's mod_revision differs from the expected one; carries the current value.
    #[error("key {key} was modified (expected revision {expected}, found {actual})")]
    Conflict { key: String, expected: i64, actual: i64 },
    /// The requested revision has been compacted away.
    #[error("required revision {requested} has been compacted (oldest is {compacted})")]
    Compacted { requested: i64, compacted: i64 },
    /// The requested revision is newer than the store's.
    #[error("required revision {0} is in the future")]
    FutureRevision(i64),
    #[error("storage backend failure: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// A store backend. Every write is durable before it is acknowledged; events reach watchers in
/// revision order, each exactly once.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The store's current revision (the revision of the last committed write).
    fn revision(&self) -> i64;

    /// The oldest revision still readable (everything older was compacted).
    fn compacted_revision(&self) -> i64;

    /// Read `key` at the current revision.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Read keys in `[start, end)` at `revision` (0 = current), in key order, at most `limit`
    /// (0 = unlimited).
    async fn range(&self, start: &str, end: &str, revision: i64, limit: usize) -> Result<RangeResult>;

    /// Commit a write; returns the event it produced (its revision is the new store revision).
    async fn write(&self, write: Write) -> Result<Event>;

    /// Stream every event with revision > `after_revision`, in order, then live events.
    /// Fails with [`StorageError::Compacted`] if history from there is gone.
    async fn watch(&self, after_revision: i64) -> Result<mpsc::UnboundedReceiver<Event>>;

    /// Drop history older than `revision` (keeping the latest value of every live key).
    async fn compact(&self, revision: i64) -> Result<()>;
}

/// The end of the key range that holds every key starting with `prefix`.
pub fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return String::from_utf8_lossy(&end).into_owned();
        }
    }
    String::from("\u{10ffff}")
}

#[cfg(test)]
pub(crate) mod conformance;
