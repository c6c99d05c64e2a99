//! What a Service's endpoints should be, from its pods (upstream's k8s.io/endpointslice utils):
//! which pods belong in endpoints, each pod's endpoint (addresses of one family, the
//! ready/serving/terminating conditions, node name, zone, hostname) and the ports it serves
//! (named targetPorts resolved per pod), and the address types a Service asks for.

use crate::workloads::pods;
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, Service, ServicePort};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use std::net::IpAddr;

pub const IPV4: &str = "IPv4";
pub const IPV6: &str = "IPv6";
/// The label that names a slice's Service.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// The label that names the controller managing a slice.
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// Endpoints with this label set to "true" are not mirrored to EndpointSlices.
pub const LABEL_SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";
/// Set (empty) on the endpoints of headless Services.
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";
/// When the change that produced these endpoints happened (RFC 3339 with nanoseconds).
pub const ANNOTATION_TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
/// The zone label of nodes.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";

/// Whether a pod has an address to publish: not terminal and with an IP; terminating pods
/// only when `include_terminating` (upstream's ShouldPodBeInEndpoints).
pub fn should_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    if matches!(pods::phase(pod), "Succeeded" | "Failed") {
        return false;
    }
    let status = pod.status.as_ref();
    let has_ip = status
        .and_then(|s| s.pod_ip.as_deref())
        .is_some_and(|ip| !ip.is_empty())
        || status
            .and_then(|s| s.pod_ips.as_ref())
            .is_some_and(|ips| !ips.is_empty());
    if !has_ip {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

/// The pod's IPs: status.podIPs, or status.podIP when podIPs is empty.
pub fn pod_ips(pod: &Pod) -> Vec<String> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let ips: Vec<String> = status
        .pod_ips
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|ip| ip.ip.clone())
        .filter(|ip| !ip.is_empty())
        .collect();
    if ips.is_empty() {
        status.pod_ip.iter().filter(|ip| !ip.is_empty()).cloned().collect()
    } else {
        ips
    }
}

/// `ip` in canonical form when it is of `address_type` (IPv4 or IPv6).
fn of_family(ip: &str, address_type: &str) -> Option<String> {
    let parsed: IpAddr = ip.trim().parse().ok()?;
    // An IPv4-mapped IPv6 address is an IPv4 address, as to Go's ParseIP.
    let (v6, canonical) = match parsed {
        IpAddr::V4(v4) => (false, v4.to_string()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => (false, v4.to_string()),
            None => (true, v6.to_string()),
        },
    };
    ((address_type == IPV6) == v6).then_some(canonical)
}

/// Whether the Service has a cluster IP (is not headless).
pub fn is_service_ip_set(service: &Service) -> bool {
    let ip = service
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .unwrap_or("");
    !ip.is_empty() && ip != "None"
}

/// The address types of the Service's slices: its ipFamilies, else the family of its cluster
/// IP, else (headless without families) both.
pub fn address_types(service: &Service) -> Vec<&'static str> {
    let spec = service.spec.as_ref();
    let mut types = Vec::new();
    for family in spec.and_then(|s| s.ip_families.as_deref()).unwrap_or_default() {
        let t = if family == "IPv6" {
            IPV6
        } else if family == "IPv4" {
            IPV4
        } else {
            continue;
        };
        if !types.contains(&t) {
            types.push(t);
        }
    }
    if !types.is_empty() {
        return types;
    }
    if is_service_ip_set(service) {
        let ip = spec.and_then(|s| s.cluster_ip.as_deref()).unwrap_or("");
        return vec![if of_family(ip, IPV6).is_some() { IPV6 } else { IPV4 }];
    }
    vec![IPV4, IPV6]
}

fn publish_not_ready(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

/// Set the hostname on endpoints of a pod that names this Service as its subdomain.
pub fn should_set_hostname(pod: &Pod, service: &Service) -> bool {
    let spec = pod.spec.as_ref();
    let hostname = spec.and_then(|s| s.hostname.as_deref()).unwrap_or("");
    !hostname.is_empty()
        && spec.and_then(|s| s.subdomain.as_deref()) == Some(service.name_any().as_str())
        && pod.namespace() == service.namespace()
}

/// The reference from an endpoint to its pod.
pub fn pod_reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.namespace(),
        name: Some(pod.name_any()),
        uid: pod.uid(),
        ..Default::default()
    }
}

/// The pod's endpoint for slices of `address_type` (upstream's podToEndpoint). `node` gives the
/// zone.
pub fn pod_endpoint(pod: &Pod, node: Option<&Node>, service: &Service, address_type: &str) -> Endpoint {
    let serving = pods::is_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    // Never ready while terminating, unless the Service publishes not-ready addresses.
    let ready = publish_not_ready(service) || (serving && !terminating);
    let node_name = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .filter(|n| !n.is_empty());
    let zone = node
        .and_then(|n| n.labels().get(LABEL_ZONE).cloned())
        .filter(|z| !z.is_empty());
    let hostname = should_set_hostname(pod, service)
        .then(|| pod.spec.as_ref().and_then(|s| s.hostname.clone()))
        .flatten();
    Endpoint {
        addresses: pod_ips(pod)
            .iter()
            .filter_map(|ip| of_family(ip, address_type))
            .collect(),
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        target_ref: Some(pod_reference(pod)),
        node_name,
        zone,
        hostname,
        ..Default::default()
    }
}

fn protocol(port: &ServicePort) -> String {
    port.protocol.clone().unwrap_or_else(|| "TCP".into())
}

/// The container port a Service port targets on `pod`: a number as is, a name looked up among
/// the pod's containers (and sidecars) with the same protocol (upstream's FindPort).
pub fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            if let Ok(n) = name.parse::<i32>() {
                return Some(n);
            }
            let spec = pod.spec.as_ref()?;
            let want = protocol(port);
            let sidecars = spec
                .init_containers
                .as_deref()
                .unwrap_or_default()
                .iter()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.as_deref().unwrap_or_default())
                .find(|p| p.name.as_deref() == Some(name.as_str()) && p.protocol.as_deref().unwrap_or("TCP") == want)
                .map(|p| p.container_port)
        }
    }
}

/// The ports the pod's endpoints serve for `service`: one per Service port whose target the pod
/// has (upstream's getEndpointPorts). Headless Services may have none.
pub fn endpoint_ports(service: &Service, pod: &Pod) -> Vec<EndpointPort> {
    let ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    ports
        .iter()
        .filter_map(|sp| {
            let number = find_port(pod, sp)?;
            Some(EndpointPort {
                name: Some(sp.name.clone().unwrap_or_default()),
                port: Some(number),
                protocol: Some(protocol(sp)),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, ContainerPort, PodCondition, PodIP, PodSpec, PodStatus, ServiceSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    pub fn pod(name: &str, ip: &str, ready: bool) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some(name.into());
        pod.metadata.namespace = Some("ns".into());
        pod.metadata.uid = Some(format!("uid-{name}"));
        pod.spec = Some(PodSpec {
            node_name: Some("node-1".into()),
            containers: vec![Container {
                name: "c".into(),
                ports: Some(vec![ContainerPort {
                    name: Some("http".into()),
                    container_port: 8080,
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            ..Default::default()
        });
        pod.status = Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some(ip.into()),
            pod_ips: Some(vec![PodIP { ip: ip.into() }]),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                last_transition_time: Some(Time(Timestamp::UNIX_EPOCH)),
                ..Default::default()
            }]),
            ..Default::default()
        });
        pod
    }

    fn service(target: IntOrString) -> Service {
        let mut svc = Service::default();
        svc.metadata.name = Some("web".into());
        svc.metadata.namespace = Some("ns".into());
        svc.spec = Some(ServiceSpec {
            cluster_ip: Some("10.96.0.10".into()),
            ip_families: Some(vec!["IPv4".into()]),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                protocol: Some("TCP".into()),
                target_port: Some(target),
                ..Default::default()
            }]),
            ..Default::default()
        });
        svc
    }

    #[test]
    fn named_target_ports_resolve_per_pod() {
        let svc = service(IntOrString::String("http".into()));
        let ports = endpoint_ports(&svc, &pod("a", "10.0.0.1", true));
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].port, Some(8080));
        assert_eq!(ports[0].name.as_deref(), Some("http"));
        let mut other = pod("b", "10.0.0.2", true);
        other.spec.as_mut().unwrap().containers[0].ports = None;
        assert!(endpoint_ports(&svc, &other).is_empty());
        let numeric = service(IntOrString::Int(9090));
        assert_eq!(endpoint_ports(&numeric, &other)[0].port, Some(9090));
    }

    #[test]
    fn conditions_follow_readiness_and_deletion() {
        let svc = service(IntOrString::Int(80));
        let ep = pod_endpoint(&pod("a", "10.0.0.1", true), None, &svc, IPV4);
        assert_eq!(ep.addresses, ["10.0.0.1"]);
        let c = ep.conditions.unwrap();
        assert_eq!(
            (c.ready, c.serving, c.terminating),
            (Some(true), Some(true), Some(false))
        );
        let mut deleting = pod("a", "10.0.0.1", true);
        deleting.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
        let c = pod_endpoint(&deleting, None, &svc, IPV4).conditions.unwrap();
        assert_eq!(
            (c.ready, c.serving, c.terminating),
            (Some(false), Some(true), Some(true))
        );
        let mut publish = svc.clone();
        publish.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        let c = pod_endpoint(&pod("b", "10.0.0.2", false), None, &publish, IPV4)
            .conditions
            .unwrap();
        assert_eq!((c.ready, c.serving), (Some(true), Some(false)));
        // No IPv6 address on an IPv4 pod.
        assert!(pod_endpoint(&pod("a", "10.0.0.1", true), None, &svc, IPV6)
            .addresses
            .is_empty());
    }

    #[test]
    fn pods_without_ips_or_terminal_are_left_out() {
        let mut p = pod("a", "10.0.0.1", true);
        assert!(should_be_in_endpoints(&p, true));
        p.status.as_mut().unwrap().phase = Some("Succeeded".into());
        assert!(!should_be_in_endpoints(&p, true));
        let mut p = pod("a", "", true);
        p.status.as_mut().unwrap().pod_ips = None;
        assert!(!should_be_in_endpoints(&p, true));
    }

    #[test]
    fn address_types_from_families_or_cluster_ip() {
        let mut svc = service(IntOrString::Int(80));
        assert_eq!(address_types(&svc), [IPV4]);
        svc.spec.as_mut().unwrap().ip_families = None;
        svc.spec.as_mut().unwrap().cluster_ip = Some("fd00::10".into());
        assert_eq!(address_types(&svc), [IPV6]);
        svc.spec.as_mut().unwrap().cluster_ip = Some("None".into());
        assert_eq!(address_types(&svc), [IPV4, IPV6]);
    }
}
