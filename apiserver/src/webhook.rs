//! The client every webhook the apiserver calls goes through (conversion and admission): where a
//! `clientConfig` points (a URL, or a Service resolved to a ready endpoint of its EndpointSlices,
//! so it works without kube-proxy), HTTPS verified against the caBundle (the system roots without
//! one), and one JSON POST with a timeout, failing with client-go's wording
//! (`Post "<url>": <why>`).

use crate::watch::WatchCache;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// A webhook's client: its target, TLS trust and timeout.
pub struct Client {
    target: Target,
    tls: tokio_rustls::TlsConnector,
    timeout: Duration,
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

impl Client {
    /// The client for a `clientConfig` (url or service, caBundle) with a `timeout`; `Err` says
    /// what is wrong with the configuration.
    pub fn new(config: &Value, cache: Option<Arc<WatchCache>>, timeout: Duration) -> Result<Self, String> {
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
        Ok(Client {
            target,
            tls: connector(config["caBundle"].as_str().unwrap_or(""))?,
            timeout,
            cache,
        })
    }

    /// POST `body` and return the decoded answer; `Err` is client-go's text
    /// (`Post "<url>?timeout=10s": <why>`, or why the answer is unusable).
    pub async fn post(&self, body: &Value) -> Result<Value, String> {
        let endpoint = self.endpoint()?;
        let failed = |why: String| format!("Post \"{}\": {why}", endpoint.url);
        let body = serde_json::to_vec(body).map_err(|e| failed(e.to_string()))?;
        let (status, content_type, bytes) =
            match tokio::time::timeout(self.timeout, self.exchange(&endpoint, body)).await {
                Ok(result) => result.map_err(failed)?,
                Err(_) => return Err(failed("context deadline exceeded".into())),
            };
        if !status.is_success() {
            return Err(unexpected_status(status.as_u16(), &bytes));
        }
        // client-go decodes by the answer's media type, and only knows JSON here.
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        if !media_type.is_empty() && media_type != "application/json" {
            return Err(format!("serializer for {content_type} doesn't exist"));
        }
        decode(&bytes)
    }

    /// One POST: the answer's status, Content-Type and body.
    async fn exchange(&self, endpoint: &Endpoint, body: Vec<u8>) -> Result<(http::StatusCode, String, Bytes), String> {
        let tcp = tokio::net::TcpStream::connect(&endpoint.dial)
            .await
            .map_err(|e| format!("dial tcp {}: connect: {}", endpoint.dial, io_text(&e)))?;
        let name = ServerName::try_from(endpoint.server_name.clone()).map_err(|e| e.to_string())?;
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| tls_text(&e, &endpoint.server_name))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let request = http::Request::post(format!("{}?timeout={}s", endpoint.path, self.timeout.as_secs()))
            .header(http::header::HOST, &endpoint.server_name)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json, */*")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, content_type, bytes))
    }

    fn endpoint(&self) -> Result<Endpoint, String> {
        let query = format!("?timeout={}s", self.timeout.as_secs());
        match &self.target {
            Target::Url { host, port, path } => {
                let dial = if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                Ok(Endpoint {
                    url: format!("https://{dial}{path}{query}"),
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
                    url: format!("https://{server_name}:{port}{path}{query}"),
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

/// Go's wording of a TLS handshake that failed on the server's certificate.
fn tls_text(e: &std::io::Error, server_name: &str) -> String {
    use rustls::CertificateError;
    let why = match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer | CertificateError::BadSignature)) => {
            "x509: certificate signed by unknown authority".to_string()
        }
        Some(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => format!("x509: certificate is not valid for {server_name}"),
        Some(rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        )) => "x509: certificate has expired or is not yet valid".to_string(),
        _ => e.to_string(),
    };
    format!("tls: failed to verify certificate: {why}")
}

/// client-go's error for an answer that is not 2xx and not a Status (apimachinery's
/// NewGenericServerResponse).
fn unexpected_status(code: u16, body: &[u8]) -> String {
    if let Ok(status) = serde_json::from_slice::<Value>(body) {
        if status["kind"] == "Status" {
            if let Some(message) = status["message"].as_str().filter(|m| !m.is_empty()) {
                return message.to_string();
            }
        }
    }
    let text = String::from_utf8_lossy(body).trim().to_string();
    match code {
        400 => "the server rejected our request for an unknown reason".into(),
        401 => "the server has asked for the client to provide credentials".into(),
        403 => "the server does not allow access to the requested resource".into(),
        404 => "the server could not find the requested resource".into(),
        405 => "the server does not allow this method on the requested resource".into(),
        409 => "the server reported a conflict".into(),
        422 => "the server rejected our request due to an error in our request".into(),
        429 => "the server has received too many requests and has asked us to try again later".into(),
        503 => "the server is currently unable to handle the request".into(),
        504 => {
            "the server was unable to return a response in the time allotted, but may still be processing the request"
                .into()
        }
        code if code >= 500 => format!("an error on the server ({text:?}) has prevented the request from succeeding"),
        code => format!("the server responded with the status code {code} but did not return more information"),
    }
}

/// A JSON answer, or client-go's decoding error (Go's JSON wording for the common case of a body
/// that is not JSON at all).
fn decode(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| {
        let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
        let detail = match first {
            None => "unexpected end of JSON input".to_string(),
            Some(b) if !matches!(b, b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                format!("invalid character '{}' looking for beginning of value", b as char)
            }
            Some(_) => e.to_string(),
        };
        format!("couldn't get version/kind; json parse error: {detail}")
    })
}

/// The system's trusted roots, for webhooks without a caBundle.
static SYSTEM_ROOTS: LazyLock<rustls::RootCertStore> = LazyLock::new(|| {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    roots
});

/// A TLS connector trusting exactly the CA bundle (base64 of PEM certificates), or the system
/// roots when there is none.
fn connector(ca_bundle: &str) -> Result<tokio_rustls::TlsConnector, String> {
    let pem = base64::engine::general_purpose::STANDARD
        .decode(ca_bundle.trim())
        .map_err(|e| format!("caBundle is not base64: {e}"))?;
    let roots = if pem.is_empty() {
        SYSTEM_ROOTS.clone()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("caBundle: {e}"))?;
            roots.add(cert).map_err(|e| format!("caBundle: {e}"))?;
        }
        roots
    };
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
        let timeout = Duration::from_secs(30);
        let bad = Client::new(&json!({"url": "http://x/convert"}), None, timeout);
        assert!(bad.err().unwrap().contains("is not https"));
        let no_ca = Client::new(
            &json!({"url": "https://127.0.0.1:1/c", "caBundle": "%%"}),
            None,
            timeout,
        );
        assert!(no_ca.err().unwrap().starts_with("caBundle is not base64"));
        let ok = Client::new(&json!({"url": "https://127.0.0.1:9443/convert"}), None, timeout).unwrap();
        let endpoint = ok.endpoint().unwrap();
        assert_eq!(
            (endpoint.dial.as_str(), endpoint.url.as_str()),
            ("127.0.0.1:9443", "https://127.0.0.1:9443/convert?timeout=30s")
        );
    }

    #[test]
    fn unusable_answers_are_worded_like_client_go() {
        assert_eq!(
            decode(b"garbage").unwrap_err(),
            "couldn't get version/kind; json parse error: invalid character 'g' looking for beginning of value"
        );
        assert_eq!(
            unexpected_status(500, b"oops\n"),
            "an error on the server (\"oops\") has prevented the request from succeeding"
        );
        assert_eq!(
            unexpected_status(404, b""),
            "the server could not find the requested resource"
        );
        assert_eq!(
            unexpected_status(403, br#"{"kind":"Status","message":"go away"}"#),
            "go away"
        );
    }
}
