//! Conversions of the built-in kinds whose objects are served in more than one group or version,
//! as upstream's conversion functions do them. Each family has one stored form (core/v1 Event,
//! autoscaling/v2 HorizontalPodAutoscaler); every served version converts its objects to it on
//! write and from it on read, through the generic store's [`Converter`] hook.

mod events;
pub(in crate::registry) mod hpa;

use crate::registry::resource::Converter;
use crate::status::{ApiError, ApiResult};
use serde_json::{json, Value};
use std::sync::Arc;

/// One served version of a family: how its objects become the stored form and back.
struct Version {
    api_version: &'static str,
    to_stored: fn(Value) -> Value,
    from_stored: fn(Value) -> Value,
}

/// A kind served in several versions whose objects share one store.
struct Family {
    kind: &'static str,
    /// The apiVersion of the stored form.
    stored: &'static str,
    versions: &'static [Version],
}

/// Events: stored as core/v1 (at `/registry/core/events/`), also served as events.k8s.io/v1.
static EVENTS: Family = Family {
    kind: "Event",
    stored: "v1",
    versions: &[
        Version {
            api_version: "v1",
            to_stored: unchanged,
            from_stored: unchanged,
        },
        Version {
            api_version: "events.k8s.io/v1",
            to_stored: events::to_core,
            from_stored: events::from_core,
        },
    ],
};

/// HorizontalPodAutoscalers: stored as autoscaling/v2, also served as autoscaling/v1.
static HPAS: Family = Family {
    kind: "HorizontalPodAutoscaler",
    stored: "autoscaling/v2",
    versions: &[
        Version {
            api_version: "autoscaling/v2",
            to_stored: hpa::without_round_trip_annotations,
            from_stored: hpa::without_round_trip_annotations,
        },
        Version {
            api_version: "autoscaling/v1",
            to_stored: hpa::v1_to_v2,
            from_stored: hpa::v2_to_v1,
        },
    ],
};

fn unchanged(obj: Value) -> Value {
    obj
}

/// The converter of a built-in kind served at `api_version`, if its objects are shared with
/// another served version.
pub fn converter_for(api_version: &str, kind: &str) -> Option<Arc<dyn Converter>> {
    let family = [&EVENTS, &HPAS].into_iter().find(|f| f.kind == kind)?;
    let served = family.versions.iter().find(|v| v.api_version == api_version)?;
    Some(Arc::new(Served {
        family,
        served,
        leading: format!("{{\"apiVersion\":\"{api_version}\"").into_bytes(),
    }))
}

/// One served version's converter.
struct Served {
    family: &'static Family,
    served: &'static Version,
    /// `{"apiVersion":"<served>"`: how stored objects already in the served version start.
    leading: Vec<u8>,
}

impl Served {
    /// A stored object (normally in the stored form) as the served version.
    fn serve(&self, obj: Value) -> ApiResult<Value> {
        let found = obj["apiVersion"].as_str().unwrap_or("");
        if found == self.served.api_version {
            return Ok(obj);
        }
        let from = self
            .family
            .versions
            .iter()
            .find(|v| v.api_version == found)
            .ok_or_else(|| {
                ApiError::internal(format!(
                    "no conversion of {} from {found:?} to {}",
                    self.family.kind, self.served.api_version
                ))
            })?;
        let stored = with_api_version((from.to_stored)(obj), self.family.stored);
        Ok(with_api_version(
            (self.served.from_stored)(stored),
            self.served.api_version,
        ))
    }
}

#[async_trait::async_trait]
impl Converter for Served {
    fn needs_conversion(&self, json: &[u8], _revision: i64) -> bool {
        !json.starts_with(&self.leading)
    }

    async fn to_served(&self, objects: Vec<Value>) -> ApiResult<Vec<Value>> {
        objects.into_iter().map(|o| self.serve(o)).collect()
    }

    async fn to_storage(&self, object: Value) -> ApiResult<Value> {
        Ok(with_api_version((self.served.to_stored)(object), self.family.stored))
    }
}

/// `obj` with its `apiVersion` set (kept in place when present).
fn with_api_version(mut obj: Value, api_version: &str) -> Value {
    if let Value::Object(map) = &mut obj {
        map.insert("apiVersion".into(), json!(api_version));
    }
    obj
}

/// How Go's encoding/json renders a field of a typed object, for rebuilding one in another
/// version's shape.
#[derive(Clone, Copy)]
enum Go {
    /// `omitempty` scalars, pointers and slices: left out when absent, null, "", 0 or false.
    OmitEmpty,
    /// A struct value: always present, `{}` when absent.
    Struct,
    /// metav1.Time and MicroTime values: always present, `null` when absent.
    Time,
    /// A string without `omitempty`: always present, `""` when absent.
    String,
}

impl Go {
    /// The rendering of `value` (None when the field is left out).
    fn render(self, value: Option<Value>) -> Option<Value> {
        let value = value.filter(|v| !v.is_null());
        match self {
            Go::OmitEmpty => value.filter(|v| !is_empty(v)),
            Go::Struct => Some(value.unwrap_or_else(|| json!({}))),
            Go::Time => Some(value.unwrap_or(Value::Null)),
            Go::String => Some(value.unwrap_or_else(|| json!(""))),
        }
    }
}

/// Go's zero values as JSON: what `omitempty` leaves out.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_stored_objects_in_the_requested_version_and_stores_the_stored_form() {
        let events = converter_for("events.k8s.io/v1", "Event").unwrap();
        let core = br#"{"apiVersion":"v1","kind":"Event","metadata":{"name":"e"},"message":"hi"}"#;
        assert!(events.needs_conversion(core, 1));
        assert!(!events.needs_conversion(br#"{"apiVersion":"events.k8s.io/v1","kind":"Event"}"#, 1));
        let served = events
            .to_served(vec![serde_json::from_slice(core).unwrap()])
            .await
            .unwrap();
        assert_eq!(served[0]["apiVersion"], "events.k8s.io/v1");
        assert_eq!(served[0]["note"], "hi");
        let stored = events
            .to_storage(json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "note": "yo"}))
            .await
            .unwrap();
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["message"], "yo");

        // An object left in another served version converts through the stored form.
        let v2 = converter_for("autoscaling/v2", "HorizontalPodAutoscaler").unwrap();
        let old = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"}, "spec": {"maxReplicas": 3, "targetCPUUtilizationPercentage": 50}});
        let served = v2.to_served(vec![old]).await.unwrap();
        assert_eq!(served[0]["apiVersion"], "autoscaling/v2");
        assert_eq!(
            served[0]["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            50
        );

        let unknown = json!({"apiVersion": "autoscaling/v9", "kind": "HorizontalPodAutoscaler"});
        assert_eq!(v2.to_served(vec![unknown]).await.unwrap_err().code, 500);
    }

    #[test]
    fn only_kinds_served_twice_convert() {
        assert!(converter_for("v1", "Event").is_some());
        assert!(converter_for("autoscaling/v1", "HorizontalPodAutoscaler").is_some());
        assert!(converter_for("v1", "ConfigMap").is_none());
        assert!(converter_for("autoscaling/v2beta2", "HorizontalPodAutoscaler").is_none());
    }

    #[test]
    fn go_renderings() {
        assert_eq!(Go::OmitEmpty.render(Some(json!(0))), None);
        assert_eq!(Go::OmitEmpty.render(Some(json!(""))), None);
        assert_eq!(Go::OmitEmpty.render(Some(json!(2))), Some(json!(2)));
        assert_eq!(Go::Struct.render(None), Some(json!({})));
        assert_eq!(Go::Time.render(None), Some(Value::Null));
        assert_eq!(Go::String.render(Some(Value::Null)), Some(json!("")));
    }
}
