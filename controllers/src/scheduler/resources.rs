//! Resource vectors and a pod's requests as upstream computes them (resourcehelper.PodRequests):
//! containers summed, init containers in order with restartable sidecars running alongside,
//! pod-level requests for cpu and memory when set, plus the pod overhead; and the "non-zero"
//! variant used for scoring (100m cpu / 200Mi memory for containers that request none).

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use skiff_machinery::quantity::Quantity as Exact;
use std::collections::BTreeMap;

/// The cpu request the scorers assume for a container without one (schedutil.DefaultMilliCPURequest).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The memory request the scorers assume for a container without one (schedutil.DefaultMemoryRequest).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// A collection of compute resources (framework.Resource).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Allowed pod number (only meaningful for allocatable).
    pub pods: i64,
    /// Extended, hugepages and attachable-volume resources.
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    /// The resources of a resource list (node allocatable, a container's requests).
    pub fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Resources {
        let mut r = Resources::default();
        for (name, q) in list.into_iter().flatten() {
            r.add_one(name, &q.0);
        }
        r
    }

    fn add_one(&mut self, name: &str, q: &str) {
        match name {
            "cpu" => self.milli_cpu += milli_value(q),
            "memory" => self.memory += value(q),
            "ephemeral-storage" => self.ephemeral_storage += value(q),
            "pods" => self.pods += value(q),
            other if is_scalar(other) => *self.scalar.entry(other.to_string()).or_insert(0) += value(q),
            _ => {}
        }
    }

    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.pods += other.pods;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_insert(0) += v;
        }
    }

    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.pods -= other.pods;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_insert(0) -= v;
        }
    }

    fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_insert(0);
            *e = (*e).max(*v);
        }
    }

    /// The amount of a named resource.
    pub fn get(&self, name: &str) -> i64 {
        match name {
            "cpu" => self.milli_cpu,
            "memory" => self.memory,
            "ephemeral-storage" => self.ephemeral_storage,
            "pods" => self.pods,
            other => self.scalar.get(other).copied().unwrap_or(0),
        }
    }

    /// Nothing requested at all.
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0 && self.memory == 0 && self.ephemeral_storage == 0 && self.scalar.values().all(|v| *v == 0)
    }
}

/// A quantity's whole units, rounded up (0 when malformed).
fn value(q: &str) -> i64 {
    Exact::parse(q).map(|q| q.value()).unwrap_or(0)
}

/// A quantity's thousandths, rounded up (0 when malformed).
fn milli_value(q: &str) -> i64 {
    Exact::parse(q).map(|q| q.milli_value()).unwrap_or(0)
}

/// Whether a resource name is a scalar resource (schedutil.IsScalarResourceName): extended
/// resources (a domain other than kubernetes.io), hugepages-*, attachable-volumes-*, and
/// native kubernetes.io/ resources other than the core four.
pub fn is_scalar(name: &str) -> bool {
    name.starts_with("hugepages-") || name.starts_with("attachable-volumes-") || name.contains('/')
}

/// What a pod asks of a node: the requests the filter checks, and the non-zero cpu/memory the
/// scorers use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodRequests {
    pub requests: Resources,
    pub non_zero_cpu: i64,
    pub non_zero_memory: i64,
}

impl PodRequests {
    pub fn of(pod: &Pod) -> PodRequests {
        let requests = pod_requests(pod, false);
        let non_zero = pod_requests(pod, true);
        PodRequests {
            requests,
            non_zero_cpu: non_zero.milli_cpu,
            non_zero_memory: non_zero.memory,
        }
    }
}

fn container_requests(c: &Container, non_zero: bool) -> Resources {
    let list = c.resources.as_ref().and_then(|r| r.requests.as_ref());
    let mut r = Resources::from_list(list);
    if non_zero {
        if !list.is_some_and(|l| l.contains_key("cpu")) {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !list.is_some_and(|l| l.contains_key("memory")) {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    r
}

/// resourcehelper.PodRequests for a pod not yet running (no status resources).
fn pod_requests(pod: &Pod, non_zero: bool) -> Resources {
    let Some(spec) = pod.spec.as_ref() else {
        return Resources::default();
    };
    let mut reqs = Resources::default();
    for c in &spec.containers {
        reqs.add(&container_requests(c, non_zero));
    }
    let mut restartable = Resources::default();
    let mut init_max = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let mut container = container_requests(c, non_zero);
        if c.restart_policy.as_deref() == Some("Always") {
            // Sidecars keep running next to the regular containers.
            reqs.add(&container);
            restartable.add(&container);
            container = restartable.clone();
        } else {
            container.add(&restartable);
        }
        init_max.max_with(&container);
    }
    reqs.max_with(&init_max);
    // Pod-level requests (cpu and memory only) replace the aggregate when set.
    if let Some(level) = spec.resources.as_ref().and_then(|r| r.requests.as_ref()) {
        if let Some(q) = level.get("cpu") {
            reqs.milli_cpu = milli_value(&q.0);
        }
        if let Some(q) = level.get("memory") {
            reqs.memory = value(&q.0);
        }
    }
    if let Some(overhead) = spec.overhead.as_ref() {
        let mut o = Resources::from_list(Some(overhead));
        o.pods = 0;
        reqs.add(&o);
    }
    reqs.pods = 0;
    reqs
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};

    pub fn container(name: &str, requests: &[(&str, &str)]) -> Container {
        Container {
            name: name.into(),
            resources: (!requests.is_empty()).then(|| ResourceRequirements {
                requests: Some(
                    requests
                        .iter()
                        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pod(containers: Vec<Container>, init: Vec<Container>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers,
                init_containers: (!init.is_empty()).then_some(init),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn init_containers_take_the_max() {
        // Upstream's example: init 2cpu/1G, 2cpu/3G; containers 2cpu/1G + 1cpu/1G → 3 cpu, 3G.
        let p = pod(
            vec![
                container("c1", &[("cpu", "2"), ("memory", "1G")]),
                container("c2", &[("cpu", "1"), ("memory", "1G")]),
            ],
            vec![
                container("i1", &[("cpu", "2"), ("memory", "1G")]),
                container("i2", &[("cpu", "2"), ("memory", "3G")]),
            ],
        );
        let r = PodRequests::of(&p).requests;
        assert_eq!((r.milli_cpu, r.memory), (3000, 3_000_000_000));
    }

    #[test]
    fn sidecars_add_to_the_containers() {
        let mut sidecar = container("s", &[("cpu", "500m")]);
        sidecar.restart_policy = Some("Always".into());
        let p = pod(
            vec![container("c", &[("cpu", "1")])],
            vec![sidecar, container("i", &[("cpu", "2")])],
        );
        // containers 1 + sidecar 0.5 = 1.5; the later init container runs next to the sidecar: 2.5.
        assert_eq!(PodRequests::of(&p).requests.milli_cpu, 2500);
    }

    #[test]
    fn overhead_extended_and_non_zero_defaults() {
        let mut p = pod(
            vec![
                container("c", &[("example.com/gpu", "2")]),
                container("d", &[("cpu", "250m")]),
            ],
            vec![],
        );
        p.spec.as_mut().unwrap().overhead = Some([("cpu".to_string(), Quantity("10m".into()))].into());
        let r = PodRequests::of(&p);
        assert_eq!(r.requests.milli_cpu, 260);
        assert_eq!(r.requests.get("example.com/gpu"), 2);
        // c has no cpu request: 100m assumed for scoring; both lack memory: 2 × 200Mi.
        assert_eq!(r.non_zero_cpu, 360);
        assert_eq!(r.non_zero_memory, 2 * DEFAULT_MEMORY_REQUEST);
        assert!(!r.requests.is_zero());
        assert!(PodRequests::of(&pod(vec![container("c", &[])], vec![]))
            .requests
            .is_zero());
    }
}
