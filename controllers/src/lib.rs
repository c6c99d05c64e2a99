//! Skiff's built-in control loops. Each is a kube-runtime `Controller` that sees the API only
//! through a `kube::Client`, exactly like a user's operator.

mod active;
mod api_errors;
mod backoff;
mod crd_cleanup;
mod namespace;
mod object_loop;
mod outcomes;
mod per_namespace;
mod root_ca;
mod service_account;

/// Run every built-in control loop until the client's server goes away.
pub async fn run(client: kube::Client, root_ca_pem: String) {
    tokio::join!(
        namespace::run(client.clone()),
        crd_cleanup::run(client.clone()),
        service_account::run(client.clone()),
        root_ca::run(client, root_ca_pem),
    );
}
