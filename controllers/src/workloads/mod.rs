//! The controller-manager's workload loops: garbage collector, ReplicaSet/ReplicationController,
//! Deployment, StatefulSet, DaemonSet, Job (with TTL after finished) and CronJob, all over the
//! shared informers of [`crate::core`].

pub mod pods;
