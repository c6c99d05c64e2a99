use super::*;
use crate::cluster::endpointslice::desired::{pod_endpoint, IPV4};
use k8s_openapi::api::core::v1::{Pod, PodCondition, PodIP, PodSpec, PodStatus, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{EndpointHints, ForZone};

const CONTROLLER: &str = "endpointslice-controller.k8s.io";

fn service() -> Service {
    let mut svc = Service::default();
    svc.metadata.name = Some("web".into());
    svc.metadata.namespace = Some("ns".into());
    svc.metadata.uid = Some("svc-uid".into());
    svc.spec = Some(ServiceSpec {
        cluster_ip: Some("10.96.0.10".into()),
        ports: Some(vec![ServicePort {
            name: Some("http".into()),
            port: 80,
            ..Default::default()
        }]),
        ..Default::default()
    });
    svc
}

fn pod(i: usize, ready: bool) -> Pod {
    let mut pod = Pod::default();
    pod.metadata.name = Some(format!("p{i}"));
    pod.metadata.namespace = Some("ns".into());
    pod.metadata.uid = Some(format!("u{i}"));
    pod.spec = Some(PodSpec {
        node_name: Some("n1".into()),
        ..Default::default()
    });
    let ip = format!("10.1.{}.{}", i / 250, i % 250 + 1);
    pod.status = Some(PodStatus {
        phase: Some("Running".into()),
        pod_ips: Some(vec![PodIP { ip }]),
        conditions: Some(vec![PodCondition {
            type_: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            ..Default::default()
        }]),
        ..Default::default()
    });
    pod
}

fn ports(port: i32) -> Vec<EndpointPort> {
    vec![EndpointPort {
        name: Some("http".into()),
        port: Some(port),
        protocol: Some("TCP".into()),
        app_protocol: None,
    }]
}

fn desired(svc: &Service, pods: &[Pod], port: i32) -> Desired {
    let mut group = Group {
        ports: ports(port),
        ..Default::default()
    };
    for p in pods {
        let ep = pod_endpoint(p, None, svc, IPV4);
        group.endpoints.insert(endpoint_key(&ep), ep);
    }
    let mut d = Desired::new();
    if !pods.is_empty() {
        d.insert(port_key(&group.ports), group);
    }
    d
}

fn target(svc: &Service) -> Target<'_> {
    Target {
        service: svc,
        controller: CONTROLLER,
        max_per_slice: 100,
    }
}

/// Apply a plan as the apiserver would: created slices get names.
fn apply(existing: Vec<EndpointSlice>, plan: Plan) -> Vec<EndpointSlice> {
    let mut by_name: BTreeMap<String, EndpointSlice> = existing.into_iter().map(|s| (s.name_any(), s)).collect();
    for s in plan.delete {
        by_name.remove(&s.name_any());
    }
    for s in plan.update {
        by_name.insert(s.name_any(), s);
    }
    for (i, mut s) in plan.create.into_iter().enumerate() {
        let name = format!("web-{}{}", by_name.len(), i);
        s.metadata.name = Some(name.clone());
        s.metadata.generate_name = None;
        by_name.insert(name, s);
    }
    by_name.into_values().collect()
}

fn sizes(slices: &[EndpointSlice]) -> Vec<usize> {
    let mut s: Vec<usize> = slices.iter().map(|s| s.endpoints.len()).collect();
    s.sort();
    s
}

#[test]
fn packs_at_most_max_endpoints_per_slice() {
    let svc = service();
    let pods: Vec<Pod> = (0..250).map(|i| pod(i, true)).collect();
    let plan = plan_address_type(&target(&svc), IPV4, &[], desired(&svc, &pods, 8080));
    assert_eq!(plan.create.len(), 3);
    assert!(plan.update.is_empty() && plan.delete.is_empty());
    assert_eq!(sizes(&plan.create), [50, 100, 100]);
    let slice = &plan.create[0];
    assert_eq!(slice.metadata.generate_name.as_deref(), Some("web-"));
    assert_eq!(slice.labels()[LABEL_SERVICE_NAME], "web");
    assert_eq!(slice.labels()[LABEL_MANAGED_BY], CONTROLLER);
    assert!(!slice.labels().contains_key(LABEL_HEADLESS));
    let owner = &slice.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("Service", "svc-uid", Some(true))
    );
    assert_eq!(slice.ports.as_deref(), Some(ports(8080).as_slice()));
}

#[test]
fn one_pod_flapping_rewrites_one_slice() {
    let svc = service();
    let mut pods: Vec<Pod> = (0..250).map(|i| pod(i, true)).collect();
    let slices = apply(
        vec![],
        plan_address_type(&target(&svc), IPV4, &[], desired(&svc, &pods, 8080)),
    );
    // Nothing changed: nothing to write.
    let plan = plan_address_type(&target(&svc), IPV4, &slices, desired(&svc, &pods, 8080));
    assert!(plan.is_empty(), "{plan:?}");
    // One pod becomes unready: exactly one slice is updated, in place.
    pods[137] = pod(137, false);
    let plan = plan_address_type(&target(&svc), IPV4, &slices, desired(&svc, &pods, 8080));
    assert!(plan.create.is_empty() && plan.delete.is_empty());
    assert_eq!(plan.update.len(), 1);
    let updated = &plan.update[0];
    let ep = updated
        .endpoints
        .iter()
        .find(|e| e.target_ref.as_ref().and_then(|t| t.name.as_deref()) == Some("p137"))
        .unwrap();
    assert_eq!(ep.conditions.as_ref().unwrap().ready, Some(false));
    let before = slices.iter().find(|s| s.name_any() == updated.name_any()).unwrap();
    assert_eq!(before.endpoints.len(), updated.endpoints.len());
}

#[test]
fn removed_pods_leave_their_slice_and_new_ones_fill_the_best_fit() {
    let svc = service();
    let pods: Vec<Pod> = (0..150).map(|i| pod(i, true)).collect();
    let slices = apply(
        vec![],
        plan_address_type(&target(&svc), IPV4, &[], desired(&svc, &pods, 8080)),
    );
    assert_eq!(sizes(&slices), [50, 100]);
    // Removing one pod updates only its slice.
    let fewer: Vec<Pod> = pods.iter().filter(|p| p.name_any() != "p3").cloned().collect();
    let plan = plan_address_type(&target(&svc), IPV4, &slices, desired(&svc, &fewer, 8080));
    assert_eq!((plan.create.len(), plan.update.len(), plan.delete.len()), (0, 1, 0));
    // Adding 20 pods fills the half-empty slice rather than creating one.
    let more: Vec<Pod> = (0..170).map(|i| pod(i, true)).collect();
    let plan = plan_address_type(&target(&svc), IPV4, &slices, desired(&svc, &more, 8080));
    assert_eq!((plan.create.len(), plan.update.len(), plan.delete.len()), (0, 1, 0));
    assert_eq!(plan.update[0].endpoints.len(), 70);
}

#[test]
fn empty_services_keep_one_placeholder() {
    let svc = service();
    let plan = plan_address_type(&target(&svc), IPV4, &[], Desired::new());
    assert_eq!(plan.create.len(), 1);
    assert!(plan.create[0].endpoints.is_empty());
    assert!(plan.create[0].ports.as_deref().unwrap().is_empty());
    let slices = apply(vec![], plan);
    let plan = plan_address_type(&target(&svc), IPV4, &slices, Desired::new());
    assert!(plan.is_empty(), "{plan:?}");
    // The last pod going away turns its slice into the placeholder by an update.
    let pods = vec![pod(1, true)];
    let slices = apply(
        vec![],
        plan_address_type(&target(&svc), IPV4, &[], desired(&svc, &pods, 8080)),
    );
    let plan = plan_address_type(&target(&svc), IPV4, &slices, Desired::new());
    assert_eq!((plan.create.len(), plan.update.len(), plan.delete.len()), (0, 1, 0));
    assert!(plan.update[0].endpoints.is_empty());
    assert_eq!(plan.update[0].name_any(), slices[0].name_any());
}

#[test]
fn a_new_port_set_recycles_the_old_slices() {
    let svc = service();
    let pods: Vec<Pod> = (0..10).map(|i| pod(i, true)).collect();
    let slices = apply(
        vec![],
        plan_address_type(&target(&svc), IPV4, &[], desired(&svc, &pods, 8080)),
    );
    let plan = plan_address_type(&target(&svc), IPV4, &slices, desired(&svc, &pods, 9090));
    assert_eq!((plan.create.len(), plan.update.len(), plan.delete.len()), (0, 1, 0));
    assert_eq!(plan.update[0].name_any(), slices[0].name_any());
    assert_eq!(plan.update[0].ports.as_deref(), Some(ports(9090).as_slice()));
}

#[test]
fn hints_are_removed_and_labels_follow_the_service() {
    let svc = service();
    let pods: Vec<Pod> = (0..3).map(|i| pod(i, true)).collect();
    let mut slices = apply(
        vec![],
        plan_address_type(&target(&svc), IPV4, &[], desired(&svc, &pods, 8080)),
    );
    slices[0].endpoints[0].hints = Some(EndpointHints {
        for_zones: Some(vec![ForZone { name: "a".into() }]),
        ..Default::default()
    });
    let plan = plan_address_type(&target(&svc), IPV4, &slices, desired(&svc, &pods, 8080));
    assert_eq!(plan.update.len(), 1);
    assert!(plan.update[0].endpoints.iter().all(|e| e.hints.is_none()));
    let slices = apply(slices, plan);
    let mut labelled = svc.clone();
    labelled.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
    let plan = plan_address_type(&target(&labelled), IPV4, &slices, desired(&labelled, &pods, 8080));
    assert_eq!(plan.update.len(), 1);
    assert_eq!(plan.update[0].labels()["app"], "web");
}

#[test]
fn slices_not_owned_by_the_service_are_replaced() {
    let svc = service();
    let pods: Vec<Pod> = (0..3).map(|i| pod(i, true)).collect();
    let mut slices = apply(
        vec![],
        plan_address_type(&target(&svc), IPV4, &[], desired(&svc, &pods, 8080)),
    );
    slices[0].metadata.owner_references.as_mut().unwrap()[0].uid = "old-service".into();
    let plan = plan_address_type(&target(&svc), IPV4, &slices, desired(&svc, &pods, 8080));
    // Deleted and created anew: an old Service's slice is never taken over.
    assert_eq!((plan.create.len(), plan.update.len(), plan.delete.len()), (1, 0, 1));
}
