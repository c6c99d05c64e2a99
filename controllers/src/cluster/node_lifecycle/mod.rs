//! The node lifecycle controller (upstream's pkg/controller/nodelifecycle): follows every Node
//! and its Lease in kube-node-lease; a node that shows no sign of life (no new Ready heartbeat,
//! no Lease renewal) for the grace period (40s, --node-monitor-grace-period) gets its conditions
//! posted Unknown ([`health`]), its pods marked not Ready, and — paced per zone, stopped when
//! every zone is down ([`zones`]) — the node.kubernetes.io/unreachable (Ready Unknown) or
//! not-ready (Ready False) NoExecute taint, which the taint eviction controller acts on. Every
//! node also carries the NoSchedule taints of its conditions and spec.unschedulable
//! (TaintNodesByCondition); a node that is Ready again loses them.
//!
//! Like upstream's, this is a monitor rather than a per-object reconciler: one task follows the
//! Node, Lease and Pod change streams and wakes at the moment the next node would be overdue.

pub mod health;
pub mod zones;

use crate::cluster::taints::{self, NOT_READY, NO_EXECUTE, NO_SCHEDULE, UNREACHABLE};
use crate::core::credentials::Identity;
use crate::core::informers::{Informer, Informers};
use crate::workloads::events::{EventType, Recorder};
use futures::{FutureExt, Stream, StreamExt};
use health::{Assessment, Health, READY};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, ObjectReference, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zones::{TaintQueue, ZoneState};

/// Where nodes' Leases live.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// --node-monitor-grace-period default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(40);
/// --node-startup-grace-period default: for nodes that never posted a Ready condition.
pub const STARTUP_GRACE: Duration = Duration::from_secs(60);
const COMPONENT: &str = "node-controller";
/// Nodes with this label are left out of zone disruption checks.
const EXCLUDE_DISRUPTION: &str = "node.kubernetes.io/exclude-disruption";
/// How soon a node whose update failed is looked at again.
const RETRY: Duration = Duration::from_secs(1);
/// Changes taken from the streams before acting on them.
const BATCH: usize = 1024;

/// Which NoSchedule taint a condition in a status brings (upstream's
/// nodeConditionToTaintKeyStatusMap).
const CONDITION_TAINTS: [(&str, &str, &str); 6] = [
    ("Ready", "False", NOT_READY),
    ("Ready", "Unknown", UNREACHABLE),
    ("MemoryPressure", "True", taints::MEMORY_PRESSURE),
    ("DiskPressure", "True", taints::DISK_PRESSURE),
    ("NetworkUnavailable", "True", taints::NETWORK_UNAVAILABLE),
    ("PIDPressure", "True", taints::PID_PRESSURE),
];

/// Subscribe to Nodes, Leases and Pods now; the returned future runs the controller.
pub fn start(informers: &Informers, grace: Option<Duration>) -> impl Future<Output = ()> + Send + 'static {
    let nodes = informers.get::<Node>();
    let leases = informers.get::<Lease>();
    let pods = informers.get::<Pod>();
    let node_changes = nodes.subscribe();
    let lease_changes = leases.subscribe();
    let pod_changes = pods.subscribe();
    let client = informers.client_as(Identity::Controller("node-controller"));
    async move {
        if nodes.store().wait_until_ready().await.is_err()
            || leases.store().wait_until_ready().await.is_err()
            || pods.store().wait_until_ready().await.is_err()
        {
            return;
        }
        let lifecycle = Lifecycle {
            recorder: Recorder::new(client.clone(), COMPONENT),
            client,
            nodes,
            leases,
            pods,
            grace: grace.unwrap_or(DEFAULT_GRACE),
            health: HashMap::new(),
            known: HashMap::new(),
            zone_of: HashMap::new(),
            zone_ready: HashMap::new(),
            zone_states: HashMap::new(),
            tainters: HashMap::new(),
            retry: HashSet::new(),
            deadlines: BinaryHeap::new(),
            due: HashMap::new(),
            pod_nodes: HashMap::new(),
            zones_dirty: true,
        };
        lifecycle.run(node_changes, lease_changes, pod_changes).await;
    }
}

struct Lifecycle {
    client: Client,
    recorder: Recorder,
    nodes: Informer<Node>,
    leases: Informer<Lease>,
    pods: Informer<Pod>,
    grace: Duration,
    health: HashMap<String, Health>,
    /// Nodes seen (name → uid), for the RegisteredNode and RemovingNode events.
    known: HashMap<String, String>,
    zone_of: HashMap<String, String>,
    /// Per zone, whether each of its nodes is Ready.
    zone_ready: HashMap<String, HashMap<String, bool>>,
    zone_states: HashMap<String, ZoneState>,
    tainters: HashMap<String, TaintQueue>,
    /// Nodes whose pods still need marking not Ready.
    retry: HashSet<String>,
    /// When nodes are to be looked at again: at the moment they become overdue (an entry whose
    /// time is no longer the node's [`Self::due`] is outdated and skipped), or to retry (None).
    deadlines: BinaryHeap<Reverse<(Instant, String, Option<Timestamp>)>>,
    /// The moment each node becomes overdue, as last scheduled.
    due: HashMap<String, Timestamp>,
    /// The node of every bound pod (by UID), to notice pods bound to a node that is down.
    pod_nodes: HashMap<String, String>,
    zones_dirty: bool,
}

enum Change {
    Node(Arc<Node>),
    Lease(Arc<Lease>),
    Pod(Arc<Pod>),
}

fn ready_status(c: &Option<NodeCondition>) -> &str {
    c.as_ref().map(|c| c.status.as_str()).unwrap_or("")
}

fn node_ref(name: &str, uid: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Node".into()),
        name: Some(name.into()),
        uid: Some(uid.into()),
        namespace: None,
        ..Default::default()
    }
}

impl Lifecycle {
    async fn run(
        mut self,
        node_changes: impl Stream<Item = Arc<Node>> + Send,
        lease_changes: impl Stream<Item = Arc<Lease>> + Send,
        pod_changes: impl Stream<Item = Arc<Pod>> + Send,
    ) {
        let mut changes = pin!(futures::stream::select(
            futures::stream::select(node_changes.map(Change::Node), lease_changes.map(Change::Lease)),
            pod_changes.map(Change::Pod),
        ));
        // The first pass looks at every node, then at the zones.
        let all: Vec<String> = self.nodes.store().state().iter().map(|n| n.name_any()).collect();
        for name in &all {
            self.visit(name, true).await;
        }
        for pod in self.pods.store().state() {
            self.pod_changed(&pod).await;
        }
        self.handle_disruption().await;
        loop {
            let wake = self.next_wake();
            let first = tokio::select! {
                change = changes.next() => match change {
                    Some(change) => Some(change),
                    None => return,
                },
                _ = sleep_until(wake) => None,
            };
            let mut batch: Vec<Change> = first.into_iter().collect();
            while batch.len() < BATCH {
                match changes.next().now_or_never() {
                    Some(Some(change)) => batch.push(change),
                    Some(None) => return,
                    None => break,
                }
            }
            let mut visits: BTreeSet<String> = BTreeSet::new();
            let mut node_events: HashSet<String> = HashSet::new();
            for change in batch {
                match change {
                    Change::Node(node) => {
                        visits.insert(node.name_any());
                        node_events.insert(node.name_any());
                    }
                    Change::Lease(lease) => {
                        if lease.namespace().as_deref() == Some(NODE_LEASE_NAMESPACE) {
                            visits.insert(lease.name_any());
                        }
                    }
                    Change::Pod(pod) => self.pod_changed(&pod).await,
                }
            }
            let now = Instant::now();
            while let Some(Reverse((at, _, _))) = self.deadlines.peek() {
                if *at > now {
                    break;
                }
                if let Some(Reverse((_, name, overdue))) = self.deadlines.pop() {
                    if overdue.is_none() || self.due.get(&name) == overdue.as_ref() {
                        visits.insert(name);
                    }
                }
            }
            for name in visits {
                let node_event = node_events.contains(&name);
                self.visit(&name, node_event).await;
            }
            if self.zones_dirty {
                self.handle_disruption().await;
            }
            self.tainting_pass().await;
        }
    }

    /// The earliest of the next overdue node and the next node the tainters may take.
    fn next_wake(&mut self) -> Option<Instant> {
        let now = Instant::now();
        let deadline = self.deadlines.peek().map(|Reverse((at, _, _))| *at);
        let tainter = self.tainters.values_mut().filter_map(|q| q.next_at(now)).min();
        match (deadline, tainter) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn record_node(&self, node: &Node, reason: &str, message: String) {
        let r = node_ref(&node.name_any(), &node.uid().unwrap_or_default());
        self.recorder.record_ref(r, EventType::Normal, reason, message);
    }

    /// Look at one node: its health, taints and pods (upstream's monitorNodeHealth for one node
    /// plus, on node changes, doNoScheduleTaintingPass).
    async fn visit(&mut self, name: &str, node_event: bool) {
        let Some(mut node) = self.nodes.get(None, name) else {
            self.forget(name);
            return;
        };
        if !self.known.contains_key(name) {
            self.known.insert(name.to_string(), node.uid().unwrap_or_default());
            self.record_node(
                &node,
                "RegisteredNode",
                format!("Node {name} event: Registered Node {name} in Controller"),
            );
            self.mark_reachable(&node).await;
        }
        let zone = zones::zone_key(&node);
        self.tainters
            .entry(zone.clone())
            .or_insert_with(|| TaintQueue::new(Instant::now()));
        if node_event {
            self.no_schedule_pass(&node).await;
            self.reconcile_labels(&node).await;
        }
        let saved = self.health.get(name).cloned();
        let mut assessment: Option<Assessment> = None;
        for _attempt in 0..5 {
            let lease = self.leases.get(Some(NODE_LEASE_NAMESPACE), name);
            let a = health::assess(
                &node,
                lease.as_deref(),
                saved.as_ref(),
                Timestamp::now(),
                self.grace,
                STARTUP_GRACE,
            );
            let Some(conditions) = a.post.clone() else {
                assessment = Some(a);
                break;
            };
            match self.post_conditions(&node, conditions).await {
                Ok(()) => {
                    let mut a = a;
                    a.health.ready = a.current.clone();
                    a.health.ready_transition = Timestamp::now();
                    assessment = Some(a);
                    break;
                }
                Err(e) => {
                    tracing::debug!(node = name, error = %e, "could not post node conditions; retrying");
                    match Api::<Node>::all(self.client.clone()).get(name).await {
                        Ok(fresh) => node = Arc::new(fresh),
                        Err(_) => break,
                    }
                }
            }
        }
        let Some(a) = assessment else {
            // Skipping: no pods will be evicted until the update goes through.
            self.deadlines
                .push(Reverse((Instant::now() + RETRY, name.to_string(), None)));
            return;
        };
        self.health.insert(name.to_string(), a.health.clone());
        // Look again when the node would be overdue (once per moment: renewals move it).
        if self.due.get(name) != Some(&a.overdue_at) {
            if let Ok(wait) = Duration::try_from(a.overdue_at.duration_since(Timestamp::now())) {
                self.due.insert(name.to_string(), a.overdue_at);
                let at = Instant::now() + wait + Duration::from_millis(10);
                self.deadlines.push(Reverse((at, name.to_string(), Some(a.overdue_at))));
            }
        }
        self.track_zone(&node, &zone, ready_status(&a.current) == "True");
        let Some(current) = &a.current else { return };
        self.taint_based_eviction(&node, &a.observed, &zone).await;
        let became_not_ready = current.status != "True" && a.observed.status == "True";
        if became_not_ready {
            self.record_node(
                &node,
                "NodeNotReady",
                format!("Node {name} status is now: NodeNotReady"),
            );
        }
        if became_not_ready || (self.retry.contains(name) && a.observed.status != "True") {
            let pods = self.pods_on(name);
            match mark_pods_not_ready(&self.client, &self.recorder, pods, name).await {
                Ok(()) => {
                    self.retry.remove(name);
                }
                Err(e) => {
                    tracing::warn!(node = name, error = %e, "unable to mark all pods NotReady on node; queuing for retry");
                    self.retry.insert(name.to_string());
                    self.deadlines
                        .push(Reverse((Instant::now() + RETRY, name.to_string(), None)));
                }
            }
        } else {
            self.retry.remove(name);
        }
    }

    fn forget(&mut self, name: &str) {
        if let Some(uid) = self.known.remove(name) {
            let r = node_ref(name, &uid);
            self.recorder.record_ref(
                r,
                EventType::Normal,
                "RemovingNode",
                format!("Node {name} event: Removing Node {name} from Controller"),
            );
        }
        self.health.remove(name);
        self.due.remove(name);
        self.retry.remove(name);
        if let Some(zone) = self.zone_of.remove(name) {
            if let Some(members) = self.zone_ready.get_mut(&zone) {
                members.remove(name);
                if members.is_empty() {
                    self.zone_ready.remove(&zone);
                }
            }
            if let Some(q) = self.tainters.get_mut(&zone) {
                q.remove(name);
            }
            self.zones_dirty = true;
        }
    }

    fn track_zone(&mut self, node: &Node, zone: &str, ready: bool) {
        let name = node.name_any();
        let excluded = node.labels().contains_key(EXCLUDE_DISRUPTION);
        if let Some(previous) = self.zone_of.get(&name).cloned() {
            if previous != zone || excluded {
                if let Some(members) = self.zone_ready.get_mut(&previous) {
                    members.remove(&name);
                    if members.is_empty() {
                        self.zone_ready.remove(&previous);
                    }
                }
                self.zone_of.remove(&name);
                self.zones_dirty = true;
            }
        }
        if excluded {
            return;
        }
        self.zone_of.insert(name.clone(), zone.to_string());
        let before = self.zone_ready.entry(zone.to_string()).or_default().insert(name, ready);
        if before != Some(ready) {
            self.zones_dirty = true;
        }
    }

    async fn post_conditions(&self, node: &Node, conditions: Vec<NodeCondition>) -> Result<(), kube::Error> {
        let mut next = node.clone();
        next.status.get_or_insert_with(Default::default).conditions = Some(conditions);
        Api::<Node>::all(self.client.clone())
            .replace_status(&node.name_any(), &PostParams::default(), &next)
            .await
            .map(drop)
    }

    /// TaintNodesByCondition: the NoSchedule taints of the node's conditions and
    /// spec.unschedulable, and no other of those (upstream's doNoScheduleTaintingPass).
    async fn no_schedule_pass(&self, node: &Node) {
        let mut wanted: Vec<Taint> = Vec::new();
        let conditions = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default();
        for c in conditions {
            for (type_, status, key) in CONDITION_TAINTS {
                if c.type_ == type_ && c.status == status {
                    wanted.push(taints::taint(key, NO_SCHEDULE));
                }
            }
        }
        if node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false) {
            wanted.push(taints::taint(taints::UNSCHEDULABLE, NO_SCHEDULE));
        }
        let managed: Vec<Taint> = taints::of(node)
            .iter()
            .filter(|t| {
                t.effect == NO_SCHEDULE
                    && (t.key == taints::UNSCHEDULABLE || CONDITION_TAINTS.iter().any(|(_, _, key)| *key == t.key))
            })
            .cloned()
            .collect();
        let (add, remove) = taints::diff(&wanted, &managed);
        if add.is_empty() && remove.is_empty() {
            return;
        }
        if let Err(e) = taints::swap(&self.client, node, &add, &remove).await {
            tracing::warn!(node = %node.name_any(), error = %e, "failed to taint NoSchedule on node");
        }
    }

    /// The beta OS and architecture labels follow the stable ones (upstream's
    /// reconcileNodeLabels).
    async fn reconcile_labels(&self, node: &Node) {
        let labels = node.labels();
        let mut update = serde_json::Map::new();
        for (primary, secondary) in [
            ("kubernetes.io/os", "beta.kubernetes.io/os"),
            ("kubernetes.io/arch", "beta.kubernetes.io/arch"),
        ] {
            if let Some(value) = labels.get(primary) {
                if labels.get(secondary) != Some(value) {
                    update.insert(secondary.into(), value.clone().into());
                }
            }
        }
        if update.is_empty() {
            return;
        }
        let patch = serde_json::json!({"metadata": {"labels": update}});
        let api: Api<Node> = Api::all(self.client.clone());
        if let Err(e) = api
            .patch(&node.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            tracing::warn!(node = %node.name_any(), error = %e, "failed to reconcile labels for node");
        }
    }

    /// Queue or swap the NoExecute taint the Ready condition calls for, or lift it (upstream's
    /// processTaintBaseEviction).
    async fn taint_based_eviction(&mut self, node: &Node, observed: &NodeCondition, zone: &str) {
        let not_ready = taints::taint(NOT_READY, NO_EXECUTE);
        let unreachable = taints::taint(UNREACHABLE, NO_EXECUTE);
        let (want, opposite) = match observed.status.as_str() {
            "False" => (not_ready, unreachable),
            "Unknown" => (unreachable, not_ready),
            "True" => {
                self.mark_reachable(node).await;
                return;
            }
            _ => return,
        };
        if taints::has(node, &opposite) {
            // Already tainted the other way: swap right away.
            if let Err(e) = taints::swap(&self.client, node, &[want], &[opposite]).await {
                tracing::warn!(node = %node.name_any(), error = %e, "failed to swap the NoExecute taint; will try again");
            }
            return;
        }
        let queue = self
            .tainters
            .entry(zone.to_string())
            .or_insert_with(|| TaintQueue::new(Instant::now()));
        let name = node.name_any();
        if !taints::has(node, &want) {
            queue.remove(&name);
        }
        queue.add(&name);
    }

    /// Lift both NoExecute taints and take the node out of its tainter queue.
    async fn mark_reachable(&mut self, node: &Node) {
        let lift = [
            taints::taint(UNREACHABLE, NO_EXECUTE),
            taints::taint(NOT_READY, NO_EXECUTE),
        ];
        if lift.iter().any(|t| taints::has(node, t)) {
            if let Err(e) = taints::swap(&self.client, node, &[], &lift).await {
                tracing::warn!(node = %node.name_any(), error = %e, "failed to remove taints from node");
                return;
            }
        }
        if let Some(q) = self.tainters.get_mut(&zones::zone_key(node)) {
            q.remove(&node.name_any());
        }
    }

    /// Zone states and tainting rates from the nodes' readiness (upstream's handleDisruption).
    async fn handle_disruption(&mut self) {
        self.zones_dirty = false;
        let mut new_states: HashMap<String, (ZoneState, usize)> = HashMap::new();
        for (zone, members) in &self.zone_ready {
            let ready = members.values().filter(|r| **r).count();
            new_states.insert(
                zone.clone(),
                (zones::zone_state(ready, members.len() - ready), members.len()),
            );
        }
        let all_are_full = new_states.values().all(|(s, _)| *s == ZoneState::FullDisruption);
        for zone in new_states.keys() {
            self.zone_states.entry(zone.clone()).or_insert(ZoneState::Initial);
        }
        self.zone_states.retain(|zone, _| new_states.contains_key(zone));
        let all_were_full = self.zone_states.values().all(|s| *s == ZoneState::FullDisruption);
        if all_are_full && all_were_full {
            return;
        }
        let now = Instant::now();
        if all_are_full {
            tracing::info!("Controller detected that all Nodes are not-Ready. Entering master disruption mode");
            for node in self.nodes.store().state() {
                self.mark_reachable(&node).await;
            }
            for (zone, state) in self.zone_states.iter_mut() {
                if let Some(q) = self.tainters.get_mut(zone) {
                    q.bucket.swap(0.0, now);
                }
                *state = ZoneState::FullDisruption;
            }
            return;
        }
        if all_were_full {
            tracing::info!("Controller detected that some Nodes are Ready. Exiting master disruption mode");
            let wall = Timestamp::now();
            for h in self.health.values_mut() {
                h.probe = wall;
                h.ready_transition = wall;
            }
        }
        for (zone, state) in self.zone_states.iter_mut() {
            let Some((new_state, size)) = new_states.get(zone).copied() else {
                continue;
            };
            if *state == new_state && !all_were_full {
                continue;
            }
            if let Some(q) = self.tainters.get_mut(zone) {
                q.bucket.swap(zones::qps_for(new_state, size), now);
            }
            *state = new_state;
        }
    }

    /// Taint the nodes the zone tainters let through (upstream's doNoExecuteTaintingPass).
    async fn tainting_pass(&mut self) {
        let now = Instant::now();
        let zones: Vec<String> = self.tainters.keys().cloned().collect();
        for zone in zones {
            while let Some(name) = self.tainters.get_mut(&zone).and_then(|q| q.pop(now)) {
                let Some(node) = self.nodes.get(None, &name) else {
                    continue;
                };
                let ready = health::condition(&node, READY).map(|c| c.status.clone());
                let (want, opposite) = match ready.as_deref() {
                    Some("False") => (NOT_READY, UNREACHABLE),
                    Some("Unknown") => (UNREACHABLE, NOT_READY),
                    // Ready again (or no condition to go by): nothing to taint.
                    _ => continue,
                };
                let add = [taints::taint(want, NO_EXECUTE)];
                let remove = [taints::taint(opposite, NO_EXECUTE)];
                if let Err(e) = taints::swap(&self.client, &node, &add, &remove).await {
                    tracing::warn!(node = %name, error = %e, "unable to taint unresponsive node");
                    if let Some(q) = self.tainters.get_mut(&zone) {
                        q.add(&name);
                    }
                    break;
                }
            }
        }
    }

    fn pods_on(&self, node: &str) -> Vec<Arc<Pod>> {
        self.pods
            .store()
            .state()
            .into_iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
            .collect()
    }

    /// A pod newly bound to a node that is not Ready is marked not Ready too (upstream's
    /// processPod).
    async fn pod_changed(&mut self, pod: &Pod) {
        let uid = pod.uid().unwrap_or_default();
        let live = self
            .pods
            .get(pod.namespace().as_deref(), &pod.name_any())
            .filter(|p| p.uid().as_deref() == Some(uid.as_str()));
        let Some(live) = live else {
            self.pod_nodes.remove(&uid);
            return;
        };
        let Some(node) = live
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty())
        else {
            return;
        };
        if self.pod_nodes.get(&uid) == Some(&node) {
            return;
        }
        self.pod_nodes.insert(uid, node.clone());
        let Some(h) = self.health.get(&node) else { return };
        if h.ready.as_ref().is_none_or(|c| c.status == "True") || self.nodes.get(None, &node).is_none() {
            return;
        }
        if let Err(e) = mark_pods_not_ready(&self.client, &self.recorder, vec![live], &node).await {
            tracing::info!(pod = %pod.name_any(), %node, error = %e, "unable to mark pod NotReady on node");
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => futures::future::pending().await,
    }
}

/// Set the Ready condition of the node's pods to False (upstream's MarkPodsNotReady), with a
/// NodeNotReady event on each.
pub async fn mark_pods_not_ready(
    client: &Client,
    recorder: &Recorder,
    pods: Vec<Arc<Pod>>,
    node: &str,
) -> Result<(), kube::Error> {
    let results = futures::stream::iter(pods)
        .map(|pod| async move {
            if pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) != Some(node) {
                return Ok(());
            }
            let ready = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_deref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
            let Some(ready) = ready else { return Ok(()) };
            if ready.status == "False" {
                return Ok(());
            }
            let patch = serde_json::json!({"status": {"conditions": [{
                "type": "Ready",
                "status": "False",
                "lastTransitionTime": Time(Timestamp::now()),
            }]}});
            let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
            match api
                .patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Strategic(&patch))
                .await
            {
                Ok(_) => {
                    recorder.warning(pod.as_ref(), "NodeNotReady", "Node is not ready".into());
                    Ok(())
                }
                Err(e) if crate::core::api_errors::is_not_found(&e) => Ok(()),
                Err(e) => Err(e),
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
}
