//! Node IPAM (kube-controller-manager's `nodeipam` range allocator, `--allocate-node-cidrs`):
//! gives every Node a `spec.podCIDR`/`podCIDRs` carved from the cluster CIDR (`--cluster-cidr`,
//! default 10.244.0.0/16, a /24 per node: `--node-cidr-mask-size`). Allocation goes round-robin
//! from the last one handed out, as upstream's cidrset does; a deleted node's range returns to the
//! pool. When the range is exhausted the node gets a `CIDRNotAvailable` event and waits.
//! CIDR arithmetic is a few lines over u128 on std's addresses, so no crate for it.

use crate::core::credentials::Identity;
use crate::core::informers::Informers;
use crate::core::{backoff::ErrorBackoff, outcomes};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::{Client, Resource, ResourceExt};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The default cluster CIDR (kubeadm's and flannel's).
pub const DEFAULT_CLUSTER_CIDR: &str = "10.244.0.0/16";
/// The default node mask size for IPv4 (upstream's `--node-cidr-mask-size-ipv4`).
pub const DEFAULT_NODE_MASK: u8 = 24;
/// Upstream refuses a node mask more than 16 bits longer than the cluster mask.
const MAX_MASK_DIFFERENCE: u8 = 16;

/// An IP network: its first address and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    base: u128,
    prefix: u8,
    v6: bool,
}

/// A CIDR that does not parse, with upstream's wording.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid CIDR address: {0}")]
pub struct BadCidr(pub String);

impl FromStr for Cidr {
    type Err = BadCidr;

    fn from_str(s: &str) -> Result<Self, BadCidr> {
        let bad = || BadCidr(s.to_string());
        let (addr, prefix) = s.trim().split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        let (value, v6) = match addr {
            IpAddr::V4(a) => (u128::from(u32::from(a)), false),
            IpAddr::V6(a) => (u128::from(a), true),
        };
        let bits = if v6 { 128 } else { 32 };
        if prefix > bits {
            return Err(bad());
        }
        Ok(Cidr {
            base: value & mask(bits, prefix),
            prefix,
            v6,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}",
            self.addr(0).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            self.prefix
        )
    }
}

/// The network mask of `prefix` bits in an address of `bits` bits.
fn mask(bits: u8, prefix: u8) -> u128 {
    let host = u32::from(bits - prefix);
    let all = if bits == 128 { u128::MAX } else { (1u128 << bits) - 1 };
    if host >= 128 {
        0
    } else {
        all & !((1u128 << host) - 1)
    }
}

impl Cidr {
    fn bits(&self) -> u8 {
        if self.v6 {
            128
        } else {
            32
        }
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn is_ipv6(&self) -> bool {
        self.v6
    }

    /// How many addresses the network holds (saturating at u128::MAX).
    pub fn size(&self) -> u128 {
        let host = u32::from(self.bits() - self.prefix);
        1u128.checked_shl(host).unwrap_or(u128::MAX)
    }

    /// The address `offset` into the network.
    pub fn addr(&self, offset: u128) -> Option<IpAddr> {
        if offset >= self.size() {
            return None;
        }
        let value = self.base + offset;
        Some(if self.v6 {
            IpAddr::V6(Ipv6Addr::from(value))
        } else {
            IpAddr::V4(Ipv4Addr::from(value as u32))
        })
    }

    /// The offset of `ip` in the network, if it is inside.
    pub fn offset_of(&self, ip: IpAddr) -> Option<u128> {
        let (value, v6) = match ip {
            IpAddr::V4(a) => (u128::from(u32::from(a)), false),
            IpAddr::V6(a) => (u128::from(a), true),
        };
        (v6 == self.v6 && value & mask(self.bits(), self.prefix) == self.base).then(|| value - self.base)
    }

    /// The `index`-th subnet of `prefix` bits.
    pub fn subnet(&self, prefix: u8, index: u128) -> Option<Cidr> {
        if prefix < self.prefix || prefix > self.bits() {
            return None;
        }
        let count = 1u128.checked_shl(u32::from(prefix - self.prefix))?;
        if index >= count {
            return None;
        }
        let step = 1u128.checked_shl(u32::from(self.bits() - prefix)).unwrap_or(0);
        Some(Cidr {
            base: self.base + index * step,
            prefix,
            v6: self.v6,
        })
    }

    /// Which subnet of `prefix` bits `sub` is, if it is one of this network's.
    pub fn subnet_index(&self, sub: &Cidr, prefix: u8) -> Option<u128> {
        if sub.prefix != prefix || sub.v6 != self.v6 || prefix < self.prefix {
            return None;
        }
        let offset = self.offset_of(sub.addr(0)?)?;
        Some(offset >> u32::from(self.bits() - prefix))
    }
}

/// Upstream's cidrset: which node ranges of a cluster CIDR are taken.
#[derive(Debug)]
pub struct CidrSet {
    cluster: Cidr,
    node_mask: u8,
    count: u128,
    used: BTreeSet<u128>,
    next: u128,
}

/// Why a cidrset cannot be made or give out a range.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IpamError {
    #[error("invalid node CIDR mask size {mask} for cluster CIDR {cluster}: it must be between the cluster's mask and {max}")]
    Mask { mask: u8, cluster: Cidr, max: u8 },
    #[error("CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range")]
    Full,
}

impl CidrSet {
    pub fn new(cluster: Cidr, node_mask: u8) -> Result<Self, IpamError> {
        let max = (cluster.prefix + MAX_MASK_DIFFERENCE).min(cluster.bits());
        if node_mask < cluster.prefix || node_mask > max {
            return Err(IpamError::Mask {
                mask: node_mask,
                cluster,
                max,
            });
        }
        Ok(CidrSet {
            cluster,
            node_mask,
            count: 1u128 << u32::from(node_mask - cluster.prefix),
            used: BTreeSet::new(),
            next: 0,
        })
    }

    /// Take the next free range after the last one given out.
    pub fn allocate(&mut self) -> Result<Cidr, IpamError> {
        for step in 0..self.count {
            let index = (self.next + step) % self.count;
            if self.used.insert(index) {
                self.next = (index + 1) % self.count;
                return self.cluster.subnet(self.node_mask, index).ok_or(IpamError::Full);
            }
        }
        Err(IpamError::Full)
    }

    /// Mark `cidr` taken (a node that already has it); false if it is not one of ours.
    pub fn occupy(&mut self, cidr: &Cidr) -> bool {
        match self.cluster.subnet_index(cidr, self.node_mask) {
            Some(index) => {
                self.used.insert(index);
                true
            }
            None => false,
        }
    }

    /// Give `cidr` back.
    pub fn release(&mut self, cidr: &Cidr) {
        if let Some(index) = self.cluster.subnet_index(cidr, self.node_mask) {
            self.used.remove(&index);
        }
    }
}

/// What the node IPAM loop is started with.
#[derive(Clone, Debug)]
pub struct Config {
    pub cluster_cidr: Cidr,
    pub node_mask: u8,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cluster_cidr: DEFAULT_CLUSTER_CIDR.parse().unwrap_or(Cidr {
                base: 0x0af4_0000,
                prefix: 16,
                v6: false,
            }),
            node_mask: DEFAULT_NODE_MASK,
        }
    }
}

impl Config {
    /// A cluster CIDR and node mask that fit `nodes` nodes: the default /16 while it has room,
    /// else 10.128.0.0/9 (32,768 /24s, clear of the 10.96.0.0/12 service range).
    pub fn for_nodes(nodes: usize) -> Config {
        let mut config = Config::default();
        if nodes > 256 {
            if let Ok(big) = "10.128.0.0/9".parse() {
                config.cluster_cidr = big;
            }
        }
        config
    }
}

struct Ipam {
    client: Client,
    /// One lock for the set and what was given: no lock order to get wrong.
    state: Mutex<State>,
    recorder: Recorder,
    errors: ErrorBackoff,
}

struct State {
    set: CidrSet,
    /// What each node was given, until its spec shows it.
    given: HashMap<String, Cidr>,
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error(transparent)]
    Ipam(#[from] IpamError),
}

/// The node IPAM loop when `config` asks for one (`--allocate-node-cidrs`), else nothing.
pub fn start_if(informers: &Informers, config: Option<Config>) -> futures::future::BoxFuture<'static, ()> {
    use futures::FutureExt;
    match config {
        Some(config) => start(informers, config).boxed(),
        None => futures::future::ready(()).boxed(),
    }
}

/// Start the node IPAM loop over the shared Node informer.
pub fn start(informers: &Informers, config: Config) -> impl std::future::Future<Output = ()> + Send + 'static {
    let nodes = informers.get::<Node>();
    let changes = nodes.subscribe();
    let store = nodes.store().clone();
    let client = informers.client_as(Identity::Controller("node-controller"));
    async move {
        let set = match CidrSet::new(config.cluster_cidr, config.node_mask) {
            Ok(set) => set,
            Err(error) => {
                tracing::error!(%error, "node IPAM is not running");
                return;
            }
        };
        let reporter = Reporter {
            controller: "cidrAllocator".into(),
            instance: None,
        };
        let ipam = Arc::new(Ipam {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            state: Mutex::new(State {
                set,
                given: HashMap::new(),
            }),
            errors: ErrorBackoff::default(),
        });
        if store.wait_until_ready().await.is_err() {
            return;
        }
        {
            let mut state = ipam.lock();
            for node in store.state() {
                for cidr in node_cidrs(&node) {
                    state.set.occupy(&cidr);
                }
            }
        }
        let watcher_ipam = ipam.clone();
        let watcher_store = store.clone();
        let changes = changes.filter_map(move |node| {
            let gone = watcher_store
                .get(&ObjectRef::from_obj(node.as_ref()))
                .is_none_or(|current| current.uid() != node.uid());
            if gone {
                watcher_ipam.release(&node);
            }
            futures::future::ready((!gone).then_some(node))
        });
        let outcomes = Controller::for_shared_stream(changes, store).run(reconcile, error_policy, ipam);
        outcomes::drain("node-ipam-controller", outcomes).await;
    }
}

/// The node's podCIDRs.
fn node_cidrs(node: &Node) -> Vec<Cidr> {
    let spec = node.spec.as_ref();
    let mut cidrs: Vec<Cidr> = spec
        .and_then(|s| s.pod_cidrs.as_ref())
        .into_iter()
        .flatten()
        .chain(spec.and_then(|s| s.pod_cidr.as_ref()))
        .filter_map(|c| c.parse().ok())
        .collect();
    cidrs.dedup();
    cidrs
}

impl Ipam {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The range given to node `name`: the one it was given already, else a new one.
    fn assign(&self, name: &str) -> Result<Cidr, IpamError> {
        let mut state = self.lock();
        if let Some(cidr) = state.given.get(name) {
            return Ok(*cidr);
        }
        let cidr = state.set.allocate()?;
        state.given.insert(name.to_string(), cidr);
        Ok(cidr)
    }

    /// The node has its ranges: they are taken, and one given earlier that it did not take is freed.
    fn took(&self, name: &str, existing: &[Cidr]) {
        let mut state = self.lock();
        for cidr in existing {
            state.set.occupy(cidr);
        }
        if let Some(earlier) = state.given.remove(name) {
            if !existing.contains(&earlier) {
                state.set.release(&earlier);
            }
        }
    }

    fn release(&self, node: &Node) {
        let mut state = self.lock();
        for cidr in node_cidrs(node) {
            state.set.release(&cidr);
        }
        if let Some(given) = state.given.remove(&node.name_any()) {
            state.set.release(&given);
        }
    }
}

async fn reconcile(node: Arc<Node>, ipam: Arc<Ipam>) -> Result<Action, Error> {
    let name = node.name_any();
    let existing = node_cidrs(&node);
    if !existing.is_empty() {
        ipam.took(&name, &existing);
        return Ok(Action::await_change());
    }
    let cidr = match ipam.assign(&name) {
        Ok(cidr) => cidr,
        Err(error) => {
            let event = Event {
                type_: EventType::Normal,
                reason: "CIDRNotAvailable".into(),
                note: Some(format!("Node {name} status is now: CIDRNotAvailable")),
                action: "CIDRAssignmentFailed".into(),
                secondary: None,
            };
            let mut reference = node.object_ref(&());
            reference.uid = Some(name.clone());
            let _ = ipam.recorder.publish(&event, &reference).await;
            return Err(error.into());
        }
    };
    let patch = serde_json::json!({"spec": {"podCIDR": cidr.to_string(), "podCIDRs": [cidr.to_string()]}});
    Api::<Node>::all(ipam.client.clone())
        .patch(&name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    tracing::debug!(node = %name, %cidr, "assigned the node's pod CIDR");
    ipam.errors.succeeded(&name);
    Ok(Action::await_change())
}

fn error_policy(node: Arc<Node>, error: &Error, ipam: Arc<Ipam>) -> Action {
    let name = node.name_any();
    tracing::debug!(node = %name, %error, "pod CIDR assignment failed");
    match error {
        Error::Ipam(_) => Action::requeue(Duration::from_secs(30)),
        Error::Api(_) => ipam.errors.requeue(&name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_parse_print_and_normalize() {
        assert_eq!(cidr("10.244.3.7/16").to_string(), "10.244.0.0/16");
        assert_eq!(cidr("fd00::1/48").to_string(), "fd00::/48");
        assert_eq!("10.0.0.0/33".parse::<Cidr>(), Err(BadCidr("10.0.0.0/33".into())));
        assert!("nonsense".parse::<Cidr>().is_err());
        let net = cidr("10.244.1.0/24");
        assert_eq!(net.size(), 256);
        assert_eq!(net.addr(2), Some("10.244.1.2".parse().unwrap()));
        assert_eq!(net.addr(256), None);
        assert_eq!(net.offset_of("10.244.1.9".parse().unwrap()), Some(9));
        assert_eq!(net.offset_of("10.244.2.9".parse().unwrap()), None);
    }

    #[test]
    fn subnets_are_numbered_in_order() {
        let cluster = cidr("10.244.0.0/16");
        assert_eq!(cluster.subnet(24, 0), Some(cidr("10.244.0.0/24")));
        assert_eq!(cluster.subnet(24, 255), Some(cidr("10.244.255.0/24")));
        assert_eq!(cluster.subnet(24, 256), None);
        assert_eq!(cluster.subnet_index(&cidr("10.244.7.0/24"), 24), Some(7));
        assert_eq!(cluster.subnet_index(&cidr("10.245.7.0/24"), 24), None);
        let v6 = cidr("fd00::/48");
        assert_eq!(v6.subnet(64, 1), Some(cidr("fd00:0:0:1::/64")));
    }

    #[test]
    fn the_set_goes_round_robin_and_fills_up() {
        let mut set = CidrSet::new(cidr("10.0.0.0/30"), 31).unwrap();
        assert_eq!(set.allocate(), Ok(cidr("10.0.0.0/31")));
        assert_eq!(set.allocate(), Ok(cidr("10.0.0.2/31")));
        assert_eq!(set.allocate(), Err(IpamError::Full));
        set.release(&cidr("10.0.0.0/31"));
        assert_eq!(set.allocate(), Ok(cidr("10.0.0.0/31")));
        let mut set = CidrSet::new(cidr("10.244.0.0/16"), 24).unwrap();
        assert!(set.occupy(&cidr("10.244.0.0/24")));
        assert!(!set.occupy(&cidr("192.168.0.0/24")));
        assert_eq!(set.allocate(), Ok(cidr("10.244.1.0/24")));
    }

    #[test]
    fn masks_must_fit_the_cluster_cidr() {
        assert!(matches!(
            CidrSet::new(cidr("10.0.0.0/8"), 25),
            Err(IpamError::Mask { max: 24, .. })
        ));
        assert!(CidrSet::new(cidr("10.0.0.0/8"), 24).is_ok());
        assert!(CidrSet::new(cidr("10.0.0.0/16"), 15).is_err());
    }

    #[test]
    fn large_clusters_get_a_larger_range() {
        assert_eq!(Config::for_nodes(3).cluster_cidr, cidr("10.244.0.0/16"));
        let big = Config::for_nodes(5000);
        assert_eq!(big.cluster_cidr, cidr("10.128.0.0/9"));
        assert!(CidrSet::new(big.cluster_cidr, big.node_mask).unwrap().count >= 5000);
    }
}
