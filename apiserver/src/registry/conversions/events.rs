//! core/v1 Event ↔ events.k8s.io/v1 Event, field by field as upstream's conversion does it
//! (involvedObject↔regarding, message↔note, source↔deprecatedSource, firstTimestamp,
//! lastTimestamp and count↔their deprecated* names, reportingComponent↔reportingController),
//! each field rendered where and as Go's encoding of the target type puts it.

use super::Go;
use serde_json::{Map, Value};

/// core/v1 Event fields after metadata, in Go's order: its name, the events.k8s.io/v1 name, and
/// how core/v1 renders it.
const CORE: &[(&str, &str, Go)] = &[
    ("involvedObject", "regarding", Go::Struct),
    ("reason", "reason", Go::OmitEmpty),
    ("message", "note", Go::OmitEmpty),
    ("source", "deprecatedSource", Go::Struct),
    ("firstTimestamp", "deprecatedFirstTimestamp", Go::Time),
    ("lastTimestamp", "deprecatedLastTimestamp", Go::Time),
    ("count", "deprecatedCount", Go::OmitEmpty),
    ("type", "type", Go::OmitEmpty),
    ("eventTime", "eventTime", Go::Time),
    ("series", "series", Go::OmitEmpty),
    ("action", "action", Go::OmitEmpty),
    ("related", "related", Go::OmitEmpty),
    ("reportingComponent", "reportingController", Go::String),
    ("reportingInstance", "reportingInstance", Go::String),
];

/// events.k8s.io/v1 Event fields after metadata, in Go's order, and how it renders them.
const EVENTS: &[(&str, Go)] = &[
    ("eventTime", Go::Time),
    ("series", Go::OmitEmpty),
    ("reportingController", Go::OmitEmpty),
    ("reportingInstance", Go::OmitEmpty),
    ("action", Go::OmitEmpty),
    ("reason", Go::OmitEmpty),
    ("regarding", Go::Struct),
    ("related", Go::OmitEmpty),
    ("note", Go::OmitEmpty),
    ("type", Go::OmitEmpty),
    ("deprecatedSource", Go::Struct),
    ("deprecatedFirstTimestamp", Go::Time),
    ("deprecatedLastTimestamp", Go::Time),
    ("deprecatedCount", Go::OmitEmpty),
];

/// An events.k8s.io/v1 Event as core/v1 stores it.
pub fn to_core(event: Value) -> Value {
    rebuild(event, CORE.iter().map(|&(core, events, go)| (events, core, go)))
}

/// A core/v1 Event as events.k8s.io/v1 serves it.
pub fn from_core(event: Value) -> Value {
    rebuild(
        event,
        EVENTS.iter().map(|&(events, go)| {
            let core = CORE
                .iter()
                .find(|(_, name, _)| *name == events)
                .map_or(events, |(core, _, _)| core);
            (core, events, go)
        }),
    )
}

/// `obj` with each `(from, to, rendering)` field moved to `to`, in the order given, after
/// apiVersion, kind and metadata; fields the target type does not know are kept at the end.
fn rebuild<'a>(obj: Value, fields: impl Iterator<Item = (&'a str, &'a str, Go)>) -> Value {
    let Value::Object(mut map) = obj else { return obj };
    let mut out = Map::with_capacity(map.len() + 4);
    for key in ["apiVersion", "kind", "metadata"] {
        if let Some(value) = map.shift_remove(key) {
            out.insert(key.into(), value);
        }
    }
    for (from, to, go) in fields {
        if let Some(value) = go.render(map.shift_remove(from)) {
            out.insert(to.into(), value);
        }
    }
    out.extend(map);
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_group_event_to_core_and_back() {
        let modern = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "default"},
            "eventTime": "2025-01-01T00:00:00.000000Z",
            "series": {"count": 2, "lastObservedTime": "2025-01-01T00:01:00.000000Z"},
            "reportingController": "example.com/operator", "reportingInstance": "operator-0",
            "action": "Reconcile", "reason": "Synced",
            "regarding": {"kind": "Widget", "namespace": "default", "name": "web", "uid": "u1"},
            "related": {"kind": "ConfigMap", "name": "web"},
            "note": "synced", "type": "Normal"
        });
        let core = to_core(modern.clone());
        assert_eq!(
            core,
            json!({
                "apiVersion": "events.k8s.io/v1", "kind": "Event",
                "metadata": {"name": "web.1", "namespace": "default"},
                "involvedObject": {"kind": "Widget", "namespace": "default", "name": "web", "uid": "u1"},
                "reason": "Synced", "message": "synced", "source": {},
                "firstTimestamp": null, "lastTimestamp": null, "type": "Normal",
                "eventTime": "2025-01-01T00:00:00.000000Z",
                "series": {"count": 2, "lastObservedTime": "2025-01-01T00:01:00.000000Z"},
                "action": "Reconcile", "related": {"kind": "ConfigMap", "name": "web"},
                "reportingComponent": "example.com/operator", "reportingInstance": "operator-0"
            })
        );
        let keys: Vec<&String> = core.as_object().unwrap().keys().collect();
        assert_eq!(keys[3..6], ["involvedObject", "reason", "message"]);

        let back = from_core(core);
        let mut expected = modern;
        expected["deprecatedSource"] = json!({});
        expected["deprecatedFirstTimestamp"] = Value::Null;
        expected["deprecatedLastTimestamp"] = Value::Null;
        assert_eq!(back, expected);
    }

    #[test]
    fn core_event_to_events_group() {
        let core = json!({
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.2"},
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
            "reason": "Pulled", "message": "pulled image",
            "source": {"component": "kubelet", "host": "node-a"},
            "firstTimestamp": "2025-01-01T00:00:00Z", "lastTimestamp": "2025-01-01T00:05:00Z",
            "count": 3, "type": "Normal", "reportingComponent": "", "reportingInstance": ""
        });
        let served = from_core(core);
        assert_eq!(
            served,
            json!({
                "apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.2"},
                "eventTime": null, "reason": "Pulled",
                "regarding": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
                "note": "pulled image", "type": "Normal",
                "deprecatedSource": {"component": "kubelet", "host": "node-a"},
                "deprecatedFirstTimestamp": "2025-01-01T00:00:00Z",
                "deprecatedLastTimestamp": "2025-01-01T00:05:00Z", "deprecatedCount": 3
            })
        );
    }
}
