//! The scheduler's own cache (upstream's internal cache and snapshot in one, owned by the
//! scheduling task so no copy is needed per cycle): node infos in a slab, the nodes in
//! scheduling order (zones interleaved, as upstream's node tree lists them), and every pod
//! placed on a node — bound ones from the informer and assumed ones whose binding is in flight.

use super::labels::Labels;
use super::node_info::NodeInfo;
use super::pod_info::PodInfo;
use k8s_openapi::api::core::v1::Node;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// A pod the cache has placed on a node.
#[derive(Clone, Debug)]
pub struct CachedPod {
    pub info: Arc<PodInfo>,
    pub slot: usize,
    /// Assumed by the scheduler; the informer has not shown the binding yet.
    pub assumed: bool,
}

#[derive(Default)]
pub struct Cache {
    slots: Vec<Option<NodeInfo>>,
    seq: Vec<u64>,
    names: Vec<String>,
    next_seq: u64,
    by_name: HashMap<String, usize>,
    free: Vec<usize>,
    order: Vec<usize>,
    order_dirty: bool,
    pods: HashMap<String, CachedPod>,
    with_affinity: BTreeSet<usize>,
    with_required_anti_affinity: BTreeSet<usize>,
}

/// upstream's utilnode.GetZoneKey: region and zone (GA or beta labels), "" when neither is set.
pub fn zone_key(labels: &Labels) -> String {
    let get = |ga: &str, beta: &str| labels.get(ga).or_else(|| labels.get(beta)).cloned().unwrap_or_default();
    let zone = get("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone");
    let region = get(
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/region",
    );
    if zone.is_empty() && region.is_empty() {
        return String::new();
    }
    format!("{region}:\x00:{zone}")
}

impl Cache {
    fn slot_for(&mut self, name: &str) -> usize {
        if let Some(slot) = self.by_name.get(name) {
            return *slot;
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                self.seq.push(0);
                self.names.push(String::new());
                self.slots.len() - 1
            }
        };
        self.slots[slot] = Some(NodeInfo::default());
        self.seq[slot] = self.next_seq;
        self.names[slot] = name.to_string();
        self.next_seq += 1;
        self.by_name.insert(name.to_string(), slot);
        slot
    }

    /// Drop the slot if it has neither a Node nor pods.
    fn release_if_empty(&mut self, slot: usize) {
        let empty = self.slots[slot]
            .as_ref()
            .is_some_and(|n| n.node.is_none() && n.pods.is_empty());
        if empty {
            self.slots[slot] = None;
            let name = std::mem::take(&mut self.names[slot]);
            self.by_name.remove(&name);
            self.free.push(slot);
        }
    }

    /// Add or replace a Node; returns its previous state.
    pub fn upsert_node(&mut self, node: Arc<Node>) -> Option<Arc<Node>> {
        let name = node.metadata.name.clone().unwrap_or_default();
        let slot = self.slot_for(&name);
        let info = self.slots[slot].as_mut().expect("slot just ensured");
        let old = info.node.take();
        let zone_changed = old.as_ref().map(|o| zone_key(crate::scheduler::labels::node_labels(o)))
            != Some(zone_key(crate::scheduler::labels::node_labels(&node)));
        info.set_node(node);
        if old.is_none() || zone_changed {
            self.order_dirty = true;
        }
        old
    }

    /// Remove a Node (its pods stay known until they go); returns its last state.
    pub fn remove_node(&mut self, name: &str) -> Option<Arc<Node>> {
        let slot = *self.by_name.get(name)?;
        let old = self.slots[slot].as_mut().and_then(|n| {
            n.generation += 1;
            n.node.take()
        });
        self.order_dirty = true;
        self.release_if_empty(slot);
        old
    }

    fn place(&mut self, info: Arc<PodInfo>, node_name: &str, assumed: bool) {
        let slot = self.slot_for(node_name);
        let node = self.slots[slot].as_mut().expect("slot just ensured");
        node.add_pod(info.clone());
        if node.affinity_pods > 0 {
            self.with_affinity.insert(slot);
        }
        if node.required_anti_affinity_pods > 0 {
            self.with_required_anti_affinity.insert(slot);
        }
        self.pods.insert(info.uid.clone(), CachedPod { info, slot, assumed });
    }

    fn unplace(&mut self, uid: &str) -> Option<CachedPod> {
        let cached = self.pods.remove(uid)?;
        if let Some(node) = self.slots[cached.slot].as_mut() {
            node.remove_pod(uid);
            if node.affinity_pods == 0 {
                self.with_affinity.remove(&cached.slot);
            }
            if node.required_anti_affinity_pods == 0 {
                self.with_required_anti_affinity.remove(&cached.slot);
            }
        }
        self.release_if_empty(cached.slot);
        Some(cached)
    }

    /// A bound pod from the informer: added, updated, or confirming an assumed one. Returns the
    /// pod's previous cache entry.
    pub fn add_or_update_pod(&mut self, info: Arc<PodInfo>, node_name: &str) -> Option<CachedPod> {
        let old = self.unplace(&info.uid);
        self.place(info, node_name, false);
        old
    }

    /// Remove a pod (deleted, terminated, or an assumed pod whose binding failed).
    pub fn remove_pod(&mut self, uid: &str) -> Option<CachedPod> {
        self.unplace(uid)
    }

    /// Assume `info` runs on `slot` while its binding is in flight.
    pub fn assume(&mut self, info: Arc<PodInfo>, slot: usize) {
        let name = self.node(slot).name().to_string();
        self.unplace(&info.uid);
        self.place(info, &name, true);
    }

    pub fn pod(&self, uid: &str) -> Option<&CachedPod> {
        self.pods.get(uid)
    }

    pub fn is_assumed(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|p| p.assumed)
    }

    pub fn node(&self, slot: usize) -> &NodeInfo {
        self.slots[slot].as_ref().expect("live slot")
    }

    pub fn slot(&self, name: &str) -> Option<usize> {
        self.by_name
            .get(name)
            .copied()
            .filter(|s| self.slots[*s].as_ref().is_some_and(|n| n.node.is_some()))
    }

    /// The slots of nodes with a Node object, in scheduling order.
    pub fn ordered(&mut self) -> &[usize] {
        if self.order_dirty {
            self.rebuild_order();
        }
        &self.order
    }

    /// The ordered slots; call [`Self::ordered`] first after changes.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    pub fn num_nodes(&mut self) -> usize {
        self.ordered().len()
    }

    /// Slots of nodes with pods that have any inter-pod affinity.
    pub fn nodes_with_affinity(&self) -> impl Iterator<Item = usize> + '_ {
        self.with_affinity
            .iter()
            .copied()
            .filter(|s| self.slots[*s].as_ref().is_some_and(|n| n.node.is_some()))
    }

    /// Slots of nodes with pods that have required anti-affinity.
    pub fn nodes_with_required_anti_affinity(&self) -> impl Iterator<Item = usize> + '_ {
        self.with_required_anti_affinity
            .iter()
            .copied()
            .filter(|s| self.slots[*s].as_ref().is_some_and(|n| n.node.is_some()))
    }

    fn rebuild_order(&mut self) {
        let mut zones: Vec<(u64, String, Vec<(u64, usize)>)> = Vec::new();
        let mut zone_index: HashMap<String, usize> = HashMap::new();
        for (slot, info) in self.slots.iter().enumerate() {
            let Some(info) = info else { continue };
            if info.node.is_none() {
                continue;
            }
            let key = zone_key(info.labels());
            let seq = self.seq[slot];
            let i = *zone_index.entry(key.clone()).or_insert_with(|| {
                zones.push((seq, key, Vec::new()));
                zones.len() - 1
            });
            zones[i].0 = zones[i].0.min(seq);
            zones[i].2.push((seq, slot));
        }
        zones.sort_by_key(|z| z.0);
        for zone in &mut zones {
            zone.2.sort_unstable();
        }
        self.order.clear();
        let longest = zones.iter().map(|z| z.2.len()).max().unwrap_or(0);
        for round in 0..longest {
            for zone in &zones {
                if let Some((_, slot)) = zone.2.get(round) {
                    self.order.push(*slot);
                }
            }
        }
        self.order_dirty = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::node_info::tests::{info, node, pod};

    #[test]
    fn assume_confirm_and_forget() {
        let mut cache = Cache::default();
        cache.upsert_node(node("n1", "2", "4Gi", "110", &[]));
        let slot = cache.slot("n1").unwrap();
        let p = info(pod("a", &[("cpu", "1")], &[]));
        cache.assume(p.clone(), slot);
        assert!(cache.is_assumed("uid-a"));
        assert_eq!(cache.node(slot).requested.milli_cpu, 1000);
        // The informer shows the binding: confirmed, not counted twice.
        cache.add_or_update_pod(p.clone(), "n1");
        assert!(!cache.is_assumed("uid-a"));
        assert_eq!(cache.node(slot).requested.milli_cpu, 1000);
        // A failed binding forgets the assumed pod.
        cache.assume(info(pod("b", &[("cpu", "1")], &[])), slot);
        cache.remove_pod("uid-b");
        assert_eq!(cache.node(slot).pods.len(), 1);
    }

    #[test]
    fn pods_on_unknown_nodes_wait_for_the_node() {
        let mut cache = Cache::default();
        cache.add_or_update_pod(info(pod("a", &[("cpu", "1")], &[])), "later");
        assert_eq!(cache.num_nodes(), 0);
        assert!(cache.slot("later").is_none());
        cache.upsert_node(node("later", "2", "4Gi", "110", &[]));
        let slot = cache.slot("later").unwrap();
        assert_eq!(cache.node(slot).requested.milli_cpu, 1000);
        cache.remove_node("later");
        assert_eq!(cache.num_nodes(), 0);
        cache.remove_pod("uid-a");
        assert!(cache.slot("later").is_none());
    }

    #[test]
    fn zones_are_interleaved() {
        let mut cache = Cache::default();
        for (name, zone) in [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"), ("b2", "b")] {
            cache.upsert_node(node(name, "1", "1Gi", "10", &[("topology.kubernetes.io/zone", zone)]));
        }
        let order: Vec<String> = cache
            .ordered()
            .to_vec()
            .into_iter()
            .map(|s| cache.node(s).name().to_string())
            .collect();
        assert_eq!(order, ["a1", "b1", "a2", "b2", "a3"]);
    }
}
