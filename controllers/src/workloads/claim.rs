//! Adopting and releasing dependents by label selector (upstream's ControllerRefManager:
//! ClaimPods, ClaimReplicaSets). A controller owns the objects whose controller reference names
//! it; an orphan its selector matches is adopted (unless the owner is being deleted, the orphan
//! is being deleted or lives in another namespace, or a fresh read shows the owner gone or
//! deleting); an owned object its selector no longer matches is released.

use crate::core::informers::Kind;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use std::sync::Arc;

/// A namespaced shared kind (everything the workload loops own and adopt).
pub trait Namespaced: Kind + Resource<Scope = NamespaceResourceScope> {}
impl<K: Kind + Resource<Scope = NamespaceResourceScope>> Namespaced for K {}

/// Why claiming failed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("{0}")]
    CannotAdopt(String),
}

/// What to do with one candidate.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Ours and matching.
    Keep,
    /// Not ours, and not to be adopted.
    Skip,
    /// An orphan to adopt.
    Adopt,
    /// Ours but no longer matching.
    Release,
}

/// Upstream's ClaimObject decision for `child` of an owner with `owner_uid` (in `owner_namespace`,
/// being deleted or not), given whether the selector `matches` the child.
pub fn decide<C: Kind>(
    child: &C,
    owner_uid: &str,
    owner_namespace: &str,
    owner_deleting: bool,
    matches: bool,
) -> Decision {
    match super::pods::controller_of(child.meta()) {
        Some(r) if r.uid != owner_uid => Decision::Skip,
        Some(_) if matches => Decision::Keep,
        Some(_) if owner_deleting => Decision::Skip,
        Some(_) => Decision::Release,
        None if owner_deleting || !matches => Decision::Skip,
        None if child.meta().deletion_timestamp.is_some() => Decision::Skip,
        None if !owner_namespace.is_empty() && child.namespace().as_deref() != Some(owner_namespace) => Decision::Skip,
        None => Decision::Adopt,
    }
}

/// Claims dependents of kind `C` for one owner `O`.
pub struct Claimer<'a, O: Namespaced> {
    pub client: &'a Client,
    pub owner: &'a O,
    /// The controller reference adopted objects get.
    pub owner_ref: OwnerReference,
    pub selector: &'a LabelSelector,
}

impl<O: Namespaced> Claimer<'_, O> {
    /// The candidates this owner ends up controlling, after adopting and releasing.
    pub async fn claim<C: Namespaced>(&self, candidates: Vec<Arc<C>>) -> Result<Vec<Arc<C>>, ClaimError> {
        let owner_uid = self.owner.uid().unwrap_or_default();
        let owner_namespace = self.owner.namespace().unwrap_or_default();
        let deleting = self.owner.meta().deletion_timestamp.is_some();
        let mut claimed = Vec::with_capacity(candidates.len());
        let mut first_error = None;
        let mut recheck: Option<Result<(), String>> = None;
        for child in candidates {
            let labels = child.labels().clone();
            let matches = skiff_machinery::labels::matches(Some(self.selector), &labels);
            match decide(child.as_ref(), &owner_uid, &owner_namespace, deleting, matches) {
                Decision::Keep => claimed.push(child),
                Decision::Skip => {}
                Decision::Release => {
                    if let Err(error) = self.release(child.as_ref()).await {
                        first_error.get_or_insert(ClaimError::Api(error));
                    }
                }
                Decision::Adopt => {
                    if recheck.is_none() {
                        recheck = Some(self.can_adopt().await);
                    }
                    if let Some(Err(why)) = &recheck {
                        first_error.get_or_insert(ClaimError::CannotAdopt(format!(
                            "can't adopt {} {}/{} ({}): {why}",
                            C::kind(&()),
                            child.namespace().unwrap_or_default(),
                            child.name_any(),
                            child.uid().unwrap_or_default()
                        )));
                        continue;
                    }
                    match self.adopt(child.as_ref()).await {
                        Ok(Some(adopted)) => claimed.push(Arc::new(adopted)),
                        Ok(None) => {}
                        Err(error) => {
                            first_error.get_or_insert(ClaimError::Api(error));
                        }
                    }
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(claimed),
        }
    }

    /// A fresh read of the owner: adoption waits until it is known to be there and not deleting
    /// (upstream's RecheckDeletionTimestamp).
    async fn can_adopt(&self) -> Result<(), String> {
        let namespace = self.owner.namespace().unwrap_or_default();
        let api: Api<O> = Api::namespaced(self.client.clone(), &namespace);
        let name = self.owner.name_any();
        let kind = O::kind(&());
        let fresh = api.get(&name).await.map_err(|e| e.to_string())?;
        let (got, wanted) = (fresh.uid().unwrap_or_default(), self.owner.uid().unwrap_or_default());
        if got != wanted {
            return Err(format!(
                "original {kind} {namespace}/{name} is gone: got uid {got}, wanted {wanted}"
            ));
        }
        if let Some(at) = &fresh.meta().deletion_timestamp {
            return Err(format!("{namespace}/{name} has just been deleted at {}", at.0));
        }
        Ok(())
    }

    async fn adopt<C: Namespaced>(&self, child: &C) -> Result<Option<C>, kube::Error> {
        let patch = json!({"metadata": {"ownerReferences": [self.owner_ref], "uid": child.uid()}});
        self.patch(child, patch).await
    }

    async fn release<C: Namespaced>(&self, child: &C) -> Result<Option<C>, kube::Error> {
        let patch = json!({"metadata": {
            "ownerReferences": [{"$patch": "delete", "uid": self.owner_ref.uid}],
            "uid": child.uid(),
        }});
        self.patch(child, patch).await
    }

    /// A strategic merge patch of `child`; `None` when it is gone already.
    async fn patch<C: Namespaced>(&self, child: &C, patch: serde_json::Value) -> Result<Option<C>, kube::Error> {
        let api: Api<C> = Api::namespaced(self.client.clone(), &child.namespace().unwrap_or_default());
        match api
            .patch(&child.name_any(), &PatchParams::default(), &Patch::Strategic(&patch))
            .await
        {
            Ok(patched) => Ok(Some(patched)),
            Err(error) if crate::core::api_errors::is_not_found(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn pod(owner: Option<&str>, namespace: &str) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some("p".into());
        pod.metadata.namespace = Some(namespace.into());
        pod.metadata.owner_references = owner.map(|uid| {
            vec![OwnerReference {
                uid: uid.into(),
                controller: Some(true),
                ..Default::default()
            }]
        });
        pod
    }

    #[test]
    fn decisions_follow_claim_object() {
        use Decision::*;
        assert_eq!(decide(&pod(Some("me"), "ns"), "me", "ns", false, true), Keep);
        assert_eq!(decide(&pod(Some("me"), "ns"), "me", "ns", false, false), Release);
        assert_eq!(decide(&pod(Some("me"), "ns"), "me", "ns", true, false), Skip);
        assert_eq!(decide(&pod(Some("other"), "ns"), "me", "ns", false, true), Skip);
        assert_eq!(decide(&pod(None, "ns"), "me", "ns", false, true), Adopt);
        assert_eq!(decide(&pod(None, "ns"), "me", "ns", false, false), Skip);
        assert_eq!(decide(&pod(None, "ns"), "me", "ns", true, true), Skip);
        assert_eq!(decide(&pod(None, "elsewhere"), "me", "ns", false, true), Skip);
        let mut deleting = pod(None, "ns");
        deleting.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
        assert_eq!(decide(&deleting, "me", "ns", false, true), Skip);
    }
}
