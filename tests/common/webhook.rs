//! A small HTTPS server standing in for the webhooks the apiserver calls (conversion, admission):
//! a throwaway CA, a serving certificate for the names asked for, and a handler from the request's
//! path and JSON body to the answer.

use std::sync::Arc;
use std::time::Duration;

/// What the server answers one request with.
pub enum Reply {
    /// 200 with this JSON.
    Json(serde_json::Value),
    /// This status and body, sent as JSON.
    Raw(u16, String),
    /// Nothing, for this long.
    Hang(Duration),
}

/// The handler: request path and body to the reply.
pub type Handler = Arc<dyn Fn(&str, serde_json::Value) -> Reply + Send + Sync>;

/// A running webhook server.
pub struct WebhookServer {
    pub port: u16,
    /// The CA that signed its certificate, base64 PEM (a caBundle).
    pub ca_bundle: String,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookServer {
    /// `https://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// Stop serving (the port then refuses connections).
    pub fn stop(self, rt: &tokio::runtime::Runtime) {
        self.task.abort();
        let _ = rt.block_on(self.task);
    }
}

/// Serve `handler` on 127.0.0.1 with a certificate for `names` (IP addresses or DNS names).
pub fn serve(rt: &tokio::runtime::Runtime, names: &[&str], handler: Handler) -> WebhookServer {
    use base64::Engine;
    use rustls::pki_types::pem::PemObject;
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let (acceptor, handler) = (acceptor.clone(), handler.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let handler = handler.clone();
                    async move {
                        use http_body_util::BodyExt;
                        let path = req.uri().path().to_string();
                        let body = req.into_body().collect().await?.to_bytes();
                        let request = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                        let (status, text) = match handler(&path, request) {
                            Reply::Json(answer) => (200, answer.to_string()),
                            Reply::Raw(status, text) => (status, text),
                            Reply::Hang(how_long) => {
                                tokio::time::sleep(how_long).await;
                                (200, String::new())
                            }
                        };
                        let response = http::Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .body(http_body_util::Full::new(bytes::Bytes::from(text)))
                            .unwrap();
                        Ok::<_, hyper::Error>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    let ca_bundle = base64::engine::general_purpose::STANDARD.encode(ca_cert.pem());
    WebhookServer { port, ca_bundle, task }
}
