//! The namespace lifecycle controller: once a Namespace has a deletionTimestamp it is Terminating;
//! delete everything in it, report progress in status.conditions, and when nothing is left remove
//! the "kubernetes" finalizer through the `finalize` subresource so the apiserver can delete it.

mod conditions;
mod content;

use crate::core::api_errors;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::runtime::controller::Action;
use kube::{Client, ResourceExt};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// The finalizer this controller owns in `spec.finalizers`.
const FINALIZER: &str = "kubernetes";
const TERMINATING: &str = "Terminating";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("building the finalize request: {0}")]
    Request(#[from] kube::core::request::Error),
    #[error("encoding the finalize request: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("deleting the content of namespace {namespace}: {}", errors.join("; "))]
    Content { namespace: String, errors: Vec<String> },
}

/// Run the namespace controller until its watch stream ends.
pub async fn run(client: Client) {
    crate::core::object_loop::run("namespace", client, |ns: Arc<Namespace>, client| async move {
        if ns.metadata.deletion_timestamp.is_none() {
            // Not being deleted as far as the cache knows; the update that starts deletion wakes us.
            return Ok(Action::await_change());
        }
        sync(&ns.name_any(), &client).await
    })
    .await;
}

/// One pass over the namespace called `name`, from its latest state.
async fn sync(name: &str, client: &Client) -> Result<Action, Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let Some(mut ns) = api.get_opt(name).await? else {
        return Ok(Action::await_change());
    };
    let Some(deleted_at) = ns.metadata.deletion_timestamp.clone() else {
        return Ok(Action::await_change());
    };

    if ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some(TERMINATING) {
        ns.status.get_or_insert_default().phase = Some(TERMINATING.to_string());
        ns = match api.replace_status(name, &PostParams::default(), &ns).await {
            Ok(updated) => updated,
            Err(e) if api_errors::is_not_found(&e) => return Ok(Action::await_change()),
            Err(e) => return Err(e.into()),
        };
    }
    if finalizers(&ns).is_empty() {
        return Ok(Action::await_change());
    }

    let report = content::delete_all(client, name, deleted_at.0).await;
    let mut status = ns.status.clone().unwrap_or_default();
    let mut current = status.conditions.take().unwrap_or_default();
    if conditions::apply(&mut current, &report, &Time(Timestamp::now())) {
        status.conditions = Some(current);
        ns.status = Some(status);
        match api.replace_status(name, &PostParams::default(), &ns).await {
            Ok(updated) => ns = updated,
            Err(e) => tracing::warn!(namespace = name, error = %e, "could not update the namespace's conditions"),
        }
    }
    if report.failed() {
        let errors = report.discovery_error.into_iter().chain(report.errors).collect();
        return Err(Error::Content {
            namespace: name.to_string(),
            errors,
        });
    }
    if report.estimate_seconds > 0 {
        return Ok(Action::requeue(Duration::from_secs(report.estimate_seconds)));
    }
    if finalizers(&ns).contains(FINALIZER) {
        match finalize(client, &ns).await {
            Err(Error::Api(e)) if api_errors::is_not_found(&e) => {}
            other => other?,
        }
    }
    Ok(Action::await_change())
}

fn finalizers(ns: &Namespace) -> BTreeSet<String> {
    ns.spec
        .as_ref()
        .and_then(|s| s.finalizers.clone())
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// PUT /api/v1/namespaces/{name}/finalize with our finalizer removed from spec.finalizers.
async fn finalize(client: &Client, ns: &Namespace) -> Result<(), Error> {
    let mut body = ns.clone();
    let mut remaining = finalizers(ns);
    remaining.remove(FINALIZER);
    body.spec.get_or_insert_default().finalizers = Some(remaining.into_iter().collect());
    let request = kube::core::Request::new("/api/v1/namespaces").replace_subresource(
        "finalize",
        &ns.name_any(),
        &PostParams::default(),
        serde_json::to_vec(&body)?,
    )?;
    client.request::<Namespace>(request).await?;
    Ok(())
}
