//! The EndpointSlice mirroring controller (upstream's pkg/controller/endpointslicemirroring):
//! hand-written Endpoints of a Service without a selector are mirrored into EndpointSlices
//! managed by endpointslicemirroring-controller.k8s.io, one slice per subset port set and address
//! family with at most 1000 addresses, carrying the Endpoints' labels and annotations. Endpoints
//! labelled endpointslice.kubernetes.io/skip-mirror=true (like the `kubernetes` Service's), or
//! used as leader-election locks, are not mirrored; the mirrored slices go away with the
//! Endpoints, with the Service, or when the Service gains a selector.

use crate::cluster::endpointslice::desired::{
    ANNOTATION_TRIGGER_TIME, IPV4, IPV6, LABEL_MANAGED_BY, LABEL_SERVICE_NAME, LABEL_SKIP_MIRROR,
};
use crate::cluster::endpointslice::reconciler::{endpoint_key, equal_beyond_key, port_key, EndpointKey, PortKey};
use crate::cluster::endpointslice::services;
use crate::cluster::endpointslice::tracker::SliceTracker;
use crate::core::api_errors;
use crate::core::backoff::ErrorBackoff;
use crate::core::credentials::Identity;
use crate::core::informers::{Informer, Informers};
use crate::workloads::events::Recorder;
use crate::workloads::pods::controller_ref;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{EndpointAddress, Endpoints, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The managed-by value of mirrored slices.
pub const CONTROLLER_NAME: &str = "endpointslicemirroring-controller.k8s.io";
const COMPONENT: &str = "endpoint-slice-mirroring-controller";
/// --mirroring-max-endpoints-per-subset default.
pub const MAX_ENDPOINTS_PER_SUBSET: usize = 1000;
const ANNOTATION_LEADER: &str = "control-plane.alpha.kubernetes.io/leader";
const ANNOTATION_LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// --mirroring-concurrent-service-endpoint-syncs default.
const CONCURRENCY: u16 = 5;
const STALE_RETRY: Duration = Duration::from_millis(100);

struct Context {
    client: Client,
    services: Informer<Service>,
    slices: Informer<EndpointSlice>,
    tracker: SliceTracker,
    recorder: Recorder,
    backoff: ErrorBackoff,
}

/// Subscribe to Endpoints, Services and slices now; the returned future runs the loop.
pub fn start(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    let endpoints = informers.get::<Endpoints>();
    let services = informers.get::<Service>();
    let slices = informers.get::<EndpointSlice>();
    let endpoints_changes = endpoints.subscribe();
    let service_changes = services.subscribe();
    let slice_changes = slices.subscribe();
    let client = informers.client_as(Identity::Controller("endpointslicemirroring-controller"));
    async move {
        if endpoints.store().wait_until_ready().await.is_err()
            || services.store().wait_until_ready().await.is_err()
            || slices.store().wait_until_ready().await.is_err()
        {
            return;
        }
        let ctx = Arc::new(Context {
            recorder: Recorder::new(client.clone(), COMPONENT),
            client,
            services,
            slices: slices.clone(),
            tracker: SliceTracker::default(),
            backoff: ErrorBackoff::default(),
        });
        // Deleted Endpoints take their mirrored slices with them.
        let gone_ctx = ctx.clone();
        let live = endpoints.clone();
        let triggers = endpoints_changes.inspect(move |ep| {
            let gone = live
                .get(ep.namespace().as_deref(), &ep.name_any())
                .is_none_or(|l| l.uid() != ep.uid());
            if gone {
                let ctx = gone_ctx.clone();
                let (namespace, name) = (ep.namespace().unwrap_or_default(), ep.name_any());
                tokio::spawn(async move {
                    if let Err(e) = delete_mirrored(&ctx, &namespace, &name).await {
                        tracing::debug!(%namespace, %name, error = %e, "could not delete mirrored slices");
                    }
                });
            }
        });
        let slice_ctx = ctx.clone();
        let last_owner: Mutex<HashMap<String, String>> = Mutex::new(HashMap::new());
        let outcomes = Controller::for_shared_stream(triggers, endpoints.store().clone())
            .with_config(Config::default().concurrency(CONCURRENCY))
            .watches_shared_stream(service_changes, |svc: Arc<Service>| {
                Some(ObjectRef::<Endpoints>::new(&svc.name_any()).within(&svc.namespace().unwrap_or_default()))
            })
            .watches_shared_stream(slice_changes, move |slice: Arc<EndpointSlice>| {
                slice_trigger(&slice_ctx, &last_owner, &slice)
            })
            .run(
                |ep: Arc<Endpoints>, ctx: Arc<Context>| async move {
                    let key = ep.uid().unwrap_or_default();
                    let result = sync(&ep, &ctx).await;
                    ctx.backoff.track(&key, result)
                },
                |ep, _error, ctx| ctx.backoff.requeue(&ep.uid().unwrap_or_default()),
                ctx,
            );
        crate::core::outcomes::drain("endpointslice-mirroring-controller", outcomes).await;
    }
}

/// The Endpoints to sync for a change of a mirrored slice the loop did not make.
fn slice_trigger(
    ctx: &Context,
    last: &Mutex<HashMap<String, String>>,
    slice: &EndpointSlice,
) -> Vec<ObjectRef<Endpoints>> {
    let namespace = slice.namespace().unwrap_or_default();
    let uid = slice.uid().unwrap_or_default();
    let name = slice.labels().get(LABEL_SERVICE_NAME).cloned().unwrap_or_default();
    let gone = ctx
        .slices
        .get(Some(&namespace), &slice.name_any())
        .is_none_or(|l| l.uid().as_deref() != Some(uid.as_str()));
    let previous = {
        let mut last = last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if gone {
            last.remove(&uid)
        } else {
            last.insert(uid, name.clone())
        }
    };
    let to_ref = |n: &str| ObjectRef::<Endpoints>::new(n).within(&namespace);
    let mut wake = Vec::new();
    if let Some(prev) = previous.filter(|p| *p != name && !p.is_empty()) {
        wake.push(to_ref(&prev));
    }
    if name.is_empty() || slice.labels().get(LABEL_MANAGED_BY).map(String::as_str) != Some(CONTROLLER_NAME) {
        return wake;
    }
    let key = format!("{namespace}/{name}");
    let needed = if gone {
        !ctx.tracker.deletion_seen(&key, slice)
    } else {
        ctx.tracker.should_sync(&key, slice)
    };
    if needed || !wake.is_empty() {
        wake.push(to_ref(&name));
    }
    wake
}

fn should_mirror(ep: &Endpoints) -> bool {
    ep.labels().get(LABEL_SKIP_MIRROR).map(String::as_str) != Some("true")
        && !ep.annotations().contains_key(ANNOTATION_LEADER)
}

fn mirrored_slices(ctx: &Context, namespace: &str, name: &str) -> Vec<Arc<EndpointSlice>> {
    ctx.slices
        .store()
        .state()
        .into_iter()
        .filter(|s| {
            s.namespace().as_deref() == Some(namespace)
                && s.labels().get(LABEL_SERVICE_NAME).map(String::as_str) == Some(name)
                && s.labels().get(LABEL_MANAGED_BY).map(String::as_str) == Some(CONTROLLER_NAME)
        })
        .collect()
}

async fn delete_mirrored(ctx: &Context, namespace: &str, name: &str) -> Result<(), kube::Error> {
    let key = format!("{namespace}/{name}");
    let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), namespace);
    for slice in mirrored_slices(ctx, namespace, name) {
        match api.delete(&slice.name_any(), &DeleteParams::default()).await {
            Ok(_) => ctx.tracker.deleted(&key, &slice),
            Err(e) if api_errors::is_not_found(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The address's endpoint and address type; None for an invalid IP.
fn address_endpoint(address: &EndpointAddress, ready: bool) -> Option<(Endpoint, &'static str)> {
    let ip: IpAddr = address.ip.trim().parse().ok()?;
    let (kind, canonical) = match ip {
        IpAddr::V4(v4) => (IPV4, v4.to_string()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => (IPV4, v4.to_string()),
            None => (IPV6, v6.to_string()),
        },
    };
    let endpoint = Endpoint {
        addresses: vec![canonical],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            ..Default::default()
        }),
        target_ref: address.target_ref.clone(),
        node_name: address.node_name.clone(),
        hostname: address.hostname.clone().filter(|h| !h.is_empty()),
        ..Default::default()
    };
    Some((endpoint, kind))
}

/// The ports and endpoints of one (address type, port set).
type Group = (Vec<EndpointPort>, BTreeMap<EndpointKey, Endpoint>);

/// Desired endpoints by (address type, port set), with their ports.
struct Desired {
    groups: BTreeMap<(String, PortKey), Group>,
    invalid: usize,
    skipped: usize,
}

fn desired(ep: &Endpoints) -> Desired {
    let mut d = Desired {
        groups: BTreeMap::new(),
        invalid: 0,
        skipped: 0,
    };
    for subset in ep.subsets.as_deref().unwrap_or_default() {
        let ports: Vec<EndpointPort> = subset
            .ports
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|p| EndpointPort {
                name: Some(p.name.clone().unwrap_or_default()),
                port: Some(p.port),
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: p.app_protocol.clone(),
            })
            .collect();
        let key = port_key(&ports);
        for t in [IPV4, IPV6] {
            d.groups
                .entry((t.to_string(), key.clone()))
                .or_insert_with(|| (ports.clone(), BTreeMap::new()));
        }
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
        let total =
            subset.addresses.as_ref().map_or(0, Vec::len) + subset.not_ready_addresses.as_ref().map_or(0, Vec::len);
        let mut added = 0;
        for (address, is_ready) in ready.chain(not_ready) {
            if added >= MAX_ENDPOINTS_PER_SUBSET {
                break;
            }
            match address_endpoint(address, is_ready) {
                Some((endpoint, kind)) => {
                    if let Some(group) = d.groups.get_mut(&(kind.to_string(), key.clone())) {
                        group.1.insert(endpoint_key(&endpoint), endpoint);
                    }
                    added += 1;
                }
                None => {
                    d.invalid += 1;
                    tracing::warn!(
                        "Address in {}/{} Endpoints is not a valid IP, it will not be mirrored to an EndpointSlice: {}",
                        ep.namespace().unwrap_or_default(),
                        ep.name_any(),
                        address.ip
                    );
                }
            }
        }
        d.skipped += total - added;
    }
    d
}

/// A mirrored slice of `ep` (upstream's newEndpointSlice): the Endpoints' labels with the
/// service-name and managed-by labels, its annotations but the trigger time and last-applied
/// configuration, owned by the Endpoints.
fn new_slice(ep: &Endpoints, ports: Vec<EndpointPort>, address_type: &str, name: Option<String>) -> EndpointSlice {
    let mut labels = ep.labels().clone();
    labels.insert(LABEL_SERVICE_NAME.into(), ep.name_any());
    labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    let annotations: BTreeMap<String, String> = ep
        .annotations()
        .iter()
        .filter(|(k, _)| k.as_str() != ANNOTATION_TRIGGER_TIME && k.as_str() != ANNOTATION_LAST_APPLIED)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let generate_name = name.is_none().then(|| format!("{}-", ep.name_any()));
    EndpointSlice {
        metadata: ObjectMeta {
            name,
            generate_name,
            namespace: ep.namespace(),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: Some(vec![controller_ref(ep)]),
            ..Default::default()
        },
        address_type: address_type.into(),
        endpoints: Vec::new(),
        ports: Some(ports),
    }
}

/// Whether `slice` already holds exactly `wanted` with the labels and annotations of `fresh`.
fn matches_desired(slice: &EndpointSlice, wanted: &BTreeMap<EndpointKey, Endpoint>, fresh: &EndpointSlice) -> bool {
    slice.endpoints.len() == wanted.len()
        && slice
            .endpoints
            .iter()
            .all(|e| wanted.get(&endpoint_key(e)).is_some_and(|w| equal_beyond_key(w, e)))
        && slice.labels() == fresh.labels()
        && slice.annotations() == fresh.annotations()
}

#[derive(Default)]
struct Plan {
    create: Vec<EndpointSlice>,
    update: Vec<EndpointSlice>,
    delete: Vec<EndpointSlice>,
}

fn plan(ep: &Endpoints, existing: &[Arc<EndpointSlice>], d: Desired) -> Plan {
    let mut plan = Plan::default();
    let mut by_key: BTreeMap<(String, PortKey), Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in existing {
        by_key
            .entry((
                slice.address_type.clone(),
                port_key(slice.ports.as_deref().unwrap_or_default()),
            ))
            .or_default()
            .push(slice);
    }
    for ((address_type, key), (ports, wanted)) in d.groups {
        let mut slices = by_key.remove(&(address_type.clone(), key)).unwrap_or_default();
        if wanted.is_empty() {
            plan.delete.extend(slices.into_iter().cloned());
            continue;
        }
        let first = if slices.is_empty() {
            None
        } else {
            Some(slices.remove(0))
        };
        plan.delete.extend(slices.into_iter().cloned());
        let mut fresh = new_slice(ep, ports, &address_type, first.map(|s| s.name_any()));
        if let Some(first) = first {
            if matches_desired(first, &wanted, &fresh) {
                continue;
            }
            fresh.metadata.resource_version = first.resource_version();
        }
        fresh.endpoints = wanted.into_values().take(MAX_ENDPOINTS_PER_SUBSET).collect();
        if fresh.metadata.name.is_some() {
            plan.update.push(fresh);
        } else {
            plan.create.push(fresh);
        }
    }
    for slices in by_key.into_values() {
        plan.delete.extend(slices.into_iter().cloned());
    }
    // Creations reuse slices that would be deleted, per address type.
    let mut i = 0;
    while i < plan.create.len() {
        match plan
            .delete
            .iter()
            .position(|s| s.address_type == plan.create[i].address_type)
        {
            Some(j) => {
                let old = plan.delete.remove(j);
                let mut slice = plan.create.remove(i);
                slice.metadata.generate_name = None;
                slice.metadata.name = old.metadata.name.clone();
                slice.metadata.resource_version = old.metadata.resource_version.clone();
                plan.update.push(slice);
            }
            None => i += 1,
        }
    }
    plan
}

async fn sync(ep: &Endpoints, ctx: &Context) -> Result<Action, kube::Error> {
    let namespace = ep.namespace().unwrap_or_default();
    let name = ep.name_any();
    let key = format!("{namespace}/{name}");
    let mirror = should_mirror(ep)
        && ctx
            .services
            .get(Some(&namespace), &name)
            .is_some_and(|svc| services::selector(&svc).is_none());
    if !mirror {
        delete_mirrored(ctx, &namespace, &name).await?;
        ctx.tracker.forget(&key);
        return Ok(Action::await_change());
    }
    let existing = mirrored_slices(ctx, &namespace, &name);
    if ctx.tracker.stale(&key, &existing) {
        return Ok(Action::requeue(STALE_RETRY));
    }
    let d = desired(ep);
    if d.invalid > 0 {
        ctx.recorder.warning(
            ep,
            "InvalidIPAddress",
            format!(
                "Skipped {} invalid IP addresses when mirroring to EndpointSlices",
                d.invalid
            ),
        );
    }
    if d.skipped > d.invalid {
        ctx.recorder.warning(
            ep,
            "TooManyAddressesToMirror",
            format!(
                "A max of {MAX_ENDPOINTS_PER_SUBSET} addresses can be mirrored to EndpointSlices per Endpoints subset. {} addresses were skipped",
                d.skipped
            ),
        );
    }
    let plan = plan(ep, &existing, d);
    let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &namespace);
    if ep.metadata.deletion_timestamp.is_none() {
        for slice in plan.create {
            match api.create(&PostParams::default(), &slice).await {
                Ok(created) => ctx.tracker.wrote(&key, &created),
                Err(e) if api_errors::is_namespace_terminating(&e) => return Ok(Action::await_change()),
                Err(e) => return Err(e),
            }
        }
    }
    for slice in plan.update {
        let updated = api.replace(&slice.name_any(), &PostParams::default(), &slice).await?;
        ctx.tracker.wrote(&key, &updated);
    }
    for slice in plan.delete {
        match api.delete(&slice.name_any(), &DeleteParams::default()).await {
            Ok(_) => ctx.tracker.deleted(&key, &slice),
            Err(e) if api_errors::is_not_found(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EndpointPort as CorePort, EndpointSubset};

    fn endpoints(ready: &[&str], not_ready: &[&str]) -> Endpoints {
        let address = |ip: &&str| EndpointAddress {
            ip: ip.to_string(),
            ..Default::default()
        };
        let mut ep = Endpoints::default();
        ep.metadata.name = Some("ext".into());
        ep.metadata.namespace = Some("ns".into());
        ep.metadata.uid = Some("ep-uid".into());
        ep.metadata.labels = Some([("team".to_string(), "a".to_string())].into());
        ep.subsets = Some(vec![EndpointSubset {
            addresses: Some(ready.iter().map(address).collect()),
            not_ready_addresses: Some(not_ready.iter().map(address).collect()),
            ports: Some(vec![CorePort {
                name: Some("http".into()),
                port: 80,
                protocol: Some("TCP".into()),
                app_protocol: None,
            }]),
        }]);
        ep
    }

    #[test]
    fn mirrors_each_family_into_one_slice() {
        let ep = endpoints(&["10.0.0.1", "fd00::1", "bogus"], &["10.0.0.2"]);
        let d = desired(&ep);
        assert_eq!(d.invalid, 1);
        let p = plan(&ep, &[], d);
        assert_eq!(p.create.len(), 2);
        let v4 = p.create.iter().find(|s| s.address_type == IPV4).unwrap();
        assert_eq!(v4.endpoints.len(), 2);
        let not_ready = v4.endpoints.iter().find(|e| e.addresses == ["10.0.0.2"]).unwrap();
        assert_eq!(not_ready.conditions.as_ref().unwrap().ready, Some(false));
        assert_eq!(v4.labels()[LABEL_MANAGED_BY], CONTROLLER_NAME);
        assert_eq!(v4.labels()[LABEL_SERVICE_NAME], "ext");
        assert_eq!(v4.labels()["team"], "a");
        assert_eq!(v4.owner_references()[0].kind, "Endpoints");
        assert_eq!(v4.metadata.generate_name.as_deref(), Some("ext-"));
    }

    #[test]
    fn unchanged_endpoints_write_nothing_and_changes_update_in_place() {
        let ep = endpoints(&["10.0.0.1"], &[]);
        let mut created = plan(&ep, &[], desired(&ep)).create.remove(0);
        created.metadata.name = Some("ext-abcde".into());
        created.metadata.generate_name = None;
        let existing = vec![Arc::new(created)];
        let p = plan(&ep, &existing, desired(&ep));
        assert!(p.create.is_empty() && p.update.is_empty() && p.delete.is_empty());
        let changed = endpoints(&["10.0.0.1", "10.0.0.3"], &[]);
        let p = plan(&changed, &existing, desired(&changed));
        assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 1, 0));
        assert_eq!(p.update[0].name_any(), "ext-abcde");
        let emptied = endpoints(&[], &[]);
        let p = plan(&emptied, &existing, desired(&emptied));
        assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 0, 1));
    }

    #[test]
    fn skip_mirror_and_leader_locks_are_not_mirrored() {
        let mut ep = endpoints(&["10.0.0.1"], &[]);
        assert!(should_mirror(&ep));
        ep.metadata.labels = Some([(LABEL_SKIP_MIRROR.to_string(), "true".to_string())].into());
        assert!(!should_mirror(&ep));
    }
}
