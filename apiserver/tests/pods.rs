//! The pod registry with a kube::Client on the in-process server (no scheduler or node agent
//! runs here): pods/binding, graceful deletion, pods/eviction with PodDisruptionBudgets, the
//! Priority and DefaultTolerationSeconds admission plugins, and kubelet connections on nodes
//! without a kubelet.

use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, DeleteParams, EvictParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use kube::core::Status;
use serde_json::json;
use skiff_apiserver::ApiServer;

/// An apiserver alone, with the `default` ServiceAccount the ServiceAccount admission plugin
/// wants (the service-account controller, which is not running here, makes it in a cluster).
async fn server() -> ApiServer {
    let server = ApiServer::in_memory().await.unwrap();
    let accounts: Api<ServiceAccount> = Api::namespaced(server.client(), "default");
    let account = ServiceAccount {
        metadata: kube::api::ObjectMeta {
            name: Some("default".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    accounts.create(&PostParams::default(), &account).await.unwrap();
    server
}

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
    let server = server().await;
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    pods.create(&PostParams::default(), &pod("p1")).await.unwrap();
    let status: Status = pods
        .create_subresource::<_, Status>("binding", "p1", &PostParams::default(), &binding("p1", "n1"))
        .await
        .unwrap();
    assert_eq!(
        (status.status, status.code),
        (Some(kube::core::response::StatusSummary::Success), 201)
    );
    let bound = pods.get("p1").await.unwrap();
    assert_eq!(bound.spec.as_ref().unwrap().node_name.as_deref(), Some("n1"));
    assert_eq!(bound.metadata.annotations.unwrap()["by"], "test");
    let conditions = bound.status.unwrap().conditions.unwrap();
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "PodScheduled" && c.status == "True"),
        "{conditions:?}"
    );

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
    // Upstream answers ValidatePodBinding's errors untyped: 500, no reason.
    let no_target = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p1"}, "target": {}});
    let invalid = pods
        .create_subresource::<_, Status>("binding", "p1", &PostParams::default(), &no_target)
        .await
        .unwrap_err();
    assert_eq!(
        api_error(invalid),
        (500, String::new(), "target.name: Required value".into())
    );
    let renamed = pods
        .create_subresource::<_, Status>("binding", "p1", &PostParams::default(), &binding("p2", "n1"))
        .await
        .unwrap_err();
    assert_eq!(
        api_error(renamed),
        (
            400,
            "BadRequest".into(),
            "name in URL does not match name in Binding object".into()
        )
    );
    let missing = pods
        .create_subresource::<_, Status>("binding", "ghost", &PostParams::default(), &binding("ghost", "n1"))
        .await
        .unwrap_err();
    assert_eq!(api_error(missing).0, 404);
}

#[tokio::test]
async fn bound_pods_are_deleted_gracefully_and_unbound_ones_at_once() {
    let server = server().await;
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    pods.create(&PostParams::default(), &pod("pending")).await.unwrap();
    pods.delete("pending", &DeleteParams::default()).await.unwrap();
    assert!(
        pods.get_opt("pending").await.unwrap().is_none(),
        "an unscheduled pod goes at once"
    );

    let mut bound = pod("running");
    bound.spec.as_mut().unwrap().node_name = Some("n1".into());
    bound.spec.as_mut().unwrap().termination_grace_period_seconds = Some(20);
    pods.create(&PostParams::default(), &bound).await.unwrap();
    let deleting = pods.delete("running", &DeleteParams::default()).await.unwrap();
    let deleting = deleting
        .left()
        .unwrap_or_else(|| panic!("a graceful delete answers with the object"));
    assert_eq!(deleting.metadata.deletion_grace_period_seconds, Some(20));
    assert!(deleting.metadata.deletion_timestamp.is_some());
    // A longer grace is ignored, a shorter one shortens it, and 0 deletes.
    let longer = DeleteParams {
        grace_period_seconds: Some(60),
        ..Default::default()
    };
    let still = pods.delete("running", &longer).await.unwrap().left().unwrap();
    assert_eq!(still.metadata.deletion_grace_period_seconds, Some(20));
    let shorter = DeleteParams {
        grace_period_seconds: Some(5),
        ..Default::default()
    };
    let shortened = pods.delete("running", &shorter).await.unwrap().left().unwrap();
    assert_eq!(shortened.metadata.deletion_grace_period_seconds, Some(5));
    assert!(pods.get_opt("running").await.unwrap().is_some());
    pods.delete("running", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    assert!(pods.get_opt("running").await.unwrap().is_none());
}

#[tokio::test]
async fn the_bindings_resource_binds_the_pod_its_body_names_with_preconditions() {
    let server = server().await;
    let client = server.client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let created = pods.create(&PostParams::default(), &pod("p1")).await.unwrap();
    let request = |body: serde_json::Value| {
        http::Request::post("/api/v1/namespaces/default/bindings")
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).unwrap())
            .unwrap()
    };
    let mut stale = binding("p1", "n1");
    stale["metadata"]["uid"] = json!("not-the-uid");
    let err = client.request::<Status>(request(stale)).await.unwrap_err();
    let (code, _, message) = api_error(err);
    assert_eq!(code, 409);
    assert!(
        message.contains("Precondition failed: UID in precondition: not-the-uid"),
        "{message}"
    );
    let mut exact = binding("p1", "n1");
    exact["metadata"]["uid"] = json!(created.metadata.uid.clone().unwrap());
    let status = client.request::<Status>(request(exact)).await.unwrap();
    assert_eq!(status.code, 201);
    let bound = pods.get("p1").await.unwrap();
    assert_eq!(bound.spec.unwrap().node_name.as_deref(), Some("n1"));
    // A binding is not a spec update: the pod's generation stays.
    assert_eq!(bound.metadata.generation, created.metadata.generation);
}

/// A pod bound to n1 with these labels.
fn bound(name: &str, labels: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap()
}

/// Create a pod bound to n1 and make it Running (Ready or not) through pods/status.
async fn start(pods: &Api<Pod>, name: &str, labels: serde_json::Value, ready: bool) {
    pods.create(&PostParams::default(), &bound(name, labels)).await.unwrap();
    let status = json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": if ready { "True" } else { "False" }}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

async fn budget(client: &kube::Client, name: &str, app: &str, status: serde_json::Value) {
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    let pdb = serde_json::from_value(json!({"metadata": {"name": name},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": app}}}}))
    .unwrap();
    pdbs.create(&PostParams::default(), &pdb).await.unwrap();
    pdbs.patch_status(name, &PatchParams::default(), &Patch::Merge(&json!({"status": status})))
        .await
        .unwrap();
}

#[tokio::test]
async fn evictions_follow_the_disruption_budget() {
    let server = server().await;
    let client = server.client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    // kube-rs's `evict` sends `delete_options` (a field upstream ignores), so bodies go raw.
    let evict = |name: &'static str, grace: Option<i64>| {
        let pods = pods.clone();
        async move {
            let mut body = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}});
            if let Some(grace) = grace {
                body["deleteOptions"] = json!({"gracePeriodSeconds": grace});
            }
            pods.create_subresource::<_, Status>("eviction", name, &PostParams::default(), &body)
                .await
        }
    };

    // No budget: the pod is deleted (with the eviction's deleteOptions).
    start(&pods, "free", json!({"app": "free"}), true).await;
    let status = evict("free", Some(0)).await.unwrap();
    assert_eq!(status.code, 201);
    assert!(pods.get_opt("free").await.unwrap().is_none());

    // A budget allowing none: 429 with upstream's cause, and the pod stays.
    start(&pods, "web-1", json!({"app": "web"}), true).await;
    budget(&client, "web", "web", json!({"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1})).await;
    let err = evict("web-1", Some(0)).await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!((status.code, status.reason.as_str()), (429, "TooManyRequests"));
    assert_eq!(
        status.message,
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    let cause = &status.details.unwrap().causes[0];
    assert_eq!(
        (cause.reason.as_str(), cause.message.as_str()),
        (
            "DisruptionBudget",
            "The disruption budget web needs 1 healthy pods and has 1 currently"
        )
    );
    assert!(pods.get_opt("web-1").await.unwrap().is_some());

    // A budget allowing one: taken (recorded in the budget), the pod marked and deleted
    // gracefully.
    start(&pods, "api-1", json!({"app": "api"}), true).await;
    budget(&client, "api", "api", json!({"observedGeneration": 1, "disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2})).await;
    pods.evict("api-1", &EvictParams::default()).await.unwrap();
    let evicted = pods.get("api-1").await.unwrap();
    assert_eq!(evicted.metadata.deletion_grace_period_seconds, Some(30));
    let conditions = evicted.status.unwrap().conditions.unwrap();
    let target = conditions
        .iter()
        .find(|c| c.type_ == "DisruptionTarget")
        .expect("DisruptionTarget");
    assert_eq!(
        (
            target.status.as_str(),
            target.reason.as_deref(),
            target.message.as_deref()
        ),
        ("True", Some("EvictionByEvictionAPI"), Some("Eviction API: evicting"))
    );
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    let taken = pdbs.get("api").await.unwrap().status.unwrap();
    assert_eq!(taken.disruptions_allowed, 0);
    assert!(taken.disrupted_pods.unwrap().contains_key("api-1"));

    // An unready pod of a budget that is satisfied goes without taking a disruption.
    start(&pods, "web-2", json!({"app": "web"}), false).await;
    evict("web-2", Some(0)).await.unwrap();
    assert!(pods.get_opt("web-2").await.unwrap().is_none());

    // Two budgets: upstream's 500.
    start(&pods, "both", json!({"app": "web", "tier": "x"}), true).await;
    budget(
        &client,
        "tier",
        "web",
        json!({"observedGeneration": 1, "disruptionsAllowed": 5}),
    )
    .await;
    let err = evict("both", Some(0)).await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!(status.code, 500);
    assert_eq!(
        status.message,
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    );

    // A Pending pod needs no budget.
    let mut pending = bound("queued", json!({"app": "web"}));
    pending.spec.as_mut().unwrap().node_name = None;
    pods.create(&PostParams::default(), &pending).await.unwrap();
    pods.evict("queued", &EvictParams::default()).await.unwrap();
    assert!(pods.get_opt("queued").await.unwrap().is_none());

    // The body must name the pod of the URL.
    let wrong = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "other"}});
    let err = pods
        .create_subresource::<_, Status>("eviction", "web-1", &PostParams::default(), &wrong)
        .await
        .unwrap_err();
    assert_eq!(
        api_error(err),
        (
            400,
            "BadRequest".into(),
            "name in URL does not match name in Eviction object".into()
        )
    );
}

#[tokio::test]
async fn priority_admission_and_default_tolerations() {
    let server = server().await;
    let client = server.client();
    let classes: Api<PriorityClass> = Api::all(client.clone());
    let names: Vec<String> = classes
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| format!("{}={}", c.metadata.name.unwrap(), c.value))
        .collect();
    assert_eq!(
        names,
        ["system-cluster-critical=2000000000", "system-node-critical=2000001000"]
    );
    let err = classes
        .delete("system-node-critical", &DeleteParams::default())
        .await
        .unwrap_err();
    assert_eq!(
        api_error(err).2,
        "priorityclasses.scheduling.k8s.io \"system-node-critical\" is forbidden: this is a system priority class and cannot be deleted"
    );

    let class = |name: &str, value: i64, default: bool| -> PriorityClass {
        serde_json::from_value(
            json!({"metadata": {"name": name}, "value": value, "globalDefault": default, "preemptionPolicy": "Never"}),
        )
        .unwrap()
    };
    classes
        .create(&PostParams::default(), &class("high", 1000, false))
        .await
        .unwrap();
    classes
        .create(&PostParams::default(), &class("low", 10, true))
        .await
        .unwrap();
    let err = classes
        .create(&PostParams::default(), &class("other", 5, true))
        .await
        .unwrap_err();
    assert_eq!(
        api_error(err),
        (
            403,
            "Forbidden".into(),
            "priorityclasses.scheduling.k8s.io \"other\" is forbidden: PriorityClass low is already marked as default. Only one default can exist".into()
        )
    );

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut high = pod("high");
    high.spec.as_mut().unwrap().priority_class_name = Some("high".into());
    let created = pods.create(&PostParams::default(), &high).await.unwrap().spec.unwrap();
    assert_eq!(
        (created.priority, created.preemption_policy.as_deref()),
        (Some(1000), Some("Never"))
    );
    let defaulted = pods
        .create(&PostParams::default(), &pod("plain"))
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(
        (defaulted.priority_class_name.as_deref(), defaulted.priority),
        (Some("low"), Some(10))
    );
    let tolerations: Vec<String> = defaulted
        .tolerations
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}:{}:{}",
                t.key.as_deref().unwrap(),
                t.effect.as_deref().unwrap(),
                t.toleration_seconds.unwrap()
            )
        })
        .collect();
    assert_eq!(
        tolerations,
        [
            "node.kubernetes.io/not-ready:NoExecute:300",
            "node.kubernetes.io/unreachable:NoExecute:300"
        ]
    );

    let mut missing = pod("missing");
    missing.spec.as_mut().unwrap().priority_class_name = Some("nope".into());
    let err = pods.create(&PostParams::default(), &missing).await.unwrap_err();
    assert_eq!(
        api_error(err),
        (
            403,
            "Forbidden".into(),
            "pods \"missing\" is forbidden: no PriorityClass with name nope was found".into()
        )
    );
    let mut disagrees = pod("disagrees");
    disagrees.spec.as_mut().unwrap().priority_class_name = Some("high".into());
    disagrees.spec.as_mut().unwrap().priority = Some(7);
    let err = pods.create(&PostParams::default(), &disagrees).await.unwrap_err();
    assert_eq!(
        api_error(err).2,
        "pods \"disagrees\" is forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name"
    );
    // An update that leaves out the priority keeps it.
    let mut replaced = pods.get("high").await.unwrap();
    replaced.spec.as_mut().unwrap().priority = None;
    replaced.spec.as_mut().unwrap().containers[0].image = Some("busybox:2".into());
    let updated = pods.replace("high", &PostParams::default(), &replaced).await.unwrap();
    assert_eq!(updated.spec.unwrap().priority, Some(1000));
}

#[tokio::test]
async fn kubelet_connections_fail_promptly_without_a_kubelet() {
    let server = server().await;
    let client = server.client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("unscheduled")).await.unwrap();
    let logs = |name: &'static str, container: Option<&'static str>| {
        let pods = pods.clone();
        async move {
            let params = LogParams {
                container: container.map(str::to_string),
                ..Default::default()
            };
            api_error(pods.logs(name, &params).await.unwrap_err())
        }
    };
    assert_eq!(
        logs("unscheduled", None).await,
        (
            400,
            "BadRequest".into(),
            "pod unscheduled does not have a host assigned".into()
        )
    );
    assert_eq!(
        logs("unscheduled", Some("nope")).await,
        (
            400,
            "BadRequest".into(),
            "container nope is not valid for pod unscheduled".into()
        )
    );
    let mut on_ghost = pod("on-ghost");
    on_ghost.spec.as_mut().unwrap().node_name = Some("ghost".into());
    pods.create(&PostParams::default(), &on_ghost).await.unwrap();
    assert_eq!(
        logs("on-ghost", None).await,
        (404, "NotFound".into(), "nodes \"ghost\" not found".into())
    );

    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    nodes
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "sim"}})).unwrap(),
        )
        .await
        .unwrap();
    let mut on_sim = pod("on-sim");
    on_sim.spec.as_mut().unwrap().node_name = Some("sim".into());
    pods.create(&PostParams::default(), &on_sim).await.unwrap();
    let (code, _, message) = logs("on-sim", None).await;
    assert_eq!(code, 400);
    assert!(
        message.starts_with("error dialing backend: node \"sim\" is simulated and serves no container logs"),
        "{message}"
    );
    let exec = http::Request::post("/api/v1/namespaces/default/pods/on-sim/exec?command=ls&stdout=true")
        .body(Vec::new())
        .unwrap();
    let (code, _, message) = api_error(client.request::<Status>(exec).await.unwrap_err());
    assert_eq!(code, 400);
    assert!(message.contains("serves no exec"), "{message}");
}
