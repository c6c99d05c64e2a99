//! Skiff's built-in control loops. Each is a kube-runtime `Controller` that sees the API only
//! through a `kube::Client`, exactly like a user's operator. Every loop family is a module of its
//! own over the shared [`core`]:
//! - [`system`]: namespace lifecycle, ServiceAccounts, root CA, CRD cleanup;
//! - [`workloads`]: garbage collector, ReplicaSet, Deployment, StatefulSet, DaemonSet, Job, CronJob;
//! - [`scheduler`]: kube-scheduler's default profile (filters, scores, preemption, binding);
//! - [`cluster`]: EndpointSlices and Endpoints, node lifecycle and taint eviction, pod GC, PDB status;

pub mod cluster;
pub mod core;
pub mod scheduler;
pub mod system;
pub mod workloads;

use crate::core::informers::Informers;

/// What the control plane's loops are started with.
#[derive(Default)]
pub struct Options {
    /// The cluster CA bundle published as kube-root-ca.crt.
    pub root_ca_pem: String,
    /// The apiserver's `host:port` that the `kubernetes` Service's endpoints point at.
    pub apiserver_address: Option<String>,
    /// How long a node may go without renewing its Lease before it is Unknown (upstream's
    /// --node-monitor-grace-period, 40s when unset).
    pub node_monitor_grace_period: Option<std::time::Duration>,
}

/// Run every built-in control loop until the client's server goes away. Each loop family's
/// `start` subscribes to the shared informers it needs before they begin watching.
pub async fn run(client: kube::Client, options: Options) {
    let informers = Informers::new(client.clone());
    let loops: Vec<futures::future::BoxFuture<'static, ()>> = vec![
        Box::pin(cluster::start(&informers, &options)),
        Box::pin(system::run(client, options.root_ca_pem)),
        Box::pin(workloads::start(&informers)),
        Box::pin(scheduler::start(&informers)),
    ];
    tokio::join!(informers.run(), futures::future::join_all(loops));
}
