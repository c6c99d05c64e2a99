//! A pool of node agents in one process (one for `skiff node`, thousands for simulated nodes):
//! like KWOK, the pool follows ONE pod watch and ONE node watch and hands each pod to the agent of
//! its `spec.nodeName`. Pods are synced by one kube-runtime Controller for the whole pool (its
//! scheduler is the shared timer for back-offs and deadlines), woken by pod changes, by the
//! runtime's change notices and by the node getting its pod CIDR. Per node the agent keeps only
//! small records: pod IPs, start times, the last status written.

use super::admission::{self, Rejection};
use super::backoff::RestartBackoff;
use super::config::NodeConfig;
use super::events::EventSink;
use super::ipalloc::IpAllocator;
use super::lifecycle::{self, pod_key, MIRROR_ANNOTATION};
use super::runtime::{PodKey, Runtime};
use super::static_pods::StaticPods;
use crate::cluster::node_ipam::Cidr;
use crate::core::backoff::ErrorBackoff;
use crate::core::outcomes;
use crate::scheduler::resources::Resources;
use futures::stream::BoxStream;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::events::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Pods synced at once across the pool (each sync mostly waits on one API write).
const CONCURRENCY: u16 = 256;

/// The agent of one node.
pub struct NodeAgent {
    pub index: usize,
    pub config: NodeConfig,
    /// What pods may request of the node (admission).
    allocatable: Resources,
    pub host_ip: String,
    pub recorder: Recorder,
    pub(crate) statics: Option<Arc<StaticPods>>,
    state: Mutex<NodeState>,
}

#[derive(Default)]
struct NodeState {
    uid: Option<String>,
    ips: IpAllocator,
    /// Records by runtime uid.
    pods: HashMap<String, PodRecord>,
    /// The API pods on this node, by API uid.
    refs: HashMap<String, ObjectRef<Pod>>,
}

/// What the agent remembers of one pod.
#[derive(Default)]
struct PodRecord {
    start_time: Option<Timestamp>,
    ips: Vec<String>,
    written: Option<u64>,
    conditions: Option<Vec<(String, String, Timestamp)>>,
    /// The back-off end each container's BackOff event was recorded for.
    backoffs: HashMap<String, Timestamp>,
    /// What the pod counts against the node, once admitted.
    admitted: Option<Resources>,
}

impl NodeAgent {
    fn state(&self) -> MutexGuard<'_, NodeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The node's uid once it is registered.
    pub fn uid(&self) -> Option<String> {
        self.state().uid.clone()
    }

    pub(crate) fn set_uid(&self, uid: Option<String>) {
        if uid.is_some() {
            self.state().uid = uid;
        }
    }

    /// Take the pod CIDR the Node shows; true when it is new.
    pub(crate) fn set_range(&self, cidr: Cidr) -> bool {
        let mut state = self.state();
        if state.ips.range() == Some(cidr) {
            return false;
        }
        state.ips.set_range(cidr);
        // Addresses given before keep their place.
        let taken: Vec<IpAddr> = state
            .pods
            .values()
            .flat_map(|r| r.ips.iter().filter_map(|ip| ip.parse().ok()))
            .collect();
        for ip in taken {
            state.ips.occupy(ip);
        }
        true
    }

    /// The API pods bound to this node.
    pub fn pods(&self) -> Vec<ObjectRef<Pod>> {
        self.state().refs.values().cloned().collect()
    }

    /// The pod's IPs: the node's for host network pods; else the one it has, one it reported
    /// (an agent restarted), or a new one from the node's range. Empty while the node has no range.
    pub(crate) fn pod_ips(&self, uid: &str, pod: &Pod, host_network: bool) -> Vec<String> {
        if host_network {
            return vec![self.host_ip.clone()];
        }
        let mut state = self.state();
        let state = &mut *state;
        let record = state.pods.entry(uid.to_string()).or_default();
        if !record.ips.is_empty() {
            return record.ips.clone();
        }
        if state.ips.range().is_none() {
            return vec![];
        }
        let reported = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse::<IpAddr>().ok());
        let ip = match reported {
            Some(ip) if state.ips.occupy(ip) => Some(ip),
            _ => state.ips.allocate(),
        };
        record.ips = ip.map(|ip| vec![ip.to_string()]).unwrap_or_default();
        record.ips.clone()
    }

    /// When the pod started on this node (the first sync, or what it reported before).
    pub(crate) fn start_time(&self, uid: &str, pod: &Pod, now: Timestamp) -> Timestamp {
        let mut state = self.state();
        let record = state.pods.entry(uid.to_string()).or_default();
        *record.start_time.get_or_insert_with(|| {
            pod.status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .map(|t| t.0)
                .unwrap_or(now)
        })
    }

    pub(crate) fn previous_conditions(&self, uid: &str, pod: &Pod) -> Vec<PodCondition> {
        let state = self.state();
        let written = state.pods.get(uid).and_then(|r| r.conditions.as_deref());
        lifecycle::previous_conditions(written, pod)
    }

    pub(crate) fn written(&self, uid: &str) -> Option<u64> {
        self.state().pods.get(uid).and_then(|r| r.written)
    }

    pub(crate) fn remember_written(&self, uid: &str, digest: u64, conditions: &[PodCondition]) {
        let mut state = self.state();
        let record = state.pods.entry(uid.to_string()).or_default();
        record.written = Some(digest);
        record.conditions = Some(
            conditions
                .iter()
                .map(|c| {
                    let at = c
                        .last_transition_time
                        .as_ref()
                        .map(|t| t.0)
                        .unwrap_or_else(Timestamp::now);
                    (c.type_.clone(), c.status.clone(), at)
                })
                .collect(),
        );
    }

    /// Note that a container's back-off until `until` was reported; false if it already was.
    pub(crate) fn note_backoff(&self, uid: &str, container: &str, until: Timestamp) -> bool {
        let mut state = self.state();
        let record = state.pods.entry(uid.to_string()).or_default();
        record.backoffs.insert(container.to_string(), until) != Some(until)
    }

    /// Admit `pod` (once): it must fit what the other admitted, unfinished pods leave. Pods that
    /// already ran here (an agent restarted) are admitted as they are.
    pub(crate) fn admit(&self, pool: &Pool, uid: &str, pod: &Pod) -> Result<(), Rejection> {
        let mut state = self.state();
        if state.pods.get(uid).is_some_and(|r| r.admitted.is_some()) {
            return Ok(());
        }
        let requests = admission::requests(pod);
        let ran = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.container_id.is_some()));
        if !ran {
            let mut used = Resources::default();
            let mut count = 0;
            for other in state.refs.values().filter_map(|r| pool.pods.get(r)) {
                let finished = matches!(
                    other.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Succeeded" | "Failed")
                );
                let other_uid = pod_key(&other).uid;
                let Some(taken) = state.pods.get(&other_uid).and_then(|r| r.admitted.as_ref()) else {
                    continue;
                };
                if !finished && other_uid != uid {
                    used.add(taken);
                    count += 1;
                }
            }
            admission::admit(pod, &self.allocatable, &used, count)?;
        }
        state.pods.entry(uid.to_string()).or_default().admitted = Some(requests);
        Ok(())
    }

    /// Whether `pod` is the mirror of a static pod this node still runs.
    pub fn static_is_live(&self, pod: &Pod) -> bool {
        let hash = pod.metadata.annotations.as_ref().and_then(|a| a.get(MIRROR_ANNOTATION));
        match (hash, &self.statics) {
            (Some(hash), Some(statics)) => statics.is_live(hash),
            _ => false,
        }
    }

    /// Drop the record of the runtime pod `uid`, giving its IPs back.
    fn drop_record(&self, uid: &str) {
        let mut state = self.state();
        if let Some(record) = state.pods.remove(uid) {
            for ip in record.ips.iter().filter_map(|ip| ip.parse().ok()) {
                state.ips.release(ip);
            }
        }
    }
}

/// The node agents of one process and what they share.
pub struct Pool {
    pub client: Client,
    pub runtime: Arc<dyn Runtime>,
    pub agents: Vec<Arc<NodeAgent>>,
    by_name: HashMap<String, usize>,
    pub(crate) pods: Store<Pod>,
    backoff: Mutex<RestartBackoff>,
    pub(crate) events: EventSink,
    wake: futures::channel::mpsc::UnboundedSender<ObjectRef<Pod>>,
    woken: Mutex<Option<futures::channel::mpsc::UnboundedReceiver<ObjectRef<Pod>>>>,
    errors: ErrorBackoff,
}

impl Pool {
    /// A pool of agents for `nodes`, reading pods from `pods` (a store that holds at least the
    /// pods bound to them).
    pub fn new(
        client: Client,
        runtime: Arc<dyn Runtime>,
        nodes: Vec<NodeConfig>,
        pods: Store<Pod>,
        events: bool,
    ) -> Arc<Pool> {
        let (wake, woken) = futures::channel::mpsc::unbounded();
        let agents: Vec<Arc<NodeAgent>> = nodes
            .into_iter()
            .enumerate()
            .map(|(index, config)| {
                let mut state = NodeState::default();
                if let Some(cidr) = config.pod_cidr.as_deref().and_then(|c| c.parse().ok()) {
                    state.ips.set_range(cidr);
                }
                let statics = config
                    .pod_manifest_path
                    .clone()
                    .map(|dir| Arc::new(StaticPods::new(dir, &config.name)));
                Arc::new(NodeAgent {
                    index,
                    allocatable: admission::allocatable(&config.allocatable()),
                    host_ip: config.internal_ip(index).to_string(),
                    recorder: EventSink::recorder(client.clone(), &config.name),
                    statics,
                    config,
                    state: Mutex::new(state),
                })
            })
            .collect();
        let by_name = agents.iter().map(|a| (a.config.name.clone(), a.index)).collect();
        Arc::new(Pool {
            client,
            runtime,
            agents,
            by_name,
            pods,
            backoff: Mutex::new(RestartBackoff::default()),
            events: EventSink::start(events),
            wake,
            woken: Mutex::new(Some(woken)),
            errors: ErrorBackoff::default(),
        })
    }

    pub(crate) fn backoff(&self) -> MutexGuard<'_, RestartBackoff> {
        self.backoff.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The agent of the node named `name`.
    pub fn agent(&self, name: &str) -> Option<&Arc<NodeAgent>> {
        self.by_name.get(name).and_then(|i| self.agents.get(*i))
    }

    fn agent_of(&self, pod: &Pod) -> Option<&Arc<NodeAgent>> {
        self.agent(pod.spec.as_ref()?.node_name.as_deref()?)
    }

    /// Sync `pod` soon.
    pub(crate) fn wake(&self, pod: ObjectRef<Pod>) {
        let _ = self.wake.unbounded_send(pod);
    }

    /// Whether the API still has this very pod (same uid).
    pub(crate) fn is_live(&self, pod: &Pod) -> bool {
        self.pods
            .get(&ObjectRef::from_obj(pod))
            .is_some_and(|current| current.metadata.uid == pod.metadata.uid)
    }

    /// A pod change from the watch: ours and alive goes on to the controller; ours and gone is
    /// forgotten; others are dropped.
    fn route(&self, pod: Arc<Pod>) -> Option<Arc<Pod>> {
        let agent = self.agent_of(&pod)?;
        let uid = pod.metadata.uid.clone()?;
        let mirror = pod.annotations().contains_key(MIRROR_ANNOTATION);
        if self.is_live(&pod) {
            agent.state().refs.insert(uid, ObjectRef::from_obj(pod.as_ref()));
            if mirror {
                if let Some(statics) = &agent.statics {
                    statics.poke();
                }
            }
            Some(pod)
        } else {
            self.forget(agent, &pod);
            None
        }
    }

    /// The pod is gone from the API: stop and remove it from the runtime, unless it is a static
    /// pod that still runs (its mirror is made anew).
    pub(crate) fn forget(&self, agent: &NodeAgent, pod: &Pod) {
        if let Some(uid) = &pod.metadata.uid {
            agent.state().refs.remove(uid);
        }
        if pod.annotations().contains_key(MIRROR_ANNOTATION) {
            if let Some(statics) = &agent.statics {
                statics.poke();
            }
            if agent.static_is_live(pod) {
                return;
            }
        }
        let key = pod_key(pod);
        self.forget_runtime_pod(agent, key);
    }

    /// Remove a runtime pod and the agent's record of it.
    pub(crate) fn forget_runtime_pod(&self, agent: &NodeAgent, key: PodKey) {
        agent.drop_record(&key.uid);
        self.backoff().forget_pod(&key.uid);
        let runtime = self.runtime.clone();
        tokio::spawn(async move { runtime.remove_pod(&key).await });
    }

    /// A Node change from the watch: an agent's node got its uid or pod CIDR.
    fn observe_node(&self, node: &Node) {
        let Some(agent) = self.agent(&node.name_any()) else {
            return;
        };
        agent.set_uid(node.metadata.uid.clone());
        let cidr = node
            .spec
            .as_ref()
            .and_then(|s| s.pod_cidr.as_deref())
            .and_then(|c| c.parse::<Cidr>().ok());
        if let Some(cidr) = cidr {
            if agent.set_range(cidr) {
                for pod in agent.pods() {
                    self.wake(pod);
                }
            }
        }
    }

    /// Run the pool: register and heartbeat every node, follow its Node, run static pods, and
    /// sync the pods bound to it. `pod_changes` and `node_changes` carry every change (deleted
    /// objects included) of the pods in `self.pods` and of the nodes.
    pub async fn run(
        self: Arc<Self>,
        pod_changes: BoxStream<'static, Arc<Pod>>,
        node_changes: BoxStream<'static, Arc<Node>>,
    ) {
        let heartbeats = super::heartbeat::run(self.clone());
        let nodes = {
            let pool = self.clone();
            node_changes.for_each(move |node| {
                pool.observe_node(&node);
                futures::future::ready(())
            })
        };
        let statics = futures::future::join_all(
            self.agents
                .iter()
                .filter_map(|a| a.statics.clone().map(|s| s.run(self.clone(), a.clone())))
                .collect::<Vec<_>>(),
        );
        let router = self.clone();
        let trigger = pod_changes.filter_map(move |pod| futures::future::ready(router.route(pod)));
        let woken = self
            .woken
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .map(StreamExt::boxed)
            .unwrap_or_else(|| futures::stream::empty().boxed());
        let changes = self
            .runtime
            .changes()
            .map(|key| ObjectRef::<Pod>::new(&key.name).within(&key.namespace));
        let outcomes = Controller::for_shared_stream(trigger, self.pods.clone())
            .with_config(Config::default().concurrency(CONCURRENCY))
            .reconcile_on(futures::stream::select(changes, woken))
            .run(reconcile, error_policy, self.clone());
        let pods = outcomes::drain("kubelet", outcomes);
        tokio::join!(heartbeats, nodes, statics, pods);
    }
}

async fn reconcile(pod: Arc<Pod>, pool: Arc<Pool>) -> Result<Action, kube::Error> {
    let Some(agent) = pool.agent_of(&pod).cloned() else {
        return Ok(Action::await_change());
    };
    let result = lifecycle::sync(&pool, &agent, &pod).await;
    let key = pod.metadata.uid.clone().unwrap_or_default();
    pool.errors.track(&key, result)
}

fn error_policy(pod: Arc<Pod>, error: &kube::Error, pool: Arc<Pool>) -> Action {
    tracing::debug!(pod = %pod.name_any(), %error, "pod sync failed; retrying");
    pool.errors.requeue(&pod.metadata.uid.clone().unwrap_or_default())
}
