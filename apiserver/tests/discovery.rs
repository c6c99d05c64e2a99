//! Aggregated discovery carries upstream's ETag: a client holding the current ETag gets 304 Not
//! Modified, and establishing a CRD changes the ETag.

use http::{header, Request, StatusCode};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::Client;
use skiff_apiserver::ApiServer;

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// `GET /apis` for aggregated discovery: status, ETag and body.
async fn discover(client: &Client, etag: Option<&str>) -> (StatusCode, String, Vec<u8>) {
    let mut request = Request::get("/apis").header(header::ACCEPT, AGGREGATED);
    if let Some(etag) = etag {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    let response = client
        .send(request.body(kube::client::Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let etag = response.headers()[header::ETAG].to_str().unwrap().to_string();
    assert_eq!(response.headers()[header::VARY], "Accept");
    let body = response.into_body().collect_bytes().await.unwrap().to_vec();
    (status, etag, body)
}

#[tokio::test]
async fn aggregated_discovery_etag_follows_the_served_resources() {
    let server = ApiServer::in_memory().await.unwrap();
    let client = server.client();
    let (status, etag, body) = discover(&client, None).await;
    assert_eq!(status, StatusCode::OK);
    // Upstream quotes the upper-case hex SHA-512 of the document.
    let digest = ring::digest::digest(&ring::digest::SHA512, &body);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(etag, format!("\"{hex}\""));
    assert!(!body.is_empty());

    let (status, again, body) = discover(&client, Some(&etag)).await;
    assert_eq!(
        (status, again.as_str(), body.len()),
        (StatusCode::NOT_MODIFIED, etag.as_str(), 0)
    );

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    }))
    .unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();
    await_condition(crds, "widgets.example.com", conditions::is_crd_established())
        .await
        .unwrap();

    let (status, changed, body) = discover(&client, Some(&etag)).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(changed, etag);
    assert!(String::from_utf8(body).unwrap().contains("\"widgets\""));
}
