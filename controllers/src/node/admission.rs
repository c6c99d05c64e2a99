//! The kubelet's pod admission (`predicateAdmitHandler`, resource part): a pod bound to the node
//! by hand (spec.nodeName, no scheduler) that does not fit what the admitted pods leave of the
//! node's allocatable is rejected: phase Failed, reason `OutOf<resource>`, message `Pod was
//! rejected: Node didn't have enough resource: cpu, requested: 8000, used: 500, capacity: 4000`.
//! Requests are computed as the scheduler computes them (init containers, sidecars, overhead).

use crate::scheduler::resources::{PodRequests, Resources};
use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeMap;

/// Why a pod was rejected: the status reason and the message after `Pod was rejected: `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub reason: String,
    pub message: String,
}

/// The requests a pod counts against its node.
pub fn requests(pod: &Pod) -> Resources {
    PodRequests::of(pod).requests
}

/// Check `pod` against `allocatable` with `used` taken by `admitted` pods already there; the
/// first shortfall in upstream's order (pods, cpu, memory, ephemeral-storage, then the rest).
pub fn admit(pod: &Pod, allocatable: &Resources, used: &Resources, admitted: i64) -> Result<(), Rejection> {
    let req = requests(pod);
    let short = |name: &str, requested: i64, used: i64, capacity: i64| Rejection {
        reason: format!("OutOf{name}"),
        message: format!(
            "Node didn't have enough resource: {name}, requested: {requested}, used: {used}, capacity: {capacity}"
        ),
    };
    if admitted + 1 > allocatable.pods {
        return Err(short("pods", 1, admitted, allocatable.pods));
    }
    let core = [
        ("cpu", req.milli_cpu, used.milli_cpu, allocatable.milli_cpu),
        ("memory", req.memory, used.memory, allocatable.memory),
        (
            "ephemeral-storage",
            req.ephemeral_storage,
            used.ephemeral_storage,
            allocatable.ephemeral_storage,
        ),
    ];
    for (name, requested, used, capacity) in core {
        if requested > 0 && requested > capacity - used {
            return Err(short(name, requested, used, capacity));
        }
    }
    for (name, requested) in &req.scalar {
        let capacity = allocatable.scalar.get(name).copied().unwrap_or(0);
        let taken = used.scalar.get(name).copied().unwrap_or(0);
        if *requested > 0 && *requested > capacity - taken {
            return Err(short(name, *requested, taken, capacity));
        }
    }
    Ok(())
}

/// A node's allocatable as resources.
pub fn allocatable(list: &BTreeMap<String, String>) -> Resources {
    let list: BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity> = list
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                k8s_openapi::apimachinery::pkg::api::resource::Quantity(v.clone()),
            )
        })
        .collect();
    Resources::from_list(Some(&list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(cpu: &str) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "c", "image": "i", "resources": {"requests": {"cpu": cpu, "memory": "1Gi", "example.com/gpu": "1"}}}
        ]}}))
        .unwrap()
    }

    #[test]
    fn pods_that_do_not_fit_are_rejected_with_upstreams_message() {
        let mut list = BTreeMap::new();
        for (k, v) in [
            ("cpu", "4"),
            ("memory", "16Gi"),
            ("pods", "2"),
            ("example.com/gpu", "1"),
        ] {
            list.insert(k.to_string(), v.to_string());
        }
        let alloc = allocatable(&list);
        assert_eq!(admit(&pod("1"), &alloc, &Resources::default(), 0), Ok(()));
        let big = admit(&pod("8"), &alloc, &requests(&pod("500m")), 1).unwrap_err();
        assert_eq!(big.reason, "OutOfcpu");
        assert_eq!(
            big.message,
            "Node didn't have enough resource: cpu, requested: 8000, used: 500, capacity: 4000"
        );
        assert_eq!(
            admit(&pod("1"), &alloc, &Resources::default(), 2).unwrap_err().reason,
            "OutOfpods"
        );
        let gpu = admit(&pod("1"), &alloc, &requests(&pod("1")), 1).unwrap_err();
        assert_eq!(gpu.reason, "OutOfexample.com/gpu");
    }
}
