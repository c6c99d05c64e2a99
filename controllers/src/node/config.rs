//! What a node is configured with: name, labels, taints, capacity, addresses, static pod
//! directory. `skiff server --node-config FILE` reads a YAML list of these:
//!
//! ```yaml
//! - name: worker-a
//!   labels: {topology.kubernetes.io/zone: zone-a}
//!   taints: [{key: dedicated, value: gpu, effect: NoSchedule}]
//!   capacity: {cpu: "8", memory: 32Gi}
//! ```

use k8s_openapi::api::core::v1::Taint;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// Where simulated nodes' InternalIPs come from: kind's docker network, node i at .(i+2).
const NODE_NETWORK: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 0);

/// One node.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeConfig {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub taints: Vec<Taint>,
    /// Resource quantities that override the defaults (cpu, memory, ephemeral-storage, pods, …).
    #[serde(default)]
    pub capacity: BTreeMap<String, String>,
    /// Allocatable quantities; what is not named equals capacity.
    #[serde(default)]
    pub allocatable: BTreeMap<String, String>,
    /// The InternalIP; by default one from 172.18.0.0/16 by the node's index.
    #[serde(default, rename = "internalIP")]
    pub internal_ip: Option<IpAddr>,
    /// A pod CIDR to use while the Node has none from the controller-manager's IPAM (upstream
    /// kubelet's `--pod-cidr`).
    #[serde(default, rename = "podCIDR")]
    pub pod_cidr: Option<String>,
    /// Static pod manifests (`--pod-manifest-path`).
    #[serde(default)]
    pub pod_manifest_path: Option<PathBuf>,
}

/// A node-config file that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("parsing {path}: {source}")]
    Parse { path: String, source: serde_yaml_ng::Error },
    #[error("{path}: node {index} has no name")]
    Unnamed { path: String, index: usize },
}

impl NodeConfig {
    /// A node named `name` with the simulated defaults.
    pub fn named(name: impl Into<String>) -> Self {
        NodeConfig {
            name: name.into(),
            ..Default::default()
        }
    }

    /// The capacity this node reports: the defaults with the configured overrides.
    pub fn capacity(&self) -> BTreeMap<String, String> {
        let mut capacity: BTreeMap<String, String> = [
            ("cpu", "4"),
            ("memory", "16Gi"),
            ("ephemeral-storage", "100Gi"),
            ("pods", "110"),
            ("hugepages-1Gi", "0"),
            ("hugepages-2Mi", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        capacity.extend(self.capacity.clone());
        capacity
    }

    /// The allocatable resources: capacity with the configured overrides.
    pub fn allocatable(&self) -> BTreeMap<String, String> {
        let mut allocatable = self.capacity();
        allocatable.extend(self.allocatable.clone());
        allocatable
    }

    /// The node's InternalIP given its index among the nodes of its process.
    pub fn internal_ip(&self, index: usize) -> IpAddr {
        self.internal_ip.unwrap_or_else(|| {
            let offset = u32::try_from(index).unwrap_or(0).saturating_add(2);
            IpAddr::V4(Ipv4Addr::from(u32::from(NODE_NETWORK).saturating_add(offset)))
        })
    }
}

/// The nodes of a `--node-config` file.
pub fn parse_file(path: &std::path::Path) -> Result<Vec<NodeConfig>, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&text, &shown)
}

/// The nodes of a node-config document (a YAML list, or `{nodes: [...]}`).
pub fn parse(text: &str, path: &str) -> Result<Vec<NodeConfig>, ConfigError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Doc {
        List(Vec<NodeConfig>),
        Wrapped { nodes: Vec<NodeConfig> },
    }
    let doc: Doc = serde_yaml_ng::from_str(text).map_err(|source| ConfigError::Parse {
        path: path.to_string(),
        source,
    })?;
    let nodes = match doc {
        Doc::List(nodes) | Doc::Wrapped { nodes } => nodes,
    };
    if let Some(index) = nodes.iter().position(|n| n.name.is_empty()) {
        return Err(ConfigError::Unnamed {
            path: path.to_string(),
            index,
        });
    }
    Ok(nodes)
}

/// The simulated nodes `skiff server --simulated-nodes N` starts: `skiff-node-0` … `skiff-node-<N-1>`.
pub fn simulated(count: usize) -> Vec<NodeConfig> {
    (0..count)
        .map(|i| NodeConfig::named(format!("skiff-node-{i}")))
        .collect()
}

/// The one node a plain `skiff server` starts: named after the host (lowercased, as the
/// kubelet's `--hostname-override` default), with the machine's CPU and memory as capacity.
pub fn host() -> NodeConfig {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_lowercase())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let mut node = NodeConfig::named(name);
    if let Ok(cpus) = std::thread::available_parallelism() {
        node.capacity.insert("cpu".into(), cpus.to_string());
    }
    if let Some(kib) = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| mem_total_kib(&m))
    {
        node.capacity.insert("memory".into(), format!("{kib}Ki"));
    }
    node
}

fn mem_total_kib(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_configs_parse_with_labels_taints_and_capacity() {
        let nodes = parse(
            "- name: a\n  labels: {zone: z1}\n  taints: [{key: k, value: v, effect: NoSchedule}]\n  capacity: {cpu: \"8\"}\n- name: b\n",
            "f",
        )
        .unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].labels["zone"], "z1");
        assert_eq!(nodes[0].taints[0].effect, "NoSchedule");
        assert_eq!(nodes[0].capacity()["cpu"], "8");
        assert_eq!(nodes[0].capacity()["pods"], "110");
        assert_eq!(nodes[1].allocatable()["memory"], "16Gi");
        let wrapped = parse("nodes: [{name: c}]", "f").unwrap();
        assert_eq!(wrapped[0].name, "c");
        assert!(parse("- name: a\n  colour: red\n", "f").is_err());
        assert!(matches!(parse("- labels: {}\n", "f"), Err(ConfigError::Parse { .. })));
        assert!(matches!(
            parse("- name: \"\"\n", "f"),
            Err(ConfigError::Unnamed { index: 0, .. })
        ));
    }

    #[test]
    fn addresses_and_names_come_from_the_index() {
        assert_eq!(NodeConfig::named("a").internal_ip(0).to_string(), "172.18.0.2");
        assert_eq!(NodeConfig::named("a").internal_ip(300).to_string(), "172.18.1.46");
        let names: Vec<String> = simulated(3).into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["skiff-node-0", "skiff-node-1", "skiff-node-2"]);
        assert_eq!(mem_total_kib("MemTotal:       24000000 kB\n"), Some(24_000_000));
        assert!(!host().name.is_empty());
    }
}
