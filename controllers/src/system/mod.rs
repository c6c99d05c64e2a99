//! The apiserver's companions: namespace lifecycle, the default ServiceAccount and root CA
//! publishers, and CRD cleanup.

pub mod active;
pub mod crd_cleanup;
pub mod namespace;
pub mod per_namespace;
pub mod root_ca;
pub mod service_account;

use crate::core::credentials::Identity;
use crate::core::informers::Informers;
use std::future::Future;

/// Start the companion loops, each as its upstream identity; the returned future runs them until
/// the server goes away.
pub fn run(informers: &Informers, root_ca_pem: String) -> impl Future<Output = ()> + Send + 'static {
    let publisher = |name| per_namespace::Clients {
        read: informers.client().clone(),
        write: informers.client_as(Identity::Controller(name)),
    };
    let namespaces = informers.client_as(Identity::Controller("namespace-controller"));
    let crds = informers.client_as(Identity::Apiserver);
    let service_accounts = publisher("service-account-controller");
    let root_ca = publisher("root-ca-cert-publisher");
    async move {
        tokio::join!(
            namespace::run(namespaces),
            crd_cleanup::run(crds),
            service_account::run(service_accounts),
            root_ca::run(root_ca, root_ca_pem),
        );
    }
}
