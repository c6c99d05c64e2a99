//! Plain HTTPS calls to skiff's Kubernetes API through `kube::Client`, returning raw bodies.

use crate::objects::NAMESPACE;
use anyhow::Context;
use http::{header::CONTENT_TYPE, Request};

/// Path of the bench namespace's ConfigMap collection.
pub fn configmaps_path() -> String {
    format!("/api/v1/namespaces/{NAMESPACE}/configmaps")
}

/// GET `path`; the response body.
pub async fn get(client: &kube::Client, path: &str) -> anyhow::Result<String> {
    let request = Request::get(path).body(Vec::new())?;
    client
        .request_text(request)
        .await
        .with_context(|| format!("GET {path}"))
}

/// POST a JSON `body` to `path`; the response body.
pub async fn post(client: &kube::Client, path: &str, body: Vec<u8>) -> anyhow::Result<String> {
    let request = Request::post(path)
        .header(CONTENT_TYPE, "application/json")
        .body(body)?;
    client
        .request_text(request)
        .await
        .with_context(|| format!("POST {path}"))
}

/// Apply a JSON merge patch to `path`; the response body.
pub async fn merge_patch(client: &kube::Client, path: &str, body: Vec<u8>) -> anyhow::Result<String> {
    let request = Request::patch(path)
        .header(CONTENT_TYPE, "application/merge-patch+json")
        .body(body)?;
    client
        .request_text(request)
        .await
        .with_context(|| format!("PATCH {path}"))
}

/// Create the bench namespace.
pub async fn create_namespace(client: &kube::Client) -> anyhow::Result<()> {
    let body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    post(client, "/api/v1/namespaces", body.to_string().into_bytes()).await?;
    Ok(())
}

/// Create the ConfigMap `name` from [`crate::objects::configmap_bytes`]; the stored object's JSON length.
pub async fn create_configmap(client: kube::Client, name: String) -> anyhow::Result<usize> {
    let created = post(&client, &configmaps_path(), crate::objects::configmap_bytes(&name)).await?;
    Ok(created.len())
}

/// The resourceVersion of the bench namespace's ConfigMap list.
pub async fn list_revision(client: &kube::Client) -> anyhow::Result<String> {
    let body = get(client, &format!("{}?limit=1", configmaps_path())).await?;
    let list: serde_json::Value = serde_json::from_str(&body)?;
    list["metadata"]["resourceVersion"]
        .as_str()
        .map(str::to_string)
        .context("list without metadata.resourceVersion")
}
