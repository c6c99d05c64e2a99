//! Upstream's ResourceQuota admission (a validating plugin: it runs after validation, just before
//! the write). A new object's usage ([`skiff_machinery::quota::usage`]) is charged to every
//! quota of its namespace that covers it: the charge is written into the quota's status.used
//! with a compare-and-swap before the object is stored, so concurrent creates cannot overshoot
//! together (the quota controller later recounts, which also returns what a failed write
//! charged). Exceeding a quota is a 403 with upstream's message, as are compute quotas whose
//! resources a container does not state and quotas the controller has not counted yet.

use crate::registry::store::{Scope, WriteOptions};
use crate::registry::{Resource, Store};
use crate::status::{ApiError, ApiResult, Gr};
use serde_json::Value;
use skiff_machinery::quantity::Quantity;
use skiff_machinery::quota::{covers, missing_compute, pretty, resource_list, usage, Usage};

/// Charge `obj` (about to be created as `resource`) to its namespace's quotas.
pub(crate) async fn charge(
    store: &Store,
    resource: &Resource,
    obj: &Value,
    name: &str,
    dry_run: bool,
) -> ApiResult<()> {
    if !resource.namespaced {
        return Ok(());
    }
    let namespace = obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    let quotas = store.cached_objects("", "resourcequotas", Some(namespace));
    if quotas.is_empty() {
        return Ok(());
    }
    let gr = Gr {
        group: &resource.group,
        resource: &resource.plural,
    };
    let requested = usage(&resource.group, &resource.plural, obj);
    let Some(quota_resource) = store.resources().lookup("", "v1", "resourcequotas").cloned() else {
        return Ok(());
    };
    let mut quotas: Vec<Value> = quotas
        .iter()
        .filter_map(|q| serde_json::from_slice(&q.json).ok())
        .collect();
    quotas.sort_by(|a, b| name_of(a).cmp(name_of(b)));
    for quota in quotas {
        let spec = quota.get("spec").cloned().unwrap_or(Value::Null);
        let hard = resource_list(spec.get("hard"));
        let constrained: Vec<String> = requested.keys().filter(|k| hard.contains_key(*k)).cloned().collect();
        let compute_required = resource.plural == "pods" && resource.group.is_empty();
        if !covers(&spec, &resource.plural, obj) || (constrained.is_empty() && !compute_required) {
            continue;
        }
        let quota_name = name_of(&quota).to_string();
        if compute_required {
            if let Some(missing) = missing_compute(&hard, obj) {
                return Err(ApiError::forbidden(
                    gr,
                    name,
                    &format!("failed quota: {quota_name}: must specify {missing}"),
                ));
            }
        }
        if constrained.is_empty() {
            continue;
        }
        if quota.pointer("/status/hard").is_none() {
            return Err(ApiError::forbidden(
                gr,
                name,
                &format!(
                    "status unknown for quota: {quota_name}, resources: {}",
                    constrained.join(",")
                ),
            ));
        }
        let scope = Scope {
            resource: &quota_resource,
            namespace: Some(namespace),
        };
        let check = |current: &Value| -> ApiResult<Value> {
            let used = resource_list(current.pointer("/status/used"));
            let hard = resource_list(current.pointer("/status/hard"));
            let mut next = used.clone();
            let mut exceeded = Vec::new();
            for key in &constrained {
                let total = used
                    .get(key)
                    .copied()
                    .unwrap_or(Quantity::ZERO)
                    .checked_add(&requested[key])
                    .unwrap_or(requested[key]);
                if hard.get(key).is_some_and(|limit| total > *limit) {
                    exceeded.push(key.clone());
                }
                next.insert(key.clone(), total);
            }
            if !exceeded.is_empty() {
                return Err(ApiError::forbidden(
                    gr,
                    name,
                    &format!(
                        "exceeded quota: {quota_name}, requested: {}, used: {}, limited: {}",
                        pretty(&requested, &exceeded),
                        pretty(&used, &exceeded),
                        pretty(&hard, &exceeded)
                    ),
                ));
            }
            let mut updated = current.clone();
            updated["status"]["used"] = as_json(&next);
            Ok(updated)
        };
        if dry_run {
            check(&quota)?;
            continue;
        }
        store
            .update_with(scope, &quota_name, Some("status"), &WriteOptions::default(), check)
            .await?;
    }
    Ok(())
}

fn name_of(obj: &Value) -> &str {
    obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
}

fn as_json(usage: &Usage) -> Value {
    Value::Object(
        usage
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.to_string())))
            .collect(),
    )
}
