//! A whole control plane's apiserver in one value: storage, watch cache, catalogue, HTTP router,
//! and an in-process kube::Client that goes through the same router without a socket.

use crate::auth::{
    bootstrap_policy, Authenticator, Authorizer, Chain, NodeAuthorizer, PrivilegedGroups, Rbac, UserInfo,
};
use crate::http::{router, ApiState};
use crate::registry::admission::AdmissionConfig;
use crate::registry::definitions::Definitions;
use crate::registry::store::{Scope, WriteOptions};
use crate::registry::{catalogue, ResourceIndex, Store};
use crate::storage::{Backend, MemoryBackend};
use crate::watch::WatchCache;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The namespaces every cluster starts with.
const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// A running apiserver (without a listener: serve [`ApiServer::router`] wherever you like).
#[derive(Clone)]
pub struct ApiServer {
    state: Arc<ApiState>,
}

impl ApiServer {
    /// An apiserver on the in-memory store: for tests, starts in milliseconds.
    pub async fn in_memory() -> anyhow::Result<Self> {
        Self::start(Arc::new(MemoryBackend::new()), "127.0.0.1:6443", None).await
    }

    /// An apiserver over `backend`; `server_address` is the host:port clients use; without an
    /// authenticator only in-process clients are served.
    pub async fn start(
        backend: Arc<dyn Backend>,
        server_address: &str,
        authenticator: Option<Authenticator>,
    ) -> anyhow::Result<Self> {
        Self::start_with_admission(backend, server_address, authenticator, AdmissionConfig::default()).await
    }

    /// [`ApiServer::start`] with the admission plugins configured by `admission`
    /// (`--admission-control-config-file`).
    pub async fn start_with_admission(
        backend: Arc<dyn Backend>,
        server_address: &str,
        authenticator: Option<Authenticator>,
        admission: AdmissionConfig,
    ) -> anyhow::Result<Self> {
        let cache = WatchCache::start(backend.clone()).await?;
        let store_backend = backend.clone();
        let index = Arc::new(ResourceIndex::new(catalogue::builtin_resources()));
        let definitions = Arc::new(Definitions::build(&index.snapshot()));
        let authorizer: Arc<dyn Authorizer> = Arc::new(Chain(vec![
            Box::new(PrivilegedGroups),
            Box::new(NodeAuthorizer::new(
                &cache,
                bootstrap_policy::cluster_role_rules("system:node"),
            )),
            Box::new(Rbac::new(&cache)),
        ]));
        let state = Arc::new(ApiState {
            store: Store::new(store_backend, cache.clone(), index.clone(), authorizer.clone())
                .with_admission_config(admission),
            index,
            definitions,
            server_address: server_address.to_string(),
            ready: Default::default(),
            authenticator,
            authorizer,
            openapi: Default::default(),
            metrics: Default::default(),
            components: Default::default(),
            audit: Default::default(),
        });
        let server = ApiServer { state };
        server.bootstrap().await?;
        crate::crd::serve_crds(server.state.store.clone(), server.state.index.clone()).await;
        crate::registry::admission::policy::typecheck::serve(
            server.state.store.clone(),
            server.state.definitions.clone(),
        )
        .await;
        let weak = Arc::downgrade(&cache);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                let Some(cache) = weak.upgrade() else { break };
                cache.bookmark_all();
            }
        });
        tokio::spawn(compact_periodically(Arc::downgrade(&backend)));
        server.state.ready.store(true, Ordering::Release);
        Ok(server)
    }

    /// Create what every cluster has before serving: the system namespaces, the system
    /// PriorityClasses and the `kubernetes` Service.
    async fn bootstrap(&self) -> anyhow::Result<()> {
        let resources = self.state.index.snapshot();
        let Some(namespaces) = resources.lookup("", "v1", "namespaces") else {
            return Ok(());
        };
        let scope = Scope {
            resource: namespaces,
            namespace: None,
        };
        for name in SYSTEM_NAMESPACES {
            let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            match self.state.store.create(scope, ns, &WriteOptions::default()).await {
                Ok(_) => {}
                Err(e) if e.code == 409 => {}
                Err(e) => anyhow::bail!("creating namespace {name}: {e}"),
            }
        }
        if let Some(classes) = resources.lookup("scheduling.k8s.io", "v1", "priorityclasses") {
            let scope = Scope {
                resource: classes,
                namespace: None,
            };
            for (name, value, description) in crate::registry::kinds::SYSTEM_PRIORITY_CLASSES {
                let class = serde_json::json!({
                    "apiVersion": "scheduling.k8s.io/v1",
                    "kind": "PriorityClass",
                    "metadata": {"name": name},
                    "value": value,
                    "description": description,
                });
                match self.state.store.create(scope, class, &WriteOptions::default()).await {
                    Ok(_) => {}
                    Err(e) if e.code == 409 => {}
                    Err(e) => anyhow::bail!("creating PriorityClass {name}: {e}"),
                }
            }
        }
        if let Some(services) = resources.lookup("", "v1", "services") {
            let service = serde_json::json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
                "spec": {
                    "type": "ClusterIP",
                    "clusterIP": crate::registry::store::KUBERNETES_SERVICE_IP,
                    "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                    "sessionAffinity": "None",
                },
            });
            let scope = Scope {
                resource: services,
                namespace: Some("default"),
            };
            match self.state.store.create(scope, service, &WriteOptions::default()).await {
                Ok(_) => {}
                Err(e) if e.code == 409 => {}
                Err(e) => anyhow::bail!("creating the kubernetes service: {e}"),
            }
        }
        crate::auth::bootstrap_policy::reconcile(&self.state.store).await?;
        Ok(())
    }

    /// Write an audit log from now on (kube-apiserver's --audit-policy-file/--audit-log-path).
    pub fn enable_audit(&self, auditor: crate::audit::Auditor) {
        if self.state.audit.set(auditor).is_err() {
            tracing::warn!("the audit log was enabled already");
        }
    }

    pub fn state(&self) -> &Arc<ApiState> {
        &self.state
    }

    /// The HTTP API.
    pub fn router(&self) -> axum::Router {
        router(self.state.clone())
    }

    /// Report a component (`scheduler`, `controller-manager`) as running in this process, for
    /// componentstatuses.
    pub fn component_running(&self, name: &str) {
        self.state.components.running(name);
    }

    /// A kube::Client wired straight into the router (no socket, same request path) as the
    /// apiserver's own loopback identity, a cluster administrator.
    pub fn client(&self) -> kube::Client {
        self.client_as(loopback_user())
    }

    /// A kube::Client wired straight into the router that is authenticated as `user`: what it
    /// may do is what the authorizer grants that user.
    pub fn client_as(&self, user: UserInfo) -> kube::Client {
        let user = Arc::new(user);
        let service =
            tower::ServiceExt::map_request(self.router(), move |request: http::Request<kube::client::Body>| {
                let mut request = request.map(axum::body::Body::new);
                request.extensions_mut().insert(user.clone());
                request
            });
        kube::Client::new(service, "default")
    }
}

/// The apiserver's loopback identity (upstream's `system:apiserver` in `system:masters`).
fn loopback_user() -> UserInfo {
    UserInfo {
        name: "system:apiserver".into(),
        uid: String::new(),
        groups: vec!["system:masters".into(), crate::auth::ALL_AUTHENTICATED.into()],
        extra: Default::default(),
    }
}

/// How often old revisions are compacted away (upstream's default compaction interval).
const COMPACTION_INTERVAL: Duration = Duration::from_secs(300);

/// Like upstream's apiserver: every interval, compact up to the revision seen one interval ago, so
/// history stays readable for at least one interval.
async fn compact_periodically(backend: std::sync::Weak<dyn Backend>) {
    let mut tick = tokio::time::interval(COMPACTION_INTERVAL);
    tick.tick().await;
    let mut previous = None;
    loop {
        tick.tick().await;
        let Some(backend) = backend.upgrade() else { break };
        if let Some(revision) = previous {
            if let Err(e) = backend.compact(revision).await {
                tracing::warn!("compaction to revision {revision} failed: {e}");
            }
        }
        previous = Some(backend.revision());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn old_revisions_are_compacted_after_an_interval() {
        let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
        let _server = ApiServer::start(backend.clone(), "127.0.0.1:6443", None).await.unwrap();
        let seen = backend.revision();
        assert!(seen > 0, "bootstrap wrote the system namespaces");
        tokio::time::sleep(COMPACTION_INTERVAL * 2 + Duration::from_secs(1)).await;
        assert_eq!(backend.compacted_revision(), seen);
    }
}
