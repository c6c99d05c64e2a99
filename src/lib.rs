//! Wiring of the all-in-one `skiff server`: storage, apiserver, HTTPS listener, controllers and
//! nodes ([`nodes`]); and the in-process [`ControlPlane`] for tests.

pub mod control_plane;
pub mod identities;
pub mod nodes;

pub use control_plane::{ControlPlane, ControlPlaneBuilder};

use anyhow::Context;
use skiff_apiserver::auth::service_account::{key_file, Issuer, IssuerOptions};
use skiff_apiserver::auth::Authenticator;
use skiff_apiserver::registry::admission::AdmissionConfig;
use skiff_apiserver::storage::SqliteBackend;
use skiff_apiserver::{pki::Pki, ApiServer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;

/// What `skiff server` needs to start.
pub struct ServerOptions {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub token_file: Option<PathBuf>,
    /// The admission plugins' AdmissionConfiguration (kube-apiserver's --admission-control-config-file).
    pub admission_config_file: Option<PathBuf>,
    /// The audit policy file and the log it writes (kube-apiserver's --audit-policy-file and
    /// --audit-log-path; auditing is off unless both are given).
    pub audit: Option<(PathBuf, PathBuf)>,
    /// The ServiceAccount token issuer's flags (the key itself lives in the data dir).
    pub service_accounts: IssuerOptions,
    /// How long a node may miss Lease renewals before it is Unknown (None: upstream's 40s).
    pub node_monitor_grace_period: Option<std::time::Duration>,
    /// Node IPAM and the simulated nodes to run ([`nodes::node_options`]).
    pub nodes: skiff_controllers::node::Options,
    /// Run no controller-manager loops (a `skiff controller-manager` does).
    pub without_controller_manager: bool,
}

/// A started control plane.
pub struct Running {
    pub address: SocketAddr,
    pub kubeconfig: PathBuf,
    pub api: ApiServer,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<()>,
    controllers: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stop serving and wait for the listener to finish.
    pub async fn shutdown(self) {
        self.controllers.abort();
        let _ = self.stop.send(());
        let _ = self.served.await;
    }
}

/// Start the whole control plane: open the store, load or create the PKI, serve HTTPS, write the
/// admin kubeconfig and run the controllers. Returns once /readyz would answer ok.
pub async fn start(options: ServerOptions) -> anyhow::Result<Running> {
    let store = SqliteBackend::open(&options.data_dir.join("state.db")).context("opening the store")?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listening on {}", options.listen))?;
    let address = listener.local_addr()?;
    let host = address.ip().to_string();
    let pki = Pki::load_or_create(&options.data_dir, std::slice::from_ref(&host))?;
    let service_account_key = key_file::load_or_create(&options.data_dir)?;
    let issuer = Issuer::new(
        service_account_key.clone(),
        options.service_accounts,
        &address.to_string(),
    )?;
    let authenticator =
        Authenticator::new(pki.ca_pem(), options.token_file.as_deref())?.with_service_accounts(Arc::new(issuer));
    let admission = match &options.admission_config_file {
        Some(path) => AdmissionConfig::load(path)
            .with_context(|| format!("--admission-control-config-file {}", path.display()))?,
        None => AdmissionConfig::default(),
    };
    let api =
        ApiServer::start_with_admission(Arc::new(store), &address.to_string(), Some(authenticator), admission).await?;
    if let Some((policy, log)) = &options.audit {
        api.enable_audit(skiff_apiserver::audit::Auditor::open(policy, log)?);
    }
    let kubeconfig = options.data_dir.join("kubeconfig");
    pki.write_kubeconfig(&kubeconfig, &format!("https://{address}"))?;
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(skiff_apiserver::tls::serve(
        listener,
        pki.server_config(),
        api.router(),
        async move {
            let _ = stopped.await;
        },
    ));
    api.component_running("scheduler");
    if !options.without_controller_manager {
        api.component_running("controller-manager");
    }
    let controllers = tokio::spawn(skiff_controllers::run(
        identities::in_process(&api),
        skiff_controllers::Options {
            root_ca_pem: pki.ca_pem().to_string(),
            service_account_key: Some(service_account_key),
            apiserver_address: Some(address.to_string()),
            node_monitor_grace_period: options.node_monitor_grace_period,
            nodes: options.nodes,
            without_controller_manager: options.without_controller_manager,
            cluster_signing: Some({
                let (cert, key) = pki.ca_files();
                skiff_controllers::cluster::csr_signing::SigningFiles { cert, key }
            }),
            storage_dir: Some(options.data_dir.join("storage")),
        },
    ));
    Ok(Running {
        address,
        kubeconfig,
        api,
        stop,
        served,
        controllers,
    })
}
