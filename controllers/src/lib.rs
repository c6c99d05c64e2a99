//! Skiff's built-in control loops. Each is a kube-runtime `Controller` that sees the API only
//! through a `kube::Client`, exactly like a user's operator. Every loop family is a module of its
//! own over the shared [`core`]:
//! - [`system`]: namespace lifecycle, ServiceAccounts, root CA, CRD cleanup;

pub mod core;
pub mod system;

/// Run every built-in control loop until the client's server goes away.
pub async fn run(client: kube::Client, root_ca_pem: String) {
    system::run(client, root_ca_pem).await;
}
