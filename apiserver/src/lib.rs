//! Skiff's apiserver: the upstream Kubernetes wire API over an etcd-shaped revisioned store.

pub mod apply;
pub mod audit;
pub mod auth;
pub mod crd;
pub mod http;
pub mod openapi;
pub mod patch;
pub mod pki;
pub mod protobuf;
pub mod registry;
pub mod server;
pub mod status;
pub mod storage;
pub mod tls;
pub mod warning;
pub mod watch;
pub mod webhook;
pub use server::ApiServer;
