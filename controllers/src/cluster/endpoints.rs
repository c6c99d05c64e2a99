//! The legacy Endpoints controller (upstream's pkg/controller/endpoint): for every Service with a
//! selector, a core/v1 Endpoints object of the same name whose subsets list the ready pods'
//! addresses under `addresses` and the others under `notReadyAddresses` (all of them under
//! `addresses` with publishNotReadyAddresses), packed by port set as upstream's RepackSubsets
//! does, capped at 1000 addresses with the endpoints.kubernetes.io/over-capacity annotation, and
//! stamped with endpoints.kubernetes.io/last-change-trigger-time. Endpoints of deleted Services
//! are removed (also those left over from before a restart).

use crate::cluster::endpointslice::desired::{self, ANNOTATION_TRIGGER_TIME, LABEL_HEADLESS};
use crate::cluster::endpointslice::services::{self, PodServices, TriggerTimes};
use crate::core::api_errors;
use crate::core::backoff::ErrorBackoff;
use crate::core::credentials::Identity;
use crate::core::informers::{Informer, Informers};
use crate::workloads::events::{api_message, Recorder};
use crate::workloads::pods;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The most addresses an Endpoints object holds (upstream's maxCapacity).
pub const MAX_CAPACITY: usize = 1000;
/// Set to "truncated" when addresses were left out for capacity.
pub const ANNOTATION_OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// Endpoints used as leader-election locks carry this annotation and are left alone.
const ANNOTATION_LEADER: &str = "control-plane.alpha.kubernetes.io/leader";
const COMPONENT: &str = "endpoint-controller";
/// --concurrent-endpoint-syncs default.
const CONCURRENCY: u16 = 5;
const STALE_RETRY: Duration = Duration::from_millis(100);

struct Context {
    client: Client,
    pods: Informer<Pod>,
    endpoints: Informer<Endpoints>,
    trigger_times: TriggerTimes,
    /// The resourceVersion each Endpoints (by key) had when this loop last replaced it: a store
    /// still showing it is behind.
    replaced: Mutex<HashMap<String, String>>,
    recorder: Recorder,
    backoff: ErrorBackoff,
}

/// Subscribe to Services, pods and Endpoints now; the returned future runs the loop.
pub fn start(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    let services = informers.get::<Service>();
    let pods = informers.get::<Pod>();
    let endpoints = informers.get::<Endpoints>();
    let service_changes = services.subscribe();
    let pod_changes = pods.subscribe();
    let endpoints_changes = endpoints.subscribe();
    let client = informers.client_as(Identity::Controller("endpoint-controller"));
    async move {
        if services.store().wait_until_ready().await.is_err()
            || pods.store().wait_until_ready().await.is_err()
            || endpoints.store().wait_until_ready().await.is_err()
        {
            return;
        }
        let ctx = Arc::new(Context {
            recorder: Recorder::new(client.clone(), COMPONENT),
            client: client.clone(),
            pods: pods.clone(),
            endpoints: endpoints.clone(),
            trigger_times: TriggerTimes::default(),
            replaced: Mutex::new(HashMap::new()),
            backoff: ErrorBackoff::default(),
        });
        delete_leftovers(&client, &services, &endpoints).await;
        // A deleted Service takes its Endpoints with it.
        let gone_ctx = ctx.clone();
        let live = services.clone();
        let triggers = service_changes.inspect(move |svc| {
            let gone = live
                .get(svc.namespace().as_deref(), &svc.name_any())
                .is_none_or(|l| l.uid() != svc.uid());
            if gone {
                let namespace = svc.namespace().unwrap_or_default();
                let name = svc.name_any();
                let key = format!("{namespace}/{name}");
                gone_ctx.trigger_times.forget(&key);
                gone_ctx
                    .replaced
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .remove(&key);
                let client = gone_ctx.client.clone();
                tokio::spawn(async move { delete_endpoints(client, &namespace, &name).await });
            }
        });
        let mapper = PodServices::new(services.clone(), pods);
        let endpoints_store = endpoints.clone();
        let outcomes = Controller::for_shared_stream(triggers, services.store().clone())
            .with_config(Config::default().concurrency(CONCURRENCY))
            .watches_shared_stream(pod_changes, move |pod: Arc<Pod>| mapper.services_for(&pod))
            .watches_shared_stream(endpoints_changes, move |ep: Arc<Endpoints>| {
                // Deleted Endpoints of a live Service are written again.
                let gone = endpoints_store
                    .get(ep.namespace().as_deref(), &ep.name_any())
                    .is_none_or(|l| l.uid() != ep.uid());
                gone.then(|| ObjectRef::<Service>::new(&ep.name_any()).within(&ep.namespace().unwrap_or_default()))
            })
            .run(
                |svc: Arc<Service>, ctx: Arc<Context>| async move {
                    let key = svc.uid().unwrap_or_default();
                    let result = sync(&svc, &ctx).await;
                    ctx.backoff.track(&key, result)
                },
                |svc, _error, ctx| ctx.backoff.requeue(&svc.uid().unwrap_or_default()),
                ctx,
            );
        crate::core::outcomes::drain("endpoint-controller", outcomes).await;
    }
}

async fn delete_endpoints(client: Client, namespace: &str, name: &str) {
    let api: Api<Endpoints> = Api::namespaced(client, namespace);
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(e) if api_errors::is_not_found(&e) => {}
        Err(e) => tracing::debug!(%namespace, %name, error = %e, "could not delete the Endpoints of a deleted Service"),
    }
}

/// Endpoints whose Service is gone (deleted while the loop was not running), except
/// leader-election locks (upstream's checkLeftoverEndpoints).
async fn delete_leftovers(client: &Client, services: &Informer<Service>, endpoints: &Informer<Endpoints>) {
    for ep in endpoints.store().state() {
        if ep.annotations().contains_key(ANNOTATION_LEADER) {
            continue;
        }
        let namespace = ep.namespace().unwrap_or_default();
        if services.get(Some(&namespace), &ep.name_any()).is_none() {
            delete_endpoints(client.clone(), &namespace, &ep.name_any()).await;
        }
    }
}

/// The pod's address for the Service: its IP of the Service's (first) family.
fn pod_address(service: &Service, pod: &Pod) -> Option<EndpointAddress> {
    let spec = service.spec.as_ref();
    let family_v6 = match spec.and_then(|s| s.ip_families.as_deref()).and_then(|f| f.first()) {
        Some(family) => family == "IPv6",
        None if desired::is_service_ip_set(service) => spec
            .and_then(|s| s.cluster_ip.as_deref())
            .is_some_and(|ip| ip.contains(':')),
        None => pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .is_some_and(|ip| ip.contains(':')),
    };
    let ip = desired::pod_ips(pod)
        .into_iter()
        .find(|ip| ip.contains(':') == family_v6)?;
    let hostname = desired::should_set_hostname(pod, service)
        .then(|| pod.spec.as_ref().and_then(|s| s.hostname.clone()))
        .flatten();
    Some(EndpointAddress {
        ip,
        hostname,
        node_name: Some(pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default()),
        target_ref: Some(desired::pod_reference(pod)),
    })
}

/// The subsets for the Service's pods, packed.
pub fn subsets_for(service: &Service, pods: &[Arc<Pod>]) -> Vec<EndpointSubset> {
    let spec = service.spec.as_ref();
    let tolerate_unready = spec.and_then(|s| s.publish_not_ready_addresses).unwrap_or(false);
    let headless = spec.and_then(|s| s.cluster_ip.as_deref()) == Some("None");
    let service_ports = spec.and_then(|s| s.ports.as_deref()).unwrap_or_default();
    let mut subsets = Vec::new();
    for pod in pods {
        if !desired::should_be_in_endpoints(pod, tolerate_unready) {
            continue;
        }
        let Some(address) = pod_address(service, pod) else {
            continue;
        };
        let ready = tolerate_unready || pods::is_ready(pod);
        let subset = |ports: Vec<EndpointPort>| EndpointSubset {
            addresses: ready.then(|| vec![address.clone()]),
            not_ready_addresses: (!ready).then(|| vec![address.clone()]),
            ports: Some(ports),
        };
        if service_ports.is_empty() {
            if headless {
                subsets.push(subset(Vec::new()));
            }
            continue;
        }
        for sp in service_ports {
            let Some(number) = desired::find_port(pod, sp) else {
                continue;
            };
            subsets.push(subset(vec![EndpointPort {
                name: sp.name.clone().filter(|n| !n.is_empty()),
                port: number,
                protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: sp.app_protocol.clone(),
            }]));
        }
    }
    repack(subsets)
}

type PortId = (String, i32, String, Option<String>);
type AddressId = (String, String);
/// Per port (None: no ports), the port and each address with whether it is ready there.
type ByPort = BTreeMap<Option<PortId>, (Option<EndpointPort>, BTreeMap<AddressId, bool>)>;

fn port_id(p: &EndpointPort) -> PortId {
    (
        p.name.clone().unwrap_or_default(),
        p.port,
        p.protocol.clone().unwrap_or_default(),
        p.app_protocol.clone(),
    )
}

fn address_id(a: &EndpointAddress) -> AddressId {
    (
        a.ip.clone(),
        a.target_ref.as_ref().and_then(|t| t.uid.clone()).unwrap_or_default(),
    )
}

/// Upstream's RepackSubsets: every address under each port it serves (not-ready wins over
/// ready), then one subset per distinct set of addresses with all the ports they share; sorted.
/// Subsets without ports keep their addresses with no ports.
pub fn repack(subsets: Vec<EndpointSubset>) -> Vec<EndpointSubset> {
    let mut all: BTreeMap<AddressId, EndpointAddress> = BTreeMap::new();
    // None is the sentinel port of subsets without ports.
    let mut by_port: ByPort = BTreeMap::new();
    for subset in &subsets {
        let ports: Vec<Option<&EndpointPort>> = match subset.ports.as_deref() {
            Some(ports) if !ports.is_empty() => ports.iter().map(Some).collect(),
            _ => vec![None],
        };
        for port in ports {
            let entry = by_port
                .entry(port.map(port_id))
                .or_insert_with(|| (port.cloned(), BTreeMap::new()));
            let ready = subset
                .addresses
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|a| (a, true));
            let not_ready = subset
                .not_ready_addresses
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|a| (a, false));
            for (address, is_ready) in ready.chain(not_ready) {
                let id = address_id(address);
                all.entry(id.clone()).or_insert_with(|| address.clone());
                let state = entry.1.entry(id).or_insert(is_ready);
                *state = *state && is_ready;
            }
        }
    }
    let mut groups: BTreeMap<Vec<(AddressId, bool)>, Vec<Option<EndpointPort>>> = BTreeMap::new();
    for (port, addresses) in by_port.into_values() {
        groups.entry(addresses.into_iter().collect()).or_default().push(port);
    }
    let mut out: Vec<EndpointSubset> = groups
        .into_iter()
        .map(|(addresses, ports)| {
            let pick = |want: bool| -> Option<Vec<EndpointAddress>> {
                let list: Vec<EndpointAddress> = addresses
                    .iter()
                    .filter(|(_, r)| *r == want)
                    .filter_map(|(id, _)| all.get(id).cloned())
                    .collect();
                (!list.is_empty()).then_some(list)
            };
            let mut ports: Vec<EndpointPort> = ports.into_iter().flatten().collect();
            ports.sort_by_key(port_id);
            EndpointSubset {
                addresses: pick(true),
                not_ready_addresses: pick(false),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect();
    out.sort_by_key(|s| {
        let first = s
            .addresses
            .as_deref()
            .or(s.not_ready_addresses.as_deref())
            .and_then(|a| a.first())
            .map(address_id);
        (
            first,
            s.ports
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(port_id)
                .collect::<Vec<_>>(),
        )
    });
    out
}

/// Cut the subsets to [`MAX_CAPACITY`] addresses, ready ones first, each subset keeping its
/// share (upstream's truncateEndpoints). Returns whether anything was cut.
pub fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let count = |v: &Option<Vec<EndpointAddress>>| v.as_ref().map_or(0, Vec::len);
    let total_ready: usize = subsets.iter().map(|s| count(&s.addresses)).sum();
    let total_not_ready: usize = subsets.iter().map(|s| count(&s.not_ready_addresses)).sum();
    if total_ready + total_not_ready <= MAX_CAPACITY {
        return false;
    }
    let truncate_ready = total_ready > MAX_CAPACITY;
    let (max, total) = if truncate_ready {
        (MAX_CAPACITY, total_ready)
    } else {
        (MAX_CAPACITY - total_ready, total_not_ready)
    };
    let mut room = max;
    for subset in subsets.iter_mut() {
        let in_subset = if truncate_ready {
            count(&subset.addresses)
        } else {
            count(&subset.not_ready_addresses)
        };
        let share = ((in_subset as f64 / total as f64) * max as f64).ceil() as usize;
        let take = share.min(room);
        if truncate_ready {
            if let Some(a) = subset.addresses.as_mut() {
                a.truncate(take);
            }
            subset.not_ready_addresses = Some(Vec::new());
            room -= count(&subset.addresses);
        } else {
            if let Some(a) = subset.not_ready_addresses.as_mut() {
                a.truncate(take);
            }
            room -= count(&subset.not_ready_addresses);
        }
    }
    true
}

fn without_target_versions(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    let strip = |list: &Option<Vec<EndpointAddress>>| {
        list.as_ref().map(|v| {
            v.iter()
                .map(|a| {
                    let mut a = a.clone();
                    if let Some(t) = a.target_ref.as_mut() {
                        t.resource_version = None;
                    }
                    a
                })
                .collect::<Vec<_>>()
        })
    };
    subsets
        .iter()
        .map(|s| EndpointSubset {
            addresses: strip(&s.addresses).filter(|v| !v.is_empty()),
            not_ready_addresses: strip(&s.not_ready_addresses).filter(|v| !v.is_empty()),
            ports: s.ports.clone().filter(|p| !p.is_empty()),
        })
        .collect()
}

fn capacity_annotation_correct(annotations: &BTreeMap<String, String>, subsets: &[EndpointSubset]) -> bool {
    let n: usize = subsets
        .iter()
        .map(|s| s.addresses.as_ref().map_or(0, Vec::len) + s.not_ready_addresses.as_ref().map_or(0, Vec::len))
        .sum();
    n <= MAX_CAPACITY && !annotations.contains_key(ANNOTATION_OVER_CAPACITY)
}

fn not_newer(a: &str, b: &str) -> bool {
    matches!((a.parse::<u64>(), b.parse::<u64>()), (Ok(a), Ok(b)) if a <= b)
}

async fn sync(service: &Service, ctx: &Context) -> Result<Action, kube::Error> {
    if !services::selects_pods(service) {
        return Ok(Action::await_change());
    }
    let namespace = service.namespace().unwrap_or_default();
    let name = service.name_any();
    let key = format!("{namespace}/{name}");
    let pods = services::pods_of(service, &ctx.pods);
    let trigger = ctx.trigger_times.compute(&key, service, &pods);
    let subsets = subsets_for(service, &pods);

    let current = ctx.endpoints.get(Some(&namespace), &name);
    if let Some(current) = &current {
        let replaced = ctx
            .replaced
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&key)
            .cloned();
        if let Some(rv) = replaced {
            if not_newer(current.resource_version().as_deref().unwrap_or(""), &rv) {
                return Ok(Action::requeue(STALE_RETRY));
            }
        }
    }
    let service_labels = service.labels().clone();
    if let Some(current) = &current {
        let mut labels = current.labels().clone();
        labels.remove(LABEL_HEADLESS);
        let same = without_target_versions(current.subsets.as_deref().unwrap_or_default())
            == without_target_versions(&subsets)
            && labels == service_labels
            && capacity_annotation_correct(current.annotations(), current.subsets.as_deref().unwrap_or_default());
        if same {
            return Ok(Action::await_change());
        }
    }
    let mut next = current.as_deref().cloned().unwrap_or_else(|| Endpoints {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            ..Default::default()
        },
        subsets: None,
    });
    let mut subsets = subsets;
    let annotations = next.metadata.annotations.get_or_insert_with(Default::default);
    match trigger {
        Some(t) => {
            annotations.insert(ANNOTATION_TRIGGER_TIME.into(), services::rfc3339_nano(t));
        }
        None => {
            annotations.remove(ANNOTATION_TRIGGER_TIME);
        }
    }
    if truncate(&mut subsets) {
        annotations.insert(ANNOTATION_OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(ANNOTATION_OVER_CAPACITY);
    }
    let mut labels = service_labels;
    if desired::is_service_ip_set(service) {
        labels.remove(LABEL_HEADLESS);
    } else {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    }
    next.metadata.labels = Some(labels);
    next.subsets = Some(subsets);

    let api: Api<Endpoints> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = match &current {
        None => api.create(&PostParams::default(), &next).await.map(|_| ()),
        Some(current) => api.replace(&name, &PostParams::default(), &next).await.map(|updated| {
            if updated.resource_version() != current.resource_version() {
                if let Some(rv) = current.resource_version() {
                    ctx.replaced
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .insert(key.clone(), rv);
                }
            }
        }),
    };
    match result {
        Ok(()) => Ok(Action::await_change()),
        Err(e) if current.is_none() && api_errors::is_namespace_terminating(&e) => Ok(Action::await_change()),
        Err(e) => {
            let (reason, message) = if current.is_none() {
                (
                    "FailedToCreateEndpoint",
                    format!(
                        "Failed to create endpoint for service {namespace}/{name}: {}",
                        api_message(&e)
                    ),
                )
            } else {
                (
                    "FailedToUpdateEndpoint",
                    format!("Failed to update endpoint {namespace}/{name}: {}", api_message(&e)),
                )
            };
            ctx.recorder.warning(&next, reason, message);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodIP, PodSpec, PodStatus, ServicePort, ServiceSpec};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn pod(i: usize, ready: bool) -> Arc<Pod> {
        let mut pod = Pod::default();
        pod.metadata.name = Some(format!("p{i}"));
        pod.metadata.namespace = Some("ns".into());
        pod.metadata.uid = Some(format!("u{i:05}"));
        pod.spec = Some(PodSpec {
            node_name: Some("n1".into()),
            ..Default::default()
        });
        let ip = format!("10.{}.{}.{}", i / 62500, (i / 250) % 250, i % 250 + 1);
        pod.status = Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some(ip.clone()),
            pod_ips: Some(vec![PodIP { ip }]),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        Arc::new(pod)
    }

    fn service(ports: &[(&str, i32)]) -> Service {
        let mut svc = Service::default();
        svc.metadata.name = Some("web".into());
        svc.metadata.namespace = Some("ns".into());
        svc.spec = Some(ServiceSpec {
            cluster_ip: Some("10.96.0.10".into()),
            ip_families: Some(vec!["IPv4".into()]),
            ports: Some(
                ports
                    .iter()
                    .map(|(name, port)| ServicePort {
                        name: Some(name.to_string()),
                        port: *port,
                        target_port: Some(IntOrString::Int(port + 8000)),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        });
        svc
    }

    fn ips(list: &Option<Vec<EndpointAddress>>) -> Vec<String> {
        list.as_deref()
            .unwrap_or_default()
            .iter()
            .map(|a| a.ip.clone())
            .collect()
    }

    #[test]
    fn ready_and_not_ready_addresses_share_one_subset_per_port_set() {
        let svc = service(&[("http", 80), ("metrics", 90)]);
        let subsets = subsets_for(&svc, &[pod(0, true), pod(1, false), pod(2, true)]);
        assert_eq!(subsets.len(), 1, "{subsets:?}");
        assert_eq!(ips(&subsets[0].addresses), ["10.0.0.1", "10.0.0.3"]);
        assert_eq!(ips(&subsets[0].not_ready_addresses), ["10.0.0.2"]);
        let ports: Vec<i32> = subsets[0].ports.as_deref().unwrap().iter().map(|p| p.port).collect();
        assert_eq!(ports, [8080, 8090]);
        let a = &subsets[0].addresses.as_ref().unwrap()[0];
        assert_eq!(a.node_name.as_deref(), Some("n1"));
        assert_eq!(a.target_ref.as_ref().unwrap().kind.as_deref(), Some("Pod"));
    }

    #[test]
    fn publish_not_ready_puts_every_pod_under_addresses() {
        let mut svc = service(&[("http", 80)]);
        svc.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        let subsets = subsets_for(&svc, &[pod(0, true), pod(1, false)]);
        assert_eq!(ips(&subsets[0].addresses), ["10.0.0.1", "10.0.0.2"]);
        assert!(subsets[0].not_ready_addresses.is_none());
    }

    #[test]
    fn headless_services_without_ports_list_addresses() {
        let mut svc = service(&[]);
        svc.spec.as_mut().unwrap().cluster_ip = Some("None".into());
        let subsets = subsets_for(&svc, &[pod(0, true)]);
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(&subsets[0].addresses), ["10.0.0.1"]);
        assert!(subsets[0].ports.is_none());
    }

    #[test]
    fn over_capacity_truncates_to_a_thousand_ready_first() {
        let svc = service(&[("http", 80)]);
        let pods: Vec<Arc<Pod>> = (0..1200).map(|i| pod(i, i % 2 == 0)).collect();
        let mut subsets = subsets_for(&svc, &pods);
        assert!(truncate(&mut subsets));
        assert_eq!(ips(&subsets[0].addresses).len(), 600);
        assert_eq!(ips(&subsets[0].not_ready_addresses).len(), 400);
        let mut small = subsets_for(&svc, &pods[..10]);
        assert!(!truncate(&mut small));
    }
}
