//! Type checking of ValidatingAdmissionPolicies against the schemas of the kinds they match
//! (upstream's validatingadmissionpolicy-status-controller, run inside the apiserver): each
//! validation's expression and messageExpression is checked with `object` typed as every kind
//! its matchConstraints name (and `params` as its paramKind), and what the checker finds goes
//! to `status.typeChecking.expressionWarnings` with `status.observedGeneration`. Warnings never
//! change how a policy is evaluated.

use super::compile::declarations;
use super::params::resource_of;
use crate::crd::cel::expression::{Expression, DYN};
use crate::crd::cel::types::Ty;
use crate::registry::admission::request::kind_of;
use crate::registry::definitions::Definitions;
use crate::registry::store::{Scope, WriteOptions};
use crate::registry::{Resource, Store};
use serde_json::{json, Value};
use std::sync::Arc;

/// Upstream checks at most this many kinds per policy.
const MAX_TYPES: usize = 10;
/// How deep built-in schemas are followed.
const SCHEMA_DEPTH: usize = 24;

/// The CEL type of a resource's objects, from its schema.
fn object_type(definitions: &Definitions, resource: &Resource) -> Option<Ty> {
    if let Some(schema) = definitions.inlined(resource, SCHEMA_DEPTH) {
        return Some(Ty::of(&schema, false));
    }
    let mut schema = resource.custom_schema.as_deref()?.clone();
    // A CRD's schema leaves metadata to the apiserver: every ObjectMeta field may be read.
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        properties.insert("metadata".into(), json!({"x-kubernetes-preserve-unknown-fields": true}));
        properties.insert("apiVersion".into(), json!({"type": "string"}));
        properties.insert("kind".into(), json!({"type": "string"}));
    }
    Some(Ty::of(&schema, false))
}

fn strings(rule: &Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = rule[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

/// The kinds a policy's resourceRules name without wildcards, sorted by group, version, kind.
fn kinds_to_check(store: &Store, spec: &Value) -> Vec<Arc<Resource>> {
    let resources = store.resources();
    let mut found: Vec<Arc<Resource>> = Vec::new();
    for rule in spec
        .pointer("/matchConstraints/resourceRules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let groups = strings(rule, "apiGroups");
        let versions = strings(rule, "apiVersions");
        if groups.iter().chain(&versions).any(|g| g.contains('*')) {
            continue;
        }
        let plurals: Vec<String> = strings(rule, "resources")
            .into_iter()
            .filter(|r| !r.contains(['*', '/']))
            .collect();
        for group in &groups {
            for version in &versions {
                for plural in &plurals {
                    if let Some(r) = resources.lookup(group, version, plural) {
                        if !found.iter().any(|f| Arc::ptr_eq(f, r)) {
                            found.push(r.clone());
                        }
                    }
                }
            }
        }
    }
    found.sort_by(|a, b| (&a.group, &a.version, &a.kind).cmp(&(&b.group, &b.version, &b.kind)));
    found.truncate(MAX_TYPES);
    found
}

/// The expression warnings of a policy (upstream's TypeChecker.Check).
pub fn check(store: &Store, definitions: &Definitions, policy: &Value) -> Vec<Value> {
    let spec = &policy["spec"];
    let typed: Vec<(String, Ty)> = kinds_to_check(store, spec)
        .iter()
        .filter_map(|r| object_type(definitions, r).map(|t| (kind_of(r, "").to_string(), t)))
        .collect();
    if typed.is_empty() {
        return Vec::new();
    }
    let params = spec["paramKind"]
        .as_object()
        .and_then(|p| {
            let api_version = p.get("apiVersion").and_then(Value::as_str)?;
            resource_of(store, api_version, p.get("kind").and_then(Value::as_str)?)
        })
        .and_then(|r| object_type(definitions, &r))
        .unwrap_or(DYN);
    let mut warnings = Vec::new();
    for (i, validation) in spec["validations"].as_array().into_iter().flatten().enumerate() {
        for field in ["expression", "messageExpression"] {
            let Some(source) = validation[field].as_str().filter(|s| !s.trim().is_empty()) else {
                continue;
            };
            let found: Vec<String> = typed
                .iter()
                .filter_map(|(gvk, ty)| {
                    let mut declared = declarations(spec, params.clone());
                    for (name, t) in &mut declared {
                        if matches!(*name, "object" | "oldObject") {
                            *t = ty.clone();
                        }
                    }
                    Expression::compile(source, &declared)
                        .err()
                        .map(|issues| format!("{gvk}: {issues}\n"))
                })
                .collect();
            if !found.is_empty() {
                warnings
                    .push(json!({"fieldRef": format!("spec.validations[{i}].{field}"), "warning": found.join("\n")}));
            }
        }
    }
    warnings
}

/// Keep every policy's status.typeChecking current: now, then on every change.
pub async fn serve(store: Store, definitions: Arc<Definitions>) {
    let prefix = crate::watch::resource_prefix("admissionregistration.k8s.io", "validatingadmissionpolicies");
    let cache = store.cache().cache(&prefix);
    let (snapshot, _, mut live) = cache.snapshot_and_watch();
    tokio::spawn(async move {
        let mut pending: Vec<Value> = snapshot
            .values()
            .filter_map(|o| serde_json::from_slice(&o.json).ok())
            .collect();
        loop {
            for policy in pending.drain(..) {
                record(&store, &definitions, &policy).await;
            }
            match live.recv().await {
                Ok(event) => {
                    if let Some(object) = &event.object {
                        if let Ok(policy) = serde_json::from_slice(&object.json) {
                            pending.push(policy);
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    pending = cache
                        .snapshot()
                        .0
                        .values()
                        .filter_map(|o| serde_json::from_slice(&o.json).ok())
                        .collect();
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

/// Write one policy's type checking, unless its status is of its current generation already.
async fn record(store: &Store, definitions: &Definitions, policy: &Value) {
    let generation = policy.pointer("/metadata/generation").cloned().unwrap_or(json!(1));
    if policy.pointer("/status/observedGeneration") == Some(&generation) {
        return;
    }
    let Some(name) = policy.pointer("/metadata/name").and_then(Value::as_str) else {
        return;
    };
    let warnings = check(store, definitions, policy);
    let resources = store.resources();
    let Some(resource) = resources.lookup("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies") else {
        return;
    };
    let scope = Scope {
        resource,
        namespace: None,
    };
    let result = store
        .update_with(scope, name, Some("status"), &WriteOptions::default(), |current| {
            let mut new = current.clone();
            let mut type_checking = json!({});
            if !warnings.is_empty() {
                type_checking["expressionWarnings"] = json!(warnings);
            }
            let observed = current.pointer("/metadata/generation").cloned().unwrap_or(json!(1));
            let mut status = current
                .get("status")
                .cloned()
                .filter(Value::is_object)
                .unwrap_or(json!({}));
            status["observedGeneration"] = observed;
            status["typeChecking"] = type_checking;
            new["status"] = status;
            if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                m.shift_remove("resourceVersion");
            }
            Ok(new)
        })
        .await;
    if let Err(e) = result {
        if e.code != 404 {
            tracing::warn!("type checking ValidatingAdmissionPolicy {name}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn type_errors_against_the_matched_kinds_are_warnings() {
        let server = crate::ApiServer::in_memory().await.unwrap();
        let state = server.state();
        let policy = json!({"metadata": {"name": "p"}, "spec": {
            "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["deployments"]}]},
            "validations": [
                {"expression": "object.spec.replicas <= 5"},
                {"expression": "object.spec.replicas > 'ten'", "messageExpression": "object.spec.replicass + 'x'"}]}});
        let warnings = check(&state.store, &state.definitions, &policy);
        assert_eq!(
            warnings,
            [
                json!({"fieldRef": "spec.validations[1].expression", "warning": "apps/v1, Kind=Deployment: ERROR: <input>:1:22: found no matching overload for '_>_' applied to '(int, string)'\n | object.spec.replicas > 'ten'\n | .....................^\n"}),
                json!({"fieldRef": "spec.validations[1].messageExpression", "warning": "apps/v1, Kind=Deployment: ERROR: <input>:1:12: undefined field 'replicass'\n | object.spec.replicass + 'x'\n | ...........^\n"}),
            ]
        );
    }
}
