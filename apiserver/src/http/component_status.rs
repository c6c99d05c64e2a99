//! componentstatuses (v1 ComponentStatus, deprecated since 1.19 and still served by upstream):
//! nothing is stored; each read reports `scheduler`, `controller-manager` and `etcd-0`. The store
//! answers for etcd-0; a component is healthy while it runs in this process (as the embedding
//! reports through [`Components`]) or while its leader Lease in kube-system is held and fresh (a
//! `skiff controller-manager` elsewhere); otherwise it is unhealthy with the error upstream's
//! probe of its healthz port gives.

use super::ApiState;
use crate::registry::store::Scope;
use crate::status::{ApiError, ApiResult};
use crate::watch::CachedObject;
use bytes::Bytes;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// The components (by ComponentStatus name) that run inside this process.
#[derive(Default)]
pub struct Components(Mutex<BTreeSet<String>>);

impl Components {
    /// Report `name` (`scheduler` or `controller-manager`) as running in this process.
    pub fn running(&self, name: &str) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string());
    }

    fn runs(&self, name: &str) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).contains(name)
    }
}

/// Each component: its name, its leader Lease and the healthz address upstream probes.
const COMPONENTS: [(&str, &str, &str); 2] = [
    ("scheduler", "kube-scheduler", "https://127.0.0.1:10259/healthz"),
    (
        "controller-manager",
        "kube-controller-manager",
        "https://127.0.0.1:10257/healthz",
    ),
];

/// Every ComponentStatus, in upstream's order, as the store would hand them out.
pub async fn list(state: &ApiState) -> ApiResult<Vec<Arc<CachedObject>>> {
    let mut statuses = Vec::new();
    for (name, lease, healthz) in COMPONENTS {
        let healthy = state.components.runs(name) || lease_is_fresh(state, lease).await;
        let error = format!(
            "Get \"{healthz}\": dial tcp {}: connect: connection refused",
            address(healthz)
        );
        statuses.push(component(name, if healthy { Ok(()) } else { Err(error) }));
    }
    let etcd = match state.store.backend_health().await {
        Ok(()) => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    statuses.push(component("etcd-0", etcd));
    Ok(statuses)
}

/// One ComponentStatus by name; 404 as for any resource when there is no such component.
pub async fn get(state: &ApiState, scope: Scope<'_>, name: &str) -> ApiResult<Arc<CachedObject>> {
    list(state)
        .await?
        .into_iter()
        .find(|c| c.key.rsplit('/').next() == Some(name))
        .ok_or_else(|| ApiError::not_found(scope.gr(), name))
}

fn address(url: &str) -> &str {
    url.trim_start_matches("https://").split('/').next().unwrap_or("")
}

fn component(name: &str, health: Result<(), String>) -> Arc<CachedObject> {
    let condition = match health {
        Ok(()) => json!({"type": "Healthy", "status": "True", "message": "ok"}),
        Err(error) => json!({"type": "Healthy", "status": "False", "error": error}),
    };
    let object = json!({
        "kind": "ComponentStatus",
        "apiVersion": "v1",
        "metadata": {"name": name},
        "conditions": [condition],
    });
    Arc::new(CachedObject {
        key: format!("/registry/componentstatuses/{name}").into(),
        json: Bytes::from(serde_json::to_vec(&object).unwrap_or_default()),
        revision: 0,
    })
}

/// Whether kube-system/<lease> has a holder that renewed within its lease duration.
async fn lease_is_fresh(state: &ApiState, lease: &str) -> bool {
    let resources = state.index.snapshot();
    let Some(leases) = resources.lookup("coordination.k8s.io", "v1", "leases") else {
        return false;
    };
    let scope = Scope {
        resource: leases,
        namespace: Some("kube-system"),
    };
    let Ok(stored) = state.store.get(scope, lease).await else {
        return false;
    };
    let Ok(lease) = serde_json::from_slice::<Value>(&stored.json) else {
        return false;
    };
    let held = lease
        .pointer("/spec/holderIdentity")
        .and_then(Value::as_str)
        .is_some_and(|h| !h.is_empty());
    let duration = lease
        .pointer("/spec/leaseDurationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let renewed = lease
        .pointer("/spec/renewTime")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    held && renewed.is_some_and(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds() <= duration)
}
