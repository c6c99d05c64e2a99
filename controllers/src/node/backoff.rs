//! The kubelet's container restart back-off (client-go `flowcontrol.Backoff` as kuberuntime uses
//! it): the first restart of a failed container is immediate; while the next one waits, the
//! container is in CrashLoopBackOff. The window starts at 10 s and doubles per restart up to 5 min;
//! a container that ran 10 min (twice the cap) without failing starts over at 10 s. No jitter.

use k8s_openapi::jiff::Timestamp;
use std::collections::HashMap;
use std::time::Duration;

/// Upstream's `backOffPeriod` and `MaxContainerBackOff`.
pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, Debug)]
struct Entry {
    backoff: Duration,
    last_update: Timestamp,
}

/// Back-off windows per container (`<pod uid>/<container name>`).
#[derive(Debug)]
pub struct RestartBackoff {
    initial: Duration,
    max: Duration,
    entries: HashMap<String, Entry>,
}

impl Default for RestartBackoff {
    fn default() -> Self {
        RestartBackoff::new(INITIAL, MAX)
    }
}

/// The key of one container of one pod.
pub fn key(pod_uid: &str, container: &str) -> String {
    format!("{pod_uid}/{container}")
}

impl RestartBackoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        RestartBackoff {
            initial,
            max,
            entries: HashMap::new(),
        }
    }

    /// Whether a container that finished at `finished` must still wait before it restarts
    /// (`IsInBackOffSince`): the current window and when it ends.
    pub fn waiting(&self, key: &str, finished: Timestamp, now: Timestamp) -> Option<(Duration, Timestamp)> {
        let entry = self.entries.get(key)?;
        if self.expired(finished, entry.last_update) {
            return None;
        }
        let until = finished + entry.backoff;
        (now < until).then_some((entry.backoff, until))
    }

    /// Record a restart of the container that finished at `finished` (`Next`): the window starts
    /// at the initial value or doubles.
    pub fn restarted(&mut self, key: &str, finished: Timestamp, now: Timestamp) {
        let backoff = match self.entries.get(key) {
            Some(entry) if !self.expired(finished, entry.last_update) => (entry.backoff * 2).min(self.max),
            _ => self.initial,
        };
        self.entries.insert(
            key.to_string(),
            Entry {
                backoff,
                last_update: now,
            },
        );
    }

    /// Forget every container of the pod with `pod_uid`.
    pub fn forget_pod(&mut self, pod_uid: &str) {
        let prefix = format!("{pod_uid}/");
        self.entries.retain(|k, _| !k.starts_with(&prefix));
    }

    /// Drop the windows nobody failed into for twice the cap (upstream's `GC`).
    pub fn gc(&mut self, now: Timestamp) {
        let max = self.max;
        self.entries
            .retain(|_, e| now.duration_since(e.last_update).unsigned_abs() <= max * 2);
    }

    /// `hasExpired`: no failure for twice the cap since the last restart.
    fn expired(&self, event: Timestamp, last_update: Timestamp) -> bool {
        let since = event.duration_since(last_update);
        !since.is_negative() && since.unsigned_abs() > self.max * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    #[test]
    fn first_restart_is_immediate_then_windows_double_to_the_cap() {
        let mut b = RestartBackoff::default();
        let k = key("u", "c");
        // First failure: no window yet, restart at once.
        assert_eq!(b.waiting(&k, at(0), at(0)), None);
        b.restarted(&k, at(0), at(0));
        // Second failure at 1s: wait 10s from the finish.
        assert_eq!(b.waiting(&k, at(1), at(1)), Some((Duration::from_secs(10), at(11))));
        assert_eq!(b.waiting(&k, at(1), at(11)), None);
        b.restarted(&k, at(1), at(11));
        assert_eq!(
            b.waiting(&k, at(12), at(12)).map(|w| w.0),
            Some(Duration::from_secs(20))
        );
        let mut t = 12;
        let mut windows = vec![];
        for _ in 0..8 {
            let (w, until) = b.waiting(&k, at(t), at(t)).unwrap();
            windows.push(w.as_secs());
            b.restarted(&k, at(t), until);
            t = until.as_second() - 1_700_000_000 + 1;
        }
        assert_eq!(windows, vec![20, 40, 80, 160, 300, 300, 300, 300]);
    }

    #[test]
    fn a_long_run_resets_the_window() {
        let mut b = RestartBackoff::default();
        let k = key("u", "c");
        b.restarted(&k, at(0), at(0));
        b.restarted(&k, at(20), at(30));
        assert_eq!(
            b.waiting(&k, at(31), at(31)).map(|w| w.0),
            Some(Duration::from_secs(20))
        );
        // Ran for more than 10 minutes since the last restart: no wait, and the next is 10s.
        assert_eq!(b.waiting(&k, at(700), at(700)), None);
        b.restarted(&k, at(700), at(700));
        assert_eq!(
            b.waiting(&k, at(701), at(701)).map(|w| w.0),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn pods_are_forgotten_and_old_windows_collected() {
        let mut b = RestartBackoff::default();
        b.restarted(&key("u1", "a"), at(0), at(0));
        b.restarted(&key("u1", "b"), at(0), at(0));
        b.restarted(&key("u2", "a"), at(0), at(500));
        b.forget_pod("u1");
        assert_eq!(b.entries.len(), 1);
        b.gc(at(1000));
        assert_eq!(b.entries.len(), 1);
        b.gc(at(1200));
        assert!(b.entries.is_empty());
    }
}
