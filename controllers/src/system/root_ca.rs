//! The root-CA publisher: every active Namespace has ConfigMap `kube-root-ca.crt` holding the
//! cluster CA bundle under `ca.crt`, restored if it is changed or deleted.

use crate::system::per_namespace::{self, Clients, Publisher};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kube::ResourceExt;
use std::collections::BTreeMap;

/// The published ConfigMap's name.
pub const CONFIG_MAP: &str = "kube-root-ca.crt";
/// The key holding the CA bundle.
const KEY: &str = "ca.crt";
const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal \
endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions \
of Kubernetes clusters.";

/// Publishes the CA bundle it holds.
struct RootCa {
    root_ca_pem: String,
}

impl Publisher for RootCa {
    type Object = ConfigMap;
    const NAME: &'static str = CONFIG_MAP;
    const CONTROLLER: &'static str = "root-ca-cert-publisher";
    const ACTION: &'static str = "publishing configmap";

    /// Create or repair the ConfigMap in `namespace`.
    async fn ensure(&self, clients: &Clients, namespace: &str) -> Result<(), kube::Error> {
        let root_ca_pem = &self.root_ca_pem;
        let api: Api<ConfigMap> = Api::namespaced(clients.write.clone(), namespace);
        let read: Api<ConfigMap> = Api::namespaced(clients.read.clone(), namespace);
        match read.get_opt(CONFIG_MAP).await? {
            Some(cm) if up_to_date(&cm, root_ca_pem) => Ok(()),
            Some(cm) => api
                .replace(CONFIG_MAP, &PostParams::default(), &restore(cm, root_ca_pem))
                .await
                .map(drop),
            None => per_namespace::create(&api, &restore(per_namespace::fresh::<Self>(), root_ca_pem)).await,
        }
    }
}

/// Run the root-CA publisher until its watch streams end.
pub async fn run(clients: Clients, root_ca_pem: String) {
    per_namespace::run(clients, RootCa { root_ca_pem }).await;
}

fn desired_data(root_ca_pem: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(KEY.to_string(), root_ca_pem.to_string())])
}

/// Whether `cm` already carries exactly the bundle and the description annotation.
fn up_to_date(cm: &ConfigMap, root_ca_pem: &str) -> bool {
    cm.data.as_ref() == Some(&desired_data(root_ca_pem))
        && cm
            .annotations()
            .get(DESCRIPTION_ANNOTATION)
            .is_some_and(|d| !d.is_empty())
}

/// Make `cm` carry exactly the bundle and the description annotation, keeping everything else.
fn restore(mut cm: ConfigMap, root_ca_pem: &str) -> ConfigMap {
    cm.data = Some(desired_data(root_ca_pem));
    cm.binary_data = None;
    cm.annotations_mut()
        .insert(DESCRIPTION_ANNOTATION.to_string(), DESCRIPTION.to_string());
    cm
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;

    #[test]
    fn restore_sets_the_bundle_and_annotation_and_keeps_the_rest() {
        let mut cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(CONFIG_MAP.into()),
                labels: Some(BTreeMap::from([("keep".to_string(), "me".to_string())])),
                ..Default::default()
            },
            data: Some(BTreeMap::from([
                ("ca.crt".to_string(), "tampered".to_string()),
                ("x".into(), "y".into()),
            ])),
            ..Default::default()
        };
        assert!(!up_to_date(&cm, "PEM"));
        cm = restore(cm, "PEM");
        assert!(up_to_date(&cm, "PEM"));
        assert_eq!(cm.data, Some(desired_data("PEM")));
        assert_eq!(cm.labels().get("keep").map(String::as_str), Some("me"));
        assert_eq!(
            cm.annotations().get(DESCRIPTION_ANNOTATION).map(String::as_str),
            Some(DESCRIPTION)
        );
    }

    #[test]
    fn a_missing_annotation_is_not_up_to_date() {
        let cm = ConfigMap {
            data: Some(desired_data("PEM")),
            ..Default::default()
        };
        assert!(!up_to_date(&cm, "PEM"));
    }
}
