//! In-memory backend: full MVCC history in a B-tree, for tests and in-process control planes.

use super::{Backend, Event, KeyValue, RangeResult, Result, StorageError, Write};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// Every revision of every key, plus the event log for watch replay.
#[derive(Default)]
struct State {
    revision: i64,
    compacted: i64,
    /// key -> versions in revision order; `None` marks a deletion.
    history: BTreeMap<String, Vec<(i64, Option<KeyValue>)>>,
    events: Vec<Event>,
    watchers: Vec<mpsc::UnboundedSender<Event>>,
}

impl State {
    fn latest(&self, key: &str) -> Option<&KeyValue> {
        self.history.get(key)?.last()?.1.as_ref()
    }

    fn at(versions: &[(i64, Option<KeyValue>)], revision: i64) -> Option<&KeyValue> {
        let idx = versions.partition_point(|(rev, _)| *rev <= revision);
        versions[..idx].last()?.1.as_ref()
    }
}

/// A backend that keeps everything in memory; nothing survives the process.
#[derive(Default)]
pub struct MemoryBackend {
    state: Mutex<State>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    fn revision(&self) -> i64 {
        self.lock().revision
    }

    fn compacted_revision(&self) -> i64 {
        self.lock().compacted
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(self.lock().latest(key).cloned())
    }

    async fn range(&self, start: &str, end: &str, revision: i64, limit: usize) -> Result<RangeResult> {
        let state = self.lock();
        let revision = match revision {
            0 => state.revision,
            r if r > state.revision => return Err(StorageError::FutureRevision(r)),
            r if r < state.compacted => {
                return Err(StorageError::Compacted {
                    requested: r,
                    compacted: state.compacted,
                })
            }
            r => r,
        };
        let mut result = RangeResult {
            revision,
            ..Default::default()
        };
        for (_, versions) in state
            .history
            .range::<str, _>((std::ops::Bound::Included(start), std::ops::Bound::Excluded(end)))
        {
            if let Some(kv) = State::at(versions, revision) {
                if limit > 0 && result.kvs.len() == limit {
                    result.more = true;
                    break;
                }
                result.kvs.push(kv.clone());
            }
        }
        Ok(result)
    }

    async fn write(&self, write: Write) -> Result<Event> {
        let mut state = self.lock();
        let current = state.latest(write.key()).cloned();
        let revision = state.revision + 1;
        let event = match (write, current) {
            (Write::Create { key, .. }, Some(_)) => return Err(StorageError::AlreadyExists(key.to_string())),
            (Write::Create { key, value }, None) => Event::Put {
                kv: KeyValue {
                    key,
                    value,
                    create_revision: revision,
                    mod_revision: revision,
                },
                prev: None,
            },
            (Write::Update { key, .. } | Write::Delete { key, .. }, None) => {
                return Err(StorageError::NotFound(key.to_string()))
            }
            (
                Write::Update {
                    key,
                    value,
                    expected_revision,
                },
                Some(prev),
            ) => {
                check_revision(&prev.key, prev.mod_revision, expected_revision)?;
                let kv = KeyValue {
                    key,
                    value,
                    create_revision: prev.create_revision,
                    mod_revision: revision,
                };
                Event::Put { kv, prev: Some(prev) }
            }
            (Write::Delete { expected_revision, .. }, Some(prev)) => {
                check_revision(&prev.key, prev.mod_revision, expected_revision)?;
                Event::Delete { prev, revision }
            }
        };
        state.revision = revision;
        let stored = match &event {
            Event::Put { kv, .. } => Some(kv.clone()),
            Event::Delete { .. } => None,
        };
        state
            .history
            .entry(event.key().to_string())
            .or_default()
            .push((revision, stored));
        state.events.push(event.clone());
        state.watchers.retain(|w| w.send(event.clone()).is_ok());
        Ok(event)
    }

    async fn watch(&self, after_revision: i64) -> Result<mpsc::UnboundedReceiver<Event>> {
        let mut state = self.lock();
        if after_revision < state.compacted {
            return Err(StorageError::Compacted {
                requested: after_revision,
                compacted: state.compacted,
            });
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let start = state.events.partition_point(|e| e.revision() <= after_revision);
        for event in &state.events[start..] {
            let _ = tx.send(event.clone());
        }
        state.watchers.push(tx);
        Ok(rx)
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        let mut state = self.lock();
        let revision = revision.min(state.revision);
        if revision <= state.compacted {
            return Ok(());
        }
        state.compacted = revision;
        state.events.retain(|e| e.revision() > revision);
        state.history.retain(|_, versions| {
            // Keep the newest version at or below `revision` (if live) and everything after it.
            let idx = versions.partition_point(|(rev, _)| *rev <= revision);
            let keep_from = match versions[..idx].last() {
                Some((_, Some(_))) => idx - 1,
                _ => idx,
            };
            versions.drain(..keep_from);
            !versions.is_empty()
        });
        Ok(())
    }
}

/// Compare-and-swap check shared by update and delete (of both backends): `key`, last modified at
/// `actual`, must still be at the `expected` revision.
pub(super) fn check_revision(key: &str, actual: i64, expected: i64) -> Result<()> {
    if actual != expected {
        return Err(StorageError::Conflict {
            key: key.to_string(),
            expected,
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn conforms() {
        super::super::conformance::run(&super::MemoryBackend::new()).await;
    }
}
