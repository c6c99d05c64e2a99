//! Turning a Service's desired endpoints and its existing slices into the fewest slice writes
//! (upstream's k8s.io/endpointslice Reconciler): endpoints are grouped by address type and port
//! set; existing slices keep the endpoints still desired (changed ones are updated in place),
//! slices that changed are filled up first, what is left goes into the unchanged slice that it
//! fills best or into new slices of at most `max` endpoints, creations replace deletions, an empty
//! Service keeps one placeholder slice, and topology hints are removed. One pod flapping
//! rewrites the one slice that holds it.

use super::desired::{self, LABEL_HEADLESS, LABEL_MANAGED_BY, LABEL_SERVICE_NAME};
use crate::workloads::pods::controller_ref;
use k8s_openapi::api::core::v1::{ObjectReference, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use std::collections::{BTreeMap, BTreeSet};

/// A set of ports, sorted, as slices are grouped by them.
pub type PortKey = Vec<(String, i32, String, Option<String>)>;

/// The key of a port set.
pub fn port_key(ports: &[EndpointPort]) -> PortKey {
    let mut key: PortKey = ports
        .iter()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.port.unwrap_or_default(),
                p.protocol.clone().unwrap_or_default(),
                p.app_protocol.clone(),
            )
        })
        .collect();
    key.sort();
    key
}

/// What identifies an endpoint across updates: its addresses, hostname and target (its
/// conditions, node and zone may change in place).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointKey {
    addresses: Vec<String>,
    hostname: String,
    namespace: String,
    name: String,
}

/// The key of an endpoint.
pub fn endpoint_key(endpoint: &Endpoint) -> EndpointKey {
    let mut addresses = endpoint.addresses.clone();
    addresses.sort();
    let target = endpoint.target_ref.as_ref();
    EndpointKey {
        addresses,
        hostname: endpoint.hostname.clone().unwrap_or_default(),
        namespace: target.and_then(|t| t.namespace.clone()).unwrap_or_default(),
        name: target.and_then(|t| t.name.clone()).unwrap_or_default(),
    }
}

fn without_rv(target: &Option<ObjectReference>) -> Option<ObjectReference> {
    target.clone().map(|mut t| {
        t.resource_version = None;
        t
    })
}

/// Equal in everything the key does not cover, ignoring the target's resourceVersion (upstream's
/// EndpointsEqualBeyondHash).
pub fn equal_beyond_key(a: &Endpoint, b: &Endpoint) -> bool {
    let (ca, cb) = (
        a.conditions.clone().unwrap_or_default(),
        b.conditions.clone().unwrap_or_default(),
    );
    a.node_name == b.node_name
        && a.zone == b.zone
        && ca.ready == cb.ready
        && ca.serving == cb.serving
        && ca.terminating == cb.terminating
        && without_rv(&a.target_ref) == without_rv(&b.target_ref)
}

/// The endpoints wanted for one port set.
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub ports: Vec<EndpointPort>,
    pub endpoints: BTreeMap<EndpointKey, Endpoint>,
}

/// Desired endpoints of one address type, by port set.
pub type Desired = BTreeMap<PortKey, Group>;

/// The writes that bring a Service's slices to the desired state.
#[derive(Debug, Default)]
pub struct Plan {
    pub create: Vec<EndpointSlice>,
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<EndpointSlice>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// What the reconciler works for.
pub struct Target<'a> {
    pub service: &'a Service,
    /// The value of the managed-by label.
    pub controller: &'a str,
    pub max_per_slice: usize,
}

fn reserved(label: &str) -> bool {
    label == LABEL_SERVICE_NAME || label == LABEL_MANAGED_BY || label == LABEL_HEADLESS
}

/// The labels a slice of the Service should have, and whether its non-reserved labels differ
/// from the Service's (upstream's setEndpointSliceLabels).
pub fn slice_labels(slice: &EndpointSlice, service: &Service, controller: &str) -> (BTreeMap<String, String>, bool) {
    let current: BTreeMap<&String, &String> = slice.labels().iter().filter(|(k, _)| !reserved(k)).collect();
    let mut wanted: BTreeMap<String, String> = service
        .labels()
        .iter()
        .filter(|(k, _)| !reserved(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let changed = current.len() != wanted.len() || current.iter().any(|(k, v)| wanted.get(*k) != Some(*v));
    if !desired::is_service_ip_set(service) {
        wanted.insert(LABEL_HEADLESS.into(), String::new());
    }
    wanted.insert(LABEL_SERVICE_NAME.into(), service.name_any());
    wanted.insert(LABEL_MANAGED_BY.into(), controller.into());
    (wanted, changed)
}

/// Whether the Service (by UID) owns the slice.
pub fn owned_by(slice: &EndpointSlice, service: &Service) -> bool {
    let uid = service.uid().unwrap_or_default();
    slice
        .owner_references()
        .iter()
        .any(|o| o.uid == uid && o.kind == "Service" && o.api_version == "v1")
}

/// A new, empty slice of the Service with `ports`.
pub fn new_slice(target: &Target, ports: Vec<EndpointPort>, address_type: &str) -> EndpointSlice {
    let service = target.service;
    let mut slice = EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", service.name_any())),
            namespace: service.namespace(),
            owner_references: Some(vec![controller_ref(service)]),
            ..Default::default()
        },
        address_type: address_type.into(),
        endpoints: Vec::new(),
        ports: Some(ports),
    };
    slice.metadata.labels = Some(slice_labels(&slice, service, target.controller).0);
    slice
}

fn is_placeholder_of(slice: &EndpointSlice, placeholder: &EndpointSlice) -> bool {
    slice.metadata.namespace == placeholder.metadata.namespace
        && slice.labels() == placeholder.labels()
        && slice.address_type == placeholder.address_type
        && slice.endpoints.is_empty()
        && slice.ports.as_deref().unwrap_or_default().is_empty()
}

/// The plan for one address type: `existing` are the Service's slices of that type, `desired`
/// the endpoints wanted by port set.
pub fn plan_address_type(target: &Target, address_type: &str, existing: &[EndpointSlice], desired: Desired) -> Plan {
    let mut plan = Plan::default();
    let mut existing_by_ports: BTreeMap<PortKey, Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in existing {
        if owned_by(slice, target.service) {
            existing_by_ports
                .entry(port_key(slice.ports.as_deref().unwrap_or_default()))
                .or_default()
                .push(slice);
        } else {
            plan.delete.push(slice.clone());
        }
    }
    let mut unchanged: Vec<EndpointSlice> = Vec::new();
    for (key, group) in desired {
        let slices = existing_by_ports.remove(&key).unwrap_or_default();
        let part = plan_port_set(target, address_type, &slices, group);
        plan.create.extend(part.create);
        plan.update.extend(part.update);
        plan.delete.extend(part.delete);
        unchanged.extend(part.unchanged);
    }
    // Port sets nobody wants any more.
    for slices in existing_by_ports.into_values() {
        plan.delete.extend(slices.into_iter().cloned());
    }
    // A Service without endpoints keeps one placeholder slice.
    if existing.len() == plan.delete.len() && plan.create.is_empty() {
        let placeholder = new_slice(target, Vec::new(), address_type);
        if plan.delete.len() == 1 && is_placeholder_of(&plan.delete[0], &placeholder) {
            plan.delete.clear();
        } else {
            plan.create.push(placeholder);
        }
    }
    remove_hints(&mut plan, unchanged);
    recycle(target.service, &mut plan);
    plan
}

struct PortSetPlan {
    create: Vec<EndpointSlice>,
    update: Vec<EndpointSlice>,
    delete: Vec<EndpointSlice>,
    unchanged: Vec<EndpointSlice>,
}

/// Upstream's reconcileByPortMapping for the slices of one port set.
fn plan_port_set(target: &Target, address_type: &str, existing: &[&EndpointSlice], mut group: Group) -> PortSetPlan {
    let max = target.max_per_slice.max(1);
    let mut by_name: BTreeMap<String, EndpointSlice> = BTreeMap::new();
    let mut unchanged: BTreeSet<String> = BTreeSet::new();
    let mut to_update: BTreeSet<String> = BTreeSet::new();
    let mut to_delete: BTreeSet<String> = BTreeSet::new();
    let desired = &mut group.endpoints;

    // 1. Keep what is still desired in each existing slice, updating changed endpoints.
    for slice in existing {
        let name = slice.name_any();
        let mut kept = Vec::with_capacity(slice.endpoints.len());
        let mut changed = false;
        for endpoint in &slice.endpoints {
            if let Some(want) = desired.remove(&endpoint_key(endpoint)) {
                changed |= !equal_beyond_key(&want, endpoint);
                kept.push(want);
            }
        }
        let (labels, labels_changed) = slice_labels(slice, target.service, target.controller);
        if changed || kept.len() != slice.endpoints.len() {
            if kept.is_empty() {
                to_delete.insert(name.clone());
                by_name.insert(name, (*slice).clone());
            } else {
                let mut copy = (*slice).clone();
                copy.endpoints = kept;
                copy.metadata.labels = Some(labels);
                by_name.insert(name.clone(), copy);
                to_update.insert(name);
            }
        } else if labels_changed {
            let mut copy = (*slice).clone();
            copy.metadata.labels = Some(labels);
            by_name.insert(name.clone(), copy);
            to_update.insert(name);
        } else {
            by_name.insert(name.clone(), (*slice).clone());
            unchanged.insert(name);
        }
    }

    // 2. Fill the slices being updated anyway, fullest first.
    if !desired.is_empty() && !to_update.is_empty() {
        let mut names: Vec<&String> = to_update.iter().collect();
        names.sort_by_key(|n| std::cmp::Reverse(by_name[*n].endpoints.len()));
        for name in names {
            let Some(slice) = by_name.get_mut(name) else { continue };
            while slice.endpoints.len() < max {
                let Some((_, endpoint)) = desired.pop_first() else {
                    break;
                };
                slice.endpoints.push(endpoint);
            }
        }
    }

    // 3. Put the rest into the unchanged slice it fills best, else into new slices.
    let mut create = Vec::new();
    while !desired.is_empty() {
        let mut fill: Option<String> = None;
        if desired.len() < max && !unchanged.is_empty() {
            let mut closest = max;
            for name in &unchanged {
                let room = max as isize - (desired.len() + by_name[name].endpoints.len()) as isize;
                if room >= 0 && (room as usize) < closest {
                    closest = room as usize;
                    fill = Some(name.clone());
                    if closest == 0 {
                        break;
                    }
                }
            }
        }
        let mut slice = match &fill {
            Some(name) => by_name.remove(name).unwrap_or_default(),
            None => new_slice(target, group.ports.clone(), address_type),
        };
        while slice.endpoints.len() < max {
            let Some((_, endpoint)) = desired.pop_first() else {
                break;
            };
            slice.endpoints.push(endpoint);
        }
        match fill {
            Some(name) => {
                unchanged.remove(&name);
                to_update.insert(name.clone());
                by_name.insert(name, slice);
            }
            None => create.push(slice),
        }
    }

    let take = |names: &BTreeSet<String>, by_name: &BTreeMap<String, EndpointSlice>| -> Vec<EndpointSlice> {
        names.iter().filter_map(|n| by_name.get(n).cloned()).collect()
    };
    PortSetPlan {
        create,
        update: take(&to_update, &by_name),
        delete: take(&to_delete, &by_name),
        unchanged: take(&unchanged, &by_name),
    }
}

fn strip_hints(slice: &mut EndpointSlice) -> bool {
    let mut had = false;
    for endpoint in &mut slice.endpoints {
        had |= endpoint.hints.take().is_some();
    }
    had
}

/// Hints are off: none on what is written, and unchanged slices that carry some are rewritten.
fn remove_hints(plan: &mut Plan, unchanged: Vec<EndpointSlice>) {
    for slice in plan.create.iter_mut().chain(plan.update.iter_mut()) {
        strip_hints(slice);
    }
    for mut slice in unchanged {
        if strip_hints(&mut slice) {
            plan.update.push(slice);
        }
    }
}

/// Creations become updates of slices that would be deleted (same address type, owned by this
/// Service), as upstream's finalize does.
fn recycle(service: &Service, plan: &mut Plan) {
    let mut i = 0;
    while i < plan.delete.len() && !plan.create.is_empty() {
        let old = &plan.delete[i];
        let last = plan.create.len() - 1;
        if old.address_type == plan.create[last].address_type && owned_by(old, service) {
            let mut slice = plan.create.remove(last);
            let old = plan.delete.remove(i);
            slice.metadata.generate_name = None;
            slice.metadata.name = old.metadata.name.clone();
            slice.metadata.resource_version = old.metadata.resource_version.clone();
            slice.metadata.uid = old.metadata.uid.clone();
            slice.metadata.annotations = old.metadata.annotations.clone();
            plan.update.push(slice);
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests;
