//! Creating and deleting a controller's pods as upstream's PodControl with slowStartBatch:
//! creations in batches of 1, 2, 4, … that stop at the first batch with a failure, deletions in
//! parallel; each write noted in the owner's expectations and recorded as upstream's
//! SuccessfulCreate / FailedCreate / SuccessfulDelete / FailedDelete events. Failures come back
//! as the first API message.

use crate::core::api_errors;
use crate::core::expectations::Expectations;
use crate::workloads::events::{api_message, Recorder};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use std::sync::Arc;

/// The pod writes of one owner.
pub struct PodControl<'a, O: Resource<DynamicType = ()>> {
    pub client: &'a Client,
    pub owner: &'a O,
    pub expectations: &'a Expectations<Pod>,
    pub recorder: &'a Recorder,
}

impl<O: Resource<DynamicType = ()>> PodControl<'_, O> {
    fn api(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.owner.namespace().unwrap_or_default())
    }

    /// Create `pods` in slow-start batches; stop at the first batch with a failure.
    pub async fn create(&self, pods: Vec<Pod>) -> Result<(), String> {
        let api = self.api();
        let uid = self.owner.uid().unwrap_or_default();
        let mut remaining = pods.into_iter();
        let mut batch = 1;
        loop {
            let now: Vec<Pod> = remaining.by_ref().take(batch).collect();
            if now.is_empty() {
                return Ok(());
            }
            let params = PostParams::default();
            let results = futures::future::join_all(now.iter().map(|pod| api.create(&params, pod))).await;
            let mut failure = None;
            for result in results {
                match result {
                    Ok(created) => {
                        self.expectations.created(&uid, &created);
                        self.recorder.normal(
                            self.owner,
                            "SuccessfulCreate",
                            format!("Created pod: {}", created.name_any()),
                        );
                    }
                    // Creations in a namespace being deleted fail, and that is fine.
                    Err(error) if api_errors::is_namespace_terminating(&error) => {}
                    Err(error) => {
                        let message = api_message(&error);
                        self.recorder
                            .warning(self.owner, "FailedCreate", format!("Error creating: {message}"));
                        failure.get_or_insert(message);
                    }
                }
            }
            if let Some(message) = failure {
                return Err(message);
            }
            batch *= 2;
        }
    }

    /// Delete `doomed` in parallel; pods already gone are fine.
    pub async fn delete(&self, doomed: &[Arc<Pod>]) -> Result<(), String> {
        let api = self.api();
        let uid = self.owner.uid().unwrap_or_default();
        let results = futures::future::join_all(doomed.iter().map(|pod| {
            let api = &api;
            async move { (pod, api.delete(&pod.name_any(), &DeleteParams::default()).await) }
        }))
        .await;
        let mut failure = None;
        for (pod, result) in results {
            match result {
                Ok(_) => {
                    self.expectations.deleted(&uid, pod.as_ref());
                    self.recorder.normal(
                        self.owner,
                        "SuccessfulDelete",
                        format!("Deleted pod: {}", pod.name_any()),
                    );
                }
                Err(error) if api_errors::is_not_found(&error) => {}
                Err(error) => {
                    let message = api_message(&error);
                    self.recorder
                        .warning(self.owner, "FailedDelete", format!("Error deleting: {message}"));
                    failure.get_or_insert(message);
                }
            }
        }
        failure.map_or(Ok(()), Err)
    }
}
