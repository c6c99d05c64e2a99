//! The endpoints of the `kubernetes` Service in `default` (upstream's apiserver endpoint
//! reconciler, pkg/controlplane/reconcilers/endpointsadapter.go): an Endpoints object labelled
//! endpointslice.kubernetes.io/skip-mirror=true and an EndpointSlice named `kubernetes`, both
//! listing the apiserver's address and port as `https`. Upstream every apiserver keeps these
//! (with a lease per apiserver when there are several); the single-process `skiff server` knows
//! its one address, so a loop keeps them, restoring them when anything else changes them.

use crate::cluster::endpointslice::desired::{IPV4, IPV6, LABEL_SERVICE_NAME, LABEL_SKIP_MIRROR};
use crate::core::api_errors;
use crate::core::backoff::ErrorBackoff;
use crate::core::credentials::Identity;
use crate::core::informers::{Informer, Informers};
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort as CorePort, EndpointSubset, Endpoints, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

const NAMESPACE: &str = "default";
const NAME: &str = "kubernetes";

struct Context {
    client: Client,
    ip: IpAddr,
    port: u16,
    endpoints: Informer<Endpoints>,
    slices: Informer<EndpointSlice>,
    backoff: ErrorBackoff,
}

/// The IP and port endpoints should carry for `address` (`host:port`): an unspecified listen
/// address (0.0.0.0, ::) is published as loopback.
pub fn advertised(address: &str) -> Option<(IpAddr, u16)> {
    let parsed: SocketAddr = address.parse().ok()?;
    let ip = match parsed.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Some((ip, parsed.port()))
}

/// Subscribe to Services, Endpoints and slices now; the returned future keeps the `kubernetes`
/// Service's endpoints at `address` (nothing when there is none to publish).
pub fn start(informers: &Informers, address: Option<&str>) -> impl Future<Output = ()> + Send + 'static {
    let Some((ip, port)) = address.and_then(advertised) else {
        return futures::future::ready(()).left_future();
    };
    let services = informers.get::<Service>();
    let endpoints = informers.get::<Endpoints>();
    let slices = informers.get::<EndpointSlice>();
    let service_changes = services.subscribe();
    let endpoints_changes = endpoints.subscribe();
    let slice_changes = slices.subscribe();
    let ctx = Arc::new(Context {
        client: informers.client_as(Identity::Apiserver),
        ip,
        port,
        endpoints: endpoints.clone(),
        slices: slices.clone(),
        backoff: ErrorBackoff::default(),
    });
    let ours = || Some(ObjectRef::<Service>::new(NAME).within(NAMESPACE));
    async move {
        if endpoints.store().wait_until_ready().await.is_err() || slices.store().wait_until_ready().await.is_err() {
            return;
        }
        let triggers = service_changes
            .filter(|s| futures::future::ready(s.name_any() == NAME && s.namespace().as_deref() == Some(NAMESPACE)));
        let outcomes = Controller::for_shared_stream(triggers, services.store().clone())
            .watches_shared_stream(endpoints_changes, move |ep: Arc<Endpoints>| {
                (ep.name_any() == NAME && ep.namespace().as_deref() == Some(NAMESPACE))
                    .then(ours)
                    .flatten()
            })
            .watches_shared_stream(slice_changes, move |s: Arc<EndpointSlice>| {
                (s.labels().get(LABEL_SERVICE_NAME).map(String::as_str) == Some(NAME)
                    && s.namespace().as_deref() == Some(NAMESPACE))
                .then(ours)
                .flatten()
            })
            .run(
                |svc: Arc<Service>, ctx: Arc<Context>| async move {
                    let result = sync(&svc, &ctx).await;
                    ctx.backoff.track(NAME, result)
                },
                |_, _error, ctx| ctx.backoff.requeue(NAME),
                ctx,
            );
        crate::core::outcomes::drain("kubernetes-service-endpoints", outcomes).await;
    }
    .right_future()
}

/// The port name the Service gives its port ("https" for the `kubernetes` Service).
fn port_name(service: &Service) -> String {
    service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .and_then(|p| p.first())
        .and_then(|p| p.name.clone())
        .unwrap_or_else(|| "https".into())
}

/// The Endpoints upstream's adapter writes.
pub fn desired_endpoints(ip: IpAddr, port: u16, port_name: &str) -> Endpoints {
    Endpoints {
        metadata: ObjectMeta {
            name: Some(NAME.into()),
            namespace: Some(NAMESPACE.into()),
            labels: Some([(LABEL_SKIP_MIRROR.to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        subsets: Some(vec![EndpointSubset {
            addresses: Some(vec![EndpointAddress {
                ip: ip.to_string(),
                ..Default::default()
            }]),
            not_ready_addresses: None,
            ports: Some(vec![CorePort {
                name: Some(port_name.into()),
                port: i32::from(port),
                protocol: Some("TCP".into()),
                app_protocol: None,
            }]),
        }]),
    }
}

/// The EndpointSlice upstream's adapter writes.
pub fn desired_slice(ip: IpAddr, port: u16, port_name: &str) -> EndpointSlice {
    EndpointSlice {
        metadata: ObjectMeta {
            name: Some(NAME.into()),
            namespace: Some(NAMESPACE.into()),
            labels: Some([(LABEL_SERVICE_NAME.to_string(), NAME.to_string())].into()),
            ..Default::default()
        },
        address_type: if ip.is_ipv6() { IPV6 } else { IPV4 }.into(),
        endpoints: vec![Endpoint {
            addresses: vec![ip.to_string()],
            conditions: Some(EndpointConditions {
                ready: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }],
        ports: Some(vec![EndpointPort {
            name: Some(port_name.into()),
            port: Some(i32::from(port)),
            protocol: Some("TCP".into()),
            app_protocol: None,
        }]),
    }
}

async fn sync(service: &Service, ctx: &Context) -> Result<Action, kube::Error> {
    let name = port_name(service);
    let want = desired_endpoints(ctx.ip, ctx.port, &name);
    let api: Api<Endpoints> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    match ctx.endpoints.get(Some(NAMESPACE), NAME) {
        None => match api.create(&PostParams::default(), &want).await {
            Ok(_) => {}
            Err(e) if api_errors::is_already_exists(&e) => {}
            Err(e) => return Err(e),
        },
        Some(current) if current.subsets != want.subsets || current.labels() != want.labels() => {
            let mut next = (*current).clone();
            next.subsets = want.subsets.clone();
            next.metadata.labels = want.metadata.labels.clone();
            tracing::warn!("Resetting endpoints for master service {NAME:?}");
            api.replace(NAME, &PostParams::default(), &next).await?;
        }
        Some(_) => {}
    }
    let want = desired_slice(ctx.ip, ctx.port, &name);
    let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let mut current = None;
    for slice in ctx.slices.store().state() {
        if slice.namespace().as_deref() != Some(NAMESPACE)
            || slice.labels().get(LABEL_SERVICE_NAME).map(String::as_str) != Some(NAME)
        {
            continue;
        }
        if slice.name_any() == NAME && slice.address_type == want.address_type {
            current = Some(slice);
        } else {
            // As far as this apiserver is concerned, no other slice should exist.
            match api.delete(&slice.name_any(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if api_errors::is_not_found(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
    match current {
        None => match api.create(&PostParams::default(), &want).await {
            Ok(_) => {}
            Err(e) if api_errors::is_already_exists(&e) => {}
            Err(e) => return Err(e),
        },
        Some(current)
            if current.endpoints != want.endpoints
                || current.ports != want.ports
                || current.labels() != want.labels() =>
        {
            let mut next = (*current).clone();
            next.endpoints = want.endpoints;
            next.ports = want.ports;
            next.metadata.labels = want.metadata.labels;
            api.replace(NAME, &PostParams::default(), &next).await?;
        }
        Some(_) => {}
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_the_listen_address() {
        assert_eq!(advertised("127.0.0.1:6443"), Some(("127.0.0.1".parse().unwrap(), 6443)));
        assert_eq!(advertised("0.0.0.0:443"), Some(("127.0.0.1".parse().unwrap(), 443)));
        assert_eq!(advertised("[::1]:6443"), Some(("::1".parse().unwrap(), 6443)));
        assert_eq!(advertised("localhost:6443"), None);
        let slice = desired_slice("10.0.0.5".parse().unwrap(), 6443, "https");
        assert_eq!(slice.address_type, "IPv4");
        assert_eq!(slice.endpoints[0].addresses, ["10.0.0.5"]);
        let ep = desired_endpoints("10.0.0.5".parse().unwrap(), 6443, "https");
        assert_eq!(ep.labels()[LABEL_SKIP_MIRROR], "true");
        assert_eq!(ep.subsets.as_ref().unwrap()[0].ports.as_ref().unwrap()[0].port, 6443);
    }
}
