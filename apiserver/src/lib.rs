//! Skiff's apiserver: the upstream Kubernetes wire API over an etcd-shaped revisioned store.

pub mod registry;
pub mod storage;
