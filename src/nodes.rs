//! Which nodes a control plane runs: `skiff server` starts one simulated node named after the host
//! unless told otherwise; `--simulated-nodes N` starts `skiff-node-0` … `skiff-node-<N-1>`
//! instead, `--node-config FILE` the nodes a YAML list describes (both may be given: the file's
//! nodes come first). `--pod-manifest-path` gives the first node static pods. Node IPAM hands out
//! pod CIDRs from `--cluster-cidr` (10.244.0.0/16, or 10.128.0.0/9 past 256 nodes), one
//! `--node-cidr-mask-size` (24) range per node.

use anyhow::Context;
use skiff_controllers::cluster::node_ipam;
use skiff_controllers::node::{self, config, NodeConfig};
use std::path::PathBuf;

/// The node flags of `skiff server`.
#[derive(Clone, Debug, Default)]
pub struct NodeFlags {
    pub simulated_nodes: Option<usize>,
    pub node_config: Option<PathBuf>,
    pub pod_manifest_path: Option<PathBuf>,
    pub cluster_cidr: Option<String>,
    pub node_cidr_mask_size: Option<u8>,
    /// Record the kubelet's events for the simulated nodes.
    pub events: bool,
}

/// The node IPAM and nodes the flags ask for.
pub fn node_options(flags: &NodeFlags) -> anyhow::Result<node::Options> {
    let mut nodes: Vec<NodeConfig> = match &flags.node_config {
        Some(path) => config::parse_file(path)?,
        None => vec![],
    };
    match flags.simulated_nodes {
        Some(count) => nodes.extend(config::simulated(count)),
        None if nodes.is_empty() => nodes.push(config::host()),
        None => {}
    }
    if let Some(dir) = &flags.pod_manifest_path {
        let first = nodes
            .first_mut()
            .context("--pod-manifest-path needs a node to run the static pods on")?;
        first.pod_manifest_path = Some(dir.clone());
    }
    let mut ipam = node_ipam::Config::for_nodes(nodes.len());
    if let Some(cidr) = &flags.cluster_cidr {
        ipam.cluster_cidr = cidr.parse().with_context(|| format!("--cluster-cidr {cidr}"))?;
    }
    if let Some(mask) = flags.node_cidr_mask_size {
        ipam.node_mask = mask;
    }
    node_ipam::CidrSet::new(ipam.cluster_cidr, ipam.node_mask).context("--node-cidr-mask-size")?;
    let mut seen = std::collections::HashSet::new();
    if let Some(duplicate) = nodes.iter().find(|n| !seen.insert(n.name.clone())) {
        anyhow::bail!("two nodes are named {:?}", duplicate.name);
    }
    Ok(node::Options {
        ipam: Some(ipam),
        nodes,
        events: flags.events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_node_is_the_default_and_simulated_nodes_replace_it() {
        let default = node_options(&NodeFlags::default()).unwrap();
        assert_eq!(default.nodes.len(), 1);
        let three = node_options(&NodeFlags {
            simulated_nodes: Some(3),
            pod_manifest_path: Some("/tmp/m".into()),
            ..Default::default()
        })
        .unwrap();
        let names: Vec<&str> = three.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["skiff-node-0", "skiff-node-1", "skiff-node-2"]);
        assert_eq!(
            three.nodes[0].pod_manifest_path.as_deref(),
            Some(std::path::Path::new("/tmp/m"))
        );
        assert!(node_options(&NodeFlags {
            simulated_nodes: Some(0),
            ..Default::default()
        })
        .unwrap()
        .nodes
        .is_empty());
        assert!(node_options(&NodeFlags {
            cluster_cidr: Some("10.0.0.0/8".into()),
            node_cidr_mask_size: Some(30),
            ..Default::default()
        })
        .is_err());
    }
}
