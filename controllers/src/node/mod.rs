//! The node agent (the kubelet's job), on kube-runtime like every loop: it registers its Node,
//! heartbeats its Lease, runs the pods bound to it through a [`runtime::Runtime`] and reports
//! their status, and runs static pods from a manifest directory. A [`pool::Pool`] holds any number
//! of agents in one process over one pod watch and one node watch (thousands of simulated nodes,
//! KWOK-style); `skiff node` runs a pool of one against any apiserver.
//!
//! - [`config`]: what a node is configured with; [`registration`]: the Node and Lease objects;
//!   [`heartbeat`]: registration, lease renewals and node status from one shared timer;
//! - [`lifecycle`]: pod sync (plan, execute, status), [`admission`]: resource admission,
//!   [`backoff`]: CrashLoopBackOff windows,
//!   [`ipalloc`]: pod IPs from the node's podCIDR;
//! - [`runtime`]: the runtime trait, [`simulated`]: the simulated runtime, [`timer`]: the shared
//!   timer wheel;
//! - [`static_pods`]: the file source and mirror pods; [`events`]: the event queue;
//!   [`source`]: the watches of an agent that runs alone; [`format`]: upstream's spellings.

pub mod admission;
pub mod backoff;
pub mod config;
pub mod events;
pub mod format;
pub mod heartbeat;
pub mod ipalloc;
pub mod lifecycle;
pub mod pool;
pub mod registration;
pub mod runtime;
pub mod simulated;
pub mod source;
pub mod static_pods;
pub mod timer;

pub use config::NodeConfig;

use crate::cluster::node_ipam;
use crate::core::credentials::Identity;
use crate::core::informers::Informers;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::Api;
use std::sync::Arc;

/// The nodes a control plane runs and the node IPAM that serves them (fields of
/// [`crate::Options`]).
#[derive(Clone, Debug)]
pub struct Options {
    /// Run the controller-manager's node IPAM loop (`--allocate-node-cidrs`) with this config.
    pub ipam: Option<node_ipam::Config>,
    /// Simulated nodes to run in this process.
    pub nodes: Vec<NodeConfig>,
    /// Record the kubelet's events (Pulled, Started, …) for them.
    pub events: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ipam: None,
            nodes: vec![],
            events: true,
        }
    }
}

/// Start the simulated nodes of `options` over the control plane's shared informers (one pod
/// watch and one node watch for every node); the returned future runs them. (Node IPAM is the
/// controller-manager's: [`node_ipam::start_if`].)
pub fn start(informers: &Informers, options: Options) -> BoxFuture<'static, ()> {
    if options.nodes.is_empty() {
        return futures::future::ready(()).boxed();
    }
    let pods = informers.get::<Pod>();
    let nodes = informers.get::<Node>();
    let pod_changes = pods.subscribe().boxed();
    let node_changes = nodes.subscribe().boxed();
    let client = informers.client_as(Identity::Apiserver);
    let store = pods.store().clone();
    async move {
        let runtime = Arc::new(simulated::Simulated::new());
        let pool = pool::Pool::new(client, runtime, options.nodes, store, options.events);
        pool.run(pod_changes, node_changes).await;
    }
    .boxed()
}

/// Run one simulated node agent alone against the apiserver `client` talks to (`skiff node`):
/// it watches only its own pods and Node.
pub async fn run_standalone(client: kube::Client, node: NodeConfig, events: bool) {
    let name = node.name.clone();
    let (pods, pod_changes, pod_watch) =
        source::selected(Api::<Pod>::all(client.clone()), &format!("spec.nodeName={name}"));
    let (_nodes, node_changes, node_watch) =
        source::selected(Api::<Node>::all(client.clone()), &format!("metadata.name={name}"));
    let runtime = Arc::new(simulated::Simulated::new());
    let pool = pool::Pool::new(client, runtime, vec![node], pods, events);
    tokio::join!(pod_watch, node_watch, pool.run(pod_changes, node_changes));
}
