//! The params a binding hands its policy (upstream's CollectParams): none without a paramKind or
//! paramRef, else the object paramRef names or the objects its selector picks — in the request's
//! namespace unless paramRef names one — with parameterNotFoundAction deciding about none.

use crate::registry::selector::LabelSelector;
use crate::registry::store::{ListOptions, Scope};
use crate::registry::{Resource, Store};
use serde_json::Value;
use std::sync::Arc;

/// The resource serving `api_version` `kind`.
pub fn resource_of(store: &Store, api_version: &str, kind: &str) -> Option<Arc<Resource>> {
    store
        .resources()
        .all()
        .find(|r| r.api_version() == api_version && r.kind == kind)
        .cloned()
}

/// The param objects of one binding (`[None]`: validate once without params); `Err` is a
/// configuration error.
pub async fn collect(
    store: &Store,
    param_kind: Option<&(String, String)>,
    param_ref: Option<&Value>,
    request_namespace: &str,
) -> Result<Vec<Option<Value>>, String> {
    let (Some((api_version, kind)), Some(param_ref)) = (param_kind, param_ref) else {
        return Ok(vec![None]);
    };
    let resource = resource_of(store, api_version, kind)
        .ok_or_else(|| format!("paramKind kind `{api_version}, Kind={kind}` not known"))?;
    let given_namespace = param_ref["namespace"].as_str().unwrap_or("");
    let namespace = match (resource.namespaced, given_namespace) {
        (true, "") if request_namespace.is_empty() => {
            return Err("cannot use namespaced paramRef in policy binding that matches cluster-scoped resources".into())
        }
        (true, "") => Some(request_namespace),
        (true, given) => Some(given),
        (false, "") => None,
        (false, _) => return Err("paramRef.namespace must not be provided for a cluster-scoped `paramKind`".into()),
    };
    let scope = Scope {
        resource: &resource,
        namespace,
    };
    let found = match (
        param_ref["name"].as_str().filter(|n| !n.is_empty()),
        param_ref.get("selector"),
    ) {
        (Some(_), Some(s)) if !s.is_null() => {
            return Err("paramRef.name and paramRef.selector are mutually exclusive".into())
        }
        (Some(name), _) => match store.get(scope, name).await {
            Ok(object) => vec![serde_json::from_slice::<Value>(&object.json).map_err(|e| e.to_string())?],
            Err(e) if e.code == 404 => Vec::new(),
            Err(e) => return Err(e.message),
        },
        (None, Some(selector)) if !selector.is_null() => {
            let options = ListOptions {
                labels: LabelSelector::from_structured(selector)?,
                ..ListOptions::default()
            };
            let listed = store.list(scope, &options).await.map_err(|e| e.message)?;
            listed
                .items
                .iter()
                .filter_map(|o| serde_json::from_slice(&o.json).ok())
                .collect()
        }
        _ => return Err("one of name or selector must be provided".into()),
    };
    if found.is_empty() && param_ref["parameterNotFoundAction"].as_str().unwrap_or("Deny") == "Deny" {
        return Err("no params found for policy binding with `Deny` parameterNotFoundAction".into());
    }
    Ok(found.into_iter().map(Some).collect())
}
