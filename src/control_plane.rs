//! The in-process control plane for tests and tools: an apiserver on the in-memory store, every
//! controller, the scheduler and simulated nodes, reached through a `kube::Client` with no socket.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let cp = skiff::ControlPlane::builder().simulated_nodes(3).start().await?;
//! let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(cp.client());
//! assert_eq!(nodes.list(&Default::default()).await?.items.len(), 3);
//! # Ok(()) }
//! ```

use skiff_apiserver::ApiServer;
use skiff_controllers::cluster::node_ipam;
use skiff_controllers::node::{self, config, NodeConfig};
use std::time::Duration;

/// How long [`ControlPlaneBuilder::start`] waits for the nodes to be Ready.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A running in-process control plane; dropping it stops the controllers and nodes.
pub struct ControlPlane {
    api: ApiServer,
    controllers: tokio::task::JoinHandle<()>,
}

/// What the control plane starts with.
#[derive(Default)]
pub struct ControlPlaneBuilder {
    nodes: Vec<NodeConfig>,
    no_events: bool,
}

impl ControlPlane {
    pub fn builder() -> ControlPlaneBuilder {
        ControlPlaneBuilder::default()
    }

    /// A client of the control plane's apiserver (in-process: no socket, same request path).
    pub fn client(&self) -> kube::Client {
        self.api.client()
    }

    /// The apiserver itself.
    pub fn api(&self) -> &ApiServer {
        &self.api
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.controllers.abort();
    }
}

impl ControlPlaneBuilder {
    /// Add `count` simulated nodes named `skiff-node-<i>` (continuing the numbering).
    pub fn simulated_nodes(mut self, count: usize) -> Self {
        let first = self.nodes.iter().filter(|n| n.name.starts_with("skiff-node-")).count();
        self.nodes
            .extend(config::simulated(first + count).into_iter().skip(first));
        self
    }

    /// Add a node configured in full (labels, taints, capacity, static pods).
    pub fn node(mut self, node: NodeConfig) -> Self {
        self.nodes.push(node);
        self
    }

    /// Do not record the kubelet's events (fewer writes, for large simulations).
    pub fn without_node_events(mut self) -> Self {
        self.no_events = true;
        self
    }

    /// Start the apiserver, the controllers and the nodes; returns once every node is Ready
    /// with its pod CIDR.
    pub async fn start(self) -> anyhow::Result<ControlPlane> {
        let api = ApiServer::in_memory().await?;
        let count = self.nodes.len();
        let options = skiff_controllers::Options {
            nodes: node::Options {
                ipam: Some(node_ipam::Config::for_nodes(count)),
                nodes: self.nodes,
                events: !self.no_events,
            },
            ..Default::default()
        };
        api.component_running("scheduler");
        api.component_running("controller-manager");
        let controllers = tokio::spawn(skiff_controllers::run(crate::identities::in_process(&api), options));
        let plane = ControlPlane { api, controllers };
        wait_for_nodes(&plane.client(), count).await?;
        Ok(plane)
    }
}

/// Wait until `count` nodes are Ready and have pod CIDRs.
async fn wait_for_nodes(client: &kube::Client, count: usize) -> anyhow::Result<()> {
    if count == 0 {
        return Ok(());
    }
    let api: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client.clone());
    let deadline = tokio::time::Instant::now() + READY_WITHIN;
    loop {
        let nodes = api.list(&Default::default()).await?;
        let ready = nodes
            .items
            .iter()
            .filter(|n| n.spec.as_ref().is_some_and(|s| s.pod_cidr.is_some()))
            .filter(|n| {
                n.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .count();
        if ready >= count {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "only {ready} of {count} nodes were Ready after {READY_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
