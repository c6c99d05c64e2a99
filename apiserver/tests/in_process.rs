//! The in-process control plane driven with kube::Client: create, read, list, watch, update, delete.

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use skiff_apiserver::ApiServer;

fn configmap(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"app": "demo"}},
        "data": {"key": value}
    }))
    .unwrap()
}

#[tokio::test]
async fn configmap_lifecycle_through_kube_client() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = server.client();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<_> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert_eq!(names, vec!["default", "kube-node-lease", "kube-public", "kube-system"]);

    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let created = api
        .create(&PostParams::default(), &configmap("one", "a"))
        .await
        .unwrap();
    let rv: i64 = created.metadata.resource_version.clone().unwrap().parse().unwrap();
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());

    let err = api
        .create(&PostParams::default(), &configmap("one", "a"))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => assert_eq!(
            (s.code, s.reason.as_str(), s.message.as_str()),
            (409, "AlreadyExists", "configmaps \"one\" already exists")
        ),
        other => panic!("{other:?}"),
    }

    let mut watch = api
        .watch(&WatchParams::default(), &rv.to_string())
        .await
        .unwrap()
        .boxed();
    let mut changed = api.get("one").await.unwrap();
    changed.data.as_mut().unwrap().insert("key".into(), "b".into());
    let updated = api.replace("one", &PostParams::default(), &changed).await.unwrap();
    assert!(updated.metadata.resource_version.unwrap().parse::<i64>().unwrap() > rv);
    match watch.next().await.unwrap().unwrap() {
        WatchEvent::Modified(cm) => assert_eq!(cm.data.unwrap()["key"], "b"),
        other => panic!("{other:?}"),
    }

    // A stale resourceVersion is a conflict.
    let err = api.replace("one", &PostParams::default(), &changed).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.reason == "Conflict"),
        "{err:?}"
    );

    api.create(&PostParams::default(), &configmap("two", "c"))
        .await
        .unwrap();
    let page = api.list(&ListParams::default().limit(1)).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let next = api
        .list(
            &ListParams::default()
                .limit(1)
                .continue_token(page.metadata.continue_.as_deref().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(next.items[0].metadata.name.as_deref(), Some("two"));

    api.delete("one", &DeleteParams::default()).await.unwrap();
    match watch.next().await.unwrap().unwrap() {
        WatchEvent::Added(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("two")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(watch.next().await.unwrap().unwrap(), WatchEvent::Deleted(_)));
    let left = api.list(&ListParams::default().labels("app=demo")).await.unwrap();
    assert_eq!(left.items.len(), 1);
}

#[tokio::test]
async fn watch_list_dry_run_and_expired_watches() {
    use kube::runtime::watcher::{self, Event};
    let server = ApiServer::in_memory().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    api.create(&PostParams::default(), &configmap("listed", "x"))
        .await
        .unwrap();

    // Watch-list: initial events stream, then the initial-events-end bookmark ends the init phase.
    let config = watcher::Config::default().streaming_lists().labels("app=demo");
    let mut events = watcher::watcher(api.clone(), config).boxed();
    assert!(matches!(events.next().await.unwrap().unwrap(), Event::Init));
    match events.next().await.unwrap().unwrap() {
        Event::InitApply(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("listed")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(events.next().await.unwrap().unwrap(), Event::InitDone));

    // dryRun=All answers like a create and stores nothing.
    let dry = api
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &configmap("dry", "x"),
        )
        .await
        .unwrap();
    assert_eq!(dry.metadata.name.as_deref(), Some("dry"));
    assert!(matches!(api.get("dry").await, Err(kube::Error::Api(ref s)) if s.code == 404));

    // A watch from a version older than the cache's window ends with a 410 Expired event.
    let start = api.get("listed").await.unwrap().metadata.resource_version.unwrap();
    for i in 0..4100 {
        let mut cm = configmap("listed", &i.to_string());
        cm.metadata.resource_version = None;
        api.replace("listed", &PostParams::default(), &cm).await.unwrap();
    }
    let mut stale = api.watch(&WatchParams::default(), &start).await.unwrap().boxed();
    match stale.next().await.unwrap().unwrap() {
        WatchEvent::Error(e) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("{other:?}"),
    }
}

/// Raw bodies as upstream's encoder writes them: built-in kinds `kind` first (TypeMeta's order),
/// errors too, each body ending with a newline.
#[tokio::test]
async fn built_in_bodies_put_kind_first_and_end_with_a_newline() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = server.client();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &configmap("order", "a"))
        .await
        .unwrap();
    let get = |path: &str| {
        let request = http::Request::get(path).body(Vec::new()).unwrap();
        let client = client.clone();
        async move { client.send(request.map(kube::client::Body::from)).await.unwrap() }
    };
    let body = |response: http::Response<kube::client::Body>| async move {
        use http_body_util::BodyExt;
        String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    };
    let object = body(get("/api/v1/namespaces/default/configmaps/order").await).await;
    assert!(
        object.starts_with(r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"#),
        "{object}"
    );
    assert!(object.ends_with("}\n"), "{object:?}");
    let list = body(get("/api/v1/namespaces/default/configmaps").await).await;
    // Items of a typed list carry no type, as upstream's.
    assert!(
        list.starts_with(r#"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"#),
        "{list}"
    );
    assert!(
        list.contains(r#""items":[{"metadata":{"#) && !list.contains(r#""kind":"ConfigMap","#),
        "{list}"
    );
    let missing = get("/api/v1/namespaces/default/configmaps/none").await;
    assert_eq!(missing.status(), 404);
    let status = body(missing).await;
    assert!(
        status.starts_with(r#"{"kind":"Status","apiVersion":"v1""#) && status.ends_with("}\n"),
        "{status:?}"
    );
}
