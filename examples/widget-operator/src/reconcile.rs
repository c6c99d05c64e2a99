//! The Widget reconciler: keeps a finalizer on each Widget, publishes its spec in an owned ConfigMap,
//! reports progress in the status subresource, and deletes the ConfigMap before letting a Widget go.

use crate::widget::{Widget, WidgetStatus};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{self, finalizer};
use kube::{Client, Resource, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The finalizer the operator keeps on every Widget until its ConfigMap is gone.
pub const FINALIZER: &str = "example.skiff.dev/cleanup";
/// The field manager and event reporter name.
pub const MANAGER: &str = "widget-operator";
/// The label marking ConfigMaps the operator manages.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// What every reconcile shares.
pub struct Context {
    client: Client,
    recorder: Recorder,
}

impl Context {
    pub fn new(client: Client) -> Context {
        let reporter = Reporter {
            controller: MANAGER.to_string(),
            instance: None,
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
        }
    }
}

/// Why a reconcile failed; the controller retries after [`error_policy`]'s delay.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("widget {0} has no namespace or uid")]
    Unplaced(String),
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Finalizer(Box<finalizer::Error<Error>>),
}

/// Reconcile one Widget through the finalizer helper: apply while it lives, clean up when deleted.
pub async fn reconcile(widget: Arc<Widget>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = widget.namespace().ok_or_else(|| Error::Unplaced(widget.name_any()))?;
    let widgets: Api<Widget> = Api::namespaced(ctx.client.clone(), &namespace);
    finalizer(&widgets, FINALIZER, widget, |event| async {
        match event {
            finalizer::Event::Apply(widget) => apply(&widget, &widgets, &ctx).await,
            finalizer::Event::Cleanup(widget) => cleanup(&widget, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

/// Retry a failed reconcile soon: failures here are conflicts and restarts, not bad specs.
pub fn error_policy(widget: Arc<Widget>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(widget = %widget.name_any(), %error, "reconcile failed");
    Action::requeue(Duration::from_secs(1))
}

/// Bring the ConfigMap and the status in line with the spec.
async fn apply(widget: &Widget, widgets: &Api<Widget>, ctx: &Context) -> Result<Action, Error> {
    let config_map = desired_config_map(widget).ok_or_else(|| Error::Unplaced(widget.name_any()))?;
    let namespace = config_map.metadata.namespace.clone().unwrap_or_default();
    let config_maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = config_map.name_any();
    config_maps
        .patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&config_map))
        .await?;
    let status = next_status(widget, &name, Timestamp::now());
    if widget.status.as_ref() != Some(&status) {
        let patch = serde_json::json!({ "status": status });
        widgets
            .patch_status(&widget.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        let note = format!(
            "ConfigMap {name} holds generation {}",
            widget.meta().generation.unwrap_or(0)
        );
        publish(ctx, widget, "Synced", note).await;
    }
    Ok(Action::requeue(Duration::from_secs(300)))
}

/// Delete the Widget's ConfigMap (gone already is fine), so the finalizer can be removed.
async fn cleanup(widget: &Widget, ctx: &Context) -> Result<Action, Error> {
    let namespace = widget.namespace().unwrap_or_default();
    let config_maps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    let name = config_map_name(widget);
    match config_maps.delete(&name, &DeleteParams::default()).await {
        Ok(_) => publish(ctx, widget, "Cleaned", format!("deleted ConfigMap {name}")).await,
        Err(kube::Error::Api(status)) if status.is_not_found() => {}
        Err(error) => return Err(error.into()),
    }
    Ok(Action::await_change())
}

/// Record an event on the Widget; a failed event is logged, never fatal.
async fn publish(ctx: &Context, widget: &Widget, reason: &str, note: String) {
    let event = Event {
        type_: EventType::Normal,
        reason: reason.to_string(),
        note: Some(note),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(error) = ctx.recorder.publish(&event, &widget.object_ref(&())).await {
        tracing::warn!(widget = %widget.name_any(), %error, "publishing an event failed");
    }
}

/// The ConfigMap a Widget owns.
pub fn config_map_name(widget: &Widget) -> String {
    format!("{}-widget", widget.name_any())
}

/// The ConfigMap the spec asks for, owned (as controller) by the Widget; `None` before it has a uid.
pub fn desired_config_map(widget: &Widget) -> Option<ConfigMap> {
    let owner = widget.controller_owner_ref(&())?;
    let spec = &widget.spec;
    let repeated = vec![spec.message.as_str(); usize::try_from(spec.repeat).unwrap_or(0)];
    Some(ConfigMap {
        metadata: ObjectMeta {
            name: Some(config_map_name(widget)),
            namespace: widget.namespace(),
            labels: Some(BTreeMap::from([(MANAGED_BY.to_string(), MANAGER.to_string())])),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        data: Some(BTreeMap::from([
            ("message".to_string(), spec.message.clone()),
            ("text".to_string(), repeated.join(" ")),
        ])),
        ..Default::default()
    })
}

/// The status after a successful sync at `now`; the Ready condition keeps its transition time if it was
/// already True.
pub fn next_status(widget: &Widget, config_map: &str, now: Timestamp) -> WidgetStatus {
    let generation = widget.meta().generation;
    let previous = widget
        .status
        .iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == "Ready" && c.status == "True");
    let ready = Condition {
        type_: "Ready".to_string(),
        status: "True".to_string(),
        reason: "ConfigMapSynced".to_string(),
        message: format!("ConfigMap {config_map} matches the spec"),
        observed_generation: generation,
        last_transition_time: previous.map_or(Time(now), |c| c.last_transition_time.clone()),
    };
    WidgetStatus {
        phase: Some("Ready".to_string()),
        observed_generation: generation,
        config_map: Some(config_map.to_string()),
        conditions: vec![ready],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::widget::WidgetSpec;

    fn widget(generation: i64) -> Widget {
        let mut widget = Widget::new(
            "w",
            WidgetSpec {
                message: "hi".into(),
                repeat: 3,
            },
        );
        widget.metadata.namespace = Some("ns".into());
        widget.metadata.uid = Some("uid-1".into());
        widget.metadata.generation = Some(generation);
        widget
    }

    #[test]
    fn the_config_map_is_controlled_by_the_widget_and_carries_the_spec() {
        let cm = desired_config_map(&widget(1)).unwrap();
        assert_eq!(cm.metadata.name.as_deref(), Some("w-widget"));
        assert_eq!(cm.metadata.namespace.as_deref(), Some("ns"));
        let owner = &cm.metadata.owner_references.unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("Widget", "w", "uid-1")
        );
        assert_eq!(owner.api_version, "example.skiff.dev/v1");
        assert_eq!(owner.controller, Some(true));
        let data = cm.data.unwrap();
        assert_eq!(data["message"], "hi");
        assert_eq!(data["text"], "hi hi hi");
    }

    #[test]
    fn no_config_map_before_the_widget_has_a_uid() {
        let mut w = widget(1);
        w.metadata.uid = None;
        assert!(desired_config_map(&w).is_none());
    }

    #[test]
    fn status_follows_the_generation_and_keeps_the_transition_time() {
        let t1: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t2: Timestamp = "2026-01-02T00:00:00Z".parse().unwrap();
        let mut w = widget(1);
        let first = next_status(&w, "w-widget", t1);
        assert_eq!(first.phase.as_deref(), Some("Ready"));
        assert_eq!(first.observed_generation, Some(1));
        assert_eq!(first.conditions[0].last_transition_time, Time(t1));
        w.status = Some(first);
        w.metadata.generation = Some(2);
        let second = next_status(&w, "w-widget", t2);
        assert_eq!(second.observed_generation, Some(2));
        assert_eq!(second.conditions[0].observed_generation, Some(2));
        assert_eq!(second.conditions[0].last_transition_time, Time(t1));
    }

    #[test]
    fn an_unchanged_widget_needs_no_status_patch() {
        let mut w = widget(4);
        w.status = Some(next_status(&w, "w-widget", Timestamp::now()));
        assert_eq!(w.status, Some(next_status(&w, "w-widget", Timestamp::now())));
    }
}
