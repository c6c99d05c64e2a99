//! The scheduling queue (upstream's PriorityQueue): an active heap ordered by priority then
//! queue time, a backoff heap (1s doubling per attempt up to 10s), the unschedulable pool that
//! cluster events move pods out of (through the queueing hints), pods held by scheduling gates,
//! and the periodic flushes (backoff expiry; unschedulable pods left over 5 minutes).

use super::framework::PluginSet;
use super::pod_info::PodInfo;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// podInitialBackoffDuration.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// podMaxBackoffDuration.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// podMaxInUnschedulablePodsDuration.
pub const MAX_IN_UNSCHEDULABLE: Duration = Duration::from_secs(5 * 60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Active,
    Backoff,
    Unschedulable,
    Gated,
    InFlight,
}

/// A queued pod (QueuedPodInfo).
#[derive(Debug)]
pub struct Entry {
    pub info: Arc<PodInfo>,
    pub place: Place,
    /// When the pod was (re)queued: orders the active heap, starts the backoff and the
    /// unschedulable timer.
    pub timestamp: Instant,
    pub attempts: u32,
    pub unschedulable_plugins: PluginSet,
    error_backoff: bool,
    generation: u64,
    cycle: u64,
    /// Preemption API calls for this pod are in flight: moves wait until they finish.
    pub preempting: bool,
    move_requested: bool,
}

#[derive(PartialEq, Eq)]
struct ActiveKey {
    priority: i32,
    timestamp: Reverse<Instant>,
    generation: Reverse<u64>,
    uid: String,
}

impl Ord for ActiveKey {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.priority, self.timestamp, self.generation).cmp(&(other.priority, other.timestamp, other.generation))
    }
}

impl PartialOrd for ActiveKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The backoff of a pod after `attempts` attempts (calculateBackoffDuration).
pub fn backoff_duration(attempts: u32) -> Duration {
    let mut d = INITIAL_BACKOFF;
    for _ in 1..attempts {
        if d > MAX_BACKOFF - d {
            return MAX_BACKOFF;
        }
        d += d;
    }
    d
}

fn gated(info: &PodInfo) -> bool {
    info.pod
        .spec
        .as_ref()
        .and_then(|s| s.scheduling_gates.as_ref())
        .is_some_and(|g| !g.is_empty())
}

#[derive(Default)]
pub struct Queue {
    entries: HashMap<String, Entry>,
    active: BinaryHeap<ActiveKey>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    unschedulable: HashSet<String>,
    next_generation: u64,
    cycle: u64,
    move_request_cycle: u64,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, uid: &str) -> Option<&Entry> {
        self.entries.get(uid)
    }

    fn place(&mut self, uid: &str, place: Place, now: Instant) {
        self.next_generation += 1;
        let generation = self.next_generation;
        let Some(e) = self.entries.get_mut(uid) else { return };
        if e.place == Place::Unschedulable {
            self.unschedulable.remove(uid);
        }
        e.place = place;
        e.generation = generation;
        match place {
            Place::Active => self.active.push(ActiveKey {
                priority: e.info.priority,
                timestamp: Reverse(e.timestamp),
                generation: Reverse(generation),
                uid: uid.to_string(),
            }),
            Place::Backoff => {
                let expiry = e.timestamp + backoff_duration(e.attempts);
                if expiry <= now {
                    e.place = Place::Active;
                    self.active.push(ActiveKey {
                        priority: e.info.priority,
                        timestamp: Reverse(e.timestamp),
                        generation: Reverse(generation),
                        uid: uid.to_string(),
                    });
                } else {
                    self.backoff.push(Reverse((expiry, generation, uid.to_string())));
                }
            }
            Place::Unschedulable => {
                self.unschedulable.insert(uid.to_string());
            }
            Place::Gated | Place::InFlight => {}
        }
    }

    /// A new pending pod: active, or held while it has scheduling gates.
    pub fn add(&mut self, info: Arc<PodInfo>, now: Instant) {
        if self.entries.contains_key(&info.uid) {
            self.update(info, true, now);
            return;
        }
        let uid = info.uid.clone();
        let place = if gated(&info) { Place::Gated } else { Place::Active };
        self.entries.insert(
            uid.clone(),
            Entry {
                info,
                place: Place::InFlight,
                timestamp: now,
                attempts: 0,
                unschedulable_plugins: PluginSet::default(),
                error_backoff: false,
                generation: 0,
                cycle: 0,
                preempting: false,
                move_requested: false,
            },
        );
        self.place(&uid, place, now);
    }

    /// The pod changed; `relevant` says whether the change may affect scheduling (spec, labels).
    pub fn update(&mut self, info: Arc<PodInfo>, relevant: bool, now: Instant) {
        let uid = info.uid.clone();
        let Some(e) = self.entries.get_mut(&uid) else {
            self.add(info, now);
            return;
        };
        let still_gated = gated(&info);
        e.info = info;
        match e.place {
            Place::Gated if !still_gated => self.place(&uid, Place::Active, now),
            Place::Unschedulable if relevant && !e.preempting => self.place(&uid, Place::Backoff, now),
            _ => {}
        }
    }

    pub fn remove(&mut self, uid: &str) -> Option<Entry> {
        self.unschedulable.remove(uid);
        self.entries.remove(uid)
    }

    /// The next pod to schedule (the active heap; when it is empty, a pod still backing off
    /// after a rejection, as upstream's SchedulerPopFromBackoffQ).
    pub fn pop(&mut self) -> Option<Arc<PodInfo>> {
        let uid = loop {
            if let Some(key) = self.active.pop() {
                let valid = self
                    .entries
                    .get(&key.uid)
                    .is_some_and(|e| e.place == Place::Active && e.generation == key.generation.0);
                if valid {
                    break key.uid;
                }
                continue;
            }
            let Some(Reverse((_, generation, uid))) = self.backoff.peek().cloned() else {
                return None;
            };
            let entry = self.entries.get(&uid);
            if !entry.is_some_and(|e| e.place == Place::Backoff && e.generation == generation) {
                self.backoff.pop();
                continue;
            }
            if entry.is_some_and(|e| e.error_backoff) {
                return None;
            }
            self.backoff.pop();
            break uid;
        };
        self.cycle += 1;
        let e = self.entries.get_mut(&uid)?;
        e.place = Place::InFlight;
        e.attempts += 1;
        e.cycle = self.cycle;
        Some(e.info.clone())
    }

    /// The pod failed its cycle: rejected by `plugins`, or an error (backoff). `preempting`
    /// marks a pod whose preemption is under way.
    pub fn failed(&mut self, uid: &str, plugins: PluginSet, error: bool, preempting: bool, now: Instant) {
        let move_request_cycle = self.move_request_cycle;
        let Some(e) = self.entries.get_mut(uid) else { return };
        e.timestamp = now;
        e.unschedulable_plugins = plugins;
        e.error_backoff = error;
        e.preempting = preempting;
        e.move_requested = false;
        let place = if error || (!preempting && move_request_cycle >= e.cycle && e.cycle > 0) {
            Place::Backoff
        } else {
            Place::Unschedulable
        };
        self.place(uid, place, now);
    }

    /// Re-queue a pod whose binding failed (it had left the queue when it was assumed).
    pub fn requeue_after_error(&mut self, info: Arc<PodInfo>, attempts: u32, now: Instant) {
        let uid = info.uid.clone();
        self.add(info, now);
        if let Some(e) = self.entries.get_mut(&uid) {
            e.attempts = attempts.max(1);
            e.cycle = self.cycle;
        }
        self.failed(&uid, PluginSet::default(), true, false, now);
    }

    /// A cluster event: move the unschedulable pods it may help (`may_help`) to backoff/active.
    pub fn move_all(&mut self, now: Instant, mut may_help: impl FnMut(&Entry) -> bool) {
        self.move_request_cycle = self.cycle;
        let chosen: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|uid| self.entries.get(*uid).is_some_and(&mut may_help))
            .cloned()
            .collect();
        for uid in chosen {
            let preempting = self.entries.get(&uid).is_some_and(|e| e.preempting);
            if preempting {
                if let Some(e) = self.entries.get_mut(&uid) {
                    e.move_requested = true;
                }
            } else {
                self.place(&uid, Place::Backoff, now);
            }
        }
    }

    /// Preemption for the pod finished; on failure it is retried at once.
    pub fn preemption_done(&mut self, uid: &str, ok: bool, now: Instant) {
        let Some(e) = self.entries.get_mut(uid) else { return };
        e.preempting = false;
        let requested = std::mem::take(&mut e.move_requested);
        if e.place != Place::Unschedulable {
            return;
        }
        if !ok {
            self.place(uid, Place::Active, now);
        } else if requested {
            self.place(uid, Place::Backoff, now);
        }
    }

    /// Move backoff pods whose time has come to the active heap.
    pub fn flush_backoff(&mut self, now: Instant) {
        while let Some(Reverse((expiry, generation, uid))) = self.backoff.peek().cloned() {
            if expiry > now {
                break;
            }
            self.backoff.pop();
            if self
                .entries
                .get(&uid)
                .is_some_and(|e| e.place == Place::Backoff && e.generation == generation)
            {
                self.place(&uid, Place::Active, now);
            }
        }
    }

    /// Move pods that stayed unschedulable longer than 5 minutes (flushUnschedulablePodsLeftover).
    pub fn flush_unschedulable(&mut self, now: Instant) {
        let stale: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|uid| {
                self.entries
                    .get(*uid)
                    .is_some_and(|e| !e.preempting && now.duration_since(e.timestamp) > MAX_IN_UNSCHEDULABLE)
            })
            .cloned()
            .collect();
        for uid in stale {
            self.place(&uid, Place::Backoff, now);
        }
    }

    /// When the earliest backoff ends.
    pub fn next_backoff(&self) -> Option<Instant> {
        self.backoff.peek().map(|Reverse((t, _, _))| *t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::framework::Plugin;
    use crate::scheduler::node_info::tests::{info, pod};
    use k8s_openapi::api::core::v1::PodSchedulingGate;

    fn with_priority(name: &str, priority: i32) -> Arc<PodInfo> {
        let mut p = pod(name, &[], &[]);
        p.spec.as_mut().unwrap().priority = Some(priority);
        info(p)
    }

    fn fit() -> PluginSet {
        let mut s = PluginSet::default();
        s.insert(Plugin::NodeResourcesFit);
        s
    }

    #[test]
    fn higher_priority_first_then_fifo() {
        let mut q = Queue::default();
        let t = Instant::now();
        q.add(with_priority("a", 0), t);
        q.add(with_priority("b", 10), t + Duration::from_millis(1));
        q.add(with_priority("c", 0), t + Duration::from_millis(2));
        let order: Vec<String> = std::iter::from_fn(|| q.pop().map(|p| p.name.clone())).collect();
        assert_eq!(order, ["b", "a", "c"]);
    }

    #[test]
    fn backoff_doubles_to_ten_seconds() {
        assert_eq!(backoff_duration(1), Duration::from_secs(1));
        assert_eq!(backoff_duration(2), Duration::from_secs(2));
        assert_eq!(backoff_duration(4), Duration::from_secs(8));
        assert_eq!(backoff_duration(5), Duration::from_secs(10));
        assert_eq!(backoff_duration(50), Duration::from_secs(10));
    }

    #[test]
    fn unschedulable_pods_wait_for_a_helpful_event() {
        let mut q = Queue::default();
        let t = Instant::now();
        q.add(with_priority("a", 0), t);
        let p = q.pop().unwrap();
        q.failed(&p.uid, fit(), false, false, t);
        assert_eq!(q.get("uid-a").unwrap().place, Place::Unschedulable);
        assert!(q.pop().is_none());
        q.move_all(t, |_| false);
        assert_eq!(q.get("uid-a").unwrap().place, Place::Unschedulable);
        q.move_all(t, |e| e.unschedulable_plugins.contains(Plugin::NodeResourcesFit));
        assert_eq!(q.get("uid-a").unwrap().place, Place::Backoff);
        // Nothing else to do: popped early from backoff.
        assert_eq!(q.pop().unwrap().name, "a");
        q.failed("uid-a", fit(), false, false, t);
        // The event came during its cycle → straight to backoff (attempt 2 → 2s).
        q.move_all(t, |_| true);
        q.flush_backoff(t + Duration::from_secs(3));
        assert_eq!(q.get("uid-a").unwrap().place, Place::Active);
    }

    #[test]
    fn leftovers_are_flushed_after_five_minutes() {
        let mut q = Queue::default();
        let t = Instant::now();
        q.add(with_priority("a", 0), t);
        q.pop();
        q.failed("uid-a", fit(), false, false, t);
        q.flush_unschedulable(t + Duration::from_secs(60));
        assert_eq!(q.get("uid-a").unwrap().place, Place::Unschedulable);
        q.flush_unschedulable(t + Duration::from_secs(301));
        assert_eq!(q.get("uid-a").unwrap().place, Place::Active);
    }

    #[test]
    fn gates_hold_pods_until_removed() {
        let mut q = Queue::default();
        let t = Instant::now();
        let mut p = pod("g", &[], &[]);
        p.spec.as_mut().unwrap().scheduling_gates = Some(vec![PodSchedulingGate { name: "wait".into() }]);
        q.add(info(p.clone()), t);
        assert!(q.pop().is_none());
        q.move_all(t, |_| true);
        assert_eq!(q.get("uid-g").unwrap().place, Place::Gated);
        p.spec.as_mut().unwrap().scheduling_gates = None;
        q.update(info(p), true, t);
        assert_eq!(q.pop().unwrap().name, "g");
    }

    #[test]
    fn preempting_pods_move_when_preemption_ends() {
        let mut q = Queue::default();
        let t = Instant::now();
        q.add(with_priority("p", 100), t);
        q.pop();
        q.failed("uid-p", fit(), false, true, t);
        q.move_all(t, |_| true);
        assert_eq!(q.get("uid-p").unwrap().place, Place::Unschedulable);
        q.preemption_done("uid-p", true, t + Duration::from_secs(5));
        assert_eq!(q.get("uid-p").unwrap().place, Place::Active);
    }
}
