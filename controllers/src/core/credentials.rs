//! Who each loop is when it talks to the API, as upstream's kube-controller-manager with
//! `--use-service-account-credentials` and kube-scheduler run: every controller as its own
//! ServiceAccount in kube-system (`system:serviceaccount:kube-system:replicaset-controller`), whose
//! bootstrap role `system:controller:replicaset-controller` grants exactly what it needs; the
//! scheduler as `system:kube-scheduler`; the shared watches as `system:kube-controller-manager`.
//!
//! [`Credentials`] turns an [`Identity`] into a client: in `skiff server` an in-process client
//! authenticated as that user; against another cluster (`skiff controller-manager --kubeconfig`)
//! the one client the kubeconfig gives, for every identity.

use kube::Client;
use std::sync::Arc;

/// The namespace of the controllers' ServiceAccounts.
pub const CONTROLLER_NAMESPACE: &str = "kube-system";

/// One of the control plane's identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// The apiserver's own loops (loopback, `system:masters`): the `kubernetes` Service's endpoints,
    /// CRD cleanup, and the loops not yet split into upstream's controllers.
    Apiserver,
    /// kube-controller-manager itself: its shared watches and leader election.
    ControllerManager,
    /// One controller of the controller-manager, by its ServiceAccount name (upstream's `names.*`).
    Controller(&'static str),
    /// kube-scheduler.
    Scheduler,
}

/// The user name of a ServiceAccount (upstream's `serviceaccount.MakeUsername`).
pub fn service_account_user(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// The client of each identity.
pub type Credentials = Arc<dyn Fn(Identity) -> Client + Send + Sync>;

/// Every identity answered by the same `client` (a kubeconfig's credentials).
pub fn single(client: Client) -> Credentials {
    Arc::new(move |_| client.clone())
}
