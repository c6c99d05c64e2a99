//! Upstream's ServiceAccount admission plugin, on pod creation: a pod without
//! `spec.serviceAccountName` runs as `default`; its ServiceAccount must exist (waiting a moment for
//! `default`, which the service-account controller creates with the namespace); unless the pod or
//! the account turns automounting off, every container and init container mounts a projected
//! `kube-api-access-<5 random>` volume (a token for the API audiences, the cluster CA bundle, the
//! namespace) read-only at /var/run/secrets/kubernetes.io/serviceaccount; the account's image pull
//! secrets fill a pod that names none. Mirror pods are left alone, and may not name accounts,
//! secrets or token projections.

use crate::registry::store::object::generate_name;
use crate::registry::Store;
use crate::status::{ApiError, ApiResult, Gr};
use serde_json::{json, Value};
use std::time::Duration;

const DEFAULT_ACCOUNT: &str = "default";
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// The token volume's name prefix and where every container mounts it.
const VOLUME_PREFIX: &str = "kube-api-access-";
const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// How often `default` is looked for before the pod is refused (upstream's: ten tries).
const DEFAULT_ATTEMPTS: u32 = 10;
const RETRY_INTERVAL: Duration = Duration::from_millis(150);
const PODS: Gr<'static> = Gr {
    group: "",
    resource: "pods",
};

/// Admit a pod being created in `namespace`; `name` is the name errors carry.
pub(super) async fn admit_pod(store: &Store, pod: &mut Value, namespace: &str, name: &str) -> ApiResult<()> {
    if pod
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|a| a.contains_key(MIRROR_ANNOTATION))
    {
        return validate_mirror(pod, name);
    }
    let Some(spec) = pod.get_mut("spec").filter(|s| s.is_object()) else {
        return Ok(());
    };
    let account_name = match spec.get("serviceAccountName").and_then(Value::as_str) {
        Some(account) if !account.is_empty() => account.to_string(),
        _ => DEFAULT_ACCOUNT.to_string(),
    };
    spec["serviceAccountName"] = json!(account_name);
    spec["serviceAccount"] = json!(account_name);
    let Some(account) = service_account(store, namespace, &account_name).await else {
        return Err(ApiError::forbidden(
            PODS,
            name,
            &format!(
                "error looking up service account {namespace}/{account_name}: serviceaccount \"{account_name}\" not found"
            ),
        ));
    };
    if automounts(spec, &account) {
        mount_token(spec);
    }
    let pull_secrets = spec
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if pull_secrets == 0 {
        let inherited: Vec<Value> = account
            .get("imagePullSecrets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|s| json!({"name": s.get("name").cloned().unwrap_or(json!(""))}))
            .collect();
        if !inherited.is_empty() {
            spec["imagePullSecrets"] = Value::Array(inherited);
        }
    }
    Ok(())
}

/// The ServiceAccount from the watch cache; `default` is waited for a little, since the
/// service-account controller creates it right after its namespace.
async fn service_account(store: &Store, namespace: &str, name: &str) -> Option<Value> {
    let attempts = if name == DEFAULT_ACCOUNT { DEFAULT_ATTEMPTS } else { 1 };
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(RETRY_INTERVAL).await;
        }
        store.cache().wait_fresh().await;
        if let Some(found) = store.cached_object("", "serviceaccounts", Some(namespace), name) {
            return serde_json::from_slice(&found.json).ok();
        }
    }
    None
}

/// The pod's automountServiceAccountToken, else the account's, else true.
fn automounts(spec: &Value, account: &Value) -> bool {
    spec.get("automountServiceAccountToken")
        .or_else(|| account.get("automountServiceAccountToken"))
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

/// Mount the token volume in every (init) container that has nothing at the mount path, adding
/// the volume unless one named `kube-api-access-...` is already there.
fn mount_token(spec: &mut Value) {
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .find(|n| n.starts_with(VOLUME_PREFIX))
        .map(str::to_string);
    let volume_name = existing.clone().unwrap_or_else(|| generate_name(VOLUME_PREFIX));
    let mount = json!({"name": volume_name, "readOnly": true, "mountPath": MOUNT_PATH});
    let mut mounted = false;
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in containers.iter_mut().filter(|c| c.is_object()) {
            let mounts = container
                .as_object_mut()
                .map(|c| c.entry("volumeMounts").or_insert_with(|| json!([])));
            let Some(Value::Array(mounts)) = mounts else {
                continue;
            };
            if !mounts
                .iter()
                .any(|m| m.get("mountPath").and_then(Value::as_str) == Some(MOUNT_PATH))
            {
                mounts.push(mount.clone());
                mounted = true;
            }
        }
    }
    if mounted && existing.is_none() {
        let volume = json!({"name": volume_name, "projected": token_volume_source()});
        match spec.get_mut("volumes").and_then(Value::as_array_mut) {
            Some(volumes) => volumes.push(volume),
            None => spec["volumes"] = json!([volume]),
        }
    }
}

/// Upstream's TokenVolumeSource, with the defaults it spells out.
fn token_volume_source() -> Value {
    json!({
        "defaultMode": 420,
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{
                "path": "namespace",
                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
            }]}},
        ],
    })
}

/// Mirror pods (the kubelet's copies of static pods) may not use ServiceAccounts or secrets.
fn validate_mirror(pod: &Value, name: &str) -> ApiResult<()> {
    let spec = pod.get("spec").cloned().unwrap_or(Value::Null);
    let forbidden = |why: &str| Err(ApiError::forbidden(PODS, name, why));
    if spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
    {
        return forbidden("a mirror pod may not reference service accounts");
    }
    let volumes: Vec<&Value> = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    if !spec
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
        || volumes.iter().any(|v| v.get("secret").is_some())
    {
        return forbidden("a mirror pod may not reference secrets");
    }
    let projects_token = volumes
        .iter()
        .filter_map(|v| v.pointer("/projected/sources").and_then(Value::as_array))
        .flatten()
        .any(|s| s.get("serviceAccountToken").is_some());
    if projects_token {
        return forbidden("a mirror pod may not use ServiceAccountToken volume projections");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_container_mounts_one_projected_token_volume() {
        let mut spec = json!({
            "initContainers": [{"name": "init"}],
            "containers": [
                {"name": "a", "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                {"name": "b", "volumeMounts": [{"name": "mine", "mountPath": MOUNT_PATH}]},
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        });
        mount_token(&mut spec);
        let volume = &spec["volumes"][1];
        let name = volume["name"].as_str().unwrap();
        assert!(name.starts_with("kube-api-access-") && name.len() == "kube-api-access-".len() + 5);
        assert_eq!(volume["projected"], token_volume_source());
        let mount = json!({"name": name, "readOnly": true, "mountPath": MOUNT_PATH});
        assert_eq!(spec["initContainers"][0]["volumeMounts"], json!([mount]));
        assert_eq!(spec["containers"][0]["volumeMounts"][1], mount);
        assert_eq!(spec["containers"][1]["volumeMounts"].as_array().unwrap().len(), 1);
        let before = spec.clone();
        mount_token(&mut spec);
        assert_eq!(spec, before, "an existing token volume is reused");
    }

    #[test]
    fn the_pod_overrides_the_account_on_automount() {
        let off = json!({"automountServiceAccountToken": false});
        let on = json!({"automountServiceAccountToken": true});
        assert!(automounts(&json!({}), &json!({})));
        assert!(!automounts(&json!({}), &off));
        assert!(automounts(&on, &off));
        assert!(!automounts(&off, &on));
    }

    #[test]
    fn mirror_pods_may_not_use_accounts_or_secrets() {
        let mirror = |spec: Value| json!({"metadata": {"annotations": {MIRROR_ANNOTATION: "x"}}, "spec": spec});
        assert!(validate_mirror(&mirror(json!({"containers": []})), "m").is_ok());
        let named = validate_mirror(&mirror(json!({"serviceAccountName": "default"})), "m");
        assert_eq!(
            named.unwrap_err().message,
            "pods \"m\" is forbidden: a mirror pod may not reference service accounts"
        );
        let secret = validate_mirror(&mirror(json!({"volumes": [{"name": "s", "secret": {}}]})), "m");
        assert!(secret
            .unwrap_err()
            .message
            .ends_with("a mirror pod may not reference secrets"));
        let token = json!({"volumes": [{"name": "t", "projected": token_volume_source()}]});
        assert!(validate_mirror(&mirror(token), "m")
            .unwrap_err()
            .message
            .ends_with("a mirror pod may not use ServiceAccountToken volume projections"));
    }
}
