//! The conversion webhook client: where `spec.conversion.webhook.clientConfig` points (a URL, or a
//! Service resolved to a ready endpoint of its EndpointSlices, so it works without kube-proxy),
//! HTTPS verified against the caBundle, and one JSON POST with a timeout.

use crate::watch::WatchCache;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Upstream's conversion webhook timeout (its client appends it to the URL as `?timeout=30s`).
const TIMEOUT: Duration = Duration::from_secs(30);

/// A CRD's conversion webhook.
pub struct Webhook {
    target: Target,
    tls: tokio_rustls::TlsConnector,
    /// The watch cache, for Services and EndpointSlices.
    cache: Option<Arc<WatchCache>>,
}

enum Target {
    /// `https://host[:port]/path`.
    Url { host: String, port: u16, path: String },
    Service {
        namespace: String,
        name: String,
        port: u16,
        path: String,
    },
}

/// Where one request goes: the address to dial, the TLS name and the URL it stands for.
struct Endpoint {
    dial: String,
    server_name: String,
    url: String,
    path: String,
}

impl Webhook {
    /// The client for a CRD's `spec.conversion.webhook`; `Err` says what is wrong with it.
    pub fn new(webhook: &Value, cache: Option<Arc<WatchCache>>) -> Result<Self, String> {
        let config = &webhook["clientConfig"];
        let target = if let Some(url) = config["url"].as_str() {
            let uri: http::Uri = url.parse().map_err(|e| format!("invalid webhook url {url:?}: {e}"))?;
            if uri.scheme_str() != Some("https") {
                return Err(format!("webhook url {url:?} is not https"));
            }
            Target::Url {
                host: uri.host().unwrap_or("").trim_matches(['[', ']']).to_string(),
                port: uri.port_u16().unwrap_or(443),
                path: uri.path().to_string(),
            }
        } else if let Some(service) = config["service"].as_object() {
            let text = |k: &str| service.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            Target::Service {
                namespace: text("namespace"),
                name: text("name"),
                port: service.get("port").and_then(Value::as_u64).unwrap_or(443) as u16,
                path: service.get("path").and_then(Value::as_str).unwrap_or("/").to_string(),
            }
        } else {
            return Err("webhook clientConfig has neither url nor service".into());
        };
        Ok(Webhook {
            target,
            tls: connector(config["caBundle"].as_str().unwrap_or(""))?,
            cache,
        })
    }

    /// POST `review` and return the decoded answer; `Err` is upstream-style text
    /// (`Post "<url>": <why>`).
    pub async fn post(&self, review: &Value) -> Result<Value, String> {
        let endpoint = self.endpoint()?;
        let failed = |why: String| format!("Post \"{}\": {why}", endpoint.url);
        let body = serde_json::to_vec(review).map_err(|e| failed(e.to_string()))?;
        match tokio::time::timeout(TIMEOUT, self.exchange(&endpoint, body)).await {
            Ok(result) => result.map_err(failed),
            Err(_) => Err(failed(
                "context deadline exceeded (Client.Timeout exceeded while awaiting headers)".into(),
            )),
        }
    }

    async fn exchange(&self, endpoint: &Endpoint, body: Vec<u8>) -> Result<Value, String> {
        let tcp = tokio::net::TcpStream::connect(&endpoint.dial)
            .await
            .map_err(|e| format!("dial tcp {}: connect: {}", endpoint.dial, io_text(&e)))?;
        let name = ServerName::try_from(endpoint.server_name.clone()).map_err(|e| e.to_string())?;
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| format!("tls: failed to verify certificate: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let request = http::Request::post(format!("{}?timeout=30s", endpoint.path))
            .header(http::header::HOST, &endpoint.server_name)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if !status.is_success() {
            return Err(format!(
                "the server responded with status {}: {}",
                status.as_u16(),
                String::from_utf8_lossy(&bytes).trim()
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("invalid ConversionReview response: {e}"))
    }

    fn endpoint(&self) -> Result<Endpoint, String> {
        match &self.target {
            Target::Url { host, port, path } => {
                let dial = if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                Ok(Endpoint {
                    url: format!("https://{dial}{path}?timeout=30s"),
                    dial,
                    server_name: host.clone(),
                    path: path.clone(),
                })
            }
            Target::Service {
                namespace,
                name,
                port,
                path,
            } => {
                let server_name = format!("{name}.{namespace}.svc");
                let dial = self
                    .cache
                    .as_ref()
                    .ok_or_else(|| "service resolution is not available".to_string())
                    .and_then(|cache| resolve(cache, namespace, name, *port))?;
                Ok(Endpoint {
                    url: format!("https://{server_name}:{port}{path}?timeout=30s"),
                    dial,
                    server_name,
                    path: path.clone(),
                })
            }
        }
    }
}

/// Go's wording of the common connection errors.
fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        _ => e.to_string(),
    }
}

/// A TLS connector trusting exactly the CA bundle (base64 of PEM certificates).
fn connector(ca_bundle: &str) -> Result<tokio_rustls::TlsConnector, String> {
    let pem = base64::engine::general_purpose::STANDARD
        .decode(ca_bundle.trim())
        .map_err(|e| format!("caBundle is not base64: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("caBundle: {e}"))?;
        roots.add(cert).map_err(|e| format!("caBundle: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// `host:port` of a ready endpoint of Service `namespace/name` serving its port `port`.
fn resolve(cache: &WatchCache, namespace: &str, name: &str, port: u16) -> Result<String, String> {
    let parse = |o: &crate::watch::CachedObject| serde_json::from_slice::<Value>(&o.json).ok();
    let services = cache.cache(&crate::watch::resource_prefix("", "services"));
    let service = services
        .get(&format!("/registry/core/services/{namespace}/{name}"))
        .and_then(|o| parse(&o))
        .ok_or_else(|| format!("service \"{name}\" not found"))?;
    let slices_prefix = crate::watch::resource_prefix("discovery.k8s.io", "endpointslices");
    let in_namespace = format!("{slices_prefix}{namespace}/");
    let (snapshot, _) = cache.cache(&slices_prefix).snapshot();
    let slices: Vec<Value> = snapshot
        .range::<_, str>((
            std::ops::Bound::Included(in_namespace.as_str()),
            std::ops::Bound::Unbounded,
        ))
        .take_while(|(k, _)| k.starts_with(&in_namespace))
        .filter_map(|(_, o)| parse(o))
        .filter(|s| {
            s.pointer("/metadata/labels/kubernetes.io~1service-name")
                .and_then(Value::as_str)
                == Some(name)
        })
        .collect();
    pick_endpoint(&service, &slices, port)
}

/// The first ready address (and the port behind the Service's `port`) among `slices`.
fn pick_endpoint(service: &Value, slices: &[Value], port: u16) -> Result<String, String> {
    let name = service.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let service_port = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|p| p["port"].as_u64() == Some(u64::from(port)))
        .ok_or_else(|| format!("no service port {port} found for service \"{name}\""))?;
    let port_name = service_port["name"].as_str().unwrap_or("");
    for slice in slices {
        let Some(target) = slice["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"].as_str().unwrap_or("") == port_name)
            .and_then(|p| p["port"].as_u64())
        else {
            continue;
        };
        let ready = slice["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e.pointer("/conditions/ready") != Some(&Value::Bool(false)))
            .find_map(|e| e.pointer("/addresses/0").and_then(Value::as_str));
        if let Some(address) = ready {
            return Ok(if address.contains(':') {
                format!("[{address}]:{target}")
            } else {
                format!("{address}:{target}")
            });
        }
    }
    Err(format!("no endpoints available for service \"{name}\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_port_maps_to_a_ready_endpoint() {
        let service = json!({"metadata": {"name": "conv"},
            "spec": {"ports": [{"name": "metrics", "port": 80}, {"name": "https", "port": 443, "targetPort": 9443}]}});
        let slices = [json!({"ports": [{"name": "https", "port": 9443}],
                "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": false}}, {"addresses": ["10.0.0.2"]}]})];
        assert_eq!(pick_endpoint(&service, &slices, 443).unwrap(), "10.0.0.2:9443");
        assert_eq!(
            pick_endpoint(&service, &slices, 8443).unwrap_err(),
            "no service port 8443 found for service \"conv\""
        );
        assert_eq!(
            pick_endpoint(&service, &[], 443).unwrap_err(),
            "no endpoints available for service \"conv\""
        );
    }

    #[test]
    fn client_config_is_checked() {
        let bad = Webhook::new(&json!({"clientConfig": {"url": "http://x/convert"}}), None);
        assert!(bad.err().unwrap().contains("is not https"));
        let no_ca = Webhook::new(
            &json!({"clientConfig": {"url": "https://127.0.0.1:1/c", "caBundle": "%%"}}),
            None,
        );
        assert!(no_ca.err().unwrap().starts_with("caBundle is not base64"));
        let ok = Webhook::new(
            &json!({"clientConfig": {"url": "https://127.0.0.1:9443/convert"}}),
            None,
        )
        .unwrap();
        let endpoint = ok.endpoint().unwrap();
        assert_eq!(
            (endpoint.dial.as_str(), endpoint.url.as_str()),
            ("127.0.0.1:9443", "https://127.0.0.1:9443/convert?timeout=30s")
        );
    }
}
