//! Per-object exponential backoff for failed reconciles, like client-go's default controller rate
//! limiter (5ms doubling per consecutive failure, capped at 1000s, forgotten on success).

use kube::runtime::controller::Action;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

const BASE: Duration = Duration::from_millis(5);
const MAX: Duration = Duration::from_secs(1000);

/// Counts consecutive failures per object key and turns them into requeue delays.
#[derive(Default)]
pub struct ErrorBackoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl ErrorBackoff {
    /// Record one more failure for `key` and return how long to wait before retrying.
    pub fn failed(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = failures.entry(key.to_string()).or_insert(0);
        let delay = BASE.saturating_mul(2u32.saturating_pow(*count)).min(MAX);
        *count = count.saturating_add(1);
        delay
    }

    /// Forget the failures of `key` (it reconciled successfully).
    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key);
    }

    /// The error policy's answer: requeue `key` after its next backoff delay.
    pub fn requeue(&self, key: &str) -> Action {
        Action::requeue(self.failed(key))
    }

    /// Pass a reconcile result through, forgetting the failures of `key` when it succeeded.
    pub fn track<T, E>(&self, key: &str, result: Result<T, E>) -> Result<T, E> {
        if result.is_ok() {
            self.succeeded(key);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_per_failure_and_reset_on_success() {
        let backoff = ErrorBackoff::default();
        assert_eq!(backoff.failed("a"), Duration::from_millis(5));
        assert_eq!(backoff.failed("a"), Duration::from_millis(10));
        assert_eq!(backoff.failed("a"), Duration::from_millis(20));
        assert_eq!(backoff.failed("b"), Duration::from_millis(5));
        let ok: Result<(), ()> = backoff.track("a", Ok(()));
        assert!(ok.is_ok());
        assert_eq!(backoff.failed("a"), Duration::from_millis(5));
        let err: Result<(), ()> = backoff.track("b", Err(()));
        assert!(err.is_err());
        assert_eq!(backoff.failed("b"), Duration::from_millis(10));
    }

    #[test]
    fn delays_are_capped() {
        let backoff = ErrorBackoff::default();
        let last = (0..100).map(|_| backoff.failed("x")).last();
        assert_eq!(last, Some(MAX));
    }
}
