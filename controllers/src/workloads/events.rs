//! Events about objects, as client-go's event recorder writes them for kube-controller-manager:
//! core/v1 Events with `source.component` (e.g. `replicaset-controller`), first/last timestamps and
//! a count. A repeat of the same event (same object, type, reason and message) within ten minutes
//! patches the count of the first instead of writing a new one (client-go's correlator dedupe).
//! Recording never blocks a reconcile: events go through a channel to one writer task, in order.

use futures::channel::mpsc;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a recorded event is remembered for deduplication (client-go: 10 minutes).
const DEDUPE_WINDOW: Duration = Duration::from_secs(600);
/// At most this many distinct events are remembered.
const DEDUPE_CAPACITY: usize = 4096;

/// Normal or Warning, as upstream's `v1.EventTypeNormal` / `v1.EventTypeWarning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// One event to record.
#[derive(Debug)]
struct Pending {
    regarding: ObjectReference,
    type_: EventType,
    reason: String,
    message: String,
}

/// Records events for one controller (its `source.component`).
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<Pending>,
}

impl Recorder {
    /// A recorder for `component`; its writer runs on the current tokio runtime until every clone
    /// of the recorder is dropped.
    pub fn new(client: Client, component: &'static str) -> Self {
        let (tx, rx) = mpsc::unbounded();
        tokio::spawn(write_all(client, component, rx));
        Recorder { tx }
    }

    /// Record an event about `object`.
    pub fn record<K: Resource<DynamicType = ()>>(&self, object: &K, type_: EventType, reason: &str, message: String) {
        self.record_ref(reference(object), type_, reason, message);
    }

    /// Record an event about the object `regarding` refers to.
    pub fn record_ref(&self, regarding: ObjectReference, type_: EventType, reason: &str, message: String) {
        let _ = self.tx.unbounded_send(Pending {
            regarding,
            type_,
            reason: reason.to_string(),
            message,
        });
    }

    /// A Normal event.
    pub fn normal<K: Resource<DynamicType = ()>>(&self, object: &K, reason: &str, message: String) {
        self.record(object, EventType::Normal, reason, message);
    }

    /// A Warning event.
    pub fn warning<K: Resource<DynamicType = ()>>(&self, object: &K, reason: &str, message: String) {
        self.record(object, EventType::Warning, reason, message);
    }
}

/// The message of an API error as upstream's `err.Error()` renders it in events and conditions:
/// the Status message for API errors.
pub fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// The reference an event carries to `object` (client-go's `reference.GetReference`).
pub fn reference<K: Resource<DynamicType = ()>>(object: &K) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: Some(object.name_any()),
        namespace: object.namespace(),
        uid: object.uid(),
        resource_version: object.resource_version(),
        field_path: None,
    }
}

/// What identifies a repeat: the object, the type, the reason and the message.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    uid: String,
    name: String,
    namespace: String,
    type_: EventType,
    reason: String,
    message: String,
}

struct Seen {
    name: String,
    count: i32,
    at: Instant,
}

async fn write_all(client: Client, component: &'static str, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut seen: HashMap<Key, Seen> = HashMap::new();
    while let Some(event) = rx.next().await {
        if seen.len() >= DEDUPE_CAPACITY {
            seen.retain(|_, s| s.at.elapsed() < DEDUPE_WINDOW);
            if seen.len() >= DEDUPE_CAPACITY {
                seen.clear();
            }
        }
        if let Err(error) = write(&client, component, &mut seen, event).await {
            tracing::debug!(component, %error, "could not record an event");
        }
    }
}

async fn write(
    client: &Client,
    component: &'static str,
    seen: &mut HashMap<Key, Seen>,
    event: Pending,
) -> Result<(), kube::Error> {
    let namespace = event
        .regarding
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| "default".to_string());
    let key = Key {
        uid: event.regarding.uid.clone().unwrap_or_default(),
        name: event.regarding.name.clone().unwrap_or_default(),
        namespace: namespace.clone(),
        type_: event.type_,
        reason: event.reason.clone(),
        message: event.message.clone(),
    };
    let now = Timestamp::now();
    let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
    if let Some(previous) = seen.get_mut(&key).filter(|s| s.at.elapsed() < DEDUPE_WINDOW) {
        let count = previous.count + 1;
        let patch = serde_json::json!({"count": count, "lastTimestamp": Time(now), "message": event.message});
        match api
            .patch(&previous.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                previous.count = count;
                previous.at = Instant::now();
                return Ok(());
            }
            // The first instance is gone (expired or deleted): write a new one.
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error),
        }
    }
    let name = format!(
        "{}.{:x}",
        event.regarding.name.as_deref().unwrap_or(component),
        now.as_nanosecond()
    );
    let object = Event {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace),
            ..Default::default()
        },
        involved_object: event.regarding,
        reason: Some(event.reason),
        message: Some(event.message),
        source: Some(EventSource {
            component: Some(component.to_string()),
            host: None,
        }),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        type_: Some(event.type_.as_str().to_string()),
        reporting_component: Some(component.to_string()),
        reporting_instance: Some(String::new()),
        ..Default::default()
    };
    api.create(&PostParams::default(), &object).await?;
    seen.insert(
        key,
        Seen {
            name,
            count: 1,
            at: Instant::now(),
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;

    #[test]
    fn references_name_the_object_kind_and_uid() {
        let mut d = Deployment::default();
        d.metadata.name = Some("web".into());
        d.metadata.namespace = Some("ns".into());
        d.metadata.uid = Some("u1".into());
        let r = reference(&d);
        assert_eq!(r.kind.as_deref(), Some("Deployment"));
        assert_eq!(r.api_version.as_deref(), Some("apps/v1"));
        assert_eq!(
            (r.namespace.as_deref(), r.name.as_deref(), r.uid.as_deref()),
            (Some("ns"), Some("web"), Some("u1"))
        );
    }
}
