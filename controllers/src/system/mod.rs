//! The apiserver's companions: namespace lifecycle, the default ServiceAccount and root CA
//! publishers, legacy ServiceAccount token Secrets, and CRD cleanup.

pub mod active;
pub mod crd_cleanup;
pub mod namespace;
pub mod per_namespace;
pub mod root_ca;
pub mod service_account;
pub mod service_account_token;

use crate::core::credentials::Identity;
use crate::core::informers::Informers;
use skiff_machinery::serviceaccount::SigningKey;
use std::future::Future;
use std::sync::Arc;

/// Start the companion loops, each as its upstream identity (the token controller, as upstream's
/// root client, as the controller-manager itself, and only with a signing key); the returned
/// future runs them until the server goes away.
pub fn run(
    informers: &Informers,
    root_ca_pem: String,
    service_account_key: Option<Arc<SigningKey>>,
) -> impl Future<Output = ()> + Send + 'static {
    let publisher = |name| per_namespace::Clients {
        read: informers.client().clone(),
        write: informers.client_as(Identity::Controller(name)),
    };
    let namespaces = informers.client_as(Identity::Controller("namespace-controller"));
    let crds = informers.client_as(Identity::Apiserver);
    let service_accounts = publisher("service-account-controller");
    let root_ca = publisher("root-ca-cert-publisher");
    let token_client = informers.client_as(Identity::ControllerManager);
    async move {
        let tokens = async {
            if let Some(key) = service_account_key {
                service_account_token::run(token_client, key, root_ca_pem.clone()).await;
            }
        };
        tokio::join!(
            namespace::run(namespaces),
            crd_cleanup::run(crds),
            service_account::run(service_accounts),
            root_ca::run(root_ca, root_ca_pem.clone()),
            tokens,
        );
    }
}
