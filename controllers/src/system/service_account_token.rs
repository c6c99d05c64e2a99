//! The ServiceAccount token controller (upstream's TokensController, legacy tokens only): a Secret
//! of type `kubernetes.io/service-account-token` naming a ServiceAccount in its
//! `kubernetes.io/service-account.name` annotation gets `data.token` (a legacy JWT signed with the
//! service account key), `data.ca.crt` (the cluster CA) and `data.namespace`, and the account's
//! UID annotation; a Secret whose ServiceAccount is gone (or has another UID) is deleted, so
//! deleting an account deletes its token Secrets.

use crate::core::api_errors;
use crate::core::backoff::ErrorBackoff;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use skiff_machinery::serviceaccount::claims::LegacyClaims;
use skiff_machinery::serviceaccount::{self as sa, SigningKey};
use std::sync::Arc;

/// The controller's name in logs.
const CONTROLLER: &str = "serviceaccount-token-controller";

/// A failed reconcile of one token Secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("syncing token secret {namespace}/{name}: {source}")]
    Api {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("signing the token of secret {0}: {1}")]
    Sign(String, String),
}

struct Context {
    client: Client,
    key: Arc<SigningKey>,
    root_ca_pem: String,
    backoff: ErrorBackoff,
}

/// Run the token controller until its watch streams end.
pub async fn run(client: Client, key: Arc<SigningKey>, root_ca_pem: String) {
    let tokens = watcher::Config::default().fields(&format!("type={}", sa::TOKEN_SECRET_TYPE));
    let controller = Controller::new(Api::<Secret>::all(client.clone()), tokens);
    let secrets = controller.store();
    let context = Arc::new(Context {
        client: client.clone(),
        key,
        root_ca_pem,
        backoff: ErrorBackoff::default(),
    });
    let outcomes = controller
        .watches(
            Api::<ServiceAccount>::all(client),
            watcher::Config::default(),
            move |account| secrets_of(&secrets, &account),
        )
        .run(
            reconcile,
            |secret, _, ctx| ctx.backoff.requeue(&key_of(&secret)),
            context,
        );
    crate::core::outcomes::drain(CONTROLLER, outcomes).await;
}

/// The token Secrets naming `account`.
fn secrets_of(secrets: &Store<Secret>, account: &ServiceAccount) -> Vec<ObjectRef<Secret>> {
    let (namespace, name) = (account.namespace(), account.name_any());
    secrets
        .state()
        .iter()
        .filter(|s| s.namespace() == namespace && account_name(s) == Some(name.as_str()))
        .map(|s| ObjectRef::from_obj(&**s))
        .collect()
}

fn key_of(secret: &Secret) -> String {
    format!("{}/{}", secret.namespace().unwrap_or_default(), secret.name_any())
}

fn account_name(secret: &Secret) -> Option<&str> {
    secret.annotations().get(sa::NAME_ANNOTATION).map(String::as_str)
}

async fn reconcile(secret: Arc<Secret>, ctx: Arc<Context>) -> Result<Action, Error> {
    let key = key_of(&secret);
    let result = sync(&secret, &ctx).await;
    ctx.backoff.track(&key, result.map(|()| Action::await_change()))
}

/// Fill in the Secret's token, or delete it when its ServiceAccount is gone.
async fn sync(secret: &Secret, ctx: &Context) -> Result<(), Error> {
    let (Some(namespace), Some(account_name)) = (secret.namespace(), account_name(secret)) else {
        return Ok(());
    };
    let name = secret.name_any();
    let api_error = |source| Error::Api {
        namespace: namespace.clone(),
        name: name.clone(),
        source,
    };
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let accounts: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), &namespace);
    let wanted_uid = secret.annotations().get(sa::UID_ANNOTATION).filter(|u| !u.is_empty());
    let account = accounts
        .get_opt(account_name)
        .await
        .map_err(api_error)?
        .filter(|a| wanted_uid.is_none_or(|uid| a.uid().as_ref() == Some(uid)));
    let Some(account) = account else {
        tracing::info!(secret = %key_of(secret), "deleting token secret: its service account is gone");
        let deleted = secrets.delete(&name, &DeleteParams::default()).await.map(drop);
        return api_errors::ignore_not_found(deleted).map_err(api_error);
    };
    let Some(filled) = filled(secret, &account, &ctx.key, &ctx.root_ca_pem)? else {
        return Ok(());
    };
    match secrets.replace(&name, &PostParams::default(), &filled).await {
        Ok(_) => Ok(()),
        Err(e) if api_errors::is_not_found(&e) => Ok(()),
        Err(e) => Err(api_error(e)),
    }
}

/// The Secret with what it lacks (token, CA bundle, namespace, the account's annotations), or
/// `None` when it lacks nothing.
fn filled(
    secret: &Secret,
    account: &ServiceAccount,
    key: &SigningKey,
    root_ca_pem: &str,
) -> Result<Option<Secret>, Error> {
    let namespace = secret.namespace().unwrap_or_default();
    let data = secret.data.clone().unwrap_or_default();
    let value = |key: &str| data.get(key).map(|b| b.0.as_slice()).unwrap_or_default();
    let needs_ca = !root_ca_pem.is_empty() && value(sa::CA_KEY) != root_ca_pem.as_bytes();
    let needs_namespace = value(sa::NAMESPACE_KEY) != namespace.as_bytes();
    let needs_token = value(sa::TOKEN_KEY).is_empty();
    if !needs_ca && !needs_namespace && !needs_token {
        return Ok(None);
    }
    let mut filled = secret.clone();
    let data = filled.data.get_or_insert_with(Default::default);
    if needs_ca {
        data.insert(sa::CA_KEY.into(), ByteString(root_ca_pem.as_bytes().to_vec()));
    }
    if needs_namespace {
        data.insert(sa::NAMESPACE_KEY.into(), ByteString(namespace.clone().into_bytes()));
    }
    let account_uid = account.uid().unwrap_or_default();
    if needs_token {
        let claims = LegacyClaims::new((&namespace, &account.name_any(), &account_uid), &secret.name_any());
        let token = key
            .sign(&claims)
            .map_err(|e| Error::Sign(key_of(secret), e.to_string()))?;
        data.insert(sa::TOKEN_KEY.into(), ByteString(token.into_bytes()));
    }
    let annotations = filled.annotations_mut();
    annotations.insert(sa::NAME_ANNOTATION.into(), account.name_any());
    annotations.insert(sa::UID_ANNOTATION.into(), account_uid);
    Ok(Some(filled))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;

    #[test]
    fn a_token_secret_gets_token_ca_namespace_and_uid_once() {
        let key = SigningKey::from_pem(&SigningKey::generate_pem().unwrap()).unwrap();
        let account = ServiceAccount {
            metadata: ObjectMeta {
                name: Some("builder".into()),
                namespace: Some("dev".into()),
                uid: Some("sa-uid".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some("builder-token".into()),
                namespace: Some("dev".into()),
                annotations: Some([(sa::NAME_ANNOTATION.to_string(), "builder".to_string())].into()),
                ..Default::default()
            },
            type_: Some(sa::TOKEN_SECRET_TYPE.into()),
            ..Default::default()
        };
        let filled = filled(&secret, &account, &key, "CA").unwrap().unwrap();
        let data = filled.data.clone().unwrap();
        assert_eq!(data[sa::CA_KEY].0, b"CA");
        assert_eq!(data[sa::NAMESPACE_KEY].0, b"dev");
        let token = String::from_utf8(data[sa::TOKEN_KEY].0.clone()).unwrap();
        let claims: LegacyClaims = serde_json::from_value(key.verify(&token).unwrap()).unwrap();
        assert_eq!(claims, LegacyClaims::new(("dev", "builder", "sa-uid"), "builder-token"));
        assert_eq!(filled.annotations()[sa::UID_ANNOTATION], "sa-uid");
        assert!(super::filled(&filled, &account, &key, "CA").unwrap().is_none());
    }
}
