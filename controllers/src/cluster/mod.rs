//! The controller-manager's cluster-service loops. Today: node IPAM ([`node_ipam`]), which hands
//! every Node its pod CIDR.

pub mod node_ipam;

// Service endpoints, node lifecycle, pod GC, PDB status, quota usage, persistent volumes,
// ClusterRole aggregation and CSR signing (see [`start`]).
pub mod apiserver_endpoints;
pub mod csr_signing;
pub mod disruption;
pub mod endpoints;
pub mod endpointslice;
pub mod mirroring;
pub mod node_lifecycle;
pub mod pod_gc;
pub mod quota;
pub mod role_aggregation;
pub mod taint_eviction;
pub mod taints;
pub mod volume;

/// Start the Service-endpoint, node-lifecycle, pod-GC, disruption, quota, volume,
/// ClusterRole-aggregation and CSR-signing loops: each subscribes to its shared informers now; the returned
/// future runs them all.
pub fn start(
    informers: &crate::core::informers::Informers,
    options: &crate::Options,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let loops: Vec<futures::future::BoxFuture<'static, ()>> = vec![
        Box::pin(endpointslice::start(informers)),
        Box::pin(endpoints::start(informers)),
        Box::pin(mirroring::start(informers)),
        Box::pin(apiserver_endpoints::start(
            informers,
            options.apiserver_address.as_deref(),
        )),
        Box::pin(node_lifecycle::start(informers, options.node_monitor_grace_period)),
        Box::pin(taint_eviction::start(informers)),
        Box::pin(pod_gc::start(informers, pod_gc::DEFAULT_TERMINATED_THRESHOLD)),
        Box::pin(disruption::start(informers)),
        Box::pin(quota::start(informers)),
        Box::pin(volume::start(informers, options.storage_dir.clone())),
        Box::pin(role_aggregation::start(informers)),
        Box::pin(csr_signing::start(informers, options.cluster_signing.clone())),
    ];
    futures::FutureExt::map(futures::future::join_all(loops), drop)
}

/// A Go duration flag value (`40s`, `1m30s`, `500ms`), as kube-controller-manager's flags take.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    skiff_machinery::duration::parse(s).ok_or_else(|| format!("invalid duration {s:?}"))
}
