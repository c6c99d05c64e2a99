//! The HTTPS listener: TLS handshakes, peer certificates handed to the HTTP layer.
//!
//! Each accepted connection is handshaken and served on its own task (a failed or stalled handshake
//! touches no other connection), with HTTP/1.1 or HTTP/2 chosen by hyper-util's auto builder and upgrades
//! (exec, attach, port-forward) allowed. Every request carries the connection's [`PeerCertificates`] and
//! axum's `ConnectInfo<SocketAddr>`. Requests have no time limit here, so watches stream for as long as
//! the handler keeps them open.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::auth::PeerCertificates;

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// After shutdown is signalled, open connections get this long to finish before they are cut (watches
/// never finish on their own; clients re-establish them elsewhere).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pause after a failed accept (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` over TLS on `listener` until `shutdown` completes, then stops accepting, lets open
/// connections finish for a short grace period and returns.
pub async fn serve(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(config);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let conn = serve_connection(tcp, peer, acceptor.clone(), builder.clone(), app.clone(), graceful.watcher());
                    connections.spawn(conn);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::info!(
            open = connections.len(),
            "closing connections still open after the shutdown grace period"
        );
    }
    connections.shutdown().await;
}

/// Handshakes one connection and serves HTTP on it until the client leaves or shutdown is signalled.
async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    builder: auto::Builder<TokioExecutor>,
    app: Router,
    watcher: Watcher,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(err)) => {
            tracing::debug!(%peer, error = %err, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let certificates = PeerCertificates(
        tls.get_ref()
            .1
            .peer_certificates()
            .map(<[_]>::to_vec)
            .unwrap_or_default(),
    );
    let service = app.map_request(move |mut request: http::Request<Incoming>| {
        request.extensions_mut().insert(certificates.clone());
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(tls), TowerToHyperService::new(service));
    if let Err(err) = watcher.watch(connection).await {
        tracing::debug!(%peer, error = %err, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Authenticator;
    use crate::pki::Pki;
    use axum::extract::State;
    use http_body_util::{BodyExt, Empty};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio::io::AsyncWriteExt;

    struct Server {
        dir: tempfile::TempDir,
        pki: Pki,
        addr: SocketAddr,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        task: tokio::task::JoinHandle<()>,
    }

    /// A server whose only route answers with the authenticated user's name, or "<none>".
    async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &[]).unwrap();
        let tokens = dir.path().join("tokens.csv");
        std::fs::write(&tokens, "t0ken,token-user,uid-7,dev\n").unwrap();
        let auth = Arc::new(Authenticator::new(pki.ca_pem(), Some(&tokens)).unwrap());
        let store = crate::ApiServer::in_memory().await.unwrap().state().store.clone();
        let app = Router::new().route(
            "/whoami",
            axum::routing::get(
                |State((auth, store)): State<(Arc<Authenticator>, crate::registry::Store)>,
                 request: http::Request<axum::body::Body>| async move {
                    let (parts, _) = request.into_parts();
                    auth.try_authenticate(&parts, &store)
                        .await
                        .ok()
                        .flatten()
                        .map_or_else(|| "<none>".to_string(), |user| user.name)
                },
            ),
        );
        // An endless response, like a watch: one line every 10ms.
        let app = app.route(
            "/stream",
            axum::routing::get(|| async {
                let ticks = futures::stream::unfold(0u64, |n| async move {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Some((Ok::<_, std::convert::Infallible>(format!("{n}\n")), n + 1))
                });
                axum::body::Body::from_stream(ticks)
            }),
        );
        let app = app.with_state((auth, store));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, pki.server_config(), app, async {
            let _ = stopped.await;
        }));
        Server {
            dir,
            pki,
            addr,
            stop: Some(stop),
            task,
        }
    }

    fn client_config(pki: &Pki, identity: Option<(String, String)>, alpn: &[u8]) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(pki.ca_pem().as_bytes()).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let mut config = match identity {
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                    PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![alpn.to_vec()];
        Arc::new(config)
    }

    /// GET /whoami over a fresh TLS connection; returns the HTTP version used and the body.
    async fn whoami(
        addr: SocketAddr,
        config: Arc<rustls::ClientConfig>,
        token: Option<&str>,
    ) -> Result<(http::Version, String), Box<dyn std::error::Error + Send + Sync>> {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await?;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        let mut request = http::Request::get(format!("https://{addr}/whoami"));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Empty::<bytes::Bytes>::new())?;
        let response = if h2 {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await?;
            tokio::spawn(conn);
            sender.send_request(request).await?
        } else {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
            tokio::spawn(conn);
            sender.send_request(request).await?
        };
        let version = response.version();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((version, String::from_utf8(body.to_vec())?))
    }

    #[tokio::test]
    async fn authenticates_certificates_and_tokens_over_http1_and_http2() {
        let server = start().await;
        let jane = server.pki.issue_client_cert("jane", &["dev"]).unwrap();
        let with_cert = client_config(&server.pki, Some(jane), b"h2");
        assert_eq!(
            whoami(server.addr, with_cert, None).await.unwrap(),
            (http::Version::HTTP_2, "jane".into())
        );

        let anonymous_h1 = client_config(&server.pki, None, b"http/1.1");
        let got = whoami(server.addr, anonymous_h1.clone(), Some("t0ken")).await.unwrap();
        assert_eq!(got, (http::Version::HTTP_11, "token-user".into()));
        assert_eq!(whoami(server.addr, anonymous_h1, None).await.unwrap().1, "<none>");
        assert_eq!(
            whoami(server.addr, client_config(&server.pki, None, b"h2"), None)
                .await
                .unwrap()
                .1,
            "<none>"
        );
    }

    #[tokio::test]
    async fn failed_handshakes_do_not_disturb_other_connections() {
        let server = start().await;
        // A connection that never handshakes stays open while others are served.
        let _idle = TcpStream::connect(server.addr).await.unwrap();
        // Garbage instead of a ClientHello.
        let mut garbage = TcpStream::connect(server.addr).await.unwrap();
        garbage.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        // A client certificate from another CA is refused at the handshake.
        let other_dir = tempfile::tempdir().unwrap();
        let other = Pki::load_or_create(other_dir.path(), &[]).unwrap();
        let mallory = client_config(
            &server.pki,
            Some(other.issue_client_cert("mallory", &[]).unwrap()),
            b"h2",
        );
        assert!(whoami(server.addr, mallory, None).await.is_err());

        let admin = client_config(
            &server.pki,
            Some(server.pki.issue_client_cert("admin", &[]).unwrap()),
            b"h2",
        );
        assert_eq!(whoami(server.addr, admin, None).await.unwrap().1, "admin");
    }

    #[tokio::test]
    async fn kube_client_from_written_kubeconfig_talks_to_the_server() {
        let server = start().await;
        let path = server.dir.path().join("kubeconfig");
        server
            .pki
            .write_kubeconfig(&path, &format!("https://{}", server.addr))
            .unwrap();
        let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        let request = http::Request::get("/whoami").body(Vec::new()).unwrap();
        assert_eq!(client.request_text(request).await.unwrap(), crate::pki::ADMIN_USER);
    }

    /// Opens GET /stream over HTTP/1.1 and returns the response body.
    async fn open_stream(server: &Server) -> Incoming {
        let tcp = TcpStream::connect(server.addr).await.unwrap();
        let config = client_config(&server.pki, None, b"http/1.1");
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
        tokio::spawn(conn);
        let request = http::Request::get("/stream")
            .header("host", "x")
            .body(Empty::<bytes::Bytes>::new())
            .unwrap();
        sender.send_request(request).await.unwrap().into_body()
    }

    #[tokio::test]
    async fn long_streams_flow_and_are_cut_after_the_shutdown_grace() {
        let mut server = start().await;
        let mut body = open_stream(&server).await;
        let mut received = String::new();
        while received.lines().count() < 20 {
            let frame = body.frame().await.unwrap().unwrap();
            received.push_str(std::str::from_utf8(&frame.into_data().unwrap()).unwrap());
        }
        assert!(received.starts_with("0\n1\n2\n"), "{received}");

        let _ = server.stop.take().unwrap().send(());
        tokio::time::timeout(SHUTDOWN_GRACE * 2, &mut server.task)
            .await
            .unwrap()
            .unwrap();
        // The stream ends (cut by the server) instead of hanging.
        let drained = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = body.frame().await {}
        });
        drained.await.unwrap();
    }

    #[tokio::test]
    async fn shutdown_stops_accepting_and_returns() {
        let mut server = start().await;
        let config = client_config(&server.pki, None, b"h2");
        assert!(whoami(server.addr, config.clone(), None).await.is_ok());
        let _ = server.stop.take().unwrap().send(());
        tokio::time::timeout(SHUTDOWN_GRACE * 2, &mut server.task)
            .await
            .unwrap()
            .unwrap();
        assert!(whoami(server.addr, config, None).await.is_err());
    }
}
