//! The service-account controller: every active Namespace has a ServiceAccount named `default`,
//! recreated if it is deleted.

use crate::core::api_errors;
use crate::system::per_namespace::{self, Publisher};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::Api;
use kube::Client;

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
    async fn ensure(&self, client: &Client, namespace: &str) -> Result<(), kube::Error> {
        let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
        if api.get_opt(DEFAULT).await?.is_some() {
            return Ok(());
        }
        match per_namespace::create(&api, &per_namespace::fresh::<Self>()).await {
            Err(e) if api_errors::is_already_exists(&e) => Ok(()),
            result => result,
        }
    }
}

/// Run the service-account controller until its watch streams end.
pub async fn run(client: Client) {
    per_namespace::run(client, DefaultServiceAccount).await;
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
