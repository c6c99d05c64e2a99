//! The node agents' events: each node reports through its own kube-runtime `Recorder` (reporting
//! controller `kubelet`, instance the node name), and every node's events go through one bounded
//! queue to a few writers so that a burst never stalls a pod's lifecycle. Like client-go's
//! broadcaster, events that do not fit the queue are dropped; a node's events stay in order.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::Client;
use tokio::sync::mpsc;

/// Events queued per writer before new ones are dropped (client-go's `maxQueuedEvents` is 1000).
const QUEUE: usize = 1000;
/// Writers; a node always uses the same one, so its events keep their order.
const WRITERS: usize = 4;

struct Queued {
    recorder: Recorder,
    event: Event,
    regarding: ObjectReference,
}

/// The shared event queue of a node pool.
#[derive(Clone)]
pub struct EventSink {
    writers: Vec<mpsc::Sender<Queued>>,
}

impl EventSink {
    /// Start the writers on the current runtime; `enabled` false drops every event.
    pub fn start(enabled: bool) -> EventSink {
        if !enabled {
            return EventSink { writers: vec![] };
        }
        let writers = (0..WRITERS)
            .map(|_| {
                let (tx, mut rx) = mpsc::channel::<Queued>(QUEUE);
                tokio::spawn(async move {
                    while let Some(q) = rx.recv().await {
                        if let Err(error) = q.recorder.publish(&q.event, &q.regarding).await {
                            tracing::debug!(%error, reason = %q.event.reason, "could not record an event");
                        }
                    }
                });
                tx
            })
            .collect();
        EventSink { writers }
    }

    /// The recorder of the node named `node`.
    pub fn recorder(client: Client, node: &str) -> Recorder {
        Recorder::new(
            client,
            Reporter {
                controller: "kubelet".into(),
                instance: Some(node.to_string()),
            },
        )
    }

    /// Queue an event of node number `node` about `regarding`.
    pub fn emit(
        &self,
        node: usize,
        recorder: &Recorder,
        regarding: ObjectReference,
        type_: EventType,
        reason: &str,
        action: String,
        note: String,
    ) {
        let Some(writer) = self.writers.get(node % WRITERS.max(1)) else {
            return;
        };
        let queued = Queued {
            recorder: recorder.clone(),
            event: Event {
                type_,
                reason: reason.to_string(),
                note: Some(note),
                action,
                secondary: None,
            },
            regarding,
        };
        if writer.try_send(queued).is_err() {
            tracing::debug!(reason, "event queue full: dropping the event");
        }
    }
}
