//! Bad input gets upstream's metav1.Status and changes nothing: sent over real HTTPS to the real
//! binary with a kube::Client built from the kubeconfig it wrote.

use crate::common::Skiff;
use http_body_util::BodyExt;
use serde_json::{json, Value};

struct Raw {
    client: kube::Client,
}

impl Raw {
    async fn new(skiff: &Skiff) -> Raw {
        let config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&skiff.kubeconfig).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
        Raw {
            client: kube::Client::try_from(config).unwrap(),
        }
    }

    async fn send(&self, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .body(kube::client::Body::from(body))
            .unwrap();
        let response = self.client.send(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn revision(&self) -> String {
        let (_, list) = self
            .send(
                "GET",
                "/api/v1/namespaces/default/configmaps",
                "application/json",
                vec![],
            )
            .await;
        list["metadata"]["resourceVersion"].as_str().unwrap().to_string()
    }
}

fn assert_status(got: &(u16, Value), code: u16, reason: &str, message: &str) {
    let (status, body) = got;
    assert_eq!(*status, code, "{body}");
    assert_eq!(body["kind"], "Status", "{body}");
    assert_eq!(body["status"], "Failure");
    assert_eq!(body["code"], code);
    assert_eq!(body["reason"], reason, "{body}");
    assert!(body["message"].as_str().unwrap().contains(message), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_answer_status_and_write_nothing() {
    let skiff = Skiff::start();
    let raw = Raw::new(&skiff).await;
    let cms = "/api/v1/namespaces/default/configmaps";
    let (code, _) = raw
        .send(
            "POST",
            cms,
            "application/json",
            json!({"metadata": {"name": "base"}}).to_string().into_bytes(),
        )
        .await;
    assert_eq!(code, 201);
    // The root-CA publisher writes into the namespace at startup; let it finish first, so the
    // revision below moves only if a rejected request wrote something.
    let configmaps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(raw.client.clone(), "default");
    let published = |cm: Option<&k8s_openapi::api::core::v1::ConfigMap>| cm.is_some();
    kube::runtime::wait::await_condition(configmaps, "kube-root-ca.crt", published)
        .await
        .unwrap();
    let before = raw.revision().await;

    assert_status(
        &raw.send("POST", cms, "application/json", b"{not json".to_vec()).await,
        400,
        "BadRequest",
        "json",
    );
    assert_status(
        &raw.send("POST", cms, "application/yaml", b"a: [unclosed".to_vec())
            .await,
        400,
        "BadRequest",
        "yaml",
    );
    let huge = json!({"metadata": {"name": "huge"}, "data": {"k": "x".repeat(3 * 1024 * 1024 + 10)}});
    assert_status(
        &raw.send("POST", cms, "application/json", huge.to_string().into_bytes())
            .await,
        413,
        "RequestEntityTooLarge",
        "limit is 3145728",
    );
    assert_status(
        &raw.send(
            "POST",
            cms,
            "application/json",
            json!({"metadata": {"name": "Bad_Name"}}).to_string().into_bytes(),
        )
        .await,
        422,
        "Invalid",
        "metadata.name: Invalid value: \"Bad_Name\"",
    );
    assert_status(
        &raw.send(
            "POST",
            cms,
            "application/json",
            json!({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
                .to_string()
                .into_bytes(),
        )
        .await,
        400,
        "BadRequest",
        "does not match the expected API version",
    );
    assert_status(
        &raw.send(
            "POST",
            cms,
            "application/json",
            json!({"metadata": {"name": "base"}}).to_string().into_bytes(),
        )
        .await,
        409,
        "AlreadyExists",
        "configmaps \"base\" already exists",
    );
    assert_status(
        &raw.send(
            "PUT",
            &format!("{cms}/base"),
            "application/json",
            json!({"metadata": {"name": "base", "resourceVersion": "1"}})
                .to_string()
                .into_bytes(),
        )
        .await,
        409,
        "Conflict",
        "the object has been modified",
    );
    assert_status(
        &raw.send("GET", "/api/v1/namespaces/default/widgets", "application/json", vec![])
            .await,
        404,
        "NotFound",
        "the server could not find the requested resource",
    );
    assert_status(
        &raw.send(
            "POST",
            "/api/v1/namespaces/missing/configmaps",
            "application/json",
            json!({"metadata": {"name": "x"}}).to_string().into_bytes(),
        )
        .await,
        404,
        "NotFound",
        "namespaces \"missing\" not found",
    );
    assert_status(
        &raw.send("POST", cms, "application/cbor", vec![0xa0]).await,
        415,
        "UnsupportedMediaType",
        "",
    );
    assert_status(
        &raw.send(
            "POST",
            &format!("{cms}?fieldValidation=Strict"),
            "application/json",
            json!({"metadata": {"name": "strict"}, "bogus": 1})
                .to_string()
                .into_bytes(),
        )
        .await,
        400,
        "BadRequest",
        "strict decoding error: unknown field \"bogus\"",
    );

    assert_eq!(raw.revision().await, before, "a rejected request changed the store");
    let (_, list) = raw.send("GET", cms, "application/json", vec![]).await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["base", "kube-root-ca.crt"]);

    // No credentials at all: system:anonymous, which upstream's bootstrap policy lets read
    // /version and the health endpoints and nothing else (not even discovery).
    let mut config = kube::Config::new(format!("https://{}", skiff.kubeconfig_server()).parse().unwrap());
    config.accept_invalid_certs = true;
    let anonymous = kube::Client::try_from(config).unwrap();
    anonymous.apiserver_version().await.expect("anonymous /version");
    let err = anonymous.list_api_groups().await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 403
            && s.reason == "Forbidden"
            && s.message == r#"forbidden: User "system:anonymous" cannot get path "/apis""#),
        "{err:?}"
    );
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(anonymous, "default");
    let err = pods.list(&Default::default()).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 403
            && s.message == r#"pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default""#),
        "{err:?}"
    );
}
