//! The filter and score plugins of upstream's default profile, as pure functions over a pod's
//! precomputed info and the cache's node infos.

pub mod basic;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_resources;
pub mod topology_spread;
pub mod volume_binding;
