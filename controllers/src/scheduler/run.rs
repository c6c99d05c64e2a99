//! The scheduling loop: one task owns the cache, the queue and the nominator; it follows the
//! shared Pod and Node informers' change streams, schedules one pod at a time against the
//! cache, and hands each binding (and each preemption's API calls) to a task of its own, whose
//! result comes back over a channel (assumed pods are confirmed by the informer, or forgotten
//! when their binding fails).

use super::algorithm::{Algorithm, Failure, Unfit};
use super::api::{self, Events, Record, SCHEDULER_NAME};
use super::framework::{fit_error_message, truncate_message, PluginSet, VolumeHooks};
use super::hints::{self, Event};
use super::listers::InformerListers;
use super::pod_info::PodInfo;
use super::preemption::{self, Outcome};
use super::queue::Queue;
use crate::core::informers::Informer;
use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

/// How often the unschedulable pool is checked for pods left there over 5 minutes.
const FLUSH_UNSCHEDULABLE_EVERY: Duration = Duration::from_secs(30);
/// Bindings in flight at most (each is one API call; upstream runs one goroutine per pod).
const MAX_BINDINGS_IN_FLIGHT: usize = 512;
/// Changes taken from each stream before the next scheduling cycles.
const CHANGES_PER_TURN: usize = 4096;
/// Scheduling cycles per turn, and the time they may take, before the changes are looked at again.
const CYCLES_PER_TURN: usize = 64;
const SLICE: Duration = Duration::from_millis(5);

enum Done {
    BindFailed { uid: String, error: String },
    Preempted { uid: String, ok: bool },
}

pub struct Scheduler {
    alg: Algorithm,
    queue: Queue,
    pods: Informer<Pod>,
    nodes: Informer<Node>,
    listers: InformerListers,
    volumes: Arc<dyn VolumeHooks>,
    client: Client,
    events: Option<Events>,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    bindings: Arc<Semaphore>,
    /// Pods whose binding is in flight, with their scheduling attempts so far.
    binding: HashMap<String, u32>,
    last_flush: Instant,
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

fn node_name(pod: &Pod) -> &str {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or("")
}

fn nominated_node(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .unwrap_or("")
}

fn ours(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.scheduler_name.as_deref())
        .is_none_or(|n| n.is_empty() || n == SCHEDULER_NAME)
}

impl Scheduler {
    pub fn new(
        client: Client,
        pods: Informer<Pod>,
        nodes: Informer<Node>,
        listers: InformerListers,
        volumes: Arc<dyn VolumeHooks>,
    ) -> Scheduler {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Scheduler {
            alg: Algorithm::default(),
            queue: Queue::default(),
            pods,
            nodes,
            listers,
            volumes,
            client,
            events: None,
            done_tx,
            done_rx,
            bindings: Arc::new(Semaphore::new(MAX_BINDINGS_IN_FLIGHT)),
            binding: HashMap::new(),
            last_flush: Instant::now(),
        }
    }

    fn events(&self) -> &Events {
        self.events.as_ref().expect("events start with the loop")
    }

    /// Run until the informers' streams end.
    pub async fn run(
        mut self,
        mut pod_changes: impl Stream<Item = Arc<Pod>> + Unpin,
        mut node_changes: impl Stream<Item = Arc<Node>> + Unpin,
    ) {
        self.events = Some(Events::start(self.client.clone()));
        if self.nodes.store().wait_until_ready().await.is_err() || self.pods.store().wait_until_ready().await.is_err() {
            return;
        }
        for node in self.nodes.store().state() {
            self.on_node(node);
        }
        for pod in self.pods.store().state() {
            self.on_pod(pod);
        }
        let mut tick = tokio::time::interval(FLUSH_UNSCHEDULABLE_EVERY);
        loop {
            for _ in 0..CHANGES_PER_TURN {
                match node_changes.next().now_or_never() {
                    Some(Some(node)) => self.on_node(node),
                    Some(None) => return,
                    None => break,
                }
            }
            for _ in 0..CHANGES_PER_TURN {
                match pod_changes.next().now_or_never() {
                    Some(Some(pod)) => self.on_pod(pod),
                    Some(None) => return,
                    None => break,
                }
            }
            while let Ok(done) = self.done_rx.try_recv() {
                self.on_done(done);
            }
            let now = Instant::now();
            self.queue.flush_backoff(now);
            if now.duration_since(self.last_flush) >= FLUSH_UNSCHEDULABLE_EVERY {
                self.queue.flush_unschedulable(now);
                self.last_flush = now;
            }
            // Schedule for a time slice, then look at the changes again.
            let slice = Instant::now();
            let mut scheduled = 0;
            while scheduled < CYCLES_PER_TURN && slice.elapsed() < SLICE && self.schedule_next() {
                scheduled += 1;
            }
            if scheduled > 0 {
                tokio::task::yield_now().await;
                continue;
            }
            let backoff = self.queue.next_backoff();
            let wake = async move {
                match backoff {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => futures::future::pending().await,
                }
            };
            tokio::select! {
                node = node_changes.next() => match node {
                    Some(node) => self.on_node(node),
                    None => return,
                },
                pod = pod_changes.next() => match pod {
                    Some(pod) => self.on_pod(pod),
                    None => return,
                },
                Some(done) = self.done_rx.recv() => self.on_done(done),
                _ = tick.tick() => {}
                _ = wake => {}
            }
        }
    }

    /// Tell the unschedulable pods about a cluster event.
    fn cluster_event(&mut self, event: Event) {
        let volumes = self.volumes.clone();
        self.queue.move_all(Instant::now(), |e| {
            hints::may_help(e.unschedulable_plugins, &e.info, &event, &*volumes)
        });
    }

    fn on_node(&mut self, streamed: Arc<Node>) {
        let name = streamed.metadata.name.clone().unwrap_or_default();
        let current = self
            .nodes
            .get(None, &name)
            .filter(|n| n.metadata.uid == streamed.metadata.uid);
        match current {
            None => {
                if let Some(old) = self.alg.cache.remove_node(&name) {
                    self.cluster_event(Event::NodeDelete(&old));
                }
            }
            Some(node) => {
                let known = self
                    .alg
                    .cache
                    .slot(&name)
                    .and_then(|s| self.alg.cache.node(s).node.clone());
                if known
                    .as_ref()
                    .is_some_and(|k| k.metadata.resource_version == node.metadata.resource_version)
                {
                    return;
                }
                match self.alg.cache.upsert_node(node.clone()) {
                    None => self.cluster_event(Event::NodeAdd(&node)),
                    Some(old) if hints::node_changed_for_scheduling(&old, &node) => {
                        self.cluster_event(Event::NodeUpdate { old: &old, new: &node })
                    }
                    Some(_) => {}
                }
            }
        }
    }

    fn pod_gone(&mut self, uid: &str) {
        self.binding.remove(uid);
        self.queue.remove(uid);
        self.alg.nominator.remove(uid);
        if let Some(cached) = self.alg.cache.remove_pod(uid) {
            self.cluster_event(Event::PodDelete(&cached.info));
        }
    }

    fn on_pod(&mut self, streamed: Arc<Pod>) {
        let uid = streamed.metadata.uid.clone().unwrap_or_default();
        let namespace = streamed.metadata.namespace.clone().unwrap_or_default();
        let name = streamed.metadata.name.clone().unwrap_or_default();
        let current = self
            .pods
            .get(Some(&namespace), &name)
            .filter(|p| p.metadata.uid.as_deref() == Some(uid.as_str()));
        let Some(pod) = current else {
            self.pod_gone(&uid);
            return;
        };
        if is_terminal(&pod) {
            self.pod_gone(&uid);
            return;
        }
        let node = node_name(&pod).to_string();
        if !node.is_empty() {
            self.binding.remove(&uid);
            self.queue.remove(&uid);
            self.alg.nominator.remove(&uid);
            let old = self.alg.cache.pod(&uid).cloned();
            if old
                .as_ref()
                .is_some_and(|o| !o.assumed && o.info.pod.metadata.resource_version == pod.metadata.resource_version)
            {
                return;
            }
            let info = Arc::new(match &old {
                Some(o) => o.info.refreshed(pod.clone()),
                None => PodInfo::new(pod.clone()),
            });
            let previous = self.alg.cache.add_or_update_pod(info.clone(), &node);
            match previous {
                Some(p) if !p.assumed => {
                    if p.info.labels() != info.labels() || p.info.requests != info.requests {
                        self.cluster_event(Event::PodUpdate {
                            old: &p.info,
                            new: &info,
                        });
                    }
                }
                _ => self.cluster_event(Event::PodAdd(&info)),
            }
            return;
        }
        // A pending pod.
        if self.alg.cache.is_assumed(&uid) || self.binding.contains_key(&uid) {
            return;
        }
        if !ours(&pod) || pod.metadata.deletion_timestamp.is_some() {
            self.queue.remove(&uid);
            self.alg.nominator.remove(&uid);
            return;
        }
        let old = self.queue.get(&uid).map(|e| e.info.clone());
        if old
            .as_ref()
            .is_some_and(|o| o.pod.metadata.resource_version == pod.metadata.resource_version)
        {
            return;
        }
        let info = Arc::new(match &old {
            Some(o) => o.refreshed(pod.clone()),
            None => PodInfo::new(pod.clone()),
        });
        // The nominator follows status.nominatedNodeName, but keeps a nomination made in
        // memory while the informer has not caught up (UpdateNominatedPod).
        let new_nnn = nominated_node(&pod);
        let old_nnn = old.as_ref().map(|o| nominated_node(&o.pod)).unwrap_or("");
        if !new_nnn.is_empty() {
            self.alg.nominator.add(info.clone(), new_nnn);
        } else if old_nnn.is_empty() {
            if let Some(kept) = self.alg.nominator.node_of(&uid).map(str::to_string) {
                self.alg.nominator.add(info.clone(), &kept);
            }
        } else {
            self.alg.nominator.remove(&uid);
        }
        let relevant = old
            .as_ref()
            .is_none_or(|o| o.pod.spec != pod.spec || o.pod.metadata.labels != pod.metadata.labels);
        let now = Instant::now();
        if old.is_some() {
            self.queue.update(info, relevant, now);
        } else {
            self.queue.add(info, now);
        }
    }

    /// One scheduling cycle, if a pod is ready; whether one ran.
    fn schedule_next(&mut self) -> bool {
        let Some(info) = self.queue.pop() else {
            return false;
        };
        let current = self
            .pods
            .get(Some(&info.namespace), &info.name)
            .filter(|p| p.metadata.uid.as_deref() == Some(info.uid.as_str()));
        let Some(current) = current else {
            self.queue.remove(&info.uid);
            return true;
        };
        if !node_name(&current).is_empty() || current.metadata.deletion_timestamp.is_some() {
            self.queue.remove(&info.uid);
            return true;
        }
        let listers = &self.listers;
        match self.alg.schedule(&info, listers, &*self.volumes) {
            Ok(slot) => self.assume_and_bind(info, slot),
            Err(unfit) => self.handle_unfit(info, &current, *unfit),
        }
        true
    }

    fn assume_and_bind(&mut self, info: Arc<PodInfo>, slot: usize) {
        let node = self.alg.cache.node(slot).name().to_string();
        self.alg.cache.assume(info.clone(), slot);
        self.alg.nominator.remove(&info.uid);
        let attempts = self.queue.remove(&info.uid).map(|e| e.attempts).unwrap_or(1);
        self.binding.insert(info.uid.clone(), attempts);
        let client = self.client.clone();
        let events = self.events().clone();
        let done = self.done_tx.clone();
        let volumes = self.volumes.clone();
        let permits = self.bindings.clone();
        tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            let result = match volumes.pre_bind(info.clone(), node.clone()).await {
                Err(e) => Err(format!("running PreBind plugin \"VolumeBinding\": {e}")),
                Ok(()) => api::bind(client, &info.namespace, &info.name, &info.uid, &node)
                    .await
                    .map_err(|e| format!("running Bind plugin \"DefaultBinder\": {}", api::error_text(&e))),
            };
            match result {
                Ok(()) => events.record(Record {
                    regarding: api::pod_ref(&info.pod),
                    related: None,
                    warning: false,
                    reason: "Scheduled",
                    action: "Binding",
                    note: format!("Successfully assigned {}/{} to {node}", info.namespace, info.name),
                }),
                Err(error) => {
                    let _ = done.send(Done::BindFailed {
                        uid: info.uid.clone(),
                        error,
                    });
                }
            }
        });
    }

    fn handle_unfit(&mut self, info: Arc<PodInfo>, current: &Pod, unfit: Unfit) {
        let now = Instant::now();
        let (message, reason, plugins, error, nominating, preempting) = match unfit.failure {
            Failure::NoNodes => (
                "no nodes available to schedule pods".to_string(),
                "Unschedulable",
                PluginSet::default(),
                false,
                Some(String::new()),
                false,
            ),
            Failure::Error(message) => (
                message,
                "SchedulerError",
                PluginSet::default(),
                true,
                Some(String::new()),
                false,
            ),
            Failure::Fit {
                num_nodes,
                mut diagnosis,
            } => {
                let mut nominating = None;
                let mut preempting = false;
                if let Some(state) = unfit.state.as_ref() {
                    match preemption::preempt(
                        &mut self.alg,
                        state,
                        &diagnosis,
                        num_nodes,
                        &self.listers,
                        &*self.volumes,
                    ) {
                        Outcome::Nominate {
                            node,
                            victims,
                            lower_nominated,
                        } => {
                            self.alg.nominator.add(info.clone(), &node);
                            self.start_preemption(&info, &node, victims, lower_nominated);
                            nominating = Some(node);
                            preempting = true;
                        }
                        Outcome::No {
                            message,
                            clear_nomination,
                        } => {
                            diagnosis.postfilter_msg = format!("preemption: {message}");
                            if clear_nomination {
                                self.alg.nominator.remove(&info.uid);
                                nominating = Some(String::new());
                            }
                        }
                    }
                } else if !diagnosis.prefilter_msg.is_empty() {
                    // PreFilter rejected the pod on every node: preemption is not helpful.
                    diagnosis.postfilter_msg = format!(
                        "preemption: {}",
                        fit_error_message(
                            num_nodes,
                            &super::framework::Diagnosis {
                                absent: Some(super::framework::Status::unresolvable(
                                    super::framework::Plugin::DefaultPreemption,
                                    preemption::NOT_HELPFUL
                                )),
                                ..Default::default()
                            }
                        )
                    );
                }
                let message = fit_error_message(num_nodes, &diagnosis);
                (
                    message,
                    "Unschedulable",
                    diagnosis.unschedulable_plugins,
                    false,
                    nominating,
                    preempting,
                )
            }
        };
        self.queue.failed(&info.uid, plugins, error, preempting, now);
        self.report_failure(current, reason, &message, nominating.as_deref());
    }

    /// The FailedScheduling event and the PodScheduled=False condition.
    fn report_failure(&self, pod: &Pod, reason: &str, message: &str, nominating: Option<&str>) {
        self.events().record(Record {
            regarding: api::pod_ref(pod),
            related: None,
            warning: true,
            reason: "FailedScheduling",
            action: "Scheduling",
            note: truncate_message(message),
        });
        if let Some(patch) = api::scheduling_failure_patch(pod, reason, message, nominating) {
            let client = self.client.clone();
            let namespace = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            tokio::spawn(async move { api::patch_status(client, &namespace, &name, patch).await });
        }
    }

    fn start_preemption(
        &self,
        preemptor: &Arc<PodInfo>,
        node: &str,
        victims: Vec<Arc<PodInfo>>,
        lower_nominated: Vec<Arc<PodInfo>>,
    ) {
        let client = self.client.clone();
        let events = self.events().clone();
        let done = self.done_tx.clone();
        let preemptor = preemptor.clone();
        let node = node.to_string();
        tokio::spawn(async move {
            let mut ok = true;
            for p in &lower_nominated {
                let patch = serde_json::json!({"status": {"nominatedNodeName": null}});
                api::patch_status(client.clone(), &p.namespace, &p.name, patch).await;
            }
            let calls = victims
                .iter()
                .filter(|v| !v.terminating)
                .map(|v| api::preempt_victim(client.clone(), &events, &v.pod, &preemptor.pod, &node));
            for result in futures::future::join_all(calls).await {
                ok &= result;
            }
            let _ = done.send(Done::Preempted {
                uid: preemptor.uid.clone(),
                ok,
            });
        });
    }

    fn on_done(&mut self, done: Done) {
        let now = Instant::now();
        match done {
            Done::Preempted { uid, ok } => self.queue.preemption_done(&uid, ok, now),
            Done::BindFailed { uid, error } => {
                let attempts = self.binding.remove(&uid).unwrap_or(1);
                let Some(cached) = self.alg.cache.pod(&uid).cloned() else {
                    return;
                };
                if !cached.assumed {
                    return;
                }
                self.alg.cache.remove_pod(&uid);
                self.cluster_event(Event::PodDelete(&cached.info));
                let current = self
                    .pods
                    .get(Some(&cached.info.namespace), &cached.info.name)
                    .filter(|p| p.metadata.uid.as_deref() == Some(uid.as_str()));
                let Some(current) = current else { return };
                if !node_name(&current).is_empty() || current.metadata.deletion_timestamp.is_some() {
                    // Bound meanwhile (the informer will place it) or going away.
                    return;
                }
                tracing::info!(pod = %cached.info.key(), %error, "binding failed; retrying");
                let info = Arc::new(cached.info.refreshed(current.clone()));
                self.queue.requeue_after_error(info, attempts, now);
                self.report_failure(&current, "SchedulerError", &error, Some(""));
            }
        }
    }
}
