//! The EndpointSlice controller (upstream's pkg/controller/endpointslice over
//! k8s.io/endpointslice): for every Service with a selector, discovery.k8s.io/v1 EndpointSlices
//! of at most 100 endpoints listing its pods ([`desired`]), written with the fewest changes
//! ([`reconciler`]), never from a store older than its own writes ([`tracker`]). Woken by
//! Service changes, by pod changes that show in an endpoint ([`services`]) and by changes to its
//! slices that it did not make itself.

pub mod desired;
pub mod reconciler;
pub mod services;
pub mod tracker;

use crate::core::api_errors;
use crate::core::backoff::ErrorBackoff;
use crate::core::credentials::Identity;
use crate::core::informers::{Informer, Informers};
use crate::workloads::events::{api_message, Recorder};
use desired::{ANNOTATION_TRIGGER_TIME, LABEL_MANAGED_BY, LABEL_SERVICE_NAME};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, ResourceExt};
use reconciler::{Desired, Plan, Target};
use services::{PodServices, TriggerTimes};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracker::SliceTracker;

/// The managed-by value of this controller's slices.
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// The source of its events.
const COMPONENT: &str = "endpoint-slice-controller";
/// kube-controller-manager's --max-endpoints-per-slice default.
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;
/// --concurrent-service-endpoint-syncs default.
const CONCURRENCY: u16 = 5;
/// How soon a sync that found its store behind its own writes looks again.
const STALE_RETRY: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Sync(String),
}

struct Context {
    client: Client,
    pods: Informer<Pod>,
    slices: Informer<EndpointSlice>,
    nodes: Informer<Node>,
    tracker: SliceTracker,
    trigger_times: TriggerTimes,
    recorder: Recorder,
    backoff: ErrorBackoff,
}

/// The `namespace/name` key of a Service.
fn key_of(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// Subscribe to Services, pods, slices and nodes now; the returned future runs the loop.
pub fn start(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    let services = informers.get::<Service>();
    let pods = informers.get::<Pod>();
    let slices = informers.get::<EndpointSlice>();
    let nodes = informers.get::<Node>();
    let service_changes = services.subscribe();
    let pod_changes = pods.subscribe();
    let slice_changes = slices.subscribe();
    let client = informers.client_as(Identity::Controller("endpointslice-controller"));
    async move {
        if pods.store().wait_until_ready().await.is_err()
            || slices.store().wait_until_ready().await.is_err()
            || nodes.store().wait_until_ready().await.is_err()
            || services.store().wait_until_ready().await.is_err()
        {
            return;
        }
        let ctx = Arc::new(Context {
            recorder: Recorder::new(client.clone(), COMPONENT),
            client,
            pods: pods.clone(),
            slices,
            nodes,
            tracker: SliceTracker::default(),
            trigger_times: TriggerTimes::default(),
            backoff: ErrorBackoff::default(),
        });
        let forget = ctx.clone();
        let live = services.clone();
        let triggers = service_changes.inspect(move |svc| {
            let gone = live
                .get(svc.namespace().as_deref(), &svc.name_any())
                .is_none_or(|l| l.uid() != svc.uid());
            if gone {
                let key = key_of(&svc.namespace().unwrap_or_default(), &svc.name_any());
                forget.tracker.forget(&key);
                forget.trigger_times.forget(&key);
            }
        });
        let mapper = PodServices::new(services.clone(), pods);
        let slice_mapper = SliceOwners::new(ctx.clone());
        let outcomes = Controller::for_shared_stream(triggers, services.store().clone())
            .with_config(Config::default().concurrency(CONCURRENCY))
            .watches_shared_stream(pod_changes, move |pod: Arc<Pod>| mapper.services_for(&pod))
            .watches_shared_stream(slice_changes, move |slice: Arc<EndpointSlice>| {
                slice_mapper.service_of(&slice)
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
        crate::core::outcomes::drain("endpointslice-controller", outcomes).await;
    }
}

/// Maps slice changes to the Service to sync: changes this loop did not make, a slice whose
/// service-name label moved, and deletions it did not expect.
struct SliceOwners {
    ctx: Arc<Context>,
    /// The Service each live slice (by UID) named when last seen.
    last: Mutex<HashMap<String, String>>,
}

impl SliceOwners {
    fn new(ctx: Arc<Context>) -> Self {
        SliceOwners {
            ctx,
            last: Mutex::new(HashMap::new()),
        }
    }

    fn service_of(&self, slice: &EndpointSlice) -> Vec<ObjectRef<Service>> {
        let namespace = slice.namespace().unwrap_or_default();
        let uid = slice.uid().unwrap_or_default();
        let service = slice.labels().get(LABEL_SERVICE_NAME).cloned().unwrap_or_default();
        let gone = self
            .ctx
            .slices
            .get(Some(&namespace), &slice.name_any())
            .is_none_or(|l| l.uid().as_deref() != Some(uid.as_str()));
        let previous = {
            let mut last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if gone {
                last.remove(&uid)
            } else {
                last.insert(uid, service.clone())
            }
        };
        let to_ref = |name: &str| ObjectRef::<Service>::new(name).within(&namespace);
        let mut wake = Vec::new();
        if let Some(prev) = previous.filter(|p| *p != service && !p.is_empty()) {
            wake.push(to_ref(&prev));
        }
        let ours = slice.labels().get(LABEL_MANAGED_BY).map(String::as_str) == Some(CONTROLLER_NAME);
        if service.is_empty() || !ours {
            return wake;
        }
        let key = key_of(&namespace, &service);
        let needed = if gone {
            !self.ctx.tracker.deletion_seen(&key, slice)
        } else {
            self.ctx.tracker.should_sync(&key, slice)
        };
        if needed || !wake.is_empty() {
            wake.push(to_ref(&service));
        }
        wake
    }
}

/// The Service's slices in the store: ours, not being deleted.
fn slices_of(service: &Service, slices: &Informer<EndpointSlice>) -> Vec<Arc<EndpointSlice>> {
    let name = service.name_any();
    let namespace = service.namespace();
    slices
        .store()
        .state()
        .into_iter()
        .filter(|s| {
            s.namespace() == namespace
                && s.labels().get(LABEL_SERVICE_NAME) == Some(&name)
                && s.labels().get(LABEL_MANAGED_BY).map(String::as_str) == Some(CONTROLLER_NAME)
                && s.metadata.deletion_timestamp.is_none()
        })
        .collect()
}

/// The desired endpoints of `address_type` and the pods left out for a missing node.
fn desired_endpoints(
    service: &Service,
    pods: &[Arc<Pod>],
    nodes: &Informer<Node>,
    address_type: &str,
) -> (Desired, Vec<String>) {
    let publish_not_ready = service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let mut wanted = Desired::new();
    let mut missing = Vec::new();
    for pod in pods {
        if !desired::should_be_in_endpoints(pod, true) {
            continue;
        }
        let ports = desired::endpoint_ports(service, pod);
        let node_name = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
        let node = nodes.get(None, &node_name);
        if node.is_none() && !publish_not_ready {
            // Left out until its node exists (pod GC removes pods of nodes that are gone).
            missing.push(format!(
                "skipping Pod {} for Service {}/{}: Node {} Not Found",
                pod.name_any(),
                service.namespace().unwrap_or_default(),
                service.name_any(),
                node_name
            ));
            continue;
        }
        let endpoint = desired::pod_endpoint(pod, node.as_deref(), service, address_type);
        if endpoint.addresses.is_empty() {
            continue;
        }
        let group = wanted
            .entry(reconciler::port_key(&ports))
            .or_insert_with(|| reconciler::Group {
                ports,
                ..Default::default()
            });
        group.endpoints.insert(reconciler::endpoint_key(&endpoint), endpoint);
    }
    (wanted, missing)
}

async fn sync(service: &Service, ctx: &Context) -> Result<Action, Error> {
    if !services::selects_pods(service) {
        return Ok(Action::await_change());
    }
    let namespace = service.namespace().unwrap_or_default();
    let key = key_of(&namespace, &service.name_any());
    let existing = slices_of(service, &ctx.slices);
    if ctx.tracker.stale(&key, &existing) {
        return Ok(Action::requeue(STALE_RETRY));
    }
    let pods = services::pods_of(service, &ctx.pods);
    let trigger = ctx.trigger_times.compute(&key, service, &pods);
    let target = Target {
        service,
        controller: CONTROLLER_NAME,
        max_per_slice: MAX_ENDPOINTS_PER_SLICE,
    };
    let types = desired::address_types(service);
    let mut by_type: BTreeMap<String, Vec<EndpointSlice>> = BTreeMap::new();
    let mut plan = Plan::default();
    for slice in &existing {
        if types.contains(&slice.address_type.as_str()) {
            by_type
                .entry(slice.address_type.clone())
                .or_default()
                .push((**slice).clone());
        } else {
            plan.delete.push((**slice).clone());
        }
    }
    let mut errors = Vec::new();
    for address_type in &types {
        let (wanted, missing) = desired_endpoints(service, &pods, &ctx.nodes, address_type);
        if errors.is_empty() {
            errors.extend(missing);
        }
        let current = by_type.remove(*address_type).unwrap_or_default();
        let part = reconciler::plan_address_type(&target, address_type, &current, wanted);
        plan.create.extend(part.create);
        plan.update.extend(part.update);
        plan.delete.extend(part.delete);
    }
    if let Err(e) = write(ctx, service, &key, plan, trigger).await {
        let message = match &e {
            Error::Api(api) => api_message(api),
            other => other.to_string(),
        };
        ctx.recorder.warning(
            service,
            "FailedToUpdateEndpointSlices",
            format!(
                "Error updating Endpoint Slices for Service {namespace}/{}: {message}",
                service.name_any()
            ),
        );
        return Err(e);
    }
    if !errors.is_empty() {
        return Err(Error::Sync(errors.join(", ")));
    }
    Ok(Action::await_change())
}

fn set_trigger_time(slice: &mut EndpointSlice, trigger: Option<Timestamp>) {
    let annotations = slice.metadata.annotations.get_or_insert_with(Default::default);
    match trigger {
        Some(t) => {
            annotations.insert(ANNOTATION_TRIGGER_TIME.into(), services::rfc3339_nano(t));
        }
        None => {
            annotations.remove(ANNOTATION_TRIGGER_TIME);
        }
    }
}

/// Create, update and delete as planned (no creations while the Service is being deleted).
async fn write(
    ctx: &Context,
    service: &Service,
    key: &str,
    plan: Plan,
    trigger: Option<Timestamp>,
) -> Result<(), Error> {
    let namespace = service.namespace().unwrap_or_default();
    let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &namespace);
    if service.metadata.deletion_timestamp.is_none() {
        for mut slice in plan.create {
            set_trigger_time(&mut slice, trigger);
            match api.create(&PostParams::default(), &slice).await {
                Ok(created) => ctx.tracker.wrote(key, &created),
                Err(e) if api_errors::is_namespace_terminating(&e) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }
    for mut slice in plan.update {
        set_trigger_time(&mut slice, trigger);
        let updated = api.replace(&slice.name_any(), &PostParams::default(), &slice).await?;
        ctx.tracker.wrote(key, &updated);
    }
    for slice in plan.delete {
        match api.delete(&slice.name_any(), &DeleteParams::default()).await {
            Ok(_) => ctx.tracker.deleted(key, &slice),
            Err(e) if api_errors::is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
