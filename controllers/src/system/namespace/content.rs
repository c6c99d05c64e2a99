//! Deleting everything in a terminating namespace: discover every served namespaced resource,
//! delete its objects (deletecollection where served, else list and delete each), then count what
//! remains and which finalizers hold it, like upstream's namespaced resources deleter.

use crate::core::api_errors;
use futures::{stream, StreamExt};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use kube::discovery::{verbs, ApiCapabilities, ApiResource, Discovery, Scope};
use kube::{Client, ResourceExt};
use std::collections::{BTreeMap, HashSet};

/// How long to wait when remaining objects are held by finalizers (upstream's default estimate).
const FINALIZER_ESTIMATE_SECONDS: u64 = 15;
/// How many resources are cleaned at once.
const PARALLEL_RESOURCES: usize = 8;

/// What one pass over a namespace's content found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    /// Discovery failed (then nothing, or only part, was deleted).
    pub discovery_error: Option<String>,
    /// Per-resource deletion failures.
    pub errors: Vec<String>,
    /// Seconds to wait before looking again; 0 means nothing is known to be on its way out.
    pub estimate_seconds: u64,
    /// Remaining objects by `resource.group` (upstream's spelling: "configmaps." for the core group).
    pub remaining: BTreeMap<String, usize>,
    /// Remaining objects by the finalizer that holds them.
    pub finalizers: BTreeMap<String, usize>,
}

impl Report {
    /// Whether this pass failed (the namespace must not be finalized and the pass is retried).
    pub fn failed(&self) -> bool {
        self.discovery_error.is_some() || !self.errors.is_empty()
    }

    fn add(&mut self, resource: &ApiResource, outcome: Outcome) {
        self.estimate_seconds = self.estimate_seconds.max(outcome.estimate_seconds);
        if outcome.remaining > 0 {
            self.remaining
                .insert(format!("{}.{}", resource.plural, resource.group), outcome.remaining);
            for (finalizer, n) in outcome.finalizers {
                *self.finalizers.entry(finalizer).or_default() += n;
            }
        }
        self.errors.extend(outcome.error);
    }
}

/// What one pass found for one resource.
#[derive(Debug, Default)]
struct Outcome {
    estimate_seconds: u64,
    remaining: usize,
    finalizers: BTreeMap<String, usize>,
    error: Option<String>,
}

/// Delete every object in `namespace` (whose deletion started at `deleted_at`) and report what remains.
pub async fn delete_all(client: &Client, namespace: &str, deleted_at: Timestamp) -> Report {
    let mut report = Report::default();
    let discovery = match discover(client).await {
        Ok(discovery) => discovery,
        Err(e) => {
            report.discovery_error = Some(message(&e));
            return report;
        }
    };
    let candidates = discovery.groups().flat_map(|group| {
        let preferred = group.preferred_version_or_latest().to_string();
        let others: Vec<String> = group.versions().filter(|v| *v != preferred).map(String::from).collect();
        std::iter::once(preferred)
            .chain(others)
            .flat_map(|version| group.versioned_resources(&version))
    });
    let resources = deletable(candidates);
    let outcomes: Vec<(ApiResource, Outcome)> = stream::iter(resources)
        .map(|(resource, caps)| async move {
            let outcome = delete_resource(client, namespace, &resource, &caps, deleted_at).await;
            (resource, outcome)
        })
        .buffer_unordered(PARALLEL_RESOURCES)
        .collect()
        .await;
    for (resource, outcome) in outcomes {
        report.add(&resource, outcome);
    }
    report
}

/// Aggregated discovery (two requests), falling back to per-group discovery for older servers.
async fn discover(client: &Client) -> Result<Discovery, kube::Error> {
    match Discovery::new(client.clone()).run_aggregated().await {
        Ok(discovery) => Ok(discovery),
        Err(e) => {
            tracing::debug!(error = %e, "aggregated discovery failed; falling back to per-group discovery");
            Discovery::new(client.clone()).run().await
        }
    }
}

/// The namespaced resources that can be deleted, each once: `candidates` come in preference order
/// (per group, preferred version first), and the first version of a group's resource wins.
fn deletable(
    candidates: impl IntoIterator<Item = (ApiResource, ApiCapabilities)>,
) -> Vec<(ApiResource, ApiCapabilities)> {
    let mut seen = HashSet::new();
    candidates
        .into_iter()
        .filter(|(resource, caps)| {
            caps.scope == Scope::Namespaced
                && caps.supports_operation(verbs::DELETE)
                && seen.insert((resource.group.clone(), resource.plural.clone()))
        })
        .collect()
}

/// Delete all objects of one resource in the namespace and count what is left.
async fn delete_resource(
    client: &Client,
    namespace: &str,
    resource: &ApiResource,
    caps: &ApiCapabilities,
    deleted_at: Timestamp,
) -> Outcome {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, resource);
    let can_list = caps.supports_operation(verbs::LIST);
    let gvr = format!("{}/{}, Resource={}", resource.group, resource.version, resource.plural);
    let fail = |estimate_seconds, e: kube::Error| Outcome {
        estimate_seconds,
        error: Some(message(&e)),
        ..Default::default()
    };

    let mut estimate_seconds = 0;
    if resource.group.is_empty() && resource.plural == "pods" && can_list {
        match api.list(&ListParams::default()).await {
            Ok(pods) => estimate_seconds = pod_estimate(&pods.items, deleted_at, Timestamp::now()),
            Err(e) => return fail(0, e),
        }
    }

    let params = DeleteParams::background();
    let mut collection_deleted = false;
    if caps.supports_operation(verbs::DELETE_COLLECTION) {
        match api.delete_collection(&params, &ListParams::default()).await {
            Ok(_) => collection_deleted = true,
            Err(e) if api_errors::is_method_not_supported(&e) || api_errors::is_not_found(&e) => {}
            Err(e) => return fail(estimate_seconds, e),
        }
    }
    if !can_list {
        return Outcome {
            estimate_seconds,
            ..Default::default()
        };
    }
    if !collection_deleted {
        let items = match api.list(&ListParams::default()).await {
            Ok(list) => list.items,
            Err(e) if api_errors::is_method_not_supported(&e) || api_errors::is_not_found(&e) => Vec::new(),
            Err(e) => return fail(estimate_seconds, e),
        };
        for item in items {
            match api.delete(&item.name_any(), &params).await {
                Ok(_) => {}
                Err(e) if api_errors::is_method_not_supported(&e) || api_errors::is_not_found(&e) => {}
                Err(e) => return fail(estimate_seconds, e),
            }
        }
    }

    let left = match api.list(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(e) if api_errors::is_method_not_supported(&e) || api_errors::is_not_found(&e) => Vec::new(),
        Err(e) => return fail(estimate_seconds, e),
    };
    remaining(&left, estimate_seconds, namespace, &gvr)
}

/// Judge the objects still present after deleting: held by finalizers is normal (wait the finalizer
/// estimate); going away gracefully is normal while `estimate_seconds` runs; anything else is an error.
fn remaining(left: &[DynamicObject], estimate_seconds: u64, namespace: &str, gvr: &str) -> Outcome {
    if left.is_empty() {
        return Outcome::default();
    }
    let mut finalizers = BTreeMap::new();
    for finalizer in left.iter().flat_map(|item| item.finalizers()) {
        *finalizers.entry(finalizer.clone()).or_default() += 1;
    }
    let mut outcome = Outcome {
        estimate_seconds,
        remaining: left.len(),
        finalizers,
        error: None,
    };
    if estimate_seconds == 0 {
        if outcome.finalizers.is_empty() {
            outcome.error = Some(format!(
                "unexpected items still remain in namespace: {namespace} for gvr: {gvr}"
            ));
        } else {
            outcome.estimate_seconds = FINALIZER_ESTIMATE_SECONDS;
        }
    }
    outcome
}

/// The longest termination grace period of the pods that are still running, unless that much time
/// has already passed since the namespace's deletion started.
fn pod_estimate(pods: &[DynamicObject], deleted_at: Timestamp, now: Timestamp) -> u64 {
    let estimate = pods
        .iter()
        .filter(|pod| {
            let phase = pod.data.pointer("/status/phase").and_then(|p| p.as_str());
            !matches!(phase, Some("Succeeded" | "Failed"))
        })
        .filter_map(|pod| {
            pod.data
                .pointer("/spec/terminationGracePeriodSeconds")
                .and_then(|g| g.as_u64())
        })
        .max()
        .unwrap_or(0);
    let elapsed = now.as_second().saturating_sub(deleted_at.as_second());
    if elapsed >= i64::try_from(estimate).unwrap_or(i64::MAX) {
        0
    } else {
        estimate
    }
}

/// An error's message as upstream shows it: the Status message for API errors.
fn message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(group: &str, version: &str, plural: &str) -> ApiResource {
        ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: if group.is_empty() {
                version.into()
            } else {
                format!("{group}/{version}")
            },
            kind: plural.into(),
            plural: plural.into(),
        }
    }

    fn caps(scope: Scope, ops: &[&str]) -> ApiCapabilities {
        ApiCapabilities {
            scope,
            subresources: Vec::new(),
            operations: ops.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn object(value: serde_json::Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn deletable_keeps_namespaced_deletable_resources_once_in_preference_order() {
        let all = &[verbs::LIST, verbs::DELETE, verbs::DELETE_COLLECTION];
        let chosen = deletable(vec![
            (resource("", "v1", "configmaps"), caps(Scope::Namespaced, all)),
            (resource("", "v1", "namespaces"), caps(Scope::Cluster, all)),
            (
                resource("", "v1", "bindings"),
                caps(Scope::Namespaced, &[verbs::CREATE]),
            ),
            (resource("batch", "v1", "jobs"), caps(Scope::Namespaced, all)),
            (resource("batch", "v1beta1", "jobs"), caps(Scope::Namespaced, all)),
            (resource("batch", "v1beta1", "cronjobs"), caps(Scope::Namespaced, all)),
        ]);
        let names: Vec<String> = chosen
            .iter()
            .map(|(r, _)| format!("{}/{}/{}", r.group, r.version, r.plural))
            .collect();
        assert_eq!(names, ["/v1/configmaps", "batch/v1/jobs", "batch/v1beta1/cronjobs"]);
    }

    #[test]
    fn objects_held_by_finalizers_wait_the_finalizer_estimate() {
        let left = [
            object(json!({"metadata": {"name": "a", "finalizers": ["example.com/x", "example.com/y"]}})),
            object(json!({"metadata": {"name": "b", "finalizers": ["example.com/x"]}})),
        ];
        let outcome = remaining(&left, 0, "ns", "/v1, Resource=configmaps");
        assert_eq!(outcome.remaining, 2);
        assert_eq!(outcome.estimate_seconds, FINALIZER_ESTIMATE_SECONDS);
        assert_eq!(outcome.finalizers.get("example.com/x"), Some(&2));
        assert_eq!(outcome.finalizers.get("example.com/y"), Some(&1));
        assert_eq!(outcome.error, None);
    }

    #[test]
    fn objects_left_without_reason_are_an_error() {
        let left = [object(json!({"metadata": {"name": "a"}}))];
        let outcome = remaining(&left, 0, "ns", "/v1, Resource=pods");
        assert_eq!(
            outcome.error.as_deref(),
            Some("unexpected items still remain in namespace: ns for gvr: /v1, Resource=pods")
        );
        let graceful = remaining(&left, 30, "ns", "/v1, Resource=pods");
        assert_eq!(
            (graceful.error, graceful.estimate_seconds, graceful.remaining),
            (None, 30, 1)
        );
        assert_eq!(remaining(&[], 0, "ns", "x").remaining, 0);
    }

    #[test]
    fn pod_estimate_is_the_longest_grace_of_running_pods_while_it_lasts() {
        let pods = [
            object(json!({"metadata": {"name": "a"}, "spec": {"terminationGracePeriodSeconds": 30}})),
            object(
                json!({"metadata": {"name": "b"}, "spec": {"terminationGracePeriodSeconds": 90},
                "status": {"phase": "Succeeded"}}),
            ),
            object(json!({"metadata": {"name": "c"}, "spec": {}})),
        ];
        let start = Timestamp::from_second(1_000).unwrap();
        assert_eq!(pod_estimate(&pods, start, Timestamp::from_second(1_010).unwrap()), 30);
        assert_eq!(pod_estimate(&pods, start, Timestamp::from_second(1_030).unwrap()), 0);
        assert_eq!(pod_estimate(&[], start, start), 0);
    }

    #[test]
    fn report_names_resources_like_upstream_and_sums_finalizers() {
        let mut report = Report::default();
        let mut finalizers = BTreeMap::new();
        finalizers.insert("f".to_string(), 1);
        report.add(
            &resource("", "v1", "configmaps"),
            Outcome {
                estimate_seconds: 15,
                remaining: 1,
                finalizers: finalizers.clone(),
                error: None,
            },
        );
        report.add(
            &resource("example.com", "v1", "widgets"),
            Outcome {
                estimate_seconds: 5,
                remaining: 2,
                finalizers,
                error: Some("boom".into()),
            },
        );
        assert_eq!(report.estimate_seconds, 15);
        assert_eq!(report.remaining.get("configmaps."), Some(&1));
        assert_eq!(report.remaining.get("widgets.example.com"), Some(&2));
        assert_eq!(report.finalizers.get("f"), Some(&2));
        assert!(report.failed());
    }
}
