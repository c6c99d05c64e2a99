//! The scheduler (kube-scheduler's default profile).

pub mod algorithm;
pub mod cache;
pub mod framework;
pub mod hints;
pub mod labels;
pub mod node_info;
pub mod plugins;
pub mod pod_info;
pub mod preemption;
pub mod quantity;
pub mod queue;
pub mod resources;
