//! The garbage collector (upstream's pkg/controller/garbagecollector): it keeps an ownership
//! graph of every object of every deletable, watchable resource ([`monitors`], [`graph`]) and
//! deletes objects whose owners are all gone, finishes foreground deletions (dependents first,
//! blockOwnerDeletion ones before the owner's `foregroundDeletion` finalizer goes) and orphan
//! deletions (owner references removed before the `orphan` finalizer goes) ([`collector`]).

pub mod collector;
pub mod graph;
pub mod monitors;
pub mod queue;

use crate::core::credentials::Identity;
use crate::core::informers::Informers;
use crate::workloads::events::Recorder;
use collector::Collector;
use futures::channel::{mpsc, oneshot};
use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use std::future::Future;
use std::sync::Arc;

/// The controller's name (events' source).
pub const CONTROLLER: &str = "garbage-collector-controller";
/// Concurrent attemptToDelete workers (kube-controller-manager's --concurrent-gc-syncs).
const DELETE_WORKERS: usize = 20;
const ORPHAN_WORKERS: usize = 2;

/// Subscribe to CRD changes now (they trigger discovery); the returned future runs the collector.
pub fn start(informers: &Informers) -> impl Future<Output = ()> + Send + 'static {
    let crd_changes = informers.get::<CustomResourceDefinition>().subscribe().map(|_| ());
    let client = informers.client_as(Identity::Controller("generic-garbage-collector"));
    async move {
        let (changes_tx, mut changes_rx) = mpsc::unbounded();
        let resources = Arc::new(monitors::Resources::default());
        let collector = Arc::new(Collector::new(
            client.clone(),
            resources.clone(),
            changes_tx.clone(),
            Recorder::new(client.clone(), CONTROLLER),
        ));
        let (synced_tx, synced_rx) = oneshot::channel();
        let monitors = monitors::run(client, resources, changes_tx, crd_changes, synced_tx);
        let graph = {
            let collector = collector.clone();
            async move {
                while let Some(change) = changes_rx.next().await {
                    collector.apply(change);
                }
            }
        };
        let workers = {
            let collector = collector.clone();
            async move {
                // Collect only once the first lists are in (upstream waits for its caches).
                let _ = synced_rx.await;
                let deleters = (0..DELETE_WORKERS).map(|_| tokio::spawn(collector.clone().delete_worker()));
                let orphaners = (0..ORPHAN_WORKERS).map(|_| tokio::spawn(collector.clone().orphan_worker()));
                let handles: Vec<_> = deleters.chain(orphaners).collect();
                let _guard = AbortOnDrop(handles.iter().map(|h| h.abort_handle()).collect());
                futures::future::join_all(handles).await;
            }
        };
        tokio::join!(monitors, graph, workers);
    }
}

/// Aborts the worker tasks when the collector's future is dropped.
struct AbortOnDrop(Vec<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for handle in &self.0 {
            handle.abort();
        }
    }
}
