//! NodeResourcesFit (the filter, and its LeastAllocated score over cpu and memory with weight 1
//! each) and NodeResourcesBalancedAllocation (1 - the standard deviation of the cpu and memory
//! fractions), as upstream's default profile configures them.

use crate::scheduler::framework::{Plugin, Status};
use crate::scheduler::node_info::NodeInfo;
use crate::scheduler::resources::PodRequests;
use std::borrow::Cow;

pub const MAX_NODE_SCORE: i64 = 100;

/// The reasons the node cannot hold the pod's requests ("Too many pods", "Insufficient cpu"…),
/// in upstream's order; empty when it fits.
pub fn insufficient(req: &PodRequests, node: &NodeInfo) -> Vec<Cow<'static, str>> {
    let mut reasons = Vec::new();
    if node.pods.len() as i64 + 1 > node.allocatable.pods {
        reasons.push(Cow::Borrowed("Too many pods"));
    }
    let r = &req.requests;
    if r.milli_cpu == 0 && r.memory == 0 && r.ephemeral_storage == 0 && r.scalar.is_empty() {
        return reasons;
    }
    let (alloc, used) = (&node.allocatable, &node.requested);
    if r.milli_cpu > 0 && r.milli_cpu > alloc.milli_cpu - used.milli_cpu {
        reasons.push(Cow::Borrowed("Insufficient cpu"));
    }
    if r.memory > 0 && r.memory > alloc.memory - used.memory {
        reasons.push(Cow::Borrowed("Insufficient memory"));
    }
    if r.ephemeral_storage > 0 && r.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage {
        reasons.push(Cow::Borrowed("Insufficient ephemeral-storage"));
    }
    for (name, quantity) in &r.scalar {
        if *quantity == 0 {
            continue;
        }
        if *quantity > alloc.get(name) - used.get(name) {
            reasons.push(Cow::Owned(format!("Insufficient {name}")));
        }
    }
    reasons
}

/// NodeResourcesFit filter.
pub fn fit(req: &PodRequests, node: &NodeInfo) -> Option<Status> {
    let reasons = insufficient(req, node);
    (!reasons.is_empty()).then(|| Status {
        code: crate::scheduler::framework::Code::Unschedulable,
        reasons,
        plugin: Some(Plugin::NodeResourcesFit),
    })
}

fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// NodeResourcesFit's LeastAllocated score: the unrequested share of cpu and memory, counting
/// the scoring defaults for containers without requests.
pub fn least_allocated(req: &PodRequests, node: &NodeInfo) -> i64 {
    let pairs = [
        (node.non_zero_cpu + req.non_zero_cpu, node.allocatable.milli_cpu),
        (node.non_zero_memory + req.non_zero_memory, node.allocatable.memory),
    ];
    let mut score = 0;
    let mut weights = 0;
    for (requested, allocatable) in pairs {
        if allocatable == 0 {
            continue;
        }
        score += least_requested(requested, allocatable);
        weights += 1;
    }
    if weights == 0 {
        0
    } else {
        score / weights
    }
}

/// Whether BalancedAllocation skips the pod: it requests nothing (a best-effort pod).
pub fn balanced_skips(req: &PodRequests) -> bool {
    req.requests.milli_cpu == 0 && req.requests.memory == 0
}

/// NodeResourcesBalancedAllocation score over the actual requests.
pub fn balanced_allocation(req: &PodRequests, node: &NodeInfo) -> i64 {
    let pairs = [
        (
            node.requested.milli_cpu + req.requests.milli_cpu,
            node.allocatable.milli_cpu,
        ),
        (node.requested.memory + req.requests.memory, node.allocatable.memory),
    ];
    let fractions: Vec<f64> = pairs
        .iter()
        .filter(|(_, a)| *a != 0)
        .map(|(r, a)| (*r as f64 / *a as f64).min(1.0))
        .collect();
    let std = match fractions.as_slice() {
        [a, b] => ((a - b) / 2.0).abs(),
        _ => 0.0,
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::node_info::tests::{info, node, pod};

    fn requests(r: &[(&str, &str)]) -> PodRequests {
        info(pod("x", r, &[])).requests.clone()
    }

    #[test]
    fn fit_reports_every_insufficient_resource() {
        let mut n = NodeInfo::new(node("n", "2", "2Gi", "1", &[]));
        assert!(fit(&requests(&[("cpu", "1")]), &n).is_none());
        let s = fit(&requests(&[("cpu", "3"), ("memory", "3Gi")]), &n).unwrap();
        assert_eq!(s.message(), "Insufficient cpu, Insufficient memory");
        n.add_pod(info(pod("a", &[("cpu", "1")], &[])));
        let s = fit(&requests(&[("cpu", "1500m"), ("example.com/gpu", "1")]), &n).unwrap();
        assert_eq!(
            s.reasons,
            ["Too many pods", "Insufficient cpu", "Insufficient example.com/gpu"]
        );
        // A pod with no requests only needs a pod slot.
        assert_eq!(fit(&requests(&[]), &n).unwrap().reasons, ["Too many pods"]);
    }

    #[test]
    fn least_allocated_prefers_emptier_nodes() {
        let empty = NodeInfo::new(node("a", "4", "8Gi", "110", &[]));
        let mut busy = NodeInfo::new(node("b", "4", "8Gi", "110", &[]));
        busy.add_pod(info(pod("p", &[("cpu", "2"), ("memory", "4Gi")], &[])));
        let r = requests(&[("cpu", "1"), ("memory", "2Gi")]);
        // empty: cpu (4000-1000)/4000 = 75, memory 75 → 75; busy: 25 and 25 → 25.
        assert_eq!(least_allocated(&r, &empty), 75);
        assert_eq!(least_allocated(&r, &busy), 25);
    }

    #[test]
    fn balanced_allocation_scores_even_usage() {
        let n = NodeInfo::new(node("a", "4", "8Gi", "110", &[]));
        assert_eq!(
            balanced_allocation(&requests(&[("cpu", "2"), ("memory", "4Gi")]), &n),
            100
        );
        // cpu 50%, memory 0% → std 0.25 → 75.
        assert_eq!(balanced_allocation(&requests(&[("cpu", "2")]), &n), 75);
        assert!(balanced_skips(&requests(&[])));
    }
}
