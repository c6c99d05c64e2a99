//! The service-account controller: every active Namespace has a ServiceAccount named `default`,
//! recreated if it is deleted.

use crate::core::api_errors;
use crate::system::per_namespace::{self, Clients, Publisher};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::Api;

/// The service account every namespace gets.
const DEFAULT: &str = "default";

/// Keeps the `default` ServiceAccount.
struct DefaultServiceAccount;

impl Publisher for DefaultServiceAccount {
    type Object = ServiceAccount;
    const NAME: &'static str = DEFAULT;
    const CONTROLLER: &'static str = "serviceaccount";
    const ACTION: &'static str = "ensuring serviceaccount";

    /// Create `default` in `namespace` unless it exists (or the namespace is gone or going).
    async fn ensure(&self, clients: &Clients, namespace: &str) -> Result<(), kube::Error> {
        let read: Api<ServiceAccount> = Api::namespaced(clients.read.clone(), namespace);
        if read.get_opt(DEFAULT).await?.is_some() {
            return Ok(());
        }
        let api: Api<ServiceAccount> = Api::namespaced(clients.write.clone(), namespace);
        match per_namespace::create(&api, &per_namespace::fresh::<Self>()).await {
            Err(e) if api_errors::is_already_exists(&e) => Ok(()),
            result => result,
        }
    }
}

/// Run the service-account controller until its watch streams end.
pub async fn run(clients: Clients) {
    per_namespace::run(clients, DefaultServiceAccount).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_account_is_called_default_and_sets_nothing_else() {
        let sa = per_namespace::fresh::<DefaultServiceAccount>();
        assert_eq!(sa.metadata.name.as_deref(), Some("default"));
        assert_eq!(sa.metadata.namespace, None);
        assert_eq!(sa.secrets, None);
    }
}
