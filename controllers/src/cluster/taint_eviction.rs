//! The taint eviction controller (upstream's pkg/controller/tainteviction): pods on a node with
//! NoExecute taints they do not tolerate are deleted at once; pods that tolerate them for
//! tolerationSeconds are deleted when that time is up (counted from when the controller saw
//! the taint), unless the taints go away first. Before deleting, the pod gets the
//! DisruptionTarget condition (reason DeletionByTaintManager); each eviction and cancellation is
//! a TaintManagerEviction event.
//!
//! One task follows the Node and Pod change streams, keeps an index of pods by node, and fires
//! the scheduled deletions from a timer heap.

use crate::cluster::taints::{self, NO_EXECUTE};
use crate::core::api_errors;
use crate::core::credentials::Identity;
use crate::core::informers::{Informer, Informers};
use crate::workloads::events::{EventType, Recorder};
use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

const COMPONENT: &str = "taint-eviction-controller";
/// Attempts at marking and deleting one pod.
const RETRIES: usize = 5;
const BATCH: usize = 1024;

type PodKey = (String, String);

/// Subscribe to Nodes and Pods now; the returned future runs the controller.
pub fn start(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    let nodes = informers.get::<Node>();
    let pods = informers.get::<Pod>();
    let node_changes = nodes.subscribe();
    let pod_changes = pods.subscribe();
    let client = informers.client_as(Identity::Controller("node-controller"));
    async move {
        if nodes.store().wait_until_ready().await.is_err() || pods.store().wait_until_ready().await.is_err() {
            return;
        }
        let eviction = Eviction {
            recorder: Recorder::new(client.clone(), COMPONENT),
            client,
            nodes,
            pods,
            tainted: HashMap::new(),
            by_node: HashMap::new(),
            placed: HashMap::new(),
            scheduled: HashMap::new(),
            timers: BinaryHeap::new(),
        };
        eviction.run(node_changes, pod_changes).await;
    }
}

/// A deletion waiting for its time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Work {
    pub created: Instant,
    pub fire: Instant,
}

/// What to do about one pod on a node with `taints` (upstream's processPodOnNode).
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Nothing scheduled (no taints, or all tolerated forever).
    Cancel,
    /// Delete now.
    Now,
    /// Delete at this time (scheduled at `created`).
    At(Work),
    /// Keep what is scheduled.
    Keep,
}

/// Decide for a pod with `tolerations` on a node with NoExecute `taints`, given what is
/// scheduled for it.
pub fn decide(taints: &[Taint], tolerations: &[Toleration], scheduled: Option<Work>, now: Instant) -> Decision {
    if taints.is_empty() {
        return Decision::Cancel;
    }
    let (all, used) = taints::matching_tolerations(taints, tolerations);
    if !all {
        return Decision::Now;
    }
    let Some(seconds) = taints::min_toleration_seconds(&used) else {
        return Decision::Cancel;
    };
    let wait = Duration::from_secs(seconds.max(0) as u64);
    let trigger = now + wait;
    match scheduled {
        Some(s) if s.created + wait < trigger => Decision::Keep,
        Some(s) => Decision::At(Work {
            created: s.created,
            fire: trigger,
        }),
        None => Decision::At(Work {
            created: now,
            fire: trigger,
        }),
    }
}

struct Eviction {
    client: Client,
    recorder: Recorder,
    nodes: Informer<Node>,
    pods: Informer<Pod>,
    /// NoExecute taints per node that has some.
    tainted: HashMap<String, Vec<Taint>>,
    by_node: HashMap<String, HashSet<PodKey>>,
    /// Each known pod's UID, node and tolerations.
    placed: HashMap<PodKey, (String, String, Vec<Toleration>)>,
    scheduled: HashMap<PodKey, Work>,
    timers: BinaryHeap<Reverse<(Instant, PodKey)>>,
}

enum Change {
    Node(Arc<Node>),
    Pod(Arc<Pod>),
}

fn no_execute(node: &Node) -> Vec<Taint> {
    taints::of(node)
        .iter()
        .filter(|t| t.effect == NO_EXECUTE)
        .cloned()
        .collect()
}

fn pod_ref(key: &PodKey) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: Some(key.0.clone()),
        name: Some(key.1.clone()),
        ..Default::default()
    }
}

impl Eviction {
    async fn run(
        mut self,
        node_changes: impl Stream<Item = Arc<Node>> + Send,
        pod_changes: impl Stream<Item = Arc<Pod>> + Send,
    ) {
        let mut changes = pin!(futures::stream::select(
            node_changes.map(Change::Node),
            pod_changes.map(Change::Pod)
        ));
        for pod in self.pods.store().state() {
            self.pod_changed(&pod);
        }
        for node in self.nodes.store().state() {
            self.node_changed(&node);
        }
        loop {
            self.fire_due();
            let wake = self.timers.peek().map(|Reverse((at, _))| *at);
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
            // Node changes first, as upstream's workers do.
            let (nodes, pods): (Vec<Change>, Vec<Change>) =
                batch.into_iter().partition(|c| matches!(c, Change::Node(_)));
            for change in nodes.into_iter().chain(pods) {
                match change {
                    Change::Node(node) => self.node_changed(&node),
                    Change::Pod(pod) => self.pod_changed(&pod),
                }
            }
        }
    }

    fn cancel(&mut self, key: &PodKey) {
        if self.scheduled.remove(key).is_some() {
            self.recorder.record_ref(
                pod_ref(key),
                EventType::Normal,
                "TaintManagerEviction",
                format!("Cancelling deletion of Pod {}/{}", key.0, key.1),
            );
        }
    }

    fn schedule(&mut self, key: PodKey, work: Work) {
        self.scheduled.insert(key.clone(), work);
        self.timers.push(Reverse((work.fire, key)));
    }

    fn process(&mut self, key: &PodKey, node: &str, now: Instant) {
        let taints = self.tainted.get(node).cloned().unwrap_or_default();
        let tolerations = self.placed.get(key).map(|(_, _, t)| t.clone()).unwrap_or_default();
        match decide(&taints, &tolerations, self.scheduled.get(key).copied(), now) {
            Decision::Cancel => self.cancel(key),
            Decision::Keep => {}
            Decision::Now => {
                self.cancel(key);
                self.schedule(
                    key.clone(),
                    Work {
                        created: now,
                        fire: now,
                    },
                );
            }
            Decision::At(work) => {
                if self.scheduled.contains_key(key) {
                    self.cancel(key);
                }
                self.schedule(key.clone(), work);
            }
        }
    }

    fn node_changed(&mut self, node: &Node) {
        let name = node.name_any();
        let live = self.nodes.get(None, &name).filter(|n| n.uid() == node.uid());
        let now_taints = live.as_deref().map(no_execute).unwrap_or_default();
        let before = self.tainted.get(&name).cloned().unwrap_or_default();
        if live.is_some() && before == now_taints {
            return;
        }
        if now_taints.is_empty() {
            self.tainted.remove(&name);
        } else {
            self.tainted.insert(name.clone(), now_taints.clone());
        }
        let pods: Vec<PodKey> = self
            .by_node
            .get(&name)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let now = Instant::now();
        for key in pods {
            if now_taints.is_empty() {
                self.cancel(&key);
            } else {
                self.process(&key, &name, now);
            }
        }
    }

    fn pod_changed(&mut self, pod: &Pod) {
        let key: PodKey = (pod.namespace().unwrap_or_default(), pod.name_any());
        let live = self.pods.get(Some(&key.0), &key.1).filter(|p| p.uid() == pod.uid());
        let Some(live) = live else {
            if let Some((_, node, _)) = self.placed.remove(&key) {
                if let Some(set) = self.by_node.get_mut(&node) {
                    set.remove(&key);
                }
            }
            self.cancel(&key);
            return;
        };
        let spec = live.spec.as_ref();
        let node = spec.and_then(|s| s.node_name.clone()).unwrap_or_default();
        let tolerations = spec.and_then(|s| s.tolerations.clone()).unwrap_or_default();
        let uid = live.uid().unwrap_or_default();
        if let Some((before_uid, before_node, before_tols)) = self.placed.get(&key) {
            if *before_uid == uid && *before_node == node && *before_tols == tolerations {
                return;
            }
            if *before_node != node {
                if let Some(set) = self.by_node.get_mut(before_node) {
                    set.remove(&key);
                }
            }
        }
        if node.is_empty() {
            self.placed.remove(&key);
            return;
        }
        self.by_node.entry(node.clone()).or_default().insert(key.clone());
        self.placed.insert(key.clone(), (uid, node.clone(), tolerations));
        if self.tainted.contains_key(&node) {
            self.process(&key, &node, Instant::now());
        }
    }

    /// Start the deletions whose time has come.
    fn fire_due(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, key))) = self.timers.pop() else {
                break;
            };
            // Outdated timers (cancelled or rescheduled) are skipped.
            if self.scheduled.get(&key).map(|w| w.fire) != Some(at) {
                continue;
            }
            self.scheduled.remove(&key);
            self.recorder.record_ref(
                pod_ref(&key),
                EventType::Normal,
                "TaintManagerEviction",
                format!("Marking for deletion Pod {}/{}", key.0, key.1),
            );
            let client = self.client.clone();
            tokio::spawn(async move {
                let mut last = None;
                for _ in 0..RETRIES {
                    match mark_and_delete(&client, &key.0, &key.1).await {
                        Ok(()) => return,
                        Err(e) if api_errors::is_not_found(&e) => return,
                        Err(e) => last = Some(e),
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                if let Some(e) = last {
                    tracing::warn!(namespace = %key.0, pod = %key.1, error = %e, "taint eviction could not delete the pod");
                }
            });
        }
    }
}

/// Add DisruptionTarget (DeletionByTaintManager) to the pod and delete it (upstream's
/// addConditionAndDeletePod).
async fn mark_and_delete(client: &Client, namespace: &str, name: &str) -> Result<(), kube::Error> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod = api.get(name).await?;
    let reason = "DeletionByTaintManager";
    let message = "Taint manager: deleting due to NoExecute taint";
    let present = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .and_then(|c| c.iter().find(|c| c.type_ == "DisruptionTarget"));
    let same = present.is_some_and(|c| {
        c.status == "True" && c.reason.as_deref() == Some(reason) && c.message.as_deref() == Some(message)
    });
    if !same {
        let transition = match present {
            Some(c) if c.status == "True" => c.last_transition_time.clone(),
            _ => Some(Time(Timestamp::now())),
        };
        let patch = serde_json::json!({
            "status": {"conditions": [{
                "type": "DisruptionTarget",
                "status": "True",
                "reason": reason,
                "message": message,
                "lastTransitionTime": transition,
            }]},
        });
        api.patch_status(name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await?;
    }
    api.delete(name, &DeleteParams::default()).await.map(drop)
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => futures::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::taints::{taint, NOT_READY, UNREACHABLE};

    fn tolerate(key: &str, seconds: Option<i64>) -> Toleration {
        Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some(NO_EXECUTE.into()),
            toleration_seconds: seconds,
            value: None,
        }
    }

    #[test]
    fn untolerated_taints_evict_at_once() {
        let now = Instant::now();
        let taints = [taint(UNREACHABLE, NO_EXECUTE)];
        assert_eq!(decide(&taints, &[], None, now), Decision::Now);
        assert_eq!(
            decide(&taints, &[tolerate(NOT_READY, Some(300))], None, now),
            Decision::Now
        );
        assert_eq!(decide(&[], &[], None, now), Decision::Cancel);
    }

    #[test]
    fn toleration_seconds_delay_the_eviction() {
        let now = Instant::now();
        let taints = [taint(UNREACHABLE, NO_EXECUTE)];
        let d = decide(&taints, &[tolerate(UNREACHABLE, Some(300))], None, now);
        assert_eq!(
            d,
            Decision::At(Work {
                created: now,
                fire: now + Duration::from_secs(300)
            })
        );
        // Forever.
        assert_eq!(
            decide(&taints, &[tolerate(UNREACHABLE, None)], None, now),
            Decision::Cancel
        );
        // A later look keeps the earlier schedule.
        let scheduled = Work {
            created: now,
            fire: now + Duration::from_secs(300),
        };
        let later = now + Duration::from_secs(10);
        assert_eq!(
            decide(&taints, &[tolerate(UNREACHABLE, Some(300))], Some(scheduled), later),
            Decision::Keep
        );
        // Upstream keeps a schedule whose start plus the new toleration is already past.
        assert_eq!(
            decide(&taints, &[tolerate(UNREACHABLE, Some(5))], Some(scheduled), later),
            Decision::Keep
        );
    }
}
