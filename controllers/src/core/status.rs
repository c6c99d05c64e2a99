//! Status writes as upstream's controllers make them: `UpdateStatus`, a PUT of the object as the
//! loop last read it with its status changed. The controllers' bootstrap roles grant `update` on
//! the status subresource, not `patch`. A PUT on a stale read is a 409 Conflict; like upstream's
//! ReplicaSet controller, the write is then tried once more on the object read afresh.

use super::api_errors;
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Debug;

/// PUT `object` with `changes` (a JSON merge patch, usually `{"status": {...}}`) applied to it
/// through its status subresource. A conflict is the caller's to handle (the newer object is on
/// its way to the loop's cache).
pub async fn update_status<K>(api: &Api<K>, object: &K, changes: &Value) -> kube::Result<K>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    put(api, object, changes).await
}

/// [`update_status`], and on a conflict once more on the latest object (upstream's ReplicaSet,
/// DaemonSet and StatefulSet controllers, whose status is a count that stays right).
pub async fn update_status_on_latest<K>(api: &Api<K>, object: &K, changes: &Value) -> kube::Result<K>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    match put(api, object, changes).await {
        Err(error) if api_errors::is_conflict(&error) => match api.get(&object.name_any()).await {
            Ok(latest) => put(api, &latest, changes).await,
            Err(_) => Err(error),
        },
        result => result,
    }
}

async fn put<K>(api: &Api<K>, object: &K, changes: &Value) -> kube::Result<K>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    let mut body = serde_json::to_value(object).map_err(kube::Error::SerdeError)?;
    json_patch::merge(&mut body, changes);
    let body: K = serde_json::from_value(body).map_err(kube::Error::SerdeError)?;
    api.replace_status(&object.name_any(), &PostParams::default(), &body)
        .await
}
