//! A work queue of object UIDs with client-go's workqueue semantics: an item queued while it is
//! queued is queued once; an item queued while a worker processes it is processed again after;
//! failed items come back after a per-item exponential backoff.

use crate::core::backoff::ErrorBackoff;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Default)]
pub struct Queue {
    inner: Mutex<Inner>,
    ready: Notify,
    backoff: ErrorBackoff,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<String>,
    dirty: HashSet<String>,
    processing: HashSet<String>,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queue `key` (once, however often it is added before a worker takes it).
    pub fn add(&self, key: &str) {
        let mut inner = self.lock();
        if !inner.dirty.insert(key.to_string()) {
            return;
        }
        if !inner.processing.contains(key) {
            inner.queue.push_back(key.to_string());
            drop(inner);
            self.ready.notify_one();
        }
    }

    /// Queue `key` again after its next backoff delay.
    pub fn add_rate_limited(self: &Arc<Self>, key: &str) {
        let delay = self.backoff.failed(key);
        let queue = self.clone();
        let key = key.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            queue.add(&key);
        });
    }

    /// Reset `key`'s backoff (it was processed successfully).
    pub fn forget(&self, key: &str) {
        self.backoff.succeeded(key);
    }

    /// The next key to process; call [`Queue::done`] with it afterwards.
    pub async fn get(&self) -> String {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut inner = self.lock();
                if let Some(key) = inner.queue.pop_front() {
                    inner.dirty.remove(&key);
                    inner.processing.insert(key.clone());
                    let more = !inner.queue.is_empty();
                    drop(inner);
                    if more {
                        self.ready.notify_one();
                    }
                    return key;
                }
            }
            notified.await;
        }
    }

    /// `key` is processed; it is queued again if it was added meanwhile.
    pub fn done(&self, key: &str) {
        let mut inner = self.lock();
        inner.processing.remove(key);
        if inner.dirty.contains(key) {
            inner.queue.push_back(key.to_string());
            drop(inner);
            self.ready.notify_one();
        }
    }

    /// How many keys wait (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn deduplicates_and_requeues_items_added_while_processing() {
        let queue = Queue::default();
        queue.add("a");
        queue.add("a");
        queue.add("b");
        assert_eq!(queue.len(), 2);
        let first = queue.get().await;
        assert_eq!(first, "a");
        // Added again while processing: not queued until done.
        queue.add("a");
        assert_eq!(queue.len(), 1);
        queue.done("a");
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.get().await, "b");
        assert_eq!(queue.get().await, "a");
    }
}
