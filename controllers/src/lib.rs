//! Skiff's built-in control loops. Each is a kube-runtime `Controller` that sees the API only
//! through a `kube::Client`, exactly like a user's operator. Every loop family is a module of its
//! own over the shared [`core`]:
//! - [`system`]: namespace lifecycle, ServiceAccounts and their token Secrets, root CA, CRD cleanup;
//! - [`workloads`]: garbage collector, ReplicaSet, Deployment, StatefulSet, DaemonSet, Job, CronJob;
//! - [`scheduler`]: kube-scheduler's default profile (filters, scores, preemption, binding);
//! - [`cluster`]: EndpointSlices and Endpoints, node lifecycle and taint eviction, pod GC, PDB status,
//!   quota, persistent volumes, ClusterRole aggregation;
//! - [`node`]: the node agent (kubelet): simulated nodes, pod lifecycle, static pods; and node IPAM;

pub mod cluster;
pub mod core;
pub mod node;
pub mod scheduler;
pub mod system;
pub mod workloads;

use crate::core::credentials::Credentials;
use crate::core::informers::Informers;

/// What the control plane's loops are started with.
#[derive(Default)]
pub struct Options {
    /// The cluster CA bundle published as kube-root-ca.crt.
    pub root_ca_pem: String,
    /// The key legacy ServiceAccount token Secrets are signed with (upstream's
    /// --service-account-private-key-file); without it the token controller does not run.
    pub service_account_key: Option<std::sync::Arc<skiff_machinery::serviceaccount::SigningKey>>,
    /// The apiserver's `host:port` that the `kubernetes` Service's endpoints point at.
    pub apiserver_address: Option<String>,
    /// How long a node may go without renewing its Lease before it is Unknown (upstream's
    /// --node-monitor-grace-period, 40s when unset).
    pub node_monitor_grace_period: Option<std::time::Duration>,
    /// Node IPAM and the simulated nodes this process runs (none by default).
    pub nodes: node::Options,
    /// Leave the controller-manager's loops to a `skiff controller-manager` elsewhere (k3s's
    /// --disable-controller-manager): [`run`] then runs only the scheduler and the nodes.
    pub without_controller_manager: bool,
    /// The CA the CSR signer issues certificates from (kube-controller-manager's
    /// `--cluster-signing-cert-file`/`--cluster-signing-key-file`); `None`: no signing.
    pub cluster_signing: Option<cluster::csr_signing::SigningFiles>,
    /// Where the local-path provisioner makes volume directories (`DATA_DIR/storage` in
    /// `skiff server`; [`cluster::volume::default_storage_root`] when unset).
    pub storage_dir: Option<std::path::PathBuf>,
}

type Loop = futures::future::BoxFuture<'static, ()>;

/// Run every built-in control loop (controller-manager, scheduler and this process's nodes) until
/// the server goes away, each loop as its own identity. Each loop family's `start` subscribes to
/// the shared informers it needs before they begin watching.
pub async fn run(credentials: Credentials, options: Options) {
    let informers = Informers::with_credentials(credentials);
    let mut loops = if options.without_controller_manager {
        vec![]
    } else {
        controller_manager_loops(&informers, &options)
    };
    loops.push(Box::pin(scheduler::start(&informers)));
    loops.push(node::start(&informers, options.nodes));
    tokio::join!(informers.run(), futures::future::join_all(loops));
}

/// The controller-manager alone (no scheduler, no nodes), as `skiff controller-manager` runs it
/// against any cluster with the kubeconfig's `client` for every loop: its loops run only while
/// this process holds the `kube-controller-manager` Lease in kube-system; returns an error once
/// that leadership is lost.
pub async fn run_controller_manager(
    client: kube::Client,
    options: Options,
    identity: String,
) -> Result<(), core::leader::Error> {
    let candidate = core::leader::Candidate::new(
        client.clone(),
        "kube-system",
        "kube-controller-manager",
        identity,
        core::leader::Timing::default(),
    );
    candidate
        .run(async move {
            let informers = Informers::new(client);
            let loops = controller_manager_loops(&informers, &options);
            tokio::join!(informers.run(), futures::future::join_all(loops));
        })
        .await
}

/// The kube-controller-manager's loops: cluster services, the apiserver's companions, workloads.
fn controller_manager_loops(informers: &Informers, options: &Options) -> Vec<Loop> {
    vec![
        Box::pin(cluster::start(informers, options)),
        Box::pin(system::run(
            informers,
            options.root_ca_pem.clone(),
            options.service_account_key.clone(),
        )),
        Box::pin(workloads::start(informers)),
        cluster::node_ipam::start_if(informers, options.nodes.ipam.clone()),
    ]
}
