//! The built-in loops against the in-process apiserver, observed only through kube::Client:
//! namespaces get their default ServiceAccount and root CA ConfigMap, and deleting a namespace
//! empties it and removes it.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions, Condition};
use kube::{Client, ResourceExt};
use skiff_apiserver::ApiServer;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

const PEM: &str = "PEM";

/// An apiserver with the controllers running against it.
async fn cluster() -> anyhow::Result<(ApiServer, Client)> {
    let server = ApiServer::in_memory().await?;
    let client = server.client();
    tokio::spawn(skiff_controllers::run(
        skiff_controllers::core::credentials::single(client.clone()),
        skiff_controllers::Options {
            root_ca_pem: PEM.into(),
            ..Default::default()
        },
    ));
    Ok((server, client))
}

async fn within<T>(what: &str, seconds: u64, fut: impl Future<Output = T>) -> anyhow::Result<T> {
    tokio::time::timeout(Duration::from_secs(seconds), fut)
        .await
        .map_err(|_| anyhow::anyhow!("timed out waiting for {what}"))
}

async fn create_namespace(client: &Client, name: &str) -> anyhow::Result<Namespace> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Ok(Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?)
}

fn exists<K>() -> impl Condition<K> {
    |obj: Option<&K>| obj.is_some()
}

fn published(obj: Option<&ConfigMap>) -> bool {
    obj.and_then(|cm| cm.data.as_ref())
        .and_then(|d| d.get("ca.crt"))
        .is_some_and(|pem| pem == PEM)
}

#[tokio::test]
async fn namespaces_get_a_default_service_account_and_the_root_ca() -> anyhow::Result<()> {
    let (_server, client) = cluster().await?;
    create_namespace(&client, "team-a").await?;
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "team-a");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    within(
        "the default serviceaccount",
        30,
        await_condition(sas.clone(), "default", exists()),
    )
    .await??;
    let cm = within(
        "the root CA configmap",
        30,
        await_condition(cms.clone(), "kube-root-ca.crt", published),
    )
    .await??
    .ok_or_else(|| anyhow::anyhow!("no configmap"))?;
    assert!(cm
        .annotations()
        .get("kubernetes.io/description")
        .is_some_and(|d| d.contains("kube-apiserver")));

    // The system namespaces are served too.
    let kube_system: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    within(
        "kube-system's root CA",
        30,
        await_condition(kube_system, "kube-root-ca.crt", published),
    )
    .await??;

    // Deleted or tampered with, both come back.
    let uid = sas.get("default").await?.uid().unwrap_or_default();
    sas.delete("default", &DeleteParams::default()).await?;
    let recreated = move |obj: Option<&ServiceAccount>| obj.is_some_and(|sa| sa.uid().as_deref() != Some(&uid));
    within(
        "the recreated serviceaccount",
        30,
        await_condition(sas, "default", recreated),
    )
    .await??;

    let tamper = serde_json::json!({"data": {"ca.crt": "forged"}});
    cms.patch("kube-root-ca.crt", &PatchParams::default(), &Patch::Merge(&tamper))
        .await?;
    within(
        "the restored bundle",
        30,
        await_condition(cms.clone(), "kube-root-ca.crt", published),
    )
    .await??;
    cms.delete("kube-root-ca.crt", &DeleteParams::default()).await?;
    within(
        "the republished configmap",
        30,
        await_condition(cms, "kube-root-ca.crt", published),
    )
    .await??;
    Ok(())
}

#[tokio::test]
async fn deleting_a_namespace_removes_its_content_then_the_namespace() -> anyhow::Result<()> {
    let (_server, client) = cluster().await?;
    let ns = create_namespace(&client, "doomed").await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    within(
        "the root CA configmap",
        30,
        await_condition(cms.clone(), "kube-root-ca.crt", published),
    )
    .await??;
    let data = ConfigMap {
        metadata: ObjectMeta {
            name: Some("settings".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".to_string(), "v".to_string())])),
        ..Default::default()
    };
    let settings = cms.create(&PostParams::default(), &data).await?;

    namespaces.delete("doomed", &DeleteParams::default()).await?;
    let ns_uid = ns.uid().unwrap_or_default();
    let cm_uid = settings.uid().unwrap_or_default();
    within(
        "the configmap's deletion",
        30,
        await_condition(cms.clone(), "settings", conditions::is_deleted(&cm_uid)),
    )
    .await??;
    within(
        "the namespace's deletion",
        30,
        await_condition(namespaces, "doomed", conditions::is_deleted(&ns_uid)),
    )
    .await??;
    assert!(cms
        .list(&Default::default())
        .await
        .map(|l| l.items.is_empty())
        .unwrap_or(true));
    Ok(())
}

#[tokio::test]
async fn a_namespace_waits_for_finalizers_on_its_content() -> anyhow::Result<()> {
    let (_server, client) = cluster().await?;
    let ns = create_namespace(&client, "held").await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "held");
    let held = ConfigMap {
        metadata: ObjectMeta {
            name: Some("held".into()),
            finalizers: Some(vec!["example.com/hold".into()]),
            ..Default::default()
        },
        ..Default::default()
    };
    cms.create(&PostParams::default(), &held).await?;
    namespaces.delete("held", &DeleteParams::default()).await?;

    let waiting = |obj: Option<&Namespace>| {
        let status = obj.and_then(|ns| ns.status.as_ref());
        let condition = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "NamespaceFinalizersRemaining"));
        status.and_then(|s| s.phase.as_deref()) == Some("Terminating")
            && condition.is_some_and(|c| {
                c.status == "True"
                    && c.reason.as_deref() == Some("SomeFinalizersRemain")
                    && c.message.as_deref()
                        == Some("Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
            })
    };
    let terminating = within(
        "the finalizers condition",
        30,
        await_condition(namespaces.clone(), "held", waiting),
    )
    .await??
    .ok_or_else(|| anyhow::anyhow!("namespace gone too early"))?;
    let remaining = terminating
        .status
        .and_then(|s| s.conditions)
        .and_then(|c| c.into_iter().find(|c| c.type_ == "NamespaceContentRemaining"))
        .and_then(|c| c.message);
    assert_eq!(
        remaining.as_deref(),
        Some("Some resources are remaining: configmaps. has 1 resource instances")
    );
    assert!(cms.get("held").await?.metadata.deletion_timestamp.is_some());

    let release = serde_json::json!({"metadata": {"finalizers": null}});
    cms.patch("held", &PatchParams::default(), &Patch::Merge(&release))
        .await?;
    let uid = ns.uid().unwrap_or_default();
    within(
        "the namespace's deletion",
        40,
        await_condition(namespaces, "held", conditions::is_deleted(&uid)),
    )
    .await??;
    Ok(())
}
