//! The scenarios, the sizes they run at, and the loads they share (filling a namespace).

pub mod create;
pub mod density;
pub mod memory;
pub mod rbac;
pub mod read;
pub mod startup;
pub mod watch;

use crate::load::{drive, Driven};
use crate::objects;
use crate::peers::{Etcd, Skiff};
use std::path::PathBuf;

/// What every scenario needs: the binaries to start and the sizes to run at.
pub struct Bench {
    pub skiff: PathBuf,
    /// `None` when etcd is not measured (`--no-etcd`).
    pub etcd: Option<PathBuf>,
    pub sizes: Sizes,
}

/// How big each scenario runs.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Concurrent clients of every closed-loop load.
    pub clients: usize,
    pub create_objects: usize,
    /// Fresh servers per system, alternating, whose creates are pooled.
    pub create_rounds: usize,
    pub startup_runs: usize,
    pub memory_objects: usize,
    pub read_objects: usize,
    pub read_gets: usize,
    pub read_unpaged_lists: usize,
    pub read_pages: usize,
    pub page_limit: usize,
    pub watchers: usize,
    pub watch_updates_per_s: u64,
    pub watch_seconds: u64,
    /// Simulated nodes and pods of the `density` scenario, and how long its steady CPU is read.
    pub density_nodes: usize,
    pub density_pods: usize,
    pub density_steady_seconds: u64,
}

impl Sizes {
    /// The sizes the issue asks for.
    pub fn full() -> Sizes {
        Sizes {
            clients: 16,
            create_objects: 20_000,
            create_rounds: 3,
            startup_runs: 5,
            memory_objects: 100_000,
            read_objects: 10_000,
            read_gets: 20_000,
            read_unpaged_lists: 32,
            read_pages: 320,
            page_limit: 500,
            watchers: 1_000,
            watch_updates_per_s: 100,
            watch_seconds: 10,
            density_nodes: 5_000,
            density_pods: 150_000,
            density_steady_seconds: 10,
        }
    }

    /// Tiny sizes for the smoke test: every code path, no meaningful figures.
    pub fn small() -> Sizes {
        Sizes {
            clients: 16,
            create_objects: 100,
            create_rounds: 1,
            startup_runs: 1,
            memory_objects: 200,
            read_objects: 120,
            read_gets: 100,
            read_unpaged_lists: 4,
            read_pages: 8,
            page_limit: 50,
            watchers: 8,
            watch_updates_per_s: 20,
            watch_seconds: 1,
            density_nodes: 5,
            density_pods: 100,
            density_steady_seconds: 1,
        }
    }
}

/// `skiff / etcd`, when etcd was measured and the quotient is finite.
pub fn ratio(skiff: f64, etcd: Option<f64>) -> Option<f64> {
    etcd.map(|e| skiff / e).filter(|r| r.is_finite())
}

/// Create ConfigMaps `0..n` in the bench namespace (which must exist); bytes are the stored JSON.
pub async fn fill_skiff(clients: &[kube::Client], n: usize) -> anyhow::Result<Driven> {
    fill_skiff_named(clients, n, "").await
}

/// [`fill_skiff`] with names that start with `prefix`, so that several fills share a namespace.
pub async fn fill_skiff_named(clients: &[kube::Client], n: usize, prefix: &'static str) -> anyhow::Result<Driven> {
    drive(clients, n, move |client, i| {
        crate::api::create_configmap(client, format!("{prefix}{}", objects::name(i)))
    })
    .await
}

/// Put the same keys and values into etcd; bytes are the values.
pub async fn fill_etcd(clients: &[etcd_client::Client], n: usize) -> anyhow::Result<Driven> {
    drive(clients, n, |mut client, i| async move {
        let name = objects::name(i);
        let value = objects::configmap_bytes(&name);
        let len = value.len();
        client.put(objects::etcd_key(&name), value, None).await?;
        Ok(len)
    })
    .await
}

/// Start skiff, create the bench namespace and connect the clients.
pub async fn skiff_with_namespace(bench: &Bench) -> anyhow::Result<(Skiff, Vec<kube::Client>)> {
    let (skiff, _) = Skiff::start(&bench.skiff).await?;
    let clients = skiff.clients(bench.sizes.clients).await?;
    crate::api::create_namespace(&clients[0]).await?;
    Ok((skiff, clients))
}

/// Start etcd and connect the clients, when etcd is measured.
pub async fn etcd_with_clients(bench: &Bench) -> anyhow::Result<Option<(Etcd, Vec<etcd_client::Client>)>> {
    let Some(binary) = &bench.etcd else {
        return Ok(None);
    };
    let (etcd, _) = Etcd::start(binary).await?;
    let clients = etcd.clients(bench.sizes.clients).await?;
    Ok(Some((etcd, clients)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_needs_etcd_and_a_finite_quotient() {
        assert_eq!(ratio(3.0, Some(2.0)), Some(1.5));
        assert_eq!(ratio(3.0, None), None);
        assert_eq!(ratio(3.0, Some(0.0)), None);
    }
}
