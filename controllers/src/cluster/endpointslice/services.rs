//! Services and their pods, shared by the EndpointSlice and Endpoints loops: which Services a
//! pod change concerns (the ones its old and new labels select, only when something an endpoint
//! shows changed), the pods a Service selects, and upstream's TriggerTimeTracker for the
//! endpoints.kubernetes.io/last-change-trigger-time annotation.

use crate::core::informers::Informer;
use crate::workloads::pods;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// The Service's selector, when it selects pods (a missing or empty selector selects none).
pub fn selector(service: &Service) -> Option<&BTreeMap<String, String>> {
    service
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .filter(|s| !s.is_empty())
}

/// Whether the Service's endpoints come from its selector (not ExternalName, has a selector).
pub fn selects_pods(service: &Service) -> bool {
    let external = service.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ExternalName");
    !external && selector(service).is_some()
}

fn matches(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The pods of the namespace the Service selects.
pub fn pods_of(service: &Service, pods: &Informer<Pod>) -> Vec<Arc<Pod>> {
    let Some(sel) = selector(service) else {
        return Vec::new();
    };
    let namespace = service.namespace();
    pods.store()
        .state()
        .into_iter()
        .filter(|p| p.namespace() == namespace && matches(sel, p.labels()))
        .collect()
}

/// What of a pod an endpoint shows: readiness, deletion, IPs, hostname and subdomain, node.
#[derive(Clone, PartialEq)]
struct Projection {
    labels: BTreeMap<String, String>,
    ready: bool,
    deleting: bool,
    ips: Vec<String>,
    hostname: Option<String>,
    subdomain: Option<String>,
    node: Option<String>,
    phase: String,
    resource_version: Option<String>,
}

fn project(pod: &Pod) -> Projection {
    let spec = pod.spec.as_ref();
    Projection {
        labels: pod.labels().clone(),
        ready: pods::is_ready(pod),
        deleting: pod.metadata.deletion_timestamp.is_some(),
        ips: super::desired::pod_ips(pod),
        hostname: spec.and_then(|s| s.hostname.clone()),
        subdomain: spec.and_then(|s| s.subdomain.clone()),
        node: spec.and_then(|s| s.node_name.clone()),
        phase: pods::phase(pod).to_string(),
        resource_version: pod.resource_version(),
    }
}

/// Maps pod changes to the Services that must sync, remembering each pod's last projection.
pub struct PodServices {
    services: Informer<Service>,
    pods: Informer<Pod>,
    last: Mutex<HashMap<String, Projection>>,
}

impl PodServices {
    pub fn new(services: Informer<Service>, pods: Informer<Pod>) -> Self {
        PodServices {
            services,
            pods,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// The Services to sync for this change of `pod` (its current or, if deleted, last state).
    pub fn services_for(&self, pod: &Pod) -> Vec<ObjectRef<Service>> {
        let uid = pod.uid().unwrap_or_default();
        let namespace = pod.namespace().unwrap_or_default();
        let gone = self
            .pods
            .get(Some(&namespace), &pod.name_any())
            .is_none_or(|live| live.uid().as_deref() != Some(uid.as_str()));
        let now = project(pod);
        let previous = {
            let mut last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if gone {
                last.remove(&uid)
            } else {
                last.insert(uid, now.clone())
            }
        };
        if let Some(prev) = &previous {
            if !gone && prev.resource_version == now.resource_version {
                return Vec::new();
            }
            let same_apart_from_version = Projection {
                resource_version: None,
                ..prev.clone()
            } == Projection {
                resource_version: None,
                ..now.clone()
            };
            if !gone && same_apart_from_version {
                return Vec::new();
            }
        }
        let old_labels = previous.map(|p| p.labels);
        let mut wake = Vec::new();
        for service in self.services.store().state() {
            if service.namespace().as_deref() != Some(namespace.as_str()) {
                continue;
            }
            let Some(sel) = selector(&service) else { continue };
            if matches(sel, &now.labels) || old_labels.as_ref().is_some_and(|l| matches(sel, l)) {
                wake.push(ObjectRef::from_obj(service.as_ref()));
            }
        }
        wake
    }
}

/// Per Service, the trigger times seen at its last sync (upstream's TriggerTimeTracker).
#[derive(Default)]
pub struct TriggerTimes {
    states: Mutex<HashMap<String, State>>,
}

#[derive(Default, Clone)]
struct State {
    service: Option<Timestamp>,
    pods: HashMap<String, Timestamp>,
}

/// A pod's trigger time: when its Ready condition last changed.
fn pod_trigger(pod: &Pod) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .conditions
        .as_deref()?
        .iter()
        .find(|c| c.type_ == "Ready")?
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
}

impl TriggerTimes {
    /// The time to publish as last-change-trigger-time for this sync of `service` over `pods`
    /// (None: leave it out): the Service's creation the first time, else the earliest trigger
    /// time that changed since the last sync.
    pub fn compute(&self, key: &str, service: &Service, pods: &[Arc<Pod>]) -> Option<Timestamp> {
        let mut states = self.states.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let known = states.contains_key(key);
        let state = states.entry(key.to_string()).or_default();
        let mut earliest: Option<Timestamp> = None;
        let mut now_pods = HashMap::new();
        for pod in pods {
            let Some(t) = pod_trigger(pod) else { continue };
            let name = pod.name_any();
            if state.pods.get(&name).is_none_or(|before| t > *before) {
                earliest = Some(earliest.map_or(t, |e| e.min(t)));
            }
            now_pods.insert(name, t);
        }
        let created = service.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if let Some(c) = created {
            if state.service.is_none_or(|before| c > before) {
                earliest = Some(earliest.map_or(c, |e| e.min(c)));
            }
        }
        state.pods = now_pods;
        state.service = created;
        if known {
            earliest
        } else {
            created
        }
    }

    /// Forget a deleted Service.
    pub fn forget(&self, key: &str) {
        self.states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key);
    }
}

/// RFC 3339 with nanoseconds and trailing zeros trimmed, in UTC (Go's time.RFC3339Nano).
pub fn rfc3339_nano(t: Timestamp) -> String {
    let secs = t.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.subsec_nanosecond();
    if nanos == 0 {
        format!("{secs}Z")
    } else {
        let frac = format!("{nanos:09}");
        format!("{secs}.{}Z", frac.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn ready_pod(name: &str, at: i64) -> Arc<Pod> {
        let mut pod = Pod::default();
        pod.metadata.name = Some(name.into());
        pod.status = Some(PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(Time(Timestamp::from_second(at).unwrap())),
                ..Default::default()
            }]),
            ..Default::default()
        });
        Arc::new(pod)
    }

    #[test]
    fn trigger_time_is_creation_first_then_earliest_change() {
        let times = TriggerTimes::default();
        let mut svc = Service::default();
        svc.metadata.creation_timestamp = Some(Time(Timestamp::from_second(100).unwrap()));
        let t = |s| Some(Timestamp::from_second(s).unwrap());
        assert_eq!(times.compute("ns/web", &svc, &[ready_pod("a", 150)]), t(100));
        assert_eq!(times.compute("ns/web", &svc, &[ready_pod("a", 150)]), None);
        let pods = [ready_pod("a", 200), ready_pod("b", 180)];
        assert_eq!(times.compute("ns/web", &svc, &pods), t(180));
    }

    #[test]
    fn formats_like_go_rfc3339_nano() {
        let t = Timestamp::from_second(1_700_000_000).unwrap();
        assert_eq!(rfc3339_nano(t), "2023-11-14T22:13:20Z");
        let t = Timestamp::new(1_700_000_000, 120_000_000).unwrap();
        assert_eq!(rfc3339_nano(t), "2023-11-14T22:13:20.12Z");
    }
}
