//! The controller-manager's workload loops: garbage collector, ReplicaSet/ReplicationController,
//! Deployment, StatefulSet, DaemonSet, Job (with TTL after finished) and CronJob, all over the
//! shared informers of [`crate::core`].

pub mod claim;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod events;
pub mod gc;
pub mod history;
pub mod job;
pub mod pod_control;
pub mod pods;
pub mod replicaset;
pub mod statefulset;

use crate::core::informers::Informers;
use futures::future::BoxFuture;
use futures::FutureExt;

/// Start every workload loop: each subscribes to its shared informers now; the returned future
/// runs them all.
pub fn start(informers: &Informers) -> impl std::future::Future<Output = ()> + Send + 'static {
    let loops: Vec<BoxFuture<'static, ()>> = vec![
        Box::pin(replicaset::start_replica_sets(informers)),
        Box::pin(replicaset::start_replication_controllers(informers)),
        Box::pin(deployment::start(informers)),
        Box::pin(gc::start(informers)),
        Box::pin(statefulset::start(informers)),
        Box::pin(daemonset::start(informers)),
        Box::pin(job::start(informers)),
        Box::pin(cronjob::start(informers)),
    ];
    futures::future::join_all(loops).map(drop)
}
