//! Zones and the pace of NoExecute tainting (upstream's zone states and RateLimitedTimedQueue):
//! a zone with no Ready node is fully disrupted, one with more than two and at least 55% not
//! Ready partially; nodes to taint wait in a per-zone queue drained by a token bucket (0.1 per
//! second, burst 1), slowed to 0.01/s (or stopped, in zones of 50 nodes or fewer) when the zone
//! is partially disrupted, and stopped everywhere when every zone is fully disrupted.

use k8s_openapi::api::core::v1::Node;
use kube::ResourceExt;
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

/// --node-eviction-rate default.
pub const EVICTION_QPS: f64 = 0.1;
/// --secondary-node-eviction-rate default.
pub const SECONDARY_EVICTION_QPS: f64 = 0.01;
/// --large-cluster-size-threshold default.
pub const LARGE_CLUSTER_THRESHOLD: usize = 50;
/// --unhealthy-zone-threshold default.
pub const UNHEALTHY_ZONE_THRESHOLD: f64 = 0.55;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneState {
    Initial,
    Normal,
    FullDisruption,
    PartialDisruption,
}

/// A zone's state from its nodes' readiness (upstream's ComputeZoneState).
pub fn zone_state(ready: usize, not_ready: usize) -> ZoneState {
    if ready == 0 && not_ready > 0 {
        ZoneState::FullDisruption
    } else if not_ready > 2 && not_ready as f64 / (ready + not_ready) as f64 >= UNHEALTHY_ZONE_THRESHOLD {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// The tainting rate of a zone of `size` nodes in `state` (upstream's setLimiterInZone).
pub fn qps_for(state: ZoneState, size: usize) -> f64 {
    match state {
        ZoneState::PartialDisruption if size > LARGE_CLUSTER_THRESHOLD => SECONDARY_EVICTION_QPS,
        ZoneState::PartialDisruption => 0.0,
        _ => EVICTION_QPS,
    }
}

/// The zone a node is in: region and zone labels (upstream's GetZoneKey).
pub fn zone_key(node: &Node) -> String {
    let labels = node.labels();
    let pick = |ga: &str, beta: &str| labels.get(ga).or_else(|| labels.get(beta)).cloned().unwrap_or_default();
    let region = pick(
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/region",
    );
    let zone = pick("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone");
    if region.is_empty() && zone.is_empty() {
        return String::new();
    }
    format!("{region}:\x00:{zone}")
}

/// A token bucket with a burst of one.
#[derive(Debug)]
pub struct TokenBucket {
    qps: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(qps: f64, now: Instant) -> Self {
        TokenBucket {
            qps,
            tokens: 1.0,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.qps).min(1.0);
        self.last = now;
    }

    /// Take a token if there is one.
    pub fn try_accept(&mut self, now: Instant) -> bool {
        if self.qps <= 0.0 {
            return false;
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// When the next token is there (None: never, the rate is zero).
    pub fn next_at(&mut self, now: Instant) -> Option<Instant> {
        if self.qps <= 0.0 {
            return None;
        }
        self.refill(now);
        let missing = (1.0 - self.tokens).max(0.0);
        Some(now + Duration::from_secs_f64(missing / self.qps))
    }

    /// A new rate, with a full bucket (upstream swaps in a new limiter).
    pub fn swap(&mut self, qps: f64, now: Instant) {
        if (self.qps - qps).abs() > f64::EPSILON {
            *self = TokenBucket::new(qps, now);
        }
    }

    pub fn qps(&self) -> f64 {
        self.qps
    }
}

/// The nodes of a zone waiting for their NoExecute taint, in order, each once.
#[derive(Debug)]
pub struct TaintQueue {
    pub bucket: TokenBucket,
    queue: VecDeque<String>,
    members: HashSet<String>,
}

impl TaintQueue {
    pub fn new(now: Instant) -> Self {
        TaintQueue {
            bucket: TokenBucket::new(EVICTION_QPS, now),
            queue: VecDeque::new(),
            members: HashSet::new(),
        }
    }

    /// Queue `node` unless it waits already; true when added.
    pub fn add(&mut self, node: &str) -> bool {
        if !self.members.insert(node.to_string()) {
            return false;
        }
        self.queue.push_back(node.to_string());
        true
    }

    /// Take `node` out; true when it was waiting.
    pub fn remove(&mut self, node: &str) -> bool {
        if !self.members.remove(node) {
            return false;
        }
        self.queue.retain(|n| n != node);
        true
    }

    /// The next node to taint if the bucket allows one now.
    pub fn pop(&mut self, now: Instant) -> Option<String> {
        if self.queue.is_empty() || !self.bucket.try_accept(now) {
            return None;
        }
        let node = self.queue.pop_front()?;
        self.members.remove(&node);
        Some(node)
    }

    /// When the queue can next give a node (None: empty or stopped).
    pub fn next_at(&mut self, now: Instant) -> Option<Instant> {
        if self.queue.is_empty() {
            return None;
        }
        self.bucket.next_at(now)
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_states_follow_upstream() {
        assert_eq!(zone_state(0, 1), ZoneState::FullDisruption);
        assert_eq!(zone_state(1, 1), ZoneState::Normal);
        assert_eq!(zone_state(1, 2), ZoneState::Normal);
        assert_eq!(zone_state(2, 3), ZoneState::PartialDisruption);
        assert_eq!(zone_state(3, 3), ZoneState::Normal);
        assert_eq!(zone_state(0, 0), ZoneState::Normal);
        assert_eq!(qps_for(ZoneState::PartialDisruption, 10), 0.0);
        assert_eq!(qps_for(ZoneState::PartialDisruption, 100), SECONDARY_EVICTION_QPS);
        assert_eq!(qps_for(ZoneState::FullDisruption, 10), EVICTION_QPS);
    }

    #[test]
    fn tainting_is_paced_one_node_per_ten_seconds() {
        let t0 = Instant::now();
        let mut q = TaintQueue::new(t0);
        assert!(q.add("a"));
        assert!(!q.add("a"));
        assert!(q.add("b"));
        assert_eq!(q.pop(t0).as_deref(), Some("a"));
        assert_eq!(q.pop(t0 + Duration::from_secs(5)), None);
        let next = q.next_at(t0 + Duration::from_secs(5)).unwrap();
        assert!(next.duration_since(t0) >= Duration::from_millis(9_990));
        assert_eq!(q.pop(t0 + Duration::from_secs(10)).as_deref(), Some("b"));
        assert!(q.is_empty());
        q.add("c");
        q.bucket.swap(0.0, t0);
        assert_eq!(q.pop(t0 + Duration::from_secs(100)), None);
        assert_eq!(q.next_at(t0), None);
        assert!(q.remove("c"));
    }

    #[test]
    fn zones_come_from_region_and_zone_labels() {
        let mut node = Node::default();
        assert_eq!(zone_key(&node), "");
        node.metadata.labels = Some([("topology.kubernetes.io/zone".to_string(), "z1".to_string())].into());
        assert_eq!(zone_key(&node), ":\x00:z1");
    }
}
