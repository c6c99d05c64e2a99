//! Pod lifecycle writes of the apiserver with a kube::Client on the in-process server (no
//! scheduler or node agent runs here): pods/binding and graceful deletion, as upstream's pod
//! registry does them.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use kube::core::Status;
use serde_json::json;
use skiff_apiserver::ApiServer;

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap()
}

fn binding(pod: &str, node: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod, "annotations": {"by": "test"}},
           "target": {"apiVersion": "v1", "kind": "Node", "name": node}})
}

fn api_error(err: kube::Error) -> (u16, String, String) {
    match err {
        kube::Error::Api(s) => (s.code, s.reason, s.message),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn binding_assigns_once_and_reports_upstreams_conflicts() {
    let server = ApiServer::in_memory().await.unwrap();
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    pods.create(&PostParams::default(), &pod("p1")).await.unwrap();
    let status: Status = pods
        .create_subresource::<_, Status>("binding", "p1", &PostParams::default(), &binding("p1", "n1"))
        .await
        .unwrap();
    assert_eq!((status.status, status.code), (Some(kube::core::response::StatusSummary::Success), 201));
    let bound = pods.get("p1").await.unwrap();
    assert_eq!(bound.spec.as_ref().unwrap().node_name.as_deref(), Some("n1"));
    assert_eq!(bound.metadata.annotations.unwrap()["by"], "test");
    let conditions = bound.status.unwrap().conditions.unwrap();
    assert!(conditions.iter().any(|c| c.type_ == "PodScheduled" && c.status == "True"), "{conditions:?}");

    let again = pods
        .create_subresource::<_, Status>("binding", "p1", &PostParams::default(), &binding("p1", "n2"))
        .await
        .unwrap_err();
    assert_eq!(
        api_error(again),
        (
            409,
            "Conflict".into(),
            "Operation cannot be fulfilled on pods/binding \"p1\": pod p1 is already assigned to node \"n1\"".into()
        )
    );
    let no_target = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p1"}, "target": {}});
    let invalid = pods
        .create_subresource::<_, Status>("binding", "p1", &PostParams::default(), &no_target)
        .await
        .unwrap_err();
    let (code, reason, message) = api_error(invalid);
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert!(message.contains("target.name: Required value"), "{message}");
    let missing = pods
        .create_subresource::<_, Status>("binding", "ghost", &PostParams::default(), &binding("ghost", "n1"))
        .await
        .unwrap_err();
    assert_eq!(api_error(missing).0, 404);
}

#[tokio::test]
async fn bound_pods_are_deleted_gracefully_and_unbound_ones_at_once() {
    let server = ApiServer::in_memory().await.unwrap();
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    pods.create(&PostParams::default(), &pod("pending")).await.unwrap();
    pods.delete("pending", &DeleteParams::default()).await.unwrap();
    assert!(pods.get_opt("pending").await.unwrap().is_none(), "an unscheduled pod goes at once");

    let mut bound = pod("running");
    bound.spec.as_mut().unwrap().node_name = Some("n1".into());
    bound.spec.as_mut().unwrap().termination_grace_period_seconds = Some(20);
    pods.create(&PostParams::default(), &bound).await.unwrap();
    let deleting = pods.delete("running", &DeleteParams::default()).await.unwrap();
    let deleting = deleting.left().unwrap_or_else(|| panic!("a graceful delete answers with the object"));
    assert_eq!(deleting.metadata.deletion_grace_period_seconds, Some(20));
    assert!(deleting.metadata.deletion_timestamp.is_some());
    // A longer grace is ignored, a shorter one shortens it, and 0 deletes.
    let longer = DeleteParams { grace_period_seconds: Some(60), ..Default::default() };
    let still = pods.delete("running", &longer).await.unwrap().left().unwrap();
    assert_eq!(still.metadata.deletion_grace_period_seconds, Some(20));
    let shorter = DeleteParams { grace_period_seconds: Some(5), ..Default::default() };
    let shortened = pods.delete("running", &shorter).await.unwrap().left().unwrap();
    assert_eq!(shortened.metadata.deletion_grace_period_seconds, Some(5));
    assert!(pods.get_opt("running").await.unwrap().is_some());
    pods.delete("running", &DeleteParams::default().grace_period(0)).await.unwrap();
    assert!(pods.get_opt("running").await.unwrap().is_none());
}
