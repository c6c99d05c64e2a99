//! The in-process control plane's identities: each [`Identity`] becomes a client wired straight
//! into the apiserver, authenticated as the user upstream's component has, so the bootstrap RBAC
//! policy decides what every loop may do.

use skiff_apiserver::auth::{UserInfo, ALL_AUTHENTICATED};
use skiff_apiserver::ApiServer;
use skiff_controllers::core::credentials::{service_account_user, Credentials, Identity, CONTROLLER_NAMESPACE};
use std::sync::Arc;

/// Clients into `api` for every identity of the in-process loops.
pub fn in_process(api: &ApiServer) -> Credentials {
    let api = api.clone();
    Arc::new(move |identity| match user(identity) {
        Some(user) => api.client_as(user),
        None => api.client(),
    })
}

/// The user upstream's component authenticates as; `None` for the apiserver's loopback identity.
fn user(identity: Identity) -> Option<UserInfo> {
    let (name, groups) = match identity {
        Identity::Apiserver => return None,
        Identity::ControllerManager => ("system:kube-controller-manager".to_string(), vec![]),
        Identity::Scheduler => ("system:kube-scheduler".to_string(), vec![]),
        Identity::Controller(name) => (
            service_account_user(CONTROLLER_NAMESPACE, name),
            vec![
                "system:serviceaccounts".to_string(),
                format!("system:serviceaccounts:{CONTROLLER_NAMESPACE}"),
            ],
        ),
    };
    Some(UserInfo {
        name,
        groups: groups.into_iter().chain([ALL_AUTHENTICATED.to_string()]).collect(),
        ..UserInfo::default()
    })
}
