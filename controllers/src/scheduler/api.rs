//! The scheduler's writes, all through `kube::Client`: bindings (pods/binding), the
//! PodScheduled condition and nominatedNodeName (pods/status), preemption of victims
//! (DisruptionTarget condition, graceful delete), and events.k8s.io/v1 Events from
//! `default-scheduler` with upstream's series aggregation (same action, reason, object and
//! related object → one Event whose series counts the repeats).

use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

/// The scheduler's name: pods' schedulerName and the events' reporting controller.
pub const SCHEDULER_NAME: &str = "default-scheduler";

/// The text of an API error as a user would read it (the Status message for API errors).
pub fn error_text(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

/// A reference to a pod for events.
pub fn pod_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: pod.metadata.name.clone(),
        namespace: pod.metadata.namespace.clone(),
        uid: pod.metadata.uid.clone(),
        resource_version: pod.metadata.resource_version.clone(),
        field_path: None,
    }
}

/// One event to record.
pub struct Record {
    pub regarding: ObjectReference,
    pub related: Option<ObjectReference>,
    pub warning: bool,
    pub reason: &'static str,
    pub action: &'static str,
    pub note: String,
}

/// Records events on a task of its own; drops them when it falls too far behind.
#[derive(Clone)]
pub struct Events {
    tx: mpsc::Sender<Record>,
}

const EVENT_QUEUE: usize = 10_000;
const EVENT_WRITERS: usize = 32;
/// How long a repeated event keeps counting into the same series (client-go's cache TTL).
const SERIES_TTL: Duration = Duration::from_secs(6 * 60);

impl Events {
    /// Start the writer on the current runtime.
    pub fn start(client: Client) -> Events {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        tokio::spawn(write_events(client, rx));
        Events { tx }
    }

    pub fn record(&self, record: Record) {
        if self.tx.try_send(record).is_err() {
            tracing::debug!("scheduler event dropped: the event queue is full");
        }
    }
}

#[derive(Hash, PartialEq, Eq)]
struct SeriesKey {
    uid: String,
    reason: &'static str,
    action: &'static str,
    warning: bool,
    related: Option<String>,
}

struct Series {
    namespace: String,
    name: String,
    count: i32,
    last: Instant,
}

fn instance() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "skiff".into());
    format!("{SCHEDULER_NAME}-{host}")
}

async fn write_events(client: Client, mut rx: mpsc::Receiver<Record>) {
    let instance = instance();
    let writers = Arc::new(Semaphore::new(EVENT_WRITERS));
    let mut series: HashMap<SeriesKey, Series> = HashMap::new();
    let mut last_prune = Instant::now();
    while let Some(record) = rx.recv().await {
        let now = Instant::now();
        if now.duration_since(last_prune) > Duration::from_secs(60) {
            series.retain(|_, s| now.duration_since(s.last) < SERIES_TTL);
            last_prune = now;
        }
        let namespace = record.regarding.namespace.clone().unwrap_or_else(|| "default".into());
        let key = SeriesKey {
            uid: record.regarding.uid.clone().unwrap_or_default(),
            reason: record.reason,
            action: record.action,
            warning: record.warning,
            related: record.related.as_ref().and_then(|r| r.uid.clone()),
        };
        let stamp = Timestamp::now();
        // Scheduled happens once per pod: no series to keep.
        let repeat = if record.reason == "Scheduled" {
            None
        } else {
            match series.get_mut(&key) {
                Some(s) if now.duration_since(s.last) < SERIES_TTL => {
                    s.count += 1;
                    s.last = now;
                    Some((s.namespace.clone(), s.name.clone(), s.count))
                }
                _ => None,
            }
        };
        let Ok(permit) = writers.clone().acquire_owned().await else {
            return;
        };
        let client = client.clone();
        match repeat {
            Some((ns, name, count)) => {
                tokio::spawn(async move {
                    let api: Api<Event> = Api::namespaced(client, &ns);
                    let patch = json!({"series": {"count": count, "lastObservedTime": MicroTime(stamp)}});
                    if let Err(e) = api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                        tracing::debug!(error = %e, "updating a scheduler event series failed");
                    }
                    drop(permit);
                });
            }
            None => {
                let regarding_name = record.regarding.name.clone().unwrap_or_default();
                let name = format!("{regarding_name}.{:x}", stamp.as_nanosecond());
                if record.reason != "Scheduled" {
                    series.insert(
                        key,
                        Series {
                            namespace: namespace.clone(),
                            name: name.clone(),
                            count: 1,
                            last: now,
                        },
                    );
                }
                let event = Event {
                    metadata: ObjectMeta {
                        name: Some(name),
                        namespace: Some(namespace.clone()),
                        ..Default::default()
                    },
                    event_time: Some(MicroTime(stamp)),
                    action: Some(record.action.into()),
                    reason: Some(record.reason.into()),
                    note: Some(record.note),
                    type_: Some(if record.warning { "Warning" } else { "Normal" }.into()),
                    regarding: Some(record.regarding),
                    related: record.related,
                    reporting_controller: Some(SCHEDULER_NAME.into()),
                    reporting_instance: Some(instance.clone()),
                    series: None::<EventSeries>,
                    ..Default::default()
                };
                tokio::spawn(async move {
                    let api: Api<Event> = Api::namespaced(client, &namespace);
                    if let Err(e) = api.create(&PostParams::default(), &event).await {
                        tracing::debug!(error = %e, "recording a scheduler event failed");
                    }
                    drop(permit);
                });
            }
        }
    }
}

/// POST pods/NAME/binding to `node`.
pub async fn bind(client: Client, namespace: &str, name: &str, uid: &str, node: &str) -> Result<(), kube::Error> {
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            uid: Some(uid.into()),
            ..Default::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.into()),
            ..Default::default()
        },
    };
    let api: Api<Pod> = Api::namespaced(client, namespace);
    api.create_subresource::<_, serde_json::Value>("binding", name, &PostParams::default(), &binding)
        .await
        .map(drop)
}

/// The PodScheduled=False condition to set, if it differs from the pod's current one, as a
/// strategic-merge patch of pods/status; `nominated` Some(..) also sets (or, empty, clears)
/// status.nominatedNodeName.
pub fn scheduling_failure_patch(
    pod: &Pod,
    reason: &str,
    message: &str,
    nominated: Option<&str>,
) -> Option<serde_json::Value> {
    let status = pod.status.as_ref();
    let current = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
    let same = current.is_some_and(|c| {
        c.status == "False" && c.reason.as_deref() == Some(reason) && c.message.as_deref() == Some(message)
    });
    let current_nnn = status.and_then(|s| s.nominated_node_name.as_deref()).unwrap_or("");
    let nnn_change = nominated.filter(|n| *n != current_nnn);
    if same && nnn_change.is_none() {
        return None;
    }
    let transition = match current {
        Some(c) if c.status == "False" => c.last_transition_time.clone(),
        _ => None,
    }
    .unwrap_or(Time(Timestamp::now()));
    let mut body = json!({"status": {"conditions": [{
        "type": "PodScheduled",
        "status": "False",
        "reason": reason,
        "message": message,
        "lastProbeTime": null,
        "lastTransitionTime": transition,
    }]}});
    if let Some(n) = nnn_change {
        body["status"]["nominatedNodeName"] = if n.is_empty() { json!(null) } else { json!(n) };
    }
    Some(body)
}

/// PATCH pods/NAME/status with a strategic-merge patch.
pub async fn patch_status(client: Client, namespace: &str, name: &str, patch: serde_json::Value) {
    let api: Api<Pod> = Api::namespaced(client, namespace);
    if let Err(e) = api
        .patch_status(name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
    {
        tracing::debug!(pod = %format!("{namespace}/{name}"), error = %e, "updating the pod's scheduling status failed");
    }
}

/// Preempt one victim: the DisruptionTarget condition, a graceful delete, a Preempted event.
pub async fn preempt_victim(client: Client, events: &Events, victim: &Pod, preemptor: &Pod, node: &str) -> bool {
    let namespace = victim.metadata.namespace.clone().unwrap_or_default();
    let name = victim.metadata.name.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client, &namespace);
    let condition = json!({"status": {"conditions": [{
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "PreemptionByScheduler",
        "message": format!("{SCHEDULER_NAME}: preempting to accommodate a higher priority pod"),
        "lastTransitionTime": Time(Timestamp::now()),
    }]}});
    match api
        .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&condition))
        .await
    {
        Ok(_) => {}
        Err(e) if crate::core::api_errors::is_not_found(&e) => return true,
        Err(e) => {
            tracing::warn!(victim = %format!("{namespace}/{name}"), error = %e, "could not add DisruptionTarget condition");
            return false;
        }
    }
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(e) if crate::core::api_errors::is_not_found(&e) => return true,
        Err(e) => {
            tracing::warn!(victim = %format!("{namespace}/{name}"), error = %e, "could not preempt the victim");
            return false;
        }
    }
    events.record(Record {
        regarding: pod_ref(victim),
        related: Some(pod_ref(preemptor)),
        warning: false,
        reason: "Preempted",
        action: "Preempting",
        note: format!(
            "Preempted by pod {} on node {node}",
            preemptor.metadata.uid.as_deref().unwrap_or("")
        ),
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};

    #[test]
    fn status_patches_only_on_change() {
        let mut pod = Pod::default();
        let patch = scheduling_failure_patch(
            &pod,
            "Unschedulable",
            "0/1 nodes are available: 1 Insufficient cpu.",
            None,
        )
        .unwrap();
        assert_eq!(patch["status"]["conditions"][0]["reason"], "Unschedulable");
        assert!(patch["status"].get("nominatedNodeName").is_none());
        pod.status = Some(PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "PodScheduled".into(),
                status: "False".into(),
                reason: Some("Unschedulable".into()),
                message: Some("m".into()),
                ..Default::default()
            }]),
            nominated_node_name: Some("n1".into()),
            ..Default::default()
        });
        assert!(scheduling_failure_patch(&pod, "Unschedulable", "m", None).is_none());
        assert!(scheduling_failure_patch(&pod, "Unschedulable", "m", Some("n1")).is_none());
        let clear = scheduling_failure_patch(&pod, "Unschedulable", "m", Some("")).unwrap();
        assert_eq!(clear["status"].get("nominatedNodeName"), Some(&serde_json::Value::Null));
        let nominate = scheduling_failure_patch(&pod, "Unschedulable", "m2", Some("n2")).unwrap();
        assert_eq!(nominate["status"]["nominatedNodeName"], "n2");
    }
}
