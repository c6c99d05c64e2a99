//! An example operator written the way kube-rs users write them: Widgets (a CRD derived from a Rust type)
//! each get a ConfigMap they own, a status, and a finalizer that deletes the ConfigMap first.

pub mod reconcile;
pub mod widget;

pub use widget::{Widget, WidgetSpec, WidgetStatus};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::{watcher, Controller};
use kube::{Api, Client};
use std::sync::Arc;

/// Reconcile Widgets in every namespace until the watches end (or the future is dropped).
pub async fn run(client: Client) {
    let widgets: Api<Widget> = Api::all(client.clone());
    let config_maps: Api<ConfigMap> = Api::all(client.clone());
    let managed = format!("{}={}", reconcile::MANAGED_BY, reconcile::MANAGER);
    Controller::new(widgets, watcher::Config::default())
        .owns(config_maps, watcher::Config::default().labels(&managed))
        .run(
            reconcile::reconcile,
            reconcile::error_policy,
            Arc::new(reconcile::Context::new(client)),
        )
        .for_each(|outcome| async move {
            match outcome {
                Ok((widget, _)) => tracing::info!(widget = %widget, "reconciled"),
                Err(error) => tracing::warn!(%error, "reconcile error"),
            }
        })
        .await;
}
