//! The apiserver's companions: namespace lifecycle, the default ServiceAccount and root CA
//! publishers, and CRD cleanup.

pub mod active;
pub mod crd_cleanup;
pub mod namespace;
pub mod per_namespace;
pub mod root_ca;
pub mod service_account;

/// Run the companion loops until the client's server goes away.
pub async fn run(client: kube::Client, root_ca_pem: String) {
    tokio::join!(
        namespace::run(client.clone()),
        crd_cleanup::run(client.clone()),
        service_account::run(client.clone()),
        root_ca::run(client, root_ca_pem),
    );
}
