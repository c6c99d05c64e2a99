//! Upstream's LimitRanger admission plugin: a new pod's containers get the `default` limits and
//! `defaultRequest` requests of the namespace's Container limits (recorded in the
//! `kubernetes.io/limit-ranger` annotation), then pods and PersistentVolumeClaims must keep each
//! LimitRange's min, max and maxLimitRequestRatio for Container, Pod and PersistentVolumeClaim
//! items; a violation is a 403 with upstream's messages. Pod updates are not checked (their
//! resources cannot change through an update).

use super::Operation;
use crate::registry::Store;
use crate::status::{ApiError, ApiResult, Gr};
use serde_json::{Map, Value};
use skiff_machinery::quantity::Quantity;

const ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// A resource list (`{"cpu": "100m"}`) with parsed quantities.
type Resources = skiff_machinery::quota::Usage;

fn resources(value: Option<&Value>) -> Resources {
    skiff_machinery::quota::resource_list(value)
}

/// The namespace's LimitRange items: (type, the item).
fn items(store: &Store, namespace: &str) -> Vec<Value> {
    store
        .cached_objects("", "limitranges", Some(namespace))
        .iter()
        .filter_map(|o| serde_json::from_slice::<Value>(&o.json).ok())
        .flat_map(|lr| {
            lr.pointer("/spec/limits")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

fn of_type<'a>(items: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    items
        .iter()
        .filter(move |i| i.get("type").and_then(Value::as_str) == Some(kind))
}

/// Default and check a pod being created.
pub(super) fn admit_pod(store: &Store, op: Operation, pod: &mut Value, namespace: &str, name: &str) -> ApiResult<()> {
    if op != Operation::Create {
        return Ok(());
    }
    let items = items(store, namespace);
    if items.is_empty() {
        return Ok(());
    }
    apply_defaults(pod, &items);
    let mut errors = Vec::new();
    let spec = pod.get("spec").cloned().unwrap_or(Value::Null);
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .flat_map(|list| spec.get(*list).and_then(Value::as_array).into_iter().flatten())
        .collect();
    for item in of_type(&items, "Container") {
        for container in &containers {
            let requests = resources(container.pointer("/resources/requests"));
            let limits = resources(container.pointer("/resources/limits"));
            check(item, "Container", &requests, &limits, &mut errors);
        }
    }
    for item in of_type(&items, "Pod") {
        let (requests, limits) = pod_totals(&spec);
        check(item, "Pod", &requests, &limits, &mut errors);
    }
    forbidden(
        Gr {
            group: "",
            resource: "pods",
        },
        name,
        errors,
    )
}

/// Check a PersistentVolumeClaim being created or updated: min and max apply to its requests.
pub(super) fn admit_claim(store: &Store, claim: &Value, namespace: &str, name: &str) -> ApiResult<()> {
    let items = items(store, namespace);
    let requests = resources(claim.pointer("/spec/resources/requests"));
    let mut errors = Vec::new();
    for item in of_type(&items, "PersistentVolumeClaim") {
        for (resource, min) in resources(item.get("min")) {
            errors.extend(min_error(
                "PersistentVolumeClaim",
                &resource,
                &min,
                &requests,
                &Resources::new(),
            ));
        }
        for (resource, max) in resources(item.get("max")) {
            let kind = "PersistentVolumeClaim";
            match requests.get(&resource) {
                None => errors.push(format!(
                    "maximum {resource} usage per {kind} is {max}.  No request is specified"
                )),
                Some(request) if request > &max => errors.push(format!(
                    "maximum {resource} usage per {kind} is {max}, but request is {request}"
                )),
                Some(_) => {}
            }
        }
    }
    forbidden(
        Gr {
            group: "",
            resource: "persistentvolumeclaims",
        },
        name,
        errors,
    )
}

/// Upstream's NewAggregate message: one error as it is, several in brackets.
fn forbidden(gr: Gr<'_>, name: &str, errors: Vec<String>) -> ApiResult<()> {
    match errors.as_slice() {
        [] => Ok(()),
        [one] => Err(ApiError::forbidden(gr, name, one)),
        many => Err(ApiError::forbidden(gr, name, &format!("[{}]", many.join(", ")))),
    }
}

/// Fill each container's missing limits from `default` and requests from `defaultRequest`.
fn apply_defaults(pod: &mut Value, items: &[Value]) {
    let mut default_limits = Map::new();
    let mut default_requests = Map::new();
    for item in of_type(items, "Container") {
        if let Some(d) = item.get("default").and_then(Value::as_object) {
            default_limits.extend(d.clone());
        }
        if let Some(d) = item.get("defaultRequest").and_then(Value::as_object) {
            default_requests.extend(d.clone());
        }
    }
    if default_limits.is_empty() && default_requests.is_empty() {
        return;
    }
    let mut notes = Vec::new();
    for (list, what) in [("initContainers", "init container"), ("containers", "container")] {
        let Some(containers) = pod.pointer_mut(&format!("/spec/{list}")).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in containers.iter_mut() {
            let name = container.get("name").and_then(Value::as_str).unwrap_or("").to_string();
            let Some(fields) = container.as_object_mut() else {
                continue;
            };
            let resources = fields.entry("resources").or_insert_with(|| Value::Object(Map::new()));
            let set_requests = fill(resources, "requests", &default_requests);
            let set_limits = fill(resources, "limits", &default_limits);
            if !set_requests.is_empty() {
                notes.push(format!("{} request for {what} {name}", set_requests.join(", ")));
            }
            if !set_limits.is_empty() {
                notes.push(format!("{} limit for {what} {name}", set_limits.join(", ")));
            }
        }
    }
    if notes.is_empty() {
        return;
    }
    let note = format!("LimitRanger plugin set: {}", notes.join("; "));
    if let Some(meta) = pod.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = meta.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.insert(ANNOTATION.into(), note.into());
        }
    }
}

/// Add the `defaults` missing from `resources[key]`; the names set, sorted.
fn fill(resources: &mut Value, key: &str, defaults: &Map<String, Value>) -> Vec<String> {
    if defaults.is_empty() {
        return Vec::new();
    }
    let Some(fields) = resources.as_object_mut() else {
        return Vec::new();
    };
    let list = fields.entry(key).or_insert_with(|| Value::Object(Map::new()));
    let Some(list) = list.as_object_mut() else {
        return Vec::new();
    };
    let mut set = Vec::new();
    for (name, value) in defaults {
        if !list.contains_key(name) {
            list.insert(name.clone(), value.clone());
            set.push(name.clone());
        }
    }
    set.sort();
    set
}

/// The pod's effective requests and limits: the sum over its containers, or the largest init
/// container's where that is more; a resource missing from any container is left out of the sum.
fn pod_totals(spec: &Value) -> (Resources, Resources) {
    let list = |key: &str| spec.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
    let total = |field: &str| {
        let mut sum = Resources::new();
        let containers = list("containers");
        let mut names: Vec<String> = containers
            .iter()
            .flat_map(|c| resources(c.pointer(&format!("/resources/{field}"))).into_keys())
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            let values: Option<Vec<Quantity>> = containers
                .iter()
                .map(|c| resources(c.pointer(&format!("/resources/{field}"))).remove(&name))
                .collect();
            if let Some(total) = values.and_then(|v| v.iter().try_fold(Quantity::ZERO, |a, q| a.checked_add(q))) {
                sum.insert(name, total);
            }
        }
        for init in list("initContainers") {
            for (name, q) in resources(init.pointer(&format!("/resources/{field}"))) {
                if sum.get(&name).is_some_and(|s| *s < q) {
                    sum.insert(name, q);
                }
            }
        }
        sum
    };
    (total("requests"), total("limits"))
}

/// min, max and maxLimitRequestRatio of one LimitRange item against requests and limits.
fn check(item: &Value, kind: &str, requests: &Resources, limits: &Resources, errors: &mut Vec<String>) {
    for (resource, min) in resources(item.get("min")) {
        errors.extend(min_error(kind, &resource, &min, requests, limits));
    }
    for (resource, max) in resources(item.get("max")) {
        match (limits.get(&resource), requests.get(&resource)) {
            (None, _) => errors.push(format!(
                "maximum {resource} usage per {kind} is {max}.  No limit is specified"
            )),
            (Some(limit), _) if limit > &max => errors.push(format!(
                "maximum {resource} usage per {kind} is {max}, but limit is {limit}"
            )),
            (_, Some(request)) if request > &max => errors.push(format!(
                "maximum {resource} usage per {kind} is {max}, but request is {request}"
            )),
            _ => {}
        }
    }
    for (resource, ratio) in resources(item.get("maxLimitRequestRatio")) {
        let request = requests.get(&resource).map_or(0, Quantity::milli_value);
        let limit = limits.get(&resource).map_or(0, Quantity::milli_value);
        let prefix = format!("{resource} max limit to request ratio per {kind} is {ratio}");
        if request == 0 {
            errors.push(format!("{prefix}, but no request is specified or request is 0"));
        } else if limit == 0 {
            errors.push(format!("{prefix}, but no limit is specified or limit is 0"));
        } else {
            let observed = limit as f64 / request as f64;
            if observed * 1000.0 > ratio.milli_value() as f64 {
                errors.push(format!("{prefix}, but provided ratio is {observed:.6}"));
            }
        }
    }
}

fn min_error(kind: &str, resource: &str, min: &Quantity, requests: &Resources, limits: &Resources) -> Option<String> {
    match (requests.get(resource), limits.get(resource)) {
        (None, _) => Some(format!(
            "minimum {resource} usage per {kind} is {min}.  No request is specified"
        )),
        (Some(request), _) if request < min => Some(format!(
            "minimum {resource} usage per {kind} is {min}, but request is {request}"
        )),
        (_, Some(limit)) if limit < min => Some(format!(
            "minimum {resource} usage per {kind} is {min}, but limit is {limit}"
        )),
        _ => None,
    }
}
